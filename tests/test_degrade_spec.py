"""Degradation specs from the command line, and kernel / mask files."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

from pixelsmith import degrade as dg
from pixelsmith.errors import PixelsmithError
from pixelsmith.settings import dataset_path


def gen(seed: int = 0) -> torch.Generator:
    return dg.make_generator(seed)


# -- good specs -----------------------------------------------------------------------------
def test_parse_noise_good() -> None:
    op = dg.parse_noise("gaussian:25")
    assert isinstance(op, dg.GaussianNoise) and op.sigma == pytest.approx(25 / 255)
    op = dg.parse_noise("Gaussian:5-50")
    assert op.sigma == pytest.approx((5 / 255, 50 / 255))
    assert dg.parse_noise("poisson:30").peak == 30
    op = dg.parse_noise("poisson-gaussian:30,5")
    assert isinstance(op, dg.PoissonGaussianNoise)
    assert op.gaussian.sigma == pytest.approx(5 / 255)
    assert dg.parse_noise("saltpepper:0.05").amount == 0.05


def test_negative_numbers_are_named() -> None:
    for spec in ("poisson:-3", "gaussian:-25", "poisson-gaussian:30,-5", "saltpepper:-0.1"):
        with pytest.raises(PixelsmithError, match=r"is negative; every number of a spec is 0"):
            dg.parse_noise(spec)
    with pytest.raises(PixelsmithError, match="is negative"):
        dg.parse_blur("disk:-3")


def test_parse_blur_good(tmp_path) -> None:
    blur, kernel = dg.parse_blur("gaussian:1.6")
    assert blur.boundary == "circular" and kernel.shape == (11, 11)
    blur, kernel = dg.parse_blur("gaussian:3,1,45,reflect")
    assert blur.boundary == "reflect" and kernel.shape == (19, 19)
    assert dg.parse_blur("disk:3, circular")[1].shape == (7, 7)
    a = dg.parse_blur("motion:21", gen(4))[1]
    assert a.shape == (21, 21) and torch.equal(a, dg.parse_blur("motion:21", gen(4))[1])
    path = tmp_path / "k.npy"
    np.save(path, np.ones((3, 5)))
    for spec in (f"file:{path}", str(path), f"{path},reflect"):
        blur, kernel = dg.parse_blur(spec)
        assert kernel.shape == (3, 5) and float(kernel.sum()) == pytest.approx(1)
    assert dg.parse_blur(f"{path},reflect")[0].boundary == "reflect"


def test_parse_mask_good(tmp_path) -> None:
    size = (40, 60)
    op, mask = dg.parse_mask("box:10", size, gen())
    assert isinstance(op, dg.Mask) and mask.shape == (1, 1, 40, 60) and float(mask.sum()) == 100
    assert float(dg.parse_mask("box:10x20", size, gen())[1].sum()) == 200
    assert float(dg.parse_mask("box", size, gen())[1].mean()) == 0.25
    assert abs(float(dg.parse_mask("box:0.25", size, gen())[1].mean()) - 0.25) < 0.02
    assert float(dg.parse_mask("pixels:0.5", size, gen())[1].mean()) == 0.5
    assert 0.1 <= float(dg.parse_mask("strokes", size, gen())[1].mean()) <= 0.3
    assert 0.2 <= float(dg.parse_mask("strokes:0.2-0.4", size, gen())[1].mean()) <= 0.4
    path = tmp_path / "m.png"
    Image.fromarray(np.full((40, 60), 255, np.uint8)).save(path)
    for spec in (f"file:{path}", str(path)):
        assert float(dg.parse_mask(spec, size)[1].mean()) == 1.0


def test_parse_downsample_and_jpeg() -> None:
    assert dg.parse_downsample(4).scale == 4
    assert dg.parse_downsample("x3").scale == 3
    assert dg.parse_downsample("8").scale == 8
    assert dg.parse_jpeg("10").quality == 10
    assert dg.parse_jpeg(100).quality == 100


# -- bad specs: one-line PixelsmithError naming the spec --------------------------------------
BAD = [
    (dg.parse_noise, "gaussian"),
    (dg.parse_noise, "gaussian:abc"),
    (dg.parse_noise, "gaussian:50-5"),
    (dg.parse_noise, "gaussian:-5"),
    (dg.parse_noise, "poisson:0"),
    (dg.parse_noise, "poisson-gaussian:30"),
    (dg.parse_noise, "saltpepper:1.5"),
    (dg.parse_noise, "speckle:0.1"),
    (lambda s: dg.parse_blur(s, gen()), "gaussian:"),
    (lambda s: dg.parse_blur(s, gen()), "gaussian:1,2,3,4"),
    (lambda s: dg.parse_blur(s, gen()), "disk:x"),
    (lambda s: dg.parse_blur(s, gen()), "motion:2"),
    (lambda s: dg.parse_blur(s, gen()), "motion:7.5"),
    (lambda s: dg.parse_blur(s, gen()), "gausian:1.6"),
    (lambda s: dg.parse_blur(s, gen()), "file:/no/such/kernel.png"),
    (lambda s: dg.parse_blur(s, gen()), "file:"),
    (lambda s: dg.parse_mask(s, (32, 32), gen()), "box:40"),
    (lambda s: dg.parse_mask(s, (32, 32), gen()), "box:3x"),
    (lambda s: dg.parse_mask(s, (32, 32), gen()), "pixels:2"),
    (lambda s: dg.parse_mask(s, (32, 32), gen()), "strokes:0.5"),
    (lambda s: dg.parse_mask(s, (32, 32), gen()), "holes:3"),
    (lambda s: dg.parse_mask(s, (32, 32), gen()), "file:/no/such/mask.png"),
    (dg.parse_downsample, "1"),
    (dg.parse_downsample, "two"),
    (dg.parse_downsample, "2.5"),
    (dg.parse_jpeg, "0"),
    (dg.parse_jpeg, "101"),
    (dg.parse_jpeg, "high"),
]


@pytest.mark.parametrize("parse, spec", BAD, ids=[spec for _, spec in BAD])
def test_bad_spec(parse, spec: str) -> None:
    with pytest.raises(PixelsmithError) as info:
        parse(spec)
    message = str(info.value)
    assert "\n" not in message
    assert spec.split(":")[-1] in message or spec in message


# -- kernel files ---------------------------------------------------------------------------
def test_load_kernel_formats(tmp_path) -> None:
    raw = np.arange(12, dtype=np.float64).reshape(3, 4)
    expected = torch.from_numpy(raw / raw.sum()).float()
    np.save(tmp_path / "k.npy", raw)
    np.savez(tmp_path / "k.npz", a=raw, b=raw * 2)
    scipy.io.savemat(tmp_path / "one.mat", {"k": raw})
    cell = np.empty((1, 2), dtype=object)
    cell[0, 0], cell[0, 1] = raw, raw.T
    scipy.io.savemat(tmp_path / "many.mat", {"kernels": cell, "other": raw})
    Image.fromarray((raw * 20).astype(np.uint8)).save(tmp_path / "k.png")
    assert torch.allclose(dg.load_kernel(tmp_path / "k.npy"), expected)
    assert torch.allclose(dg.load_kernel(f"{tmp_path / 'k.npz'}:b"), expected)
    assert torch.allclose(dg.load_kernel(tmp_path / "one.mat"), expected)
    assert torch.allclose(dg.load_kernel(f"{tmp_path / 'many.mat'}:kernels:1"), expected.T)
    assert torch.allclose(dg.load_kernel(f"{tmp_path / 'many.mat'}:other"), expected)
    assert torch.allclose(dg.load_kernel(tmp_path / "k.png"), expected, atol=1e-7)


@pytest.mark.parametrize("array, why", [
    (np.array([[1.0, -0.5], [1.0, 1.0]]), "negative"),
    (np.zeros((3, 3)), "all zeros"),
    (np.ones((2, 3, 3)), "2-D"),
    (np.array([[np.nan, 1.0]]), "NaN"),
])
def test_load_kernel_rejects_bad_arrays(tmp_path, array, why: str) -> None:
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(PixelsmithError, match=why):
        dg.load_kernel(tmp_path / "bad.npy")


def test_load_kernel_selector_errors(tmp_path) -> None:
    cell = np.empty((1, 2), dtype=object)
    cell[0, 0], cell[0, 1] = np.ones((3, 3)), np.ones((5, 5))
    scipy.io.savemat(tmp_path / "many.mat", {"kernels": cell, "other": np.ones((2, 2))})
    with pytest.raises(PixelsmithError, match="kernels, other"):
        dg.load_kernel(tmp_path / "many.mat")  # ambiguous: lists the variables
    with pytest.raises(PixelsmithError, match="INDEX"):
        dg.load_kernel(f"{tmp_path / 'many.mat'}:kernels")
    with pytest.raises(PixelsmithError, match="0..1"):
        dg.load_kernel(f"{tmp_path / 'many.mat'}:kernels:2")
    with pytest.raises(PixelsmithError, match="no array 'nope'"):
        dg.load_kernel(f"{tmp_path / 'many.mat'}:nope")
    with pytest.raises(PixelsmithError, match="no such kernel file"):
        dg.load_kernel(tmp_path / "missing.npy")


def _kernels_dir():
    folder = dataset_path("kernels")
    if not (folder / "levin09_kernels.npz").is_file():
        pytest.skip(f"kernel data not found under {folder}")
    return folder


def test_load_shared_kernels() -> None:
    folder = _kernels_dir()
    k6 = dg.load_kernel(f"{folder / 'levin09_kernels.npz'}:k6")
    from_12 = dg.load_kernel(f"{folder / 'kernels_12.mat'}:kernels:9")
    assert from_12.shape == (25, 25) and k6.shape == (23, 23)
    assert torch.allclose(from_12[1:-1, 1:-1], k6, atol=1e-6)  # same kernel, same orientation
    big = dg.load_kernel(folder / "k_large_1.png")
    assert big.shape == (67, 67) and float(big.double().sum()) == pytest.approx(1)


def test_mat_v73_needs_h5py(monkeypatch) -> None:
    folder = _kernels_dir()
    monkeypatch.setitem(sys.modules, "h5py", None)  # as if it were not installed
    with pytest.raises(PixelsmithError, match="h5py"):
        dg.load_kernel(f"{folder / 'Levin09.mat'}:kernels:0")


def test_mat_v73_with_h5py() -> None:
    pytest.importorskip("h5py")
    folder = _kernels_dir()
    for i in (0, 6):
        ours = dg.load_kernel(f"{folder / 'Levin09.mat'}:kernels:{i}")
        assert torch.allclose(ours, dg.load_kernel(f"{folder / 'levin09_kernels.npz'}:k{i}"))


# -- mask files -----------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA"])
def test_load_mask_modes(tmp_path, mode: str) -> None:
    gray = np.zeros((10, 12), np.uint8)
    gray[2:5, 3:9] = 255
    gray[6, 6] = 100  # dark gray: known
    channels = {"L": gray, "RGB": np.dstack([gray] * 3), "RGBA": np.dstack([gray] * 3 + [gray])}
    Image.fromarray(channels[mode], mode=mode).save(tmp_path / "m.png")
    mask = dg.load_mask(tmp_path / "m.png", size=(10, 12))
    assert mask.shape == (1, 1, 10, 12) and mask.dtype == torch.float32
    assert float(mask.sum()) == 18 and float(mask[0, 0, 3, 4]) == 1


def test_load_mask_size_mismatch(tmp_path) -> None:
    Image.fromarray(np.zeros((10, 12), np.uint8)).save(tmp_path / "m.png")
    with pytest.raises(PixelsmithError, match="12x10"):
        dg.load_mask(tmp_path / "m.png", size=(12, 10))
