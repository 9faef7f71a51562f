"""16-bit PNG through OpenCV (the fast path) gives the same pixels as through pypng."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import data_or_skip

from pixelsmith import io_png
from pixelsmith.io import load_image, save_image

pytest.importorskip("cv2")


def _samples(path) -> np.ndarray:
    image = load_image(path)
    pixels = np.round(image.pixels[0].double().numpy() * 65535).astype(np.uint16)
    if image.alpha is not None:
        alpha = np.round(image.alpha[0].double().numpy() * 65535).astype(np.uint16)
        pixels = np.concatenate([pixels, alpha])
    return pixels.transpose(1, 2, 0)


@pytest.fixture(scope="module")
def photo16() -> np.ndarray:
    """A real photograph (Kodak24 kodim03, cropped) widened to 16 bits, noise in the low byte."""
    from PIL import Image

    path = data_or_skip("test/Kodak24") / "kodim03.png"
    with Image.open(path) as img:
        rgb = np.asarray(img.convert("RGB"))[:200, :300]
    noise = np.random.default_rng(0).integers(0, 256, rgb.shape, dtype=np.uint16)
    return rgb.astype(np.uint16) * 256 + noise


@pytest.mark.parametrize("alpha", [False, True])
def test_opencv_and_pypng_give_the_same_pixels(tmp_path, monkeypatch, photo16, alpha):
    data = photo16
    if alpha:
        data = np.dstack([data, data[..., 1][:, ::-1]])
    pixels = torch.from_numpy(data[..., :3].transpose(2, 0, 1) / 65535.0).float()[None]
    mask = torch.from_numpy(data[..., 3] / 65535.0).float()[None, None] if alpha else None
    save_image(tmp_path / "cv.png", pixels, alpha=mask, bit_depth=16)
    with monkeypatch.context() as patch:
        patch.setattr(io_png, "has_cv2", lambda: False)
        save_image(tmp_path / "py.png", pixels, alpha=mask, bit_depth=16)
        slow = [_samples(tmp_path / "cv.png"), _samples(tmp_path / "py.png")]
    fast = [_samples(tmp_path / "cv.png"), _samples(tmp_path / "py.png")]
    for got in fast + slow:
        np.testing.assert_array_equal(got, data)
    assert (tmp_path / "cv.png").read_bytes() != (tmp_path / "py.png").read_bytes()


def test_the_fast_path_is_used(tmp_path, monkeypatch, photo16):
    save_image(tmp_path / "a.png",
               torch.from_numpy(photo16.transpose(2, 0, 1) / 65535.0).float()[None], bit_depth=16)
    calls = []
    real = io_png.decode_16bit
    monkeypatch.setattr(io_png, "decode_16bit", lambda *a: calls.append(1) or real(*a))
    load_image(tmp_path / "a.png")
    assert calls == [1]


def test_sbit_files_keep_the_pypng_path(tmp_path, photo16):
    """pypng rescales samples by sBIT; such files are not sent to OpenCV."""
    import png

    data = (photo16 >> 4).astype(np.uint16)  # 12 significant bits
    writer = png.Writer(data.shape[1], data.shape[0], greyscale=False, bitdepth=12)
    with open(tmp_path / "s.png", "wb") as handle:
        writer.write(handle, data.reshape(data.shape[0], -1).tolist())
    chunks = io_png.check_chunks((tmp_path / "s.png").read_bytes(), "s.png")
    assert b"sBIT" in chunks and not io_png.fast_path(chunks)
    expected = png.Reader(filename=str(tmp_path / "s.png")).asDirect()
    rows = np.vstack([np.asarray(r, np.uint16) for r in expected[2]]).reshape(data.shape)
    np.testing.assert_array_equal(_samples(tmp_path / "s.png"), rows)
