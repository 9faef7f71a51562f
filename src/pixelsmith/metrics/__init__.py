"""Image quality metrics: :mod:`~pixelsmith.metrics.pixel` compares an image with its
reference (PSNR, SSIM, MS-SSIM), :mod:`~pixelsmith.metrics.features` compares sets of
generated images with real ones in a learned feature space (FID, KID, precision/recall),
:mod:`~pixelsmith.metrics.noref` describes one image alone (noise level, JPEG blockiness,
sharpness) where no reference exists.
"""
