"""Colour conversions used by metrics and evaluation (MATLAB conventions where papers use them)."""

from __future__ import annotations

import torch

_LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, as Pillow's "L" mode and MATLAB rgb2gray
_YCBCR = (
    (65.481, 128.553, 24.966),
    (-37.797, -74.203, 112.0),
    (112.0, -93.786, -18.214),
)
_YCBCR_OFFSET = (16.0, 128.0, 128.0)


def rgb_to_gray(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB in [0, 1] -> (N, 1, H, W) full-range BT.601 luma; gray passes through."""
    if x.shape[-3] == 1:
        return x
    weights = x.new_tensor(_LUMA).view(3, 1, 1)
    return (x * weights).sum(dim=-3, keepdim=True)


def rgb_to_ycbcr(x: torch.Tensor) -> torch.Tensor:
    """RGB in [0, 1] -> YCbCr in [0, 1] with MATLAB's ``rgb2ycbcr`` limited range (Y in 16..235).

    This is the conversion super-resolution and JPEG papers use for "PSNR on the Y channel".
    """
    matrix = x.new_tensor(_YCBCR) / 255.0
    offset = x.new_tensor(_YCBCR_OFFSET).view(3, 1, 1) / 255.0
    return torch.einsum("ij,...jhw->...ihw", matrix, x) + offset


def rgb_to_y(x: torch.Tensor) -> torch.Tensor:
    """Y channel of :func:`rgb_to_ycbcr`, as (N, 1, H, W); a gray input is returned unchanged."""
    if x.shape[-3] == 1:
        return x
    return rgb_to_ycbcr(x)[..., :1, :, :]


def ycbcr_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`rgb_to_ycbcr`."""
    matrix = torch.linalg.inv(x.new_tensor(_YCBCR, dtype=torch.float64) / 255.0).to(x.dtype)
    offset = x.new_tensor(_YCBCR_OFFSET).view(3, 1, 1) / 255.0
    return torch.einsum("ij,...jhw->...ihw", matrix, x - offset)
