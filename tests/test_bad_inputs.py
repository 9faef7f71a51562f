"""Bad input as a user meets it: damaged files, unwritable outputs, tiny images, tiny tiles,
broken model folders. Each gives a result or one line `pixelsmith: error: ...` and exit 2."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_runner import run_err as run
from PIL import Image as PILImage

from pixelsmith.degrade.known import Known
from pixelsmith.errors import PixelsmithError
from pixelsmith.io import load_image, save_image
from pixelsmith.restoration.restorer import Restorer

ZOO = Path(__file__).resolve().parents[1] / "src" / "pixelsmith" / "zoo"




def assert_one_line_error(code: int, err: str, match: str = "") -> None:
    assert code == 2, err
    assert "Traceback" not in err and "Warning" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pixelsmith: error: "), err
    assert match in lines[0], err


def _rgb16(h: int = 48, w: int = 64) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 65536, (h, w, 3)).astype(np.uint16)


@pytest.fixture
def png16(tmp_path) -> Path:
    path = tmp_path / "rgb16.png"
    save_image(path, torch.from_numpy(_rgb16().transpose(2, 0, 1) / 65535.0).float()[None],
               bit_depth=16)
    return path


@pytest.fixture
def tif16(tmp_path) -> Path:
    import tifffile

    path = tmp_path / "rgb16.tif"
    tifffile.imwrite(path, _rgb16(), photometric="rgb")
    return path


def _idat_offset(data: bytes) -> int:
    return data.index(b"IDAT") - 4


@pytest.mark.parametrize("damage", ["truncate", "flip-data", "chunk-length", "no-iend"])
def test_damaged_16bit_png(tmp_path, capsys, png16, damage):
    data = bytearray(png16.read_bytes())
    idat = _idat_offset(data)
    if damage == "truncate":
        data = data[: len(data) // 2]
    elif damage == "flip-data":
        data[idat + 100] ^= 0x10
    elif damage == "chunk-length":
        data[idat:idat + 4] = struct.pack(">I", 0x40000000)
    else:
        data = data[: data.rindex(b"IEND") - 4]
    bad = tmp_path / "bad.png"
    bad.write_bytes(bytes(data))
    with pytest.raises(PixelsmithError, match="PNG"):
        load_image(bad)
    code, err = run(capsys, "restore", bad, "-o", tmp_path / "out.png", "--task", "dejpeg",
                    "--method", "identity")
    assert_one_line_error(code, err, "bad.png")
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("damage", ["truncate", "strip-offset", "ifd-offset"])
def test_damaged_16bit_rgb_tiff(tmp_path, capsys, tif16, damage):
    import tifffile

    data = bytearray(tif16.read_bytes())
    if damage == "truncate":
        data = data[: len(data) * 2 // 3]
    elif damage == "strip-offset":  # the first strip starts past the end of the file
        entry = tifffile.TiffFile(tif16).pages[0].tags[273]
        size = 4 if entry.dtype in (4, 16) else 2
        data[entry.valueoffset:entry.valueoffset + size] = (len(data) + 1000).to_bytes(
            size, "little")
    else:  # the header points to an image directory past the end
        data[4:8] = (len(data) + 64).to_bytes(4, "little")
    bad = tmp_path / "bad.tif"
    bad.write_bytes(bytes(data))
    with pytest.raises(PixelsmithError):
        load_image(bad)
    code, err = run(capsys, "restore", bad, "-o", tmp_path / "out.png", "--task", "dejpeg",
                    "--method", "identity")
    assert_one_line_error(code, err, "bad.tif")


def _jpeg_bytes(samples: Path) -> bytes:
    import io

    buffer = io.BytesIO()
    with PILImage.open(samples / "landscape.png") as img:
        img.convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


@pytest.mark.parametrize("damage", ["cut-and-closed", "marker-inside"])
def test_jpeg_with_damaged_image_data_is_refused(tmp_path, capsys, samples, damage):
    data = bytearray(_jpeg_bytes(samples))
    half = len(data) // 2
    if damage == "cut-and-closed":  # data cut, then an end-of-image marker: libjpeg fills grey
        data = data[:half] + b"\xff\xd9"
    else:
        data[half:half + 2] = b"\xff\xd0"  # a restart marker where none belongs
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(bytes(data))
    code, err = run(capsys, "restore", bad, "-o", tmp_path / "out.png", "--task", "dejpeg",
                    "--method", "identity")
    assert_one_line_error(code, err, "damaged JPEG")


def test_flat_grey_jpeg_is_not_taken_for_damage(tmp_path):
    grey = np.full((32, 32, 3), 128, np.uint8)
    PILImage.fromarray(grey).save(tmp_path / "grey.jpg", quality=90)
    assert load_image(tmp_path / "grey.jpg").pixels.shape == (1, 3, 32, 32)
    picture = np.random.default_rng(0).integers(0, 256, (32, 32, 3)).astype(np.uint8)
    PILImage.fromarray(picture).save(tmp_path / "ok.jpg", quality=90)
    load_image(tmp_path / "ok.jpg")


def test_output_under_a_file_is_one_line(tmp_path, capsys, samples):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, err = run(capsys, "restore", samples / "texture.png", "-o", blocker / "out.png",
                    "--task", "dejpeg", "--method", "identity")
    assert_one_line_error(code, err, "cannot write")


def test_unwritable_folder_is_one_line(tmp_path, capsys, samples, monkeypatch):
    """What a non-root user meets in a chmod 555 folder: the rename is refused."""

    def refuse(src, dst):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    out = tmp_path / "ro"
    out.mkdir()
    code, err = run(capsys, "restore", samples / "texture.png", "-o", out / "out.png",
                    "--task", "dejpeg", "--method", "identity")
    assert_one_line_error(code, err, "Permission denied")
    assert os.listdir(out) == []  # no temporary file left


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into chmod 555 folders")
def test_chmod_555_folder_is_one_line(tmp_path, capsys, samples):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        code, err = run(capsys, "restore", samples / "texture.png", "-o", out / "out.png",
                        "--task", "dejpeg", "--method", "identity")
    finally:
        out.chmod(0o755)
    assert_one_line_error(code, err, "cannot write")


TINY = [(1, 1), (3, 5), (1, 512), (512, 1)]


def _tiny(h: int, w: int, c: int) -> torch.Tensor:
    return torch.rand(1, c, h, w, generator=torch.Generator().manual_seed(h * 1000 + w))


@pytest.mark.parametrize("size", TINY, ids=lambda s: f"{s[1]}x{s[0]}")
@pytest.mark.parametrize("task,method", [
    ("denoise", "bm3d"), ("denoise", "nlm"), ("denoise", "tv"), ("denoise", "wavelet"),
    ("denoise", "denoise-color"), ("inpaint", "biharmonic"), ("inpaint", "inpaint"),
    ("deblur", "deblur-blind"), ("dejpeg", "dejpeg-color"), ("sr", "sr-x2"),
])
def test_tiny_images_give_a_result(size, task, method):
    if method == "bm3d":
        pytest.importorskip("bm3d")
    h, w = size
    y = _tiny(h, w, 3)
    mask = torch.zeros(1, 1, h, w)
    mask[..., -1, -1] = 1 if h * w > 1 else 0  # a 1x1 image keeps its one pixel
    known = Known(sigma=25 / 255, mask=mask if task == "inpaint" else None,
                  quality=30 if task == "dejpeg" else None, scale=2 if task == "sr" else None)
    out = Restorer(task, method, device="cpu")(y, known)
    factor = 2 if task == "sr" else 1
    assert out.shape == (1, 3, h * factor, w * factor)
    assert torch.isfinite(out).all()
    if size == (1, 1) and task == "denoise" and method != "denoise-color":
        torch.testing.assert_close(out, y, atol=0.02, rtol=0)  # identity, or near it


def test_mask_over_the_whole_image_is_one_line():
    with pytest.raises(PixelsmithError, match="whole image"):
        Restorer("inpaint", "biharmonic")(_tiny(3, 5, 3), Known(mask=torch.ones(1, 1, 3, 5)))


@pytest.mark.parametrize("method", ["wiener", "richardson-lucy", "deblur"])
def test_kernel_larger_than_a_tiny_image_is_one_line(method):
    kernel = torch.ones(3, 3) / 9
    with pytest.raises(PixelsmithError, match="kernel is larger"):
        Restorer("deblur", method, device="cpu")(_tiny(512, 1, 1), Known(kernel=kernel))


def test_tiny_images_from_the_cli(tmp_path, capsys):
    path = tmp_path / "tiny.png"
    PILImage.fromarray(np.full((1, 1, 3), 200, np.uint8)).save(path)
    for args in (["--task", "denoise", "--method", "bm3d", "--sigma", "25"],
                 ["--task", "deblur"], ["--task", "dejpeg", "--quality", "20"]):
        code, err = run(capsys, "restore", path, "-o", tmp_path / "out.png", *args)
        assert code == 0 and "Traceback" not in err, (args, err)
        assert PILImage.open(tmp_path / "out.png").size == (1, 1)
    code, err = run(capsys, "restore", path, "-o", tmp_path / "out.png", "--task", "denoise")
    assert_one_line_error(code, err, "too small")  # sigma cannot be estimated from one pixel


@pytest.mark.parametrize("args", [["--tile", "1", "--overlap", "0"],
                                  ["--tile", "8", "--overlap", "4"]])
def test_tiny_tiles_are_one_line(tmp_path, capsys, samples, args):
    code, err = run(capsys, "restore", samples / "texture.png", "-o", tmp_path / "out.png",
                    "--task", "denoise", "--sigma", "25", *args)
    assert_one_line_error(code, err, "tile must be 0")


def _model(tmp_path: Path, name: str, config_edit=None, weights_edit=None,
           raw_config: str | None = None) -> Path:
    """A copy of the shipped denoise-gray package, broken as asked (sha256 made to match)."""
    folder = tmp_path / name
    shutil.copytree(ZOO / "denoise-gray", folder)
    weights = folder / "model.safetensors"
    if weights_edit is not None:
        weights_edit(weights)
    config = json.loads((folder / "config.json").read_text())
    config["sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()
    if config_edit is not None:
        config = config_edit(config)
    (folder / "config.json").write_text(raw_config if raw_config is not None
                                        else json.dumps(config))
    return folder


def _edit_tensors(edit):
    def apply(path: Path) -> None:
        from safetensors.torch import load_file, save_file

        state = load_file(str(path))
        edit(state)
        save_file(state, str(path))
    return apply


def _first(state):
    return next(iter(state))


BROKEN_MODELS = {
    "truncated weights": (dict(weights_edit=lambda p: p.write_bytes(
        p.read_bytes()[: p.stat().st_size // 2])), "safetensors"),
    "bad weights header": (dict(weights_edit=lambda p: p.write_bytes(
        struct.pack("<Q", 10**12) + p.read_bytes()[8:])), "safetensors"),
    "wrong-shaped tensor": (dict(weights_edit=_edit_tensors(
        lambda s: s.__setitem__(_first(s), torch.zeros(3, 3)))), "do not fit"),
    "NaN weight": (dict(weights_edit=_edit_tensors(
        lambda s: s.__setitem__(_first(s), torch.full_like(s[_first(s)], float("nan"))))),
        "NaN or infinite"),
    "Inf weight": (dict(weights_edit=_edit_tensors(
        lambda s: s.__setitem__(_first(s), torch.full_like(s[_first(s)], float("inf"))))),
        "NaN or infinite"),
    "no network": (dict(config_edit=lambda c: {k: v for k, v in c.items() if k != "network"}),
                   "network"),
    "channels 5": (dict(config_edit=lambda c: {**c, "channels": 5}), "channels"),
    "channels unlike the network": (dict(config_edit=lambda c: {**c, "channels": 3}),
                                    "channels"),
    "unknown needs": (dict(config_edit=lambda c: {**c, "needs": ["colour"]}), "needs"),
    "list as config": (dict(raw_config="[1, 2, 3]"), "config"),
    "bad network args": (dict(config_edit=lambda c: {
        **c, "network": {"name": "unet", "args": {"channels": 1, "features": -4}}}),
        "network"),
}


@pytest.mark.parametrize("case", list(BROKEN_MODELS))
def test_broken_model_folders_are_one_line(tmp_path, capsys, samples, case):
    edits, match = BROKEN_MODELS[case]
    folder = _model(tmp_path, "model", **edits)
    code, err = run(capsys, "restore", samples / "texture.png", "-o", tmp_path / "out.png",
                    "--task", "denoise", "--sigma", "25", "--method", folder, "--device", "cpu")
    assert_one_line_error(code, err, match)
    with pytest.raises(PixelsmithError):
        from pixelsmith.zoo import load_model

        load_model(folder)
