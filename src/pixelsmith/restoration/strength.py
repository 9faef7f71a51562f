"""The ``strength`` control of a restoration: how much of the change to keep.

0 returns the input (enlarged by MATLAB bicubic to the output's size for super-resolution),
1 the full restoration, values between a linear mix, so a user can keep grain and texture.
"""

from __future__ import annotations

import torch

from pixelsmith.degrade.resize import imresize
from pixelsmith.errors import PixelsmithError


def blend(restored: torch.Tensor, degraded: torch.Tensor, strength: float) -> torch.Tensor:
    """``degraded`` (enlarged by bicubic to ``restored``'s size) + ``strength`` x the change."""
    if not 0.0 <= strength <= 1.0:
        raise PixelsmithError(f"strength must be in 0-1, not {strength:g}")
    if strength == 1.0:
        return restored
    base = degraded
    if base.shape[-2:] != restored.shape[-2:]:
        base = imresize(degraded, size=tuple(restored.shape[-2:])).clamp(0.0, 1.0)
    return (base + strength * (restored - base)).clamp(0.0, 1.0)
