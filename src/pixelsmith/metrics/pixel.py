"""Full-reference image quality metrics on batches: MSE, PSNR, SSIM and MS-SSIM.

All functions take two (N, C, H, W) float tensors on the same scale (``data_range`` is the
distance between the darkest and the brightest possible value, 1.0 for images in [0, 1]) and
return one value per image, a float64 tensor of shape (N,). The arithmetic is done in float64
so results do not depend on the input precision. Distribution-level scores of generated
images (FID, KID, precision/recall in a learned feature space) are in
:mod:`pixelsmith.metrics.features`.

Conventions, chosen to reproduce the figures published in the restoration literature:

- ``crop`` removes that many pixels from every border before measuring (super-resolution
  papers crop ``scale`` pixels); ``y_channel=True`` measures the limited-range luma of
  MATLAB's ``rgb2ycbcr`` (:func:`pixelsmith.color.rgb_to_y`) instead of RGB. Gray passes through.
- :func:`ssim` is Wang et al. 2004 as in their reference MATLAB code ``ssim_index.m``: an 11x11
  Gaussian window with sigma 1.5 (normalised to sum 1), population (biased) variances,
  C1 = (0.01 L)^2, C2 = (0.03 L)^2, and 'valid' filtering, i.e. the SSIM map only covers the
  positions where the window lies entirely inside the image, so no padding is ever used. The
  later ``ssim.m`` also downsamples images larger than 256 pixels first; that is not done here.
  Colour images get the mean over channels.
- Agreement with scikit-image: ``skimage.metrics.structural_similarity(a, b,
  gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=L)`` (plus
  ``channel_axis=-1`` for colour) computes the same number. scikit-image filters with 'same'
  output and reflected borders, but then averages the map after cropping ``(win_size - 1) // 2``
  = 5 pixels from every side (win_size = 2 * int(3.5 * sigma + 0.5) + 1 = 11 for its truncate
  of 3.5). The positions that survive the crop are exactly those whose 11x11 window lies inside
  the image, so the padded values never enter the mean and the result equals 'valid'
  filtering: the two agree to float64 rounding (tests/test_metrics.py checks 1e-10). Two
  things break the equality: letting scikit-image use its default ``use_sample_covariance=True``
  (variances divided by N - 1 = 120 instead of 121), or passing float32 arrays (scikit-image
  then computes in float32, which limits agreement to about 1e-6).
- ``psnr`` equals ``skimage.metrics.peak_signal_noise_ratio(a, b, data_range=L)``; identical
  images give +inf.
- :func:`ms_ssim` is Wang et al. 2003 (as ``msssim.m`` and the ``pytorch_msssim`` package):
  five scales, each formed by 2x2 averaging of the previous one; the mean contrast-structure
  term at the four finest scales and the full SSIM at the coarsest, raised to ``weights`` and
  multiplied, per channel, then averaged over channels. Negative terms are clamped to 0 before
  the power (as ``pytorch_msssim`` does) so the result is never NaN. Odd sizes are halved by
  repeating the last row/column, as MATLAB's ``imfilter(..., 'symmetric')`` followed by
  ``(1:2:end)`` does. The coarsest scale must still hold one full window: each side must be at
  least ``(window - 1) * 16 + 1`` = 161 pixels for the 11-tap window, otherwise a ValueError
  says so (pass a smaller odd ``window`` to measure small images, and say so when reporting).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from pixelsmith.color import rgb_to_y

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _prepare(x: torch.Tensor, y: torch.Tensor, crop: int, y_channel: bool
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """Check shapes, convert to the Y channel if asked, crop borders, and cast to float64."""
    if x.shape != y.shape:
        raise ValueError(f"images differ in shape: {tuple(x.shape)} vs {tuple(y.shape)}")
    if x.ndim != 4:
        raise ValueError(f"expected (N, C, H, W) tensors, got {tuple(x.shape)}")
    x, y = x.to(torch.float64), y.to(torch.float64)
    if y_channel:
        x, y = rgb_to_y(x), rgb_to_y(y)
    if crop < 0:
        raise ValueError(f"crop must be >= 0, got {crop}")
    if crop:
        h, w = x.shape[-2:]
        if 2 * crop >= min(h, w):
            raise ValueError(f"crop {crop} leaves nothing of a {h}x{w} image")
        x = x[..., crop:h - crop, crop:w - crop]
        y = y[..., crop:h - crop, crop:w - crop]
    return x, y


def mse(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared error per image, shape (N,), in float64."""
    x, y = _prepare(x, y, 0, False)
    return (x - y).pow(2).flatten(1).mean(dim=1)


