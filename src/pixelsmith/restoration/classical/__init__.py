"""Classical (non-learned) restoration baselines behind the ``fn(y, known) -> x_hat`` contract.

One module per task (``denoise``, ``deblur``, ``inpaint``, ``sr``, ``dejpeg``); they are listed
in :mod:`pixelsmith.restoration.registry`. Each wraps a library implementation (bm3d,
scikit-image, OpenCV) and imports it only when called, so importing this package is cheap.
"""
