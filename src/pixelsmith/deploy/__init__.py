"""Deployment tooling: int8 quantization (:mod:`.quantize`), structured pruning
(:mod:`.prune`), folders restored by several processes (:mod:`.workers`) and their commands
(:mod:`.commands`: export-onnx, quantize, prune). What runs the resulting models is
:mod:`pixelsmith.runtime`.

Nothing here is imported by ``pixelsmith --help`` or ``import pixelsmith``; onnx and
onnxruntime are optional (``pip install 'pixelsmith[fast]'``) and imported where used.
"""
