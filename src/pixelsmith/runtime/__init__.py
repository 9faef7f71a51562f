"""Running trained models outside eager PyTorch: ONNX export (:mod:`.onnx_export`), the ONNX
Runtime backend of the restoration methods (:mod:`.ort_backend`), the per-user export cache
(:mod:`.cache`), reading int8 packages (:mod:`.int8`) and precision checks for the host
(:mod:`.precision`). Making such packages (quantizing, pruning) is :mod:`pixelsmith.deploy`.
"""
