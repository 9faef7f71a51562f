"""ImageFolder, PairedFolders and augmentation: shapes, colour, caching, pairing, same draws."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pixelsmith.data import (
    Augment,
    AugmentParams,
    ImageFolder,
    PairedFolders,
    dihedral,
    dihedral_inverse,
)
from pixelsmith.errors import PixelsmithError
from pixelsmith.io import save_image


def _image(channels: int, height: int, width: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(1, channels, height, width, generator=gen)


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """Gray and RGB images in several formats, one in a sub-folder, plus a non-image file."""
    root = tmp_path / "images"
    save_image(root / "a.png", _image(1, 40, 50, 0))
    save_image(root / "b.jpg", _image(3, 48, 36, 1))
    save_image(root / "sub" / "c.tif", _image(3, 30, 30, 2))
    (root / "notes.txt").write_text("not an image")
    return root


def test_image_folder_reads_recursively_with_colour_modes(mixed: Path) -> None:
    auto = ImageFolder(mixed)
    assert [p.name for p in auto.paths] == ["a.png", "b.jpg", "c.tif"]
    shapes = [tuple(auto[i].shape) for i in range(len(auto))]
    assert shapes == [(1, 40, 50), (3, 48, 36), (3, 30, 30)]
    for color, channels in (("gray", 1), ("rgb", 3)):
        folder = ImageFolder(mixed, color=color)
        for i in range(len(folder)):
            item = folder[i]
            assert item.dtype == torch.float32 and item.shape[0] == channels
            assert float(item.min()) >= 0.0 and float(item.max()) <= 1.0
            assert folder.shape(i) == tuple(item.shape)
    assert len(ImageFolder(mixed, recursive=False)) == 2


def test_image_folder_fixed_size_and_cache_match(mixed: Path) -> None:
    plain = ImageFolder(mixed, color="rgb", size=24)
    cached = ImageFolder(mixed, color="rgb", size=24, cache=True)
    assert cached.cached and not plain.cached
    for i in range(len(plain)):
        assert plain[i].shape == (3, 24, 24)
        assert torch.equal(plain[i], cached[i])
        assert cached.stored(i).dtype == torch.uint8
    assert cached.nbytes() == plain.nbytes() == 3 * 3 * 24 * 24
    rect = ImageFolder(mixed, size=(16, 20), center_crop=30)
    assert all(rect[i].shape[-2:] == (16, 20) for i in range(len(rect)))


def test_image_folder_pixels_equal_the_file(tmp_path: Path) -> None:
    from pixelsmith.io import read_image

    save_image(tmp_path / "x.png", _image(3, 20, 22, 5))
    folder = ImageFolder(tmp_path, cache=True)
    assert torch.equal(folder[0], read_image(tmp_path / "x.png")[0])


def test_image_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(PixelsmithError, match="no image files"):
        ImageFolder(tmp_path)
    with pytest.raises(PixelsmithError, match="no such file"):
        ImageFolder(tmp_path / "missing")
    with pytest.raises(ValueError, match="color"):
        ImageFolder(tmp_path, color="cmyk")


def test_image_folder_augment_is_seeded_per_epoch(mixed: Path) -> None:
    folder = ImageFolder(mixed, color="rgb", augment=Augment(), crop=16, seed=3)
    first = [folder[i] for i in range(len(folder))]
    again = [folder[i] for i in range(len(folder))]
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert all(x.shape == (3, 16, 16) for x in first)
    folder.set_epoch(1)
    later = [folder[i] for i in range(len(folder))]
    assert not all(torch.equal(a, b) for a, b in zip(first, later, strict=True))


# -- augmentation ---------------------------------------------------------------------------
def test_dihedral_group() -> None:
    x = torch.arange(12.0).view(1, 3, 4)
    square = torch.arange(16.0).view(1, 4, 4)
    images = {tuple(dihedral(square, k).flatten().tolist()) for k in range(8)}
    assert len(images) == 8  # all distinct
    for k in range(8):
        assert torch.equal(dihedral(dihedral(x, k), dihedral_inverse(k)), x)
    assert torch.equal(dihedral(x, 4), x.flip(-1))
    with pytest.raises(ValueError):
        dihedral(x, 8)


def test_augment_applies_one_draw_to_all_tensors() -> None:
    x = _image(3, 40, 40, 0)[0]
    mask = (x[:1] > 0.5).float()
    gen = torch.Generator().manual_seed(0)
    out_x, out_mask = Augment()(x, mask, crop=24, generator=gen)
    assert out_x.shape == (3, 24, 24) and out_mask.shape == (1, 24, 24)
    assert torch.equal(out_mask, (out_x[:1] > 0.5).float())
    with pytest.raises(ValueError, match="differ"):
        Augment()(x, mask[..., :30], crop=8, generator=gen)


def test_augment_draws_cover_transforms_and_respect_switches() -> None:
    gen = torch.Generator().manual_seed(1)
    seen = {Augment().draw(50, 50, 10, gen).transform for _ in range(200)}
    assert seen == set(range(8))
    assert {Augment(flip=True, rot90=False).draw(50, 50, 10, gen).transform
            for _ in range(50)} == {0, 4}
    assert {Augment(flip=False, rot90=False).draw(50, 50, 10, gen).transform
            for _ in range(10)} == {0}
    with pytest.raises(ValueError, match="larger"):
        Augment().draw(20, 50, 30, gen)


def test_scale_jitter_rescales_the_window() -> None:
    gen = torch.Generator().manual_seed(2)
    augment = Augment(flip=False, rot90=False, scale_jitter=(2.0, 2.0))
    params = augment.draw(64, 64, 16, gen)
    assert params.window == 8 and params.crop == 16
    x = _image(1, 64, 64, 3)[0]
    assert params.apply(x).shape == (1, 16, 16)
    as_bytes = torch.round(x * 255).to(torch.uint8)
    assert params.apply(as_bytes).dtype == torch.uint8
    zoom_out = Augment(scale_jitter=(0.1, 0.1)).draw(64, 64, 16, gen)
    assert zoom_out.window == 64  # shrunk to fit the image
    with pytest.raises(ValueError):
        Augment(scale_jitter=(0.0, 1.0))


def test_saturation_scales_colour_around_luma_and_keeps_gray() -> None:
    from pixelsmith.data.augment import LUMA, saturate

    x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 0.5 + 0.25
    assert torch.equal(saturate(x, 1.0), x)
    luma = sum(w * x[:, c] for c, w in enumerate(LUMA))
    gray = saturate(x, 0.0)
    assert torch.allclose(gray, luma[:, None].expand_as(x), atol=1e-6)
    doubled = saturate(x, 2.0)
    inside = (2 * x - luma[:, None] >= 0).all(1) & (2 * x - luma[:, None] <= 1).all(1)
    assert torch.allclose(doubled[:, 0][inside], (2 * x[:, 0] - luma)[inside], atol=1e-6)
    assert doubled.min() >= 0 and doubled.max() <= 1
    flat = torch.full((3, 4, 4), 0.4)
    assert torch.allclose(saturate(flat, 1.7), flat)
    as_bytes = torch.round(x[0] * 255).to(torch.uint8)
    assert saturate(as_bytes, 1.5).dtype == torch.uint8


def test_saturation_draw_comes_last_and_leaves_masks_and_gray_alone() -> None:
    plain, colourful = Augment(), Augment(saturation=(0.5, 2.0))
    first = plain.draw(64, 64, 16, torch.Generator().manual_seed(3))
    second = colourful.draw(64, 64, 16, torch.Generator().manual_seed(3))
    assert (first.top, first.left, first.transform) == (second.top, second.left,
                                                        second.transform)
    assert first.saturation == 1.0 and 0.5 <= second.saturation <= 2.0
    image, mask, gray = _image(3, 64, 64, 4), _image(1, 64, 64, 5), _image(1, 64, 64, 6)
    assert not torch.equal(second.apply(image), first.apply(image))
    assert torch.equal(second.apply(mask), first.apply(mask))
    assert torch.equal(second.apply(gray), first.apply(gray))
    with pytest.raises(ValueError):
        Augment(saturation=(2.0, 1.0))


def test_augment_params_scaled_for_sr() -> None:
    params = AugmentParams(top=3, left=5, window=8, crop=8, transform=6)
    big = params.scaled(4)
    assert (big.top, big.left, big.window, big.crop, big.transform) == (12, 20, 32, 32, 6)


# -- paired folders -------------------------------------------------------------------------
def _pairs(tmp_path: Path, names_low, names_high, scale: int = 1) -> tuple[Path, Path]:
    low, high = tmp_path / "low", tmp_path / "high"
    for i, name in enumerate(names_high):
        save_image(high / name, _image(3, 24 * scale, 32 * scale, i))
    for i, name in enumerate(names_low):
        save_image(low / name, _image(3, 24, 32, 100 + i))
    return low, high


def test_paired_folders_match_by_stem_across_formats(tmp_path: Path) -> None:
    low, high = _pairs(tmp_path, ["a.jpg", "b.png", "s/c.png"], ["a.png", "b.png", "s/c.tif"])
    pairs = PairedFolders(low, high, crop=16)
    assert pairs.names == ["a", "b", "s/c"]
    item = pairs[0]
    assert item["degraded"].shape == item["clean"].shape == (3, 16, 16)
    assert item["name"] == "a"
    assert item["degraded"].dtype == torch.float32


def test_paired_folders_report_unmatched_names(tmp_path: Path) -> None:
    low, high = _pairs(tmp_path, ["a.png", "b.png", "x.png"], ["a.png", "b.png", "y.png"])
    with pytest.raises(PixelsmithError) as info:
        PairedFolders(low, high)
    message = str(info.value)
    assert "x" in message and "y" in message and "only in" in message
    assert "\n" not in message


def test_paired_folders_apply_the_same_augmentation(tmp_path: Path) -> None:
    root = tmp_path / "same"
    for i in range(3):
        image = _image(3, 30, 40, i)
        save_image(root / "low" / f"{i}.png", image)
        save_image(root / "high" / f"{i}.png", image)
    pairs = PairedFolders(root / "low", root / "high", crop=12, seed=5)
    for epoch in range(3):
        pairs.set_epoch(epoch)
        for i in range(len(pairs)):
            item = pairs[i]
            assert torch.equal(item["degraded"], item["clean"])


def test_paired_folders_sr_crops_line_up(tmp_path: Path) -> None:
    from pixelsmith.degrade import imresize

    root = tmp_path / "sr"
    for i in range(2):
        hr = _image(1, 48, 64, i)
        save_image(root / "hr" / f"{i}.png", hr)
        lr = imresize(torch.round(hr * 255) / 255, 0.5, uint8=True)
        save_image(root / "lr" / f"{i}.png", lr)
    pairs = PairedFolders(root / "lr", root / "hr", crop=16, scale=2, seed=1)
    for i in range(len(pairs)):
        item = pairs[i]
        assert item["degraded"].shape == (1, 8, 8) and item["clean"].shape == (1, 16, 16)
        again = imresize(item["clean"][None].double(), 0.5, uint8=True)[0].float()
        # the crop boundary changes the bicubic taps at the border only
        assert torch.allclose(again[:, 2:-2, 2:-2], item["degraded"][:, 2:-2, 2:-2], atol=2 / 255)
    with pytest.raises(ValueError, match="multiple"):
        PairedFolders(root / "lr", root / "hr", crop=15, scale=2)
    wrong = PairedFolders(root / "lr", root / "hr", scale=3)
    with pytest.raises(PixelsmithError, match="3x larger"):
        wrong[0]
