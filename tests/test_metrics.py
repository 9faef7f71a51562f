"""Metrics against outside references (scikit-image, pytorch_msssim) on real test images.

How scikit-image's SSIM is made to match ours exactly: ``structural_similarity(a, b,
gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0)`` on float64
arrays (``channel_axis=-1`` for colour). It filters with 'same' output and reflected borders
but averages the map after cropping (win_size - 1) // 2 = 5 pixels from each side, which leaves
exactly the 'valid' positions, so the reflected padding never counts and the two agree to
rounding. With the default ``use_sample_covariance=True`` it divides variances by 120 instead of
121 (a different number); float32 inputs make it compute in float32 (agreement ~1e-6 only).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import data_or_skip
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from pixelsmith.color import rgb_to_y
from pixelsmith.io import list_images, read_image
from pixelsmith.metrics import pixel as metrics

SK_SSIM = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False}


def _data(relative: str) -> list:
    return list_images(data_or_skip(relative))


def _noisy(x: torch.Tensor, sigma: float, seed: int, clip: bool = True) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    y = x + sigma * torch.randn(x.shape, generator=g, dtype=x.dtype)
    return y.clamp(0, 1) if clip else y


@pytest.fixture(scope="module")
def gray_pairs() -> list[tuple[torch.Tensor, torch.Tensor]]:
    files = _data("test/Set12")
    pairs = []
    for i, name in enumerate(("01.png", "05.png", "08.png")):
        x = read_image(next(f for f in files if f.name == name)).double()
        pairs.append((x, _noisy(x, (10, 25, 50)[i] / 255, seed=i, clip=i != 1)))
    return pairs


@pytest.fixture(scope="module")
def color_pair() -> tuple[torch.Tensor, torch.Tensor]:
    x = read_image(_data("test/CBSD68")[0]).double()  # 481x321: odd sizes
    return x, _noisy(x, 15 / 255, seed=7)


def _hwc(x: torch.Tensor) -> np.ndarray:
    return x[0].permute(1, 2, 0).numpy()


def test_psnr_matches_skimage(gray_pairs, color_pair):
    for x, y in [*gray_pairs, color_pair]:
        ours = metrics.psnr(y, x).item()
        ref = peak_signal_noise_ratio(_hwc(x), _hwc(y), data_range=1.0)
        assert ours == pytest.approx(ref, abs=1e-10)
    x, y = color_pair
    assert metrics.psnr(y * 255, x * 255, data_range=255).item() == pytest.approx(
        peak_signal_noise_ratio(_hwc(x), _hwc(y), data_range=1.0), abs=1e-9)


def test_ssim_matches_skimage_gray(gray_pairs):
    for x, y in gray_pairs:
        ref = structural_similarity(x[0, 0].numpy(), y[0, 0].numpy(), data_range=1.0, **SK_SSIM)
        assert metrics.ssim(y, x).item() == pytest.approx(ref, abs=1e-10)


def test_ssim_matches_skimage_color(color_pair):
    x, y = color_pair
    ref = structural_similarity(_hwc(x), _hwc(y), data_range=1.0, channel_axis=-1, **SK_SSIM)
    assert metrics.ssim(y, x).item() == pytest.approx(ref, abs=1e-10)


def test_ssim_skimage_defaults_differ(gray_pairs):
    """Documents why the settings above are needed: sample covariance moves the result."""
    x, y = gray_pairs[1]
    sample = structural_similarity(x[0, 0].numpy(), y[0, 0].numpy(), data_range=1.0,
                                   gaussian_weights=True, sigma=1.5)
    assert abs(metrics.ssim(y, x).item() - sample) > 1e-5


def test_ssim_valid_map_is_skimage_cropped_map(gray_pairs):
    x, y = gray_pairs[0]
    _, full = structural_similarity(x[0, 0].numpy(), y[0, 0].numpy(), data_range=1.0,
                                    full=True, **SK_SSIM)
    ours = metrics.ssim_map(x, y)[0, 0].numpy()
    assert ours.shape == (x.shape[-2] - 10, x.shape[-1] - 10)
    np.testing.assert_allclose(ours, full[5:-5, 5:-5], atol=1e-10)


def test_identical_images():
    x = torch.rand(2, 3, 200, 180, generator=torch.Generator().manual_seed(0))
    assert torch.isinf(metrics.psnr(x, x)).all()
    assert torch.allclose(metrics.ssim(x, x), torch.ones(2, dtype=torch.float64))
    assert torch.allclose(metrics.ms_ssim(x, x), torch.ones(2, dtype=torch.float64))
    assert metrics.mse(x, x).eq(0).all()


def test_batched_equals_single(gray_pairs):
    x = torch.cat([p[0][..., :256, :256] for p in gray_pairs])
    y = torch.cat([p[1][..., :256, :256] for p in gray_pairs])
    for fn in (metrics.mse, metrics.psnr, metrics.ssim, metrics.ms_ssim):
        batch = fn(y, x)
        assert batch.shape == (3,) and batch.dtype == torch.float64
        single = torch.cat([fn(y[i:i + 1], x[i:i + 1]) for i in range(3)])
        torch.testing.assert_close(batch, single, rtol=0, atol=1e-12)


def test_float32_input_is_measured_in_float64(gray_pairs):
    x, y = gray_pairs[0]
    torch.testing.assert_close(metrics.psnr(y.float(), x.float()),
                               metrics.psnr(y.float().double(), x.float().double()))


def test_crop(color_pair):
    x, y = color_pair
    c = 4
    ours = metrics.psnr(y, x, crop=c).item()
    ref = peak_signal_noise_ratio(_hwc(x)[c:-c, c:-c], _hwc(y)[c:-c, c:-c], data_range=1.0)
    assert ours == pytest.approx(ref, abs=1e-10)
    ref = structural_similarity(_hwc(x)[c:-c, c:-c], _hwc(y)[c:-c, c:-c], data_range=1.0,
                                channel_axis=-1, **SK_SSIM)
    assert metrics.ssim(y, x, crop=c).item() == pytest.approx(ref, abs=1e-10)
    with pytest.raises(ValueError):
        metrics.psnr(x, y, crop=200)


def test_y_channel(color_pair):
    x, y = color_pair
    xy, yy = rgb_to_y(x)[0, 0].numpy(), rgb_to_y(y)[0, 0].numpy()
    assert metrics.psnr(y, x, y_channel=True).item() == pytest.approx(
        peak_signal_noise_ratio(xy, yy, data_range=1.0), abs=1e-10)
    assert metrics.ssim(y, x, y_channel=True, crop=2).item() == pytest.approx(
        structural_similarity(xy[2:-2, 2:-2], yy[2:-2, 2:-2], data_range=1.0, **SK_SSIM),
        abs=1e-10)
    gray = x[:, :1]  # gray input passes through unchanged
    assert metrics.psnr(y[:, :1], gray, y_channel=True).item() == metrics.psnr(y[:, :1], gray)


def test_shape_mismatch_and_small_images():
    with pytest.raises(ValueError):
        metrics.psnr(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 9))
    with pytest.raises(ValueError, match="window"):
        metrics.ssim(torch.zeros(1, 1, 10, 40), torch.zeros(1, 1, 10, 40))
    with pytest.raises(ValueError, match="161x161"):
        metrics.ms_ssim(torch.zeros(1, 1, 160, 400), torch.zeros(1, 1, 160, 400))
    small = torch.rand(1, 1, 64, 64)
    assert metrics.ms_ssim(small, small, window=3).item() == pytest.approx(1.0)


def test_ms_ssim_monotonic_in_noise(gray_pairs):
    x = gray_pairs[0][0]
    values = [metrics.ms_ssim(_noisy(x, s / 255, seed=1), x).item() for s in (5, 15, 30, 60)]
    assert 1.0 > values[0] > values[1] > values[2] > values[3] > 0.0
    ssims = [metrics.ssim(_noisy(x, s / 255, seed=1), x).item() for s in (5, 15, 30, 60)]
    assert all(m > s for m, s in zip(values, ssims, strict=True))  # coarse scales forgive noise


def test_ms_ssim_matches_pytorch_msssim(gray_pairs, color_pair):
    """Exact when every scale has even sides (pytorch_msssim zero-pads odd ones differently).

    pytorch_msssim builds its Gaussian window in float32; passing our float64 window removes
    that ~1e-6 difference.
    """
    pm = pytest.importorskip("pytorch_msssim")
    window = metrics.gaussian_window().view(1, 1, 1, 11)
    for x, y in gray_pairs[:2]:  # 256x256
        ref = pm.ms_ssim(y, x, data_range=1.0, win=window).item()
        assert metrics.ms_ssim(y, x).item() == pytest.approx(ref, abs=1e-12)
    x, y = (t[..., :480, :320] for t in color_pair)  # 481x321 -> even at all scales
    ref = pm.ms_ssim(y, x, data_range=1.0, win=window.repeat(3, 1, 1, 1)).item()
    assert metrics.ms_ssim(y, x).item() == pytest.approx(ref, abs=1e-12)
    ref32 = pm.ms_ssim(y.float(), x.float(), data_range=1.0).item()  # its own float32 window
    assert metrics.ms_ssim(y, x).item() == pytest.approx(ref32, abs=1e-4)
