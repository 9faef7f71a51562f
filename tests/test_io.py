"""Image I/O: formats, modes, bit depths, EXIF orientation, alpha, errors and atomic writes."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

from pixelsmith.errors import PixelsmithError
from pixelsmith.io import list_images, load_image, read_image, save_image


def _rng_image(h: int, w: int, c: int, dtype=np.uint8) -> np.ndarray:
    hi = 256 if dtype == np.uint8 else 65536
    shape = (h, w) if c == 1 else (h, w, c)
    return np.random.default_rng(0).integers(0, hi, size=shape).astype(dtype)


@pytest.mark.parametrize("suffix", [".png", ".tif", ".bmp"])
@pytest.mark.parametrize("channels", [1, 3])
def test_lossless_8bit_round_trip(tmp_path, suffix, channels):
    data = _rng_image(13, 17, channels)
    path = tmp_path / f"a{suffix}"
    PILImage.fromarray(data).save(path)
    image = load_image(path)
    assert image.pixels.shape == (1, channels, 13, 17)
    assert image.pixels.dtype == torch.float32 and image.bit_depth == 8
    back = np.round(image.pixels[0].numpy().transpose(1, 2, 0) * 255).astype(np.uint8)
    np.testing.assert_array_equal(back.squeeze(), data)
    if suffix != ".bmp":
        out = tmp_path / f"b{suffix}"
        save_image(out, image.pixels)
        np.testing.assert_array_equal(np.asarray(PILImage.open(out)), data)


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_is_kept(tmp_path, channels, suffix):
    data = _rng_image(9, 11, channels, np.uint16)
    src = tmp_path / f"src{suffix}"
    if channels == 1:
        save_image(src, torch.from_numpy(data / 65535.0).float()[None, None], bit_depth=16)
    else:
        rgb = torch.from_numpy(data[..., :3].transpose(2, 0, 1) / 65535.0)[None]
        alpha = torch.from_numpy(data[..., 3] / 65535.0)[None, None] if channels == 4 else None
        save_image(src, rgb, alpha=alpha, bit_depth=16)
    image = load_image(src)
    assert image.bit_depth == 16
    assert image.pixels.shape[1] == (1 if channels == 1 else 3)
    assert (image.alpha is not None) == (channels == 4)
    got = np.round(image.pixels[0].double().numpy() * 65535).astype(np.uint16).transpose(1, 2, 0)
    np.testing.assert_array_equal(got.squeeze(), data[..., :3] if channels == 4 else data)
    if channels == 4:
        alpha = np.round(image.alpha[0, 0].double().numpy() * 65535).astype(np.uint16)
        np.testing.assert_array_equal(alpha, data[..., 3])


def test_rgba_alpha_is_set_aside_and_put_back(tmp_path):
    data = _rng_image(8, 8, 4)
    PILImage.fromarray(data, mode="RGBA").save(tmp_path / "a.png")
    image = load_image(tmp_path / "a.png")
    assert image.pixels.shape[1] == 3 and image.alpha.shape == (1, 1, 8, 8)
    save_image(tmp_path / "b.png", image.pixels, alpha=image.alpha)
    np.testing.assert_array_equal(np.asarray(PILImage.open(tmp_path / "b.png")), data)


def test_palette_cmyk_bilevel_and_webp(tmp_path):
    rgb = _rng_image(16, 16, 3)
    PILImage.fromarray(rgb).convert("P").save(tmp_path / "p.png")
    assert load_image(tmp_path / "p.png").pixels.shape == (1, 3, 16, 16)
    PILImage.fromarray(rgb).convert("CMYK").save(tmp_path / "c.jpg")
    cmyk = load_image(tmp_path / "c.jpg")
    assert cmyk.pixels.shape == (1, 3, 16, 16) and cmyk.source_mode == "CMYK"
    PILImage.fromarray(rgb[..., 0] > 128).save(tmp_path / "b.png")
    assert load_image(tmp_path / "b.png").pixels.shape == (1, 1, 16, 16)
    PILImage.fromarray(rgb).save(tmp_path / "w.webp", lossless=True)
    np.testing.assert_allclose(load_image(tmp_path / "w.webp").pixels[0].numpy().transpose(1, 2, 0),
                               rgb / 255.0, atol=1e-6)
    save_image(tmp_path / "x.webp", read_image(tmp_path / "w.webp"))
    assert (tmp_path / "x.webp").stat().st_size > 0


def test_exif_orientation_is_applied(tmp_path):
    data = np.zeros((10, 20, 3), np.uint8)
    data[:, :5] = 255  # white band on the left
    img = PILImage.fromarray(data)
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    img.save(tmp_path / "r.jpg", exif=exif, quality=100)
    pixels = load_image(tmp_path / "r.jpg").pixels
    assert pixels.shape == (1, 3, 20, 10)
    assert pixels[0, :, :5, :].mean() > 0.9  # the band is now on top


def test_jpeg_quantization_tables_are_kept(tmp_path):
    PILImage.fromarray(_rng_image(16, 16, 3)).save(tmp_path / "q.jpg", quality=30)
    assert load_image(tmp_path / "q.jpg").info["quantization"]


@pytest.mark.parametrize("writer, message", [
    (lambda p: None, "no such file"),
    (lambda p: p.write_bytes(b""), "empty"),
    (lambda p: p.write_text("hello, I am not an image"), "not an image"),
])
def test_bad_files_give_one_line_errors(tmp_path, writer, message):
    path = tmp_path / "bad.png"
    writer(path)
    with pytest.raises(PixelsmithError, match=message) as info:
        load_image(path)
    assert "\n" not in str(info.value)


def test_truncated_file(tmp_path):
    buffer = io.BytesIO()
    PILImage.fromarray(_rng_image(64, 64, 3)).save(buffer, format="PNG")
    (tmp_path / "t.png").write_bytes(buffer.getvalue()[:500])
    with pytest.raises(PixelsmithError, match="truncated|damaged|cannot read"):
        load_image(tmp_path / "t.png")


def test_zero_size_png(tmp_path):
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 0, 5, 8, 0, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")
    (tmp_path / "z.png").write_bytes(data)
    with pytest.raises(PixelsmithError):
        load_image(tmp_path / "z.png")


def test_pixel_limit(tmp_path):
    PILImage.fromarray(_rng_image(100, 100, 1)).save(tmp_path / "big.png")
    with pytest.raises(PixelsmithError, match="megapixels"):
        load_image(tmp_path / "big.png", max_pixels=9_999)
    assert load_image(tmp_path / "big.png", max_pixels=10_000).size == (100, 100)


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    target = tmp_path / "out.png"

    def broken_save(self, *args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(PILImage.Image, "save", broken_save)
    with pytest.raises(PixelsmithError, match="disk full"):
        save_image(target, torch.rand(1, 3, 8, 8))
    assert os.listdir(tmp_path) == []


def test_existing_output_survives_a_failed_write(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    save_image(target, torch.zeros(1, 1, 4, 4))
    before = target.read_bytes()
    monkeypatch.setattr(PILImage.Image, "save", lambda *a, **k: (_ for _ in ()).throw(OSError()))
    with pytest.raises(PixelsmithError):
        save_image(target, torch.ones(1, 1, 4, 4))
    assert target.read_bytes() == before and os.listdir(tmp_path) == ["out.png"]


def test_unwritable_suffix(tmp_path):
    with pytest.raises(PixelsmithError, match="cannot write"):
        save_image(tmp_path / "x.gif", torch.zeros(1, 1, 4, 4))


def test_list_images_recurses_and_sorts(tmp_path):
    (tmp_path / "sub").mkdir()
    for name in ["b.png", "a.jpg", "sub/c.tif", "notes.txt"]:
        path = tmp_path / name
        if name.endswith(".txt"):
            path.write_text("x")
        else:
            PILImage.fromarray(_rng_image(4, 4, 3)).save(path)
    names = [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path)]
    assert names == ["a.jpg", "b.png", "sub/c.tif"]
    with pytest.raises(PixelsmithError):
        list_images(tmp_path / "missing")


@pytest.mark.parametrize("orientation", range(1, 9))
def test_array_orientation_matches_pillow(orientation):
    """The 16-bit paths orient arrays themselves; they must agree with Pillow's exif_transpose."""
    from PIL import ImageOps

    from pixelsmith.io import _orient

    data = _rng_image(5, 7, 3)
    img = PILImage.fromarray(data)
    exif = img.getexif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    img.save(buffer, format="PNG", exif=exif)
    expected = np.asarray(ImageOps.exif_transpose(PILImage.open(buffer)))
    np.testing.assert_array_equal(_orient(data, orientation), expected)


