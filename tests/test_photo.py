"""The photo task: the chain baselines, the strength control, and what a realistic recipe
exports."""

from __future__ import annotations

import pytest
import torch

import pixelsmith
from pixelsmith.degrade import GaussianNoise, degrade
from pixelsmith.degrade.known import Known
from pixelsmith.degrade.resize import imresize
from pixelsmith.errors import PixelsmithError
from pixelsmith.io import read_image
from pixelsmith.metrics.pixel import psnr
from pixelsmith.restoration.registry import default_method, task_methods
from pixelsmith.restoration.restorer import Restorer
from pixelsmith.restoration.strength import blend
from pixelsmith.train.config import recipe_from_dict
from pixelsmith.train.families.restoration import RestorationFamily

SAMPLES = pixelsmith.__file__.rsplit("/", 1)[0] + "/samples"


@pytest.fixture(scope="module")
def clean() -> torch.Tensor:
    return read_image(f"{SAMPLES}/landscape.png")[..., :96, :96]


def test_photo_methods_and_default() -> None:
    methods = task_methods("photo")
    assert {"photo-chain", "photo-classical"} <= set(methods)
    assert default_method("photo", 3, Known()) == "photo-fast"  # shipped, default at 1x
    assert default_method("photo", 3, Known(scale=4)) == "photo-x4"  # shipped, default at 4x


def test_chain_denoises_a_noisy_photo_at_1x_and_enlarges_at_4x(clean) -> None:
    noisy = degrade(clean, GaussianNoise(15 / 255), seed=0).clamp(0, 1)
    out = pixelsmith.restore(noisy, task="photo", tile=0)
    assert out.shape == clean.shape
    assert float(psnr(out, clean)) > float(psnr(noisy, clean)) + 2.0
    small = imresize(clean, 0.25)
    big = pixelsmith.restore(small, task="photo", scale=4, tile=0)
    assert big.shape[-2:] == (96, 96)


def test_classical_chain_is_bm3d_then_bicubic(clean) -> None:
    pytest.importorskip("bm3d")
    small = imresize(clean, 0.25).clamp(0, 1)
    out = pixelsmith.restore(small, task="photo", scale=4, method="photo-classical")
    assert out.shape[-2:] == (96, 96)


def test_strength_mixes_the_input_back(clean) -> None:
    noisy = degrade(clean, GaussianNoise(20 / 255), seed=1).clamp(0, 1)
    full = pixelsmith.restore(noisy, task="denoise", sigma=20, method="tv")
    none = pixelsmith.restore(noisy, task="denoise", sigma=20, method="tv", strength=0.0)
    half = pixelsmith.restore(noisy, task="denoise", sigma=20, method="tv", strength=0.5)
    assert torch.allclose(none, noisy)
    assert torch.allclose(half, (noisy + full) / 2, atol=1e-6)
    small = imresize(clean, 0.5).clamp(0, 1)
    kept = pixelsmith.restore(small, task="sr", scale=2, method="bicubic", strength=0.0)
    assert torch.allclose(kept, blend(imresize(small, 2.0).clamp(0, 1), small, 1.0))


def test_strength_is_refused_where_it_means_nothing() -> None:
    with pytest.raises(PixelsmithError, match="strength is for tasks"):
        Restorer("inpaint", strength=0.5)
    with pytest.raises(PixelsmithError, match="strength must be in 0-1"):
        Restorer("denoise", "tv", strength=1.5)


def test_realistic_recipes_export_as_photo_models() -> None:
    base = {"name": "p", "model": {"name": "unet", "args": {"channels": 3}},
            "data": {"train": "train/CBSD432/train"}, "train": {"steps": 1}}
    realistic = recipe_from_dict({**base, "degradation": {"task": "denoise", "kind": "realistic",
                                                         "scale": 1}})
    synthetic = recipe_from_dict({**base, "degradation": {"task": "denoise"}})
    assert RestorationFamily.exported_task(realistic) == "photo"
    assert RestorationFamily.exported_task(synthetic) == "denoise"


def test_cli_photo_with_strength(tmp_path, clean) -> None:
    from click.testing import CliRunner

    from pixelsmith.cli.main import cli
    from pixelsmith.io import save_image

    source = tmp_path / "in.png"
    save_image(source, imresize(clean, 0.25).clamp(0, 1))
    result = CliRunner().invoke(cli, ["restore", str(source), "-o", str(tmp_path / "out.png"),
                                      "--task", "photo", "--scale", "4", "--strength", "0.7"])
    assert result.exit_code == 0, result.output
    assert read_image(tmp_path / "out.png").shape[-2:] == (96, 96)
    bad = CliRunner().invoke(cli, ["restore", str(source), "-o", str(tmp_path / "o2.png"),
                                   "--task", "photo", "--strength", "2"])
    assert bad.exit_code == 2