def psnr(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, crop: int = 0,
         y_channel: bool = False) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB per image, shape (N,); +inf where the images are equal."""
    x, y = _prepare(x, y, crop, y_channel)
    err = (x - y).pow(2).flatten(1).mean(dim=1)
    return 10.0 * torch.log10(data_range**2 / err)


def gaussian_window(window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """1-D Gaussian of ``window`` taps summing to 1 (MATLAB ``fspecial('gaussian')``, separable)."""
    if window < 1 or window % 2 == 0:
        raise ValueError(f"window must be a positive odd number, got {window}")
    t = torch.arange(window, dtype=torch.float64) - (window - 1) / 2
    g = torch.exp(-(t**2) / (2.0 * sigma**2))
    return g / g.sum()


def _filter_valid(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' filtering of every channel of (N, C, H, W) with the 1-D kernel ``g``."""
    c = x.shape[1]
    k = g.numel()
    x = F.conv2d(x, g.view(1, 1, k, 1).expand(c, 1, k, 1), groups=c)
    return F.conv2d(x, g.view(1, 1, 1, k).expand(c, 1, 1, k), groups=c)


def _ssim_cs_maps(x: torch.Tensor, y: torch.Tensor, data_range: float, g: torch.Tensor,
                  K1: float, K2: float) -> tuple[torch.Tensor, torch.Tensor]:
    """SSIM map and contrast-structure map over the 'valid' positions, (N, C, H-k+1, W-k+1)."""
    c1 = (K1 * data_range) ** 2
    c2 = (K2 * data_range) ** 2
    stats = _filter_valid(torch.cat([x, y, x * x, y * y, x * y], dim=1), g)
    mu_x, mu_y, xx, yy, xy = stats.chunk(5, dim=1)
    var_x = xx - mu_x**2
    var_y = yy - mu_y**2
    cov = xy - mu_x * mu_y
    cs = (2.0 * cov + c2) / (var_x + var_y + c2)
    luminance = (2.0 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1)
    return luminance * cs, cs


def _check_window(h: int, w: int, window: int) -> None:
    if min(h, w) < window:
        raise ValueError(f"a {h}x{w} image is smaller than the {window}x{window} SSIM window")


def ssim_map(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, crop: int = 0,
             y_channel: bool = False, gaussian_sigma: float = 1.5, window: int = 11,
             K1: float = 0.01, K2: float = 0.03) -> torch.Tensor:
    """Local SSIM at every 'valid' window position: (N, C, H - window + 1, W - window + 1)."""
    x, y = _prepare(x, y, crop, y_channel)
    _check_window(x.shape[-2], x.shape[-1], window)
    g = gaussian_window(window, gaussian_sigma).to(x.device)
    return _ssim_cs_maps(x, y, data_range, g, K1, K2)[0]


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, crop: int = 0,
         y_channel: bool = False, gaussian_sigma: float = 1.5, window: int = 11,
         K1: float = 0.01, K2: float = 0.03) -> torch.Tensor:
    """Mean SSIM (Wang et al. 2004) per image, shape (N,); colour is averaged over channels."""
    smap = ssim_map(x, y, data_range, crop, y_channel, gaussian_sigma, window, K1, K2)
    return smap.flatten(1).mean(dim=1)


def _halve(x: torch.Tensor) -> torch.Tensor:
    """2x2 average pooling; an odd last row/column is averaged with a copy of itself (MATLAB)."""
    h, w = x.shape[-2:]
    if h % 2 or w % 2:
        x = F.pad(x, (0, w % 2, 0, h % 2), mode="replicate")
    return F.avg_pool2d(x, kernel_size=2, stride=2)


def ms_ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0,
            weights: tuple[float, ...] = MS_SSIM_WEIGHTS, crop: int = 0, y_channel: bool = False,
            gaussian_sigma: float = 1.5, window: int = 11, K1: float = 0.01,
            K2: float = 0.03) -> torch.Tensor:
    """Multi-scale SSIM (Wang et al. 2003) per image, shape (N,), one scale per weight.

    Raises ValueError when the coarsest scale is smaller than the window (the full-size image
    needs sides of at least ``(window - 1) * 2 ** (len(weights) - 1) + 1`` pixels).
    """
    x, y = _prepare(x, y, crop, y_channel)
    levels = len(weights)
    h, w = x.shape[-2:]
    smallest = min(math.ceil(h / 2 ** (levels - 1)), math.ceil(w / 2 ** (levels - 1)))
    if smallest < window:
        need = (window - 1) * 2 ** (levels - 1) + 1
        raise ValueError(
            f"MS-SSIM with {levels} scales and a {window}-tap window needs images of at least "
            f"{need}x{need} pixels, got {h}x{w}; pass a smaller odd window (and report it) "
            "or use ssim"
        )
    g = gaussian_window(window, gaussian_sigma).to(x.device)
    terms = []
    for level in range(levels):
        full, cs = _ssim_cs_maps(x, y, data_range, g, K1, K2)
        last = level == levels - 1
        terms.append((full if last else cs).mean(dim=(-2, -1)).clamp_min(0.0))  # (N, C)
        if not last:
            x, y = _halve(x), _halve(y)
    w_t = torch.tensor(weights, dtype=torch.float64, device=x.device).view(-1, 1, 1)
    per_channel = torch.stack(terms).pow(w_t).prod(dim=0)
    return per_channel.mean(dim=1)