def test_output_folders_refuse_a_file_in_the_way_in_one_line(tmp_path):
    from pixelsmith.io import check_output_folder, output_folder

    (tmp_path / "blocker").write_text("a file")
    for folder in (tmp_path / "blocker", tmp_path / "blocker" / "sub" / "deeper"):
        for check in (check_output_folder, output_folder):
            with pytest.raises(PixelsmithError, match="blocker is a file, not a folder") as info:
                check(folder)
            assert "\n" not in str(info.value)
    assert check_output_folder(tmp_path / "new" / "run") == tmp_path / "new" / "run"
    assert not (tmp_path / "new").exists()  # the check makes nothing
    made = output_folder(tmp_path / "new" / "run")
    assert made.is_dir() and list(made.iterdir()) == []  # and the write probe is gone


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a chmod 555 folder")
def test_output_folders_refuse_a_folder_without_rights(tmp_path):
    from pixelsmith.io import check_output_folder, output_folder

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    with pytest.raises(PixelsmithError, match="no write permission"):
        check_output_folder(locked / "out")
    with pytest.raises(PixelsmithError, match="cannot write here"):
        output_folder(locked / "out")


@pytest.mark.parametrize("args", [
    ["demo", "-o", "{blocker}/page"],
    ["explain", "{image}", "--method", "denoise-gray", "-o", "{blocker}/x"],
    ["export-model", "{tmp}/norun", "-o", "{blocker}/model"],
    ["prune", "denoise-gray", "-o", "{blocker}/pruned"],
    ["generate", "--method", "vae-mnist", "-n", "2", "--out-dir", "{blocker}/x"],
])
def test_commands_refuse_an_output_folder_under_a_file_before_working(tmp_path, args):
    import subprocess
    import sys

    (tmp_path / "blocker").write_text("a file")
    image = Path(__file__).resolve().parents[1] / "src/pixelsmith/samples/shapes.png"
    filled = [a.format(blocker=tmp_path / "blocker", image=image, tmp=tmp_path) for a in args]
    result = subprocess.run([sys.executable, "-m", "pixelsmith", *filled], capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "blocker is a file, not a folder" in result.stderr.strip().splitlines()[-1]
