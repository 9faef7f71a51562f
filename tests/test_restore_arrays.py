"""pixelsmith.restore on NumPy arrays: the sample type decides the scale; bad floats refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import pixelsmith
from pixelsmith.errors import PixelsmithError


def _image() -> np.ndarray:
    return np.random.default_rng(0).random((24, 20, 3))


@pytest.mark.parametrize("dtype,white", [(np.uint8, 255), (np.uint16, 65535)])
def test_integer_arrays_by_their_type(dtype, white):
    base = _image()
    array = np.round(base * white).astype(dtype)
    out = pixelsmith.restore(array, "dejpeg", method="identity")
    assert out.dtype == np.float32 and out.shape == array.shape
    np.testing.assert_allclose(out, array / white, atol=1e-6)
    assert out.mean() < 0.9  # not the all-white image of a wrong scale


def test_float_arrays_in_unit_range():
    base = _image().astype(np.float32)
    np.testing.assert_allclose(pixelsmith.restore(base, "dejpeg", method="identity"), base)


@pytest.mark.parametrize("bad,match", [
    (_image() * 255, "0-255"),
    (_image() - 0.5, r"\[0, 1\]"),
    (np.full((8, 8), np.nan), "NaN"),
    ((_image() * 255).astype(np.int64), "int64"),
    (np.zeros((8, 8, 5), np.uint8), "HxW"),
])
def test_bad_arrays_are_refused(bad, match):
    with pytest.raises(PixelsmithError, match=match):
        pixelsmith.restore(bad, "dejpeg", method="identity")


def test_noisy_tensors_may_leave_the_unit_range_a_little():
    y = torch.rand(1, 1, 16, 16) + 0.3 * torch.randn(1, 1, 16, 16)
    assert pixelsmith.restore(y, "denoise", sigma=25, method="tv").shape == y.shape
    with pytest.raises(PixelsmithError, match="0-255"):
        pixelsmith.restore(y * 255, "denoise", sigma=25, method="tv")
