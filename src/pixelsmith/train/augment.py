"""Differentiable augmentations of image batches for GAN training (DiffAugment, mirroring).

Every draw comes from an explicit generator (the families pass the step generator), so a
training step is reproducible and resumes exactly.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

Generator = torch.Generator | None


def _rand(x: torch.Tensor, generator: Generator) -> torch.Tensor:
    return torch.rand(len(x), 1, 1, 1, generator=generator, device=x.device, dtype=x.dtype)


def _randint(low: int, high: int, n: int, x: torch.Tensor, generator: Generator
             ) -> torch.Tensor:
    return torch.randint(low, high, (n, 1, 1), generator=generator, device=x.device)


def augment_color(x: torch.Tensor, generator: Generator = None) -> torch.Tensor:
    """Random brightness (+-0.25), saturation (x0-2) and contrast (x0.5-1.5) per image."""
    x = x + (_rand(x, generator) - 0.5) * 0.5
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_rand(x, generator) * 2.0) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_rand(x, generator) + 0.5) + mean


def augment_translation(x: torch.Tensor, ratio: float = 0.125,
                        generator: Generator = None) -> torch.Tensor:
    """Shift each image by up to ``ratio`` of its size, filling with zeros (a gather: exact
    and differentiable)."""
    n, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = _randint(-sy, sy + 1, n, x, generator)
    dx = _randint(-sx, sx + 1, n, x, generator)
    rows = torch.arange(h, device=x.device).view(1, h, 1) + dy + sy
    cols = torch.arange(w, device=x.device).view(1, 1, w) + dx + sx
    padded = F.pad(x, (sx, sx, sy, sy))
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    return padded[batch, :, rows, cols].permute(0, 3, 1, 2)  # (n, h, w, c) -> (n, c, h, w)


def augment_cutout(x: torch.Tensor, ratio: float = 0.5,
                   generator: Generator = None) -> torch.Tensor:
    """Zero a random ``ratio``-sized square (clipped at the border) of each image."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = _randint(0, h + (1 - ch % 2), n, x, generator) - ch // 2
    cx = _randint(0, w + (1 - cw % 2), n, x, generator) - cw // 2
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (ys >= cy) & (ys < cy + ch) & (xs >= cx) & (xs < cx + cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


def random_flip(x: torch.Tensor, generator: Generator = None) -> torch.Tensor:
    """Mirror each image of (N, C, H, W) left-right with probability 1/2 (an augmentation
    only where the mirror image is itself a sample of the data, as a face is)."""
    flip = torch.rand(len(x), generator=generator, device=x.device) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)


def diff_augment(x: torch.Tensor, generator: Generator = None) -> torch.Tensor:
    """DiffAugment (Zhao et al. 2020), colour + translation + cutout, for images in [0, 1].

    Draws come from ``generator`` (on ``x``'s device; torch's global RNG when None); the
    families pass :func:`step_generator`. Gradients flow to ``x``.
    """
    x = augment_color(x, generator)
    x = augment_translation(x, generator=generator)
    return augment_cutout(x, generator=generator)
