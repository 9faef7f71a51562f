"""No-reference statistics: each moves the way its degradation says."""

from __future__ import annotations

import pytest
import torch

import pixelsmith
from pixelsmith.degrade import GaussianNoise, degrade
from pixelsmith.degrade.blur import Blur
from pixelsmith.degrade.jpeg import JPEG
from pixelsmith.degrade.kernels import gaussian_kernel
from pixelsmith.errors import PixelsmithError
from pixelsmith.io import read_image
from pixelsmith.metrics.noref import blockiness, no_reference_stats, noise_sigma, sharpness

SAMPLES = pixelsmith.__file__.rsplit("/", 1)[0] + "/samples"


@pytest.fixture(scope="module")
def clean() -> torch.Tensor:
    return read_image(f"{SAMPLES}/landscape.png")[..., :128, :128]


def test_noise_sigma_reads_added_noise(clean) -> None:
    noisy = degrade(clean, GaussianNoise(20 / 255), seed=0)  # unclipped: pure Gaussian
    base, estimate = float(noise_sigma(clean)[0]), float(noise_sigma(noisy)[0])
    assert abs(estimate - 20.0) < 3.0 and base < 10.0


def test_blockiness_shows_jpeg_blocks_only_on_their_grid(clean) -> None:
    coded = JPEG(10)(clean)
    assert float(blockiness(clean)[0]) < 1.2
    assert float(blockiness(coded)[0]) > float(blockiness(clean)[0]) + 0.3
    shifted = coded[..., 3:, 3:]  # the grid no longer starts at the top left
    assert float(blockiness(shifted)[0]) < float(blockiness(coded)[0])


def test_sharpness_falls_with_blur_and_batches_are_per_image(clean) -> None:
    blurred = Blur(gaussian_kernel(2.0), "reflect")(clean)
    both = sharpness(torch.cat([clean, blurred]))
    assert both.shape == (2,) and float(both[1]) < 0.5 * float(both[0])
    gray = clean.mean(dim=1, keepdim=True)
    assert set(no_reference_stats(gray)) == {"noise", "blockiness", "sharpness"}


def test_bad_shapes_are_one_line_errors(clean) -> None:
    with pytest.raises(PixelsmithError, match="expected"):
        sharpness(clean[0])
    with pytest.raises(PixelsmithError, match="too small"):
        blockiness(clean[..., :10, :10])
