"""ICC profiles and EXIF survive `pixelsmith restore` (orientation reset once applied), unless
--strip-metadata; dejpeg writes PNG by default."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from cli_runner import run_err as run
from PIL import Image as PILImage
from PIL import ImageCms

from pixelsmith.io import image_metadata, load_image, save_image


@pytest.fixture(scope="module")
def srgb() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _tagged(path, srgb: bytes, **options) -> None:
    """A 20x30 image with a white band on the left, shown rotated (orientation 6)."""
    data = np.zeros((20, 30, 3), np.uint8)
    data[:, :6] = 255
    img = PILImage.fromarray(data)
    exif = img.getexif()
    exif[0x0112] = 6
    exif[0x010F] = "TestCam"
    img.save(path, icc_profile=srgb, exif=exif, **options)


def _exif(path) -> dict:
    with PILImage.open(path) as img:
        return dict(img.getexif()), img.info.get("icc_profile"), img.size


@pytest.mark.parametrize("source,target", [("in.jpg", "out.jpg"), ("in.png", "out.png"),
                                           ("in.jpg", "out.png"), ("in.png", "out.webp")])
def test_icc_and_exif_are_kept(tmp_path, capsys, srgb, source, target):
    _tagged(tmp_path / source, srgb, **({"quality": 95} if source.endswith("jpg") else {}))
    code, err = run(capsys, "restore", tmp_path / source, "-o", tmp_path / target,
                    "--task", "denoise", "--method", "tv", "--sigma", "5")
    assert code == 0, err
    exif, icc, size = _exif(tmp_path / target)
    assert icc == srgb
    assert exif.get(0x010F) == "TestCam"
    assert exif.get(0x0112) == 1  # applied on reading, so not applied twice by a viewer
    assert size == (20, 30)  # upright
    pixels = load_image(tmp_path / target).pixels
    assert pixels[0, :, :6].mean() > 0.8  # the band is on top, and stays there


def test_strip_metadata_drops_them(tmp_path, capsys, srgb):
    _tagged(tmp_path / "in.jpg", srgb, quality=95)
    code, err = run(capsys, "restore", tmp_path / "in.jpg", "-o", tmp_path / "out.jpg",
                    "--task", "denoise", "--method", "tv", "--sigma", "5", "--strip-metadata")
    assert code == 0, err
    exif, icc, _ = _exif(tmp_path / "out.jpg")
    assert icc is None and exif == {}


def test_16bit_png_keeps_them(tmp_path, srgb):
    exif = PILImage.Exif()
    exif[0x010F] = "TestCam"
    pixels = torch.rand(1, 3, 8, 9, generator=torch.Generator().manual_seed(0))
    save_image(tmp_path / "a.png", pixels, bit_depth=16, icc_profile=srgb,
               exif=exif.tobytes())
    image = load_image(tmp_path / "a.png")
    assert image.bit_depth == 16
    assert image_metadata(image)["icc_profile"] == srgb
    assert _exif(tmp_path / "a.png")[0][0x010F] == "TestCam"


def test_a_gray_profile_is_not_put_on_rgb_pixels(tmp_path, srgb):
    save_image(tmp_path / "g.png", torch.zeros(1, 1, 4, 4), icc_profile=srgb)
    assert _exif(tmp_path / "g.png")[1] is None


def test_dejpeg_writes_png_unless_asked(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.jpg", "b.jpg"):
        PILImage.fromarray(np.random.default_rng(0).integers(0, 256, (24, 24, 3)).astype(
            np.uint8)).save(folder / name, quality=30)
    code, err = run(capsys, "restore", folder, "-o", tmp_path / "out", "--task", "dejpeg",
                    "--method", "identity")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png"]
    code, err = run(capsys, "restore", folder, "-o", tmp_path / "out2", "--task", "dejpeg",
                    "--method", "identity", "--format", "jpg")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "out2").iterdir()) == ["a.jpg", "b.jpg"]
    code, err = run(capsys, "restore", folder / "a.jpg", "-o", tmp_path / "named.jpg",
                    "--task", "dejpeg", "--method", "identity")
    assert code == 0 and (tmp_path / "named.jpg").is_file()  # a named file keeps its suffix
