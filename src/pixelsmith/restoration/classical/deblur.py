"""Non-blind deblurring baselines: Wiener and Richardson-Lucy, both assuming circular borders.

``known.kernel`` is a true convolution kernel (``scipy.ndimage.convolve`` semantics) centred at
(kh // 2, kw // 2); the evaluation protocol blurs circularly (see :mod:`pixelsmith.degrade.blur`).
Even-sized kernels are first padded with a trailing zero row/column, which keeps that centre and
makes every library's notion of "centre" agree, so the output is never shifted.

- Wiener: ``skimage.restoration.wiener``, i.e. X = conj(K) Y / (|K|^2 + balance |L|^2) with L
  the 5-point Laplacian (a smoothness prior that, unlike a constant noise-to-signal ratio,
  leaves the mean brightness alone), evaluated with FFTs (circular). The kernel is zero-padded
  to the image size and rolled so its centre sits at the origin. ``balance = 40 sigma^2``:
  on Set12 01, 05 and a 256x256 crop of 08, each blurred circularly by the eight Levin et al.
  kernels, the mean PSNR over balance = c sigma^2 peaked at c = 40 for sigma 1, 2.55 and 7.65
  (c = 15 / 20 / 30 / 40 / 60 -> 28.02 / 28.32 / 28.56 / 28.60 / 28.50 dB at sigma 2.55, from
  19.64 dB blurred); a constant NSR was at best 26.0 dB. Without ``known.sigma``, 2.55/255 is
  assumed (the evaluation default).
- Richardson-Lucy: ``skimage.restoration.richardson_lucy``, 30 iterations (the number of
  iterations is its regulariser: 20 / 30 / 50 -> 26.56 / 26.86 / 26.38 dB on the set above at
  sigma 2.55). scikit-image convolves with ``scipy.signal.convolve(mode='same')``, i.e. zero
  borders, which on circularly blurred data costs 10 dB (16.9 dB); so the image is first
  extended periodically by 3x the kernel size (2x: 26.78 dB, 3x and more: 26.86 dB) and cropped
  back. Negative noisy values are clipped to 0 first, since RL assumes non-negative data.
"""

from __future__ import annotations

import numpy as np
import torch

from pixelsmith.degrade.known import Known
from pixelsmith.restoration.classical._numpy import map_images, require

DEFAULT_SIGMA = 2.55 / 255
WIENER_BALANCE = 40.0  # balance = WIENER_BALANCE * sigma^2
RL_ITERATIONS = 30
RL_PAD = 3  # periodic extension, in kernel sizes


def odd_kernel(kernel: torch.Tensor | np.ndarray) -> np.ndarray:
    """The kernel as float64 with odd sides, padding zeros after so the centre stays at k // 2."""
    k = np.asarray(kernel.detach().cpu() if isinstance(kernel, torch.Tensor) else kernel,
                   dtype=np.float64)
    if k.ndim != 2:
        raise ValueError(f"Known.kernel must be 2-D, got shape {k.shape}")
    return np.pad(k, ((0, 1 - k.shape[0] % 2), (0, 1 - k.shape[1] % 2)))


def _per_channel(z: np.ndarray, fn) -> np.ndarray:
    if z.ndim == 2:
        return fn(z)
    return np.stack([fn(z[..., c]) for c in range(z.shape[-1])], axis=-1)


def wiener_deblur(y: torch.Tensor, known: Known) -> torch.Tensor:
    """Wiener deconvolution with a Laplacian regulariser of weight 40 sigma^2 (circular borders)."""
    from skimage.restoration import wiener

    kernel = odd_kernel(require(known, "kernel"))
    sigma = DEFAULT_SIGMA if known.sigma is None else float(known.sigma)
    balance = WIENER_BALANCE * sigma**2

    def run(z: np.ndarray, _: int) -> np.ndarray:
        return _per_channel(z, lambda c: wiener(c, kernel, balance=balance, clip=False))

    return map_images(y, run)


def richardson_lucy_deblur(y: torch.Tensor, known: Known) -> torch.Tensor:
    """Richardson-Lucy deconvolution, 30 iterations, on a periodically extended image."""
    from skimage.restoration import richardson_lucy

    kernel = odd_kernel(require(known, "kernel"))
    pad = RL_PAD * max(kernel.shape)

    def one(c: np.ndarray) -> np.ndarray:
        h, w = c.shape
        big = np.pad(np.clip(c, 0.0, None), pad, mode="wrap")
        out = richardson_lucy(big, kernel, num_iter=RL_ITERATIONS, clip=False)
        return out[pad:pad + h, pad:pad + w]

    return map_images(y, lambda z, _: _per_channel(z, one))
