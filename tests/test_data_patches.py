"""RandomPatches: per-task item contents, collation, and determinism across workers/epochs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, default_collate

from pixelsmith.data import (
    Augment,
    ImageFolder,
    RandomPatches,
    item_generator,
    known_from_item,
    worker_init_fn,
)
from pixelsmith.degrade.draws import DegradationSpec, degrade_patch, pad_kernel, unpad_kernel
from pixelsmith.errors import PixelsmithError
from pixelsmith.io import save_image

KEYS = {"clean", "degraded", "sigma", "kernel", "kernel_size", "mask", "scale", "quality",
        "image"}


def _smooth(channels: int, height: int, width: int, seed: int) -> torch.Tensor:
    """A smooth random image (bilinear upsampling of coarse noise), like natural content."""
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, channels, height // 8 + 2, width // 8 + 2, generator=gen)
    return torch.nn.functional.interpolate(coarse, size=(height, width), mode="bilinear",
                                           align_corners=False)


@pytest.fixture(scope="module")
def clean_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("clean")
    for i in range(5):
        save_image(root / f"img{i}.png", _smooth(3, 72 + 4 * i, 80, i))
    return root


@pytest.fixture(scope="module")
def folder(clean_dir: Path) -> ImageFolder:
    return ImageFolder(clean_dir, cache=True)


def _check_common(item: dict, patch: int, channels: int = 3) -> None:
    assert set(item) == KEYS
    assert item["clean"].shape == (channels, patch, patch)
    assert item["clean"].dtype == item["degraded"].dtype == torch.float32
    assert float(item["clean"].min()) >= 0.0 and float(item["clean"].max()) <= 1.0
    assert item["sigma"].shape == () and item["sigma"].dtype == torch.float32
    assert item["mask"].shape == (1, patch, patch)
    assert item["kernel"].dtype == torch.float32 and item["kernel"].ndim == 2
    assert item["kernel_size"].shape == (2,) and item["kernel_size"].dtype == torch.int64
    assert torch.isclose(item["kernel"].sum(), torch.tensor(1.0))
    for key in ("scale", "quality", "image"):
        assert item[key].shape == () and item[key].dtype == torch.int64


def test_denoise_noise_has_the_drawn_sigma(tmp_path: Path) -> None:
    save_image(tmp_path / "big.png", _smooth(1, 260, 260, 0))
    patches = RandomPatches(tmp_path, DegradationSpec.denoise((5, 75)), 256, seed=4,
                            patches_per_epoch=3)
    for i in range(len(patches)):
        item = patches[i]
        _check_common(item, 256, channels=1)
        sigma = float(item["sigma"])
        assert 5 / 255 <= sigma <= 75 / 255
        std = float((item["degraded"] - item["clean"]).std())
        assert abs(std - sigma) < 0.03 * sigma
        assert torch.count_nonzero(item["mask"]) == 0 and int(item["scale"]) == 1


def test_sr_input_is_bicubic_of_the_patch(folder: ImageFolder) -> None:
    from pixelsmith.degrade import imresize

    patches = RandomPatches(folder, DegradationSpec.sr(scale=4), 32, seed=1)
    item = patches[0]
    _check_common(item, 32)
    assert item["degraded"].shape == (3, 8, 8) and int(item["scale"]) == 4
    expected = imresize(item["clean"][None], 0.25)[0]
    assert torch.allclose(item["degraded"], expected, atol=1e-6)
    assert float(item["sigma"]) == 0.0
    with pytest.raises(ValueError, match="multiple"):
        RandomPatches(folder, DegradationSpec.sr(scale=3), 32)


def test_inpaint_masked_pixels_are_zero(folder: ImageFolder) -> None:
    spec = DegradationSpec.inpaint({"box": (0.2, 0.3), "strokes": (0.1, 0.3),
                                    "pixels": (0.3, 0.5)})
    patches = RandomPatches(folder, spec, 48, seed=2, patches_per_epoch=12)
    for i in range(len(patches)):
        item = patches[i]
        _check_common(item, 48)
        mask = item["mask"].expand_as(item["degraded"]).bool()
        coverage = float(item["mask"].mean())
        assert 0.09 <= coverage <= 0.51
        assert torch.count_nonzero(item["degraded"][mask]) == 0
        assert torch.equal(item["degraded"][~mask], item["clean"][~mask])


def test_dejpeg_quality_in_range_and_input_is_that_jpeg(folder: ImageFolder) -> None:
    from pixelsmith.degrade import JPEG

    patches = RandomPatches(folder, DegradationSpec.dejpeg((20, 40)), 32, seed=3,
                            patches_per_epoch=6)
    for i in range(len(patches)):
        item = patches[i]
        _check_common(item, 32)
        quality = int(item["quality"])
        assert 20 <= quality <= 40
        assert torch.equal(item["degraded"], JPEG(quality)(item["clean"][None])[0])


@pytest.mark.parametrize("bias, low_share", [(1.0, 31 / 81), (2.0, (31 / 81) ** 0.5)])
def test_quality_bias_favours_low_qualities_and_keeps_the_range(bias, low_share) -> None:
    from pixelsmith.degrade.draws import draw_quality

    spec = DegradationSpec.dejpeg((10, 90), quality_bias=bias)
    gen = torch.Generator().manual_seed(0)
    drawn = [draw_quality(spec, gen) for _ in range(4000)]
    assert min(drawn) == 10 and max(drawn) == 90
    share = sum(q <= 40 for q in drawn) / len(drawn)
    assert abs(share - low_share) < 0.03, share


def test_an_even_quality_draw_is_the_one_before_the_bias_existed() -> None:
    """bias 1 keeps the integer draw, so recipes written before it draw the same patches."""
    from pixelsmith.degrade.draws import draw_quality

    spec = DegradationSpec.dejpeg((10, 90))
    gen, again = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert [draw_quality(spec, gen) for _ in range(20)] == \
        [10 + int(torch.randint(81, (), generator=again)) for _ in range(20)]


def test_deblur_items_hold_the_kernel_used(folder: ImageFolder) -> None:
    from pixelsmith.degrade import Blur

    spec = DegradationSpec.deblur(boundary="circular", kernel_size=15,
                                  gaussian_sigma=(1.0, 2.0), disk_radius=(1.0, 3.0),
                                  motion_length=(5.0, 12.0))
    patches = RandomPatches(folder, spec, 32, seed=5, patches_per_epoch=6)
    for i in range(len(patches)):
        item = patches[i]
        _check_common(item, 32)
        assert item["kernel"].shape == (15, 15)
        kernel = unpad_kernel(item["kernel"], item["kernel_size"])
        assert tuple(kernel.shape) == tuple(item["kernel_size"].tolist())
        expected = Blur(kernel, "circular")(item["clean"][None])[0]
        assert torch.allclose(item["degraded"], expected, atol=1e-5)


def test_valid_blur_has_no_border_and_matches_the_operator() -> None:
    from pixelsmith.degrade import Blur

    spec = DegradationSpec.deblur(kernels=("motion",), kernel_size=9, sigma=(0, 0))
    big = _smooth(1, 24 + 8, 24 + 8, 7)
    item = degrade_patch(spec, big, item_generator(0, 0, 0))
    assert item["clean"].shape == item["degraded"].shape == (1, 24, 24)
    assert torch.equal(item["clean"], big[0, :, 4:28, 4:28])
    kernel = unpad_kernel(item["kernel"], item["kernel_size"])
    reflect = Blur(kernel, "reflect")(big)[0, :, 4:28, 4:28]
    assert torch.allclose(item["degraded"], reflect, atol=1e-5)


def test_fixed_kernel_list_and_noise(folder: ImageFolder) -> None:
    box = torch.ones(3, 5)
    spec = DegradationSpec.deblur(kernels=[box], sigma=(10, 10), kernel_size=7)
    item = RandomPatches(folder, spec, 24, seed=0)[0]
    assert torch.allclose(unpad_kernel(item["kernel"], item["kernel_size"]), box / 15)
    assert float(item["sigma"]) == pytest.approx(10 / 255)
    with pytest.raises(ValueError, match="fit"):
        DegradationSpec.deblur(kernels=[torch.ones(9, 9)], kernel_size=7)


def test_pad_kernel_round_trip_keeps_the_centre() -> None:
    for shape in ((3, 3), (4, 6), (1, 7), (7, 7)):
        kernel = torch.rand(*shape)
        canvas = pad_kernel(kernel, 7)
        assert canvas.shape == (7, 7)
        assert torch.equal(unpad_kernel(canvas, shape), kernel)
        assert canvas[3, 3] == kernel[shape[0] // 2, shape[1] // 2]


def test_a_batch_of_four_collates(folder: ImageFolder) -> None:
    for spec in (DegradationSpec.denoise(), DegradationSpec.sr(scale=2),
                 DegradationSpec.inpaint(("box",)), DegradationSpec.dejpeg()):
        patches = RandomPatches(folder, spec, 16)
        batch = default_collate([patches[i] for i in range(4)])
        assert batch["clean"].shape == (4, 3, 16, 16)
        assert batch["sigma"].shape == (4,) and batch["kernel"].shape == (4, 25, 25)
        assert batch["mask"].shape == (4, 1, 16, 16)
        known = known_from_item(batch, spec.task, index=2)
        if spec.task == "sr":
            assert known.scale == 2 and batch["degraded"].shape == (4, 3, 8, 8)
        if spec.task == "inpaint":
            assert known.mask.shape == (1, 1, 16, 16)
        if spec.task == "dejpeg":
            assert 10 <= known.quality <= 90 and known.sigma is None
        if spec.task == "denoise":
            assert known.sigma == pytest.approx(float(batch["sigma"][2]))


def _loader_batches(dataset, workers: int) -> list[dict]:
    loader = DataLoader(dataset, batch_size=4, shuffle=False, num_workers=workers,
                        worker_init_fn=worker_init_fn)
    return list(loader)


def _same(first: list[dict], second: list[dict]) -> bool:
    return len(first) == len(second) and all(
        torch.equal(a[k], b[k]) for a, b in zip(first, second, strict=True) for k in a
    )


def test_items_are_identical_across_workers_and_runs(folder: ImageFolder) -> None:
    spec = DegradationSpec.inpaint(("strokes", "pixels"), sigma=(0, 25))
    patches = RandomPatches(folder, spec, 24, patches_per_epoch=16, seed=11)
    serial = _loader_batches(patches, 0)
    parallel = _loader_batches(patches, 2)
    assert _same(serial, parallel)
    assert _same(parallel, _loader_batches(patches, 2))
    single = patches[9]
    assert all(torch.equal(single[k], serial[2][k][1]) for k in single)


def test_epoch_and_seed_change_the_draw(folder: ImageFolder) -> None:
    patches = RandomPatches(folder, DegradationSpec.denoise(), 16, patches_per_epoch=8, seed=0)
    first = [patches[i] for i in range(8)]
    patches.set_epoch(1)
    second = [patches[i] for i in range(8)]
    patches.set_epoch(0)
    assert all(torch.equal(first[i]["degraded"], patches[i]["degraded"]) for i in range(8))
    assert not any(torch.equal(a["degraded"], b["degraded"]) for a, b in zip(first, second,
                                                                          strict=True))
    other = RandomPatches(folder, DegradationSpec.denoise(), 16, patches_per_epoch=8, seed=1)
    assert not torch.equal(other[0]["degraded"], first[0]["degraded"])


def test_every_image_is_visited_once_per_pass(folder: ImageFolder) -> None:
    patches = RandomPatches(folder, DegradationSpec.denoise(), 16, patches_per_image=2,
                            augment=Augment(flip=False, rot90=False))
    assert len(patches) == 10
    images = [patches.image_index(i) for i in range(10)]
    assert images[0::2] == images[1::2]  # runs of patches_per_image
    assert sorted(images[0::2]) == list(range(5))


def test_small_images_and_bad_specs_fail_clearly(folder: ImageFolder) -> None:
    with pytest.raises(PixelsmithError, match="smaller than"):
        RandomPatches(folder, DegradationSpec.denoise(), 80)
    with pytest.raises(ValueError, match="task"):
        DegradationSpec("colorize")
    with pytest.raises(ValueError, match="sigma"):
        DegradationSpec.denoise((30, 10))
    with pytest.raises(ValueError, match="quality"):
        DegradationSpec.dejpeg((0, 50))
    with pytest.raises(ValueError, match="mask kind"):
        DegradationSpec.inpaint(("circles",))
    with pytest.raises(ValueError, match="kernel kind"):
        DegradationSpec.deblur(("square",))
    fixed = DegradationSpec.dejpeg(30)
    assert fixed.quality == (30, 30)
    assert DegradationSpec.denoise(25).sigma == (25.0, 25.0)
    assert DegradationSpec.sr(2, sigma=[0, 5]).sigma == (0.0, 5.0)


def test_uncached_folder_reads_the_same(clean_dir: Path, folder: ImageFolder) -> None:
    spec = DegradationSpec.denoise()
    cached = RandomPatches(folder, spec, 16, seed=2)
    lazy = RandomPatches(ImageFolder(clean_dir), spec, 16, seed=2, cache=False)
    assert not lazy.folder.cached
    assert all(torch.equal(cached[i]["degraded"], lazy[i]["degraded"]) for i in range(3))


@pytest.mark.parametrize("bias, low_share, high_share", [(1.0, 1 / 3, 1 / 3),
                                                         (2.0, 3 ** -0.5, 1 - (2 / 3) ** 0.5)])
def test_sigma_bias_favours_low_noise_and_keeps_the_range(bias, low_share, high_share) -> None:
    from pixelsmith.degrade.noise import GaussianNoise

    sigmas = GaussianNoise((0.0, 75 / 255), bias=bias).sample_sigma(
        20000, torch.Generator().manual_seed(0)) * 255
    assert 0 <= float(sigmas.min()) < 0.5 and 74.5 < float(sigmas.max()) <= 75
    assert abs(float((sigmas <= 25).float().mean()) - low_share) < 0.02
    assert abs(float((sigmas > 50).float().mean()) - high_share) < 0.02


def test_a_sigma_bias_draws_the_same_noise_as_the_even_draw_at_its_level() -> None:
    """The bias reshapes the level only: the same generator draws, so an even recipe's
    patches stay as they were and a biased patch is the even one at another sigma."""
    clean = torch.rand(1, 1, 40, 40)
    even = DegradationSpec.denoise((30.0, 75.0))
    biased = DegradationSpec.denoise((30.0, 75.0), sigma_bias=2.0)
    a = degrade_patch(even, clean, torch.Generator().manual_seed(3))
    b = degrade_patch(biased, clean, torch.Generator().manual_seed(3))
    level_a, level_b = float(a["sigma"]) * 255, float(b["sigma"]) * 255  # items: [0, 1] units
    assert (level_b - 30) / 45 == pytest.approx(((level_a - 30) / 45) ** 2, abs=1e-5)
    noise_a = (a["degraded"] - a["clean"]) / float(a["sigma"])
    noise_b = (b["degraded"] - b["clean"]) / float(b["sigma"])
    assert torch.allclose(noise_a, noise_b, atol=1e-4)
