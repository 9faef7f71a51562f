"""No-reference statistics of one image: noise level, JPEG blockiness and sharpness.

Real photos come without a clean original, so full-reference scores (PSNR, SSIM) cannot judge
their restoration. These statistics describe an image alone; they are indicators, not
quality scores: each can be fooled (texture reads as noise, sharpening and noise both raise
sharpness), so read them together and against the input's values.

- :func:`noise_sigma`: Donoho's wavelet estimate of Gaussian noise, median(|HH1|) / 0.6745 on
  the finest diagonal subband (scikit-image's ``estimate_sigma``), mean over channels, in
  0-255 units.
- :func:`blockiness`: the JPEG 8x8 grid's visibility: the mean absolute luma step across the
  block boundaries divided by the mean step everywhere else, horizontally and vertically
  averaged. About 1 without a grid; above 1 when blocks show. The grid is assumed to start at
  the top-left pixel (an uncropped JPEG); ``period`` is the block size in the image's pixels
  (32 for a JPEG enlarged 4x).
- :func:`sharpness`: the variance of the Laplacian (5-point stencil) of the luma in 0-255
  units (Pech-Pacheco et al. 2000's focus measure): lower is blurrier. Noise raises it too.

All take (N, C, H, W) float tensors in [0, 1] (C = 1 or 3) and return a float64 tensor of
shape (N,). Luma is ITU-R BT.601 (0.299 R + 0.587 G + 0.114 B).
"""

from __future__ import annotations

import numpy as np
import torch

from pixelsmith.errors import PixelsmithError

BT601 = (0.299, 0.587, 0.114)


def _check(x: torch.Tensor, least: int = 4) -> torch.Tensor:
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise PixelsmithError(f"expected (N, 1 or 3, H, W) pixels, got {tuple(x.shape)}")
    if min(x.shape[-2:]) < least:
        raise PixelsmithError(f"the image is too small ({tuple(x.shape[-2:])}) for this statistic")
    return x.detach().to("cpu", torch.float64)


def _luma(x: torch.Tensor) -> torch.Tensor:
    """(N, H, W) luma in 0-255 units."""
    if x.shape[1] == 1:
        return 255.0 * x[:, 0]
    weights = torch.tensor(BT601, dtype=x.dtype).view(1, 3, 1, 1)
    return 255.0 * (x * weights).sum(dim=1)


def noise_sigma(x: torch.Tensor) -> torch.Tensor:
    """Estimated Gaussian noise standard deviation of each image, 0-255 units."""
    from skimage.restoration import estimate_sigma

    images = _check(x).numpy()
    return torch.tensor([255.0 * float(np.mean(estimate_sigma(image, channel_axis=0)))
                         for image in images], dtype=torch.float64)


def _grid_ratio(steps: torch.Tensor, period: int) -> torch.Tensor:
    """Mean step across the grid's boundaries over the mean step elsewhere; steps (N, H, W-1)
    are the differences between columns j and j + 1."""
    columns = torch.arange(steps.shape[-1])
    boundary = (columns % period) == period - 1
    across = steps[..., boundary].mean(dim=(-2, -1))
    inside = steps[..., ~boundary].mean(dim=(-2, -1))
    return across / inside.clamp(min=1e-12)


def blockiness(x: torch.Tensor, period: int = 8) -> torch.Tensor:
    """Visibility of a ``period``-pixel block grid: 1 = none, above 1 = blocks show."""
    if period < 2:
        raise PixelsmithError(f"period must be at least 2, not {period}")
    y = _luma(_check(x, least=2 * period))
    horizontal = _grid_ratio((y[..., 1:] - y[..., :-1]).abs(), period)
    vertical = _grid_ratio((y[..., 1:, :] - y[..., :-1, :]).abs().transpose(-2, -1), period)
    return (horizontal + vertical) / 2.0


def sharpness(x: torch.Tensor) -> torch.Tensor:
    """Variance of the luma's Laplacian (0-255 units): lower is blurrier."""
    y = _luma(_check(x, least=3))
    laplacian = (y[:, :-2, 1:-1] + y[:, 2:, 1:-1] + y[:, 1:-1, :-2] + y[:, 1:-1, 2:]
                 - 4.0 * y[:, 1:-1, 1:-1])  # inner pixels only: no border rule
    return laplacian.flatten(1).var(dim=1, unbiased=False)


def no_reference_stats(x: torch.Tensor, period: int = 8) -> dict[str, float]:
    """``noise``, ``blockiness`` and ``sharpness`` of one (1, C, H, W) image, as floats."""
    return {"noise": float(noise_sigma(x)[0]), "blockiness": float(blockiness(x, period)[0]),
            "sharpness": float(sharpness(x)[0])}
