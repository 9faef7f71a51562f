"""Pixel losses for restoration; the VAE and GAN families define their own objectives."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def charbonnier(x: torch.Tensor, y: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """sqrt((x - y)^2 + eps^2), averaged: an L1 that is smooth at zero."""
    return torch.sqrt((x - y) ** 2 + eps**2).mean()


PIXEL_LOSSES = {"l1": F.l1_loss, "mse": F.mse_loss, "charbonnier": charbonnier}
