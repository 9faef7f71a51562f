"""Noise of the realistic degradation model: Gaussian (colour, gray, cross-channel correlated),
Poisson (shot noise at 8-bit photon counts) and camera noise (signal-dependent shot + read
noise on a Bayer mosaic, then bilinear demosaicking, so the noise is spatially correlated).

Each function takes the noise parameters and a ``torch.Generator`` (the realistic model gives
each noise step a generator seeded from its saved ``seed``, so a saved draw replays exactly).
Inputs are (N, C, H, W) tensors in [0, 1] with C = 1 or 3; outputs are not clipped.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pixelsmith.color import rgb_to_gray

BAYER_PATTERNS = ("RGGB", "GRBG", "GBRG", "BGGR")
POISSON_PEAK = 255.0  # photon count of white: the 8-bit levels taken as counts


def _randn(shape: tuple[int, ...], generator: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    """Standard normal draws made on the CPU (the same numbers on every device)."""
    return torch.randn(shape, generator=generator, dtype=torch.float32).to(like)


def gaussian_noise(x: torch.Tensor, sigma: float, kind: str, generator: torch.Generator,
                   covariance: list[list[float]] | None = None) -> torch.Tensor:
    """Add Gaussian noise of std ``sigma`` ([0, 1] units). ``kind``: ``"color"`` (independent
    per channel), ``"gray"`` (one field added to every channel) or ``"correlated"`` (each
    pixel's RGB noise drawn with the 3 x 3 ``covariance``, [0, 1]^2 units; ``sigma`` is then
    only reported)."""
    n, c, h, w = x.shape
    if kind == "gray" or c == 1:
        return x + float(sigma) * _randn((n, 1, h, w), generator, x)
    if kind == "color":
        return x + float(sigma) * _randn((n, c, h, w), generator, x)
    if kind != "correlated" or covariance is None or c != 3:
        raise ValueError(f"bad Gaussian noise kind {kind!r} for {c} channels")
    cov = torch.tensor(covariance, dtype=torch.float64)
    values, vectors = torch.linalg.eigh(cov)
    factor = vectors * values.clamp_min(0).sqrt()  # cov = factor @ factor.T
    white = torch.randn((n, h, w, 3), generator=generator, dtype=torch.float64)
    noise = (white @ factor.T).permute(0, 3, 1, 2)
    return x + noise.to(x)


def poisson_noise(x: torch.Tensor, scale: float, gray: bool,
                  generator: torch.Generator) -> torch.Tensor:
    """Add ``scale`` x the shot noise of the image taken as photon counts (white = 255):
    ``scale * (Poisson(255 x) / 255 - x)``, variance ``scale^2 x / 255``. ``gray``: the noise of
    the luma, added to every channel."""
    base = x.clamp(0.0, 1.0)
    if gray:
        base = rgb_to_gray(base)
    counts = torch.poisson(base.double().cpu() * POISSON_PEAK, generator=generator)
    noise = (counts / POISSON_PEAK).to(x) - base
    return x + float(scale) * noise


# -- camera noise ---------------------------------------------------------------------------
def srgb_to_linear(x: torch.Tensor) -> torch.Tensor:
    """The sRGB decoding curve (IEC 61966-2-1) on values in [0, 1]."""
    x = x.clamp(0.0, 1.0)
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: torch.Tensor) -> torch.Tensor:
    """The sRGB encoding curve, inverse of :func:`srgb_to_linear` (input clipped to [0, 1])."""
    x = x.clamp(0.0, 1.0)
    return torch.where(x <= 0.0031308, 12.92 * x, 1.055 * x.clamp_min(1e-12) ** (1 / 2.4) - 0.055)


def bayer_masks(pattern: str, height: int, width: int, like: torch.Tensor) -> torch.Tensor:
    """(1, 3, H, W) 0/1 masks of the R, G, B sites of a Bayer ``pattern`` (``"RGGB"``, ...),
    read row by row over the top-left 2 x 2 block."""
    if pattern not in BAYER_PATTERNS:
        raise ValueError(f"Bayer pattern must be one of {BAYER_PATTERNS}, not {pattern!r}")
    masks = torch.zeros(1, 3, height, width, dtype=like.dtype, device=like.device)
    for position, letter in enumerate(pattern):
        dy, dx = divmod(position, 2)
        masks[0, "RGB".index(letter), dy::2, dx::2] = 1.0
    return masks


def mosaic(x: torch.Tensor, pattern: str) -> torch.Tensor:
    """(N, 3, H, W) RGB -> (N, 1, H, W) Bayer raw: each site keeps its filter's channel."""
    return (x * bayer_masks(pattern, *x.shape[-2:], x)).sum(dim=1, keepdim=True)


_GREEN = ((0.0, 0.25, 0.0), (0.25, 1.0, 0.25), (0.0, 0.25, 0.0))
_RED_BLUE = ((0.25, 0.5, 0.25), (0.5, 1.0, 0.5), (0.25, 0.5, 0.25))


def demosaic_bilinear(raw: torch.Tensor, pattern: str) -> torch.Tensor:
    """(N, 1, H, W) Bayer raw -> (N, 3, H, W) RGB by bilinear interpolation of each channel.

    Mirror padding (without repeating the edge) keeps the Bayer phase at the borders. Every
    output value mixes up to 4 neighbouring raw samples, which correlates their noise.
    """
    masks = bayer_masks(pattern, *raw.shape[-2:], raw)
    sparse = raw * masks  # (N, 3, H, W), zeros where a channel was not sampled
    weights = torch.tensor((_RED_BLUE, _GREEN, _RED_BLUE), dtype=raw.dtype, device=raw.device)
    mode = "reflect" if min(raw.shape[-2:]) >= 2 else "replicate"
    padded = F.pad(sparse, (1, 1, 1, 1), mode=mode)
    return F.conv2d(padded, weights[:, None], groups=3)


def camera_noise(x: torch.Tensor, shot: float, read: float, red_gain: float, blue_gain: float,
                 pattern: str, generator: torch.Generator) -> torch.Tensor:
    """Simulate a camera: sRGB -> linear -> undo white balance -> Bayer mosaic -> add
    signal-dependent noise of variance ``shot * raw + read`` (Gaussian approximation of
    Poisson shot noise plus read noise) -> bilinear demosaicking -> white balance -> sRGB.

    Gray images skip the mosaic and the white balance (one sensor channel). The result is
    clipped to [0, 1].
    """
    n, c, h, w = x.shape
    linear = srgb_to_linear(x)
    if c == 3:
        gains = x.new_tensor((float(red_gain), 1.0, float(blue_gain))).view(1, 3, 1, 1)
        raw = mosaic(linear / gains, pattern)
    else:
        raw = linear
    std = (float(shot) * raw.clamp_min(0.0) + float(read)).sqrt()
    noisy = raw + std * _randn(tuple(raw.shape), generator, raw)
    if c == 3:
        noisy = demosaic_bilinear(noisy, pattern) * gains
    return linear_to_srgb(noisy)
