"""Estimate degradation levels from the degraded image itself: ``--sigma auto``, ``--quality auto``.

- Noise: Donoho's wavelet estimator, median(|HH1|) / 0.6745 on the finest diagonal subband
  (scikit-image's ``estimate_sigma``, Daubechies-2 wavelet). Image structure leaks into HH1, so
  textured images read high at low noise (see docs/BENCHMARKS.md, "sigma-estimator").
- JPEG quality: the luminance quantisation table of an IJG/libjpeg file (Pillow, most tools)
  is the Annex K table scaled by a factor that depends only on the quality setting; we find the
  quality whose scaled table matches. Other encoders get the closest IJG-equivalent quality.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from pixelsmith.errors import PixelsmithError

#: ITU-T T.81 Annex K, Table K.1 (luminance), in natural (row-major) order.
ANNEX_K_LUMINANCE = np.array([
    16, 11, 10, 16, 24, 40, 51, 61,
    12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77,
    24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
], dtype=np.int64)


def _zigzag_order() -> np.ndarray:
    """Natural (row-major) index of each position along the JPEG zigzag scan."""
    cells = [(r, c) for r in range(8) for c in range(8)]
    cells.sort(key=lambda rc: (rc[0] + rc[1], rc[0] if (rc[0] + rc[1]) % 2 else rc[1]))
    return np.array([r * 8 + c for r, c in cells])


ZIGZAG = _zigzag_order()


def estimate_sigma(y: torch.Tensor) -> torch.Tensor:
    """Gaussian noise level of each image of (N, C, H, W) ``y`` in [0, 1] units, shape (N,).

    Colour images average the per-channel estimates. The image is not clipped or rescaled: the
    estimate is in the units of ``y``.
    """
    from skimage.restoration import estimate_sigma as wavelet_mad

    if y.ndim != 4:
        raise PixelsmithError(f"expected (N, C, H, W) pixels, got {tuple(y.shape)}")
    if min(y.shape[-2:]) < 4:
        raise PixelsmithError("the image is too small to estimate its noise level")
    images = y.detach().to("cpu", torch.float32).numpy()
    sigmas = [float(np.mean(wavelet_mad(image, channel_axis=0))) for image in images]
    return torch.tensor(sigmas, dtype=torch.float32, device=y.device).clamp(0.0, 1.0)


def ijg_table(quality: int, base: np.ndarray = ANNEX_K_LUMINANCE, limit: int = 255) -> np.ndarray:
    """The quantisation table libjpeg's ``jpeg_set_quality`` makes from ``base`` at ``quality``."""
    quality = min(max(int(quality), 1), 100)
    factor = 5000 // quality if quality < 50 else 200 - 2 * quality
    return np.clip((base * factor + 50) // 100, 1, limit)


def estimate_jpeg_quality(quantization: Mapping[int, Sequence[int]]) -> int:
    """The IJG quality (1-100) that produced luminance table 0 of ``quantization``.

    ``quantization`` is what Pillow gives as ``img.quantization`` (kept by
    :func:`pixelsmith.io.load_image` in ``Image.info["quantization"]``). The table may be in
    natural or zigzag order (Pillow versions differ); both are tried. For an IJG table the
    answer is exact; for another encoder's table it is the quality whose table is closest in
    log scale (an "IJG-equivalent" quality).
    """
    if 0 not in quantization:
        raise PixelsmithError("the JPEG has no luminance quantisation table")
    table = np.asarray(list(quantization[0]), dtype=np.int64)
    if table.shape != (64,) or (table < 1).any():
        raise PixelsmithError("the JPEG's luminance quantisation table is not 64 positive values")
    limit = 255 if table.max() <= 255 else 32767
    candidates = np.stack([ijg_table(q, limit=limit) for q in range(1, 101)])  # (100, 64)
    natural = np.empty_like(table)
    natural[ZIGZAG] = table  # if ``table`` was in zigzag order, this puts it in natural order
    best_error, best_quality = np.inf, 50
    for order in (table, natural):
        errors = np.abs(np.log(candidates) - np.log(order)).mean(axis=1)
        quality = int(np.argmin(errors))  # lowest quality among exact ties (see the docs)
        if errors[quality] < best_error:
            best_error, best_quality = errors[quality], quality + 1
    return best_quality
