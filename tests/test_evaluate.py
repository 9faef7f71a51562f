"""The evaluation protocol: reproducible cases, literature conventions, a published figure."""

from __future__ import annotations

import pytest
import torch
from conftest import data_or_skip

from pixelsmith.errors import PixelsmithError
from pixelsmith.evaluate.protocol import EvalParams, evaluate, image_generator, make_case


def test_cases_are_reproducible_per_image_and_seed():
    x = torch.rand(1, 1, 32, 32)
    params = EvalParams("denoise", sigma=25).resolved()
    a = make_case(x, params, image_generator(0, 3))[1]
    b = make_case(x, params, image_generator(0, 3))[1]
    c = make_case(x, params, image_generator(0, 4))[1]
    d = make_case(x, params, image_generator(1, 3))[1]
    assert torch.equal(a, b) and not torch.equal(a, c) and not torch.equal(a, d)


def test_denoise_noise_is_not_clipped_and_has_sigma():
    x = torch.full((1, 1, 128, 128), 0.02)
    _, y, known = make_case(x, EvalParams("denoise", sigma=25).resolved(), image_generator(0, 0))
    assert y.min() < 0  # literature protocol: no clipping of the noisy input
    assert abs(float((y - x).std()) - 25 / 255) < 0.005 and known.sigma == pytest.approx(25 / 255)


def test_sr_case_crops_to_a_multiple_of_the_scale():
    x = torch.rand(1, 3, 35, 42)
    ref, low, known = make_case(x, EvalParams("sr", scale=4).resolved(), image_generator(0, 0))
    assert ref.shape[-2:] == (32, 40) and low.shape[-2:] == (8, 10) and known.scale == 4
    assert torch.equal(low, torch.round(low * 255) / 255)  # LR stored as 8-bit


@pytest.mark.parametrize("task", ["deblur", "inpaint", "dejpeg"])
def test_other_tasks_build_cases(task):
    x = torch.rand(1, 3, 40, 48)
    ref, y, known = make_case(x, EvalParams(task).resolved(), image_generator(0, 0))
    assert ref.shape == y.shape == x.shape
    assert (known.kernel is not None) == (task == "deblur")
    assert (known.mask is not None) == (task == "inpaint")


@pytest.mark.parametrize("bad", [
    {"task": "nope"}, {"task": "denoise", "sigma": 300}, {"task": "sr", "scale": 1},
    {"task": "dejpeg", "quality": 0}, {"task": "inpaint", "mask_kind": "blob"},
])
def test_bad_params(bad):
    with pytest.raises(PixelsmithError):
        EvalParams(**bad).resolved()


def test_bicubic_x4_on_set5_matches_the_published_figure():
    """Bicubic x4 on Set5 (Y channel, 4-pixel crop) is 28.42 dB in RCAN's and SwinIR's tables."""
    data = data_or_skip("test/Set5/HR")
    report = evaluate(data, "sr", ["bicubic"], EvalParams("sr", scale=4), progress=False)
    assert abs(report["results"][0]["psnr"] - 28.42) <= 0.1
    assert abs(report["results"][0]["ssim"] - 0.8104) <= 0.005


@pytest.mark.slow
def test_bm3d_on_set12_sigma25_matches_the_published_figure():
    data = data_or_skip("test/Set12")
    report = evaluate(data, "denoise", ["bm3d"], EvalParams("denoise", sigma=25), progress=False)
    assert abs(report["results"][0]["psnr"] - 29.97) <= 0.1
