"""Level estimators: the wavelet noise estimate on real images, and the JPEG quality read back
exactly from Pillow-written files at every quality 1-100."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from conftest import data_or_skip
from PIL import Image as PILImage

from pixelsmith.degrade.estimate import ZIGZAG, estimate_jpeg_quality, estimate_sigma, ijg_table
from pixelsmith.errors import PixelsmithError
from pixelsmith.io import load_image, read_image


def add_noise(x: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return x + sigma / 255 * torch.randn(x.shape, generator=generator)


def test_sigma_within_ten_percent_on_a_smooth_image():
    clean = read_image(data_or_skip("test/Set12") / "02.png")  # "house": large flat areas
    for sigma in (15, 25, 50):
        estimate = estimate_sigma(add_noise(clean, sigma)).item() * 255
        assert abs(estimate - sigma) < 0.1 * sigma, (sigma, estimate)


def test_sigma_per_image_and_colour_average(samples):
    rgb = read_image(samples / "landscape.png")
    batch = torch.cat([add_noise(rgb, 10, seed=1), add_noise(rgb, 30, seed=2)])
    estimates = estimate_sigma(batch) * 255
    assert estimates.shape == (2,) and estimates.dtype == torch.float32
    assert abs(estimates[0] - 10) < 1.5 and abs(estimates[1] - 30) < 3
    from skimage.restoration import estimate_sigma as reference

    per_channel = reference(batch[1].numpy(), channel_axis=0)
    assert estimates[1].item() == pytest.approx(float(np.mean(per_channel)) * 255, rel=1e-5)


def test_sigma_of_tiny_or_badly_shaped_input_is_an_error():
    with pytest.raises(PixelsmithError):
        estimate_sigma(torch.zeros(1, 1, 2, 2))
    with pytest.raises(PixelsmithError):
        estimate_sigma(torch.zeros(8, 8))


def jpeg_tables(image: PILImage.Image, **save) -> dict:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **save)
    buffer.seek(0)
    return {k: list(v) for k, v in PILImage.open(buffer).quantization.items()}


def test_quality_round_trip_at_every_quality():
    pixels = np.random.default_rng(0).integers(0, 256, (16, 16), dtype=np.uint8)
    gray = PILImage.fromarray(pixels)
    colour = gray.convert("RGB")
    wrong = [(q, estimate_jpeg_quality(jpeg_tables(img, quality=q)))
             for q in range(1, 101) for img in (gray, colour)]
    assert [(q, got) for q, got in wrong if got != q] == []


def test_quality_of_a_file_read_by_pixelsmith(tmp_path):
    pixels = np.random.default_rng(1).integers(0, 256, (24, 24, 3), dtype=np.uint8)
    PILImage.fromarray(pixels).save(tmp_path / "a.jpg", quality=37)
    assert estimate_jpeg_quality(load_image(tmp_path / "a.jpg").info["quantization"]) == 37


def test_quality_tables_in_zigzag_order_are_understood():
    for q in (5, 50, 90):
        zigzag = ijg_table(q)[ZIGZAG]  # element k = coefficient k of the zigzag scan
        assert estimate_jpeg_quality({0: list(zigzag)}) == q


def test_non_ijg_tables_get_the_nearest_quality():
    table = ijg_table(60) * 1.1  # another encoder: the same shape, a bit coarser
    assert 53 <= estimate_jpeg_quality({0: list(np.round(table).astype(int))}) < 60
    pixels = np.random.default_rng(2).integers(0, 256, (16, 16), dtype=np.uint8)
    preset = jpeg_tables(PILImage.fromarray(pixels), qtables="web_high")  # Photoshop-like
    assert 1 <= estimate_jpeg_quality(preset) <= 100


@pytest.mark.parametrize("tables", [{}, {1: [1] * 64}, {0: [1] * 63}, {0: [0] * 64}])
def test_bad_tables_are_errors(tables):
    with pytest.raises(PixelsmithError):
        estimate_jpeg_quality(tables)
