"""Deployment: ONNX export, an ONNX Runtime inference backend, int8 quantization.

Nothing here is imported by ``pixelsmith --help`` or ``import pixelsmith``; onnx and
onnxruntime are optional (``pip install 'pixelsmith[fast]'``) and imported where used.
"""
