"""Classical baselines: the restore contract for every registered one, and real improvements."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import data_or_skip
from scipy.ndimage import convolve

from pixelsmith.degrade.known import TASKS, Known
from pixelsmith.io import list_images, read_image
from pixelsmith.metrics.pixel import psnr
from pixelsmith.restoration.registry import task_methods

SIGMA = 25 / 255
H, W = 37, 41  # odd on purpose

CLASSICAL = [
    (task, name, method)
    for task in TASKS
    for name, method in task_methods(task).items()
    if method.kind == "classical"
]


def _set12(name: str) -> torch.Tensor:
    return read_image(data_or_skip("test/Set12") / name)


def _noise(shape, sigma: float, seed: int) -> torch.Tensor:
    return sigma * torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def _levin(index: int) -> torch.Tensor:
    kernels = np.load(data_or_skip("kernels/levin09_kernels.npz"))
    return torch.from_numpy(kernels[f"k{index}"])


@pytest.fixture(scope="module")
def small_images() -> dict[int, torch.Tensor]:
    """A real gray crop (1 image) and two real colour crops (a batch of 2), 37x41."""
    gray = _set12("05.png")[..., 100:100 + H, 90:90 + W]
    color = read_image(list_images(data_or_skip("test/CBSD68"))[3])
    color = torch.cat([color[..., 50:50 + H, 60:60 + W], color[..., 200:200 + H, 20:20 + W]])
    return {1: gray, 3: color}


def _case(task: str, x: torch.Tensor) -> tuple[torch.Tensor, Known, tuple[int, int]]:
    """Degraded input, what is known, and the expected output size for ``task``."""
    n, _, h, w = x.shape
    if task == "denoise":
        return x + _noise(x.shape, SIGMA, 0), Known(sigma=SIGMA), (h, w)
    if task == "deblur":
        k = _levin(4)
        y = torch.from_numpy(np.stack([[convolve(c.double().numpy(), k.numpy(), mode="wrap")
                                        for c in img] for img in x])).float()
        return y + _noise(x.shape, 2.55 / 255, 0), Known(sigma=2.55 / 255, kernel=k), (h, w)
    if task == "inpaint":
        g = torch.Generator().manual_seed(0)
        mask = (torch.rand(n, 1, h, w, generator=g) < 0.3).float()
        return x * (1 - mask), Known(mask=mask), (h, w)
    if task == "sr":
        return x, Known(scale=2), (2 * h, 2 * w)
    return x, Known(quality=20), (h, w)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize(("task", "name", "method"), CLASSICAL,
                         ids=[f"{t}-{n}" for t, n, _ in CLASSICAL])
def test_contract(task, name, method, channels, small_images):
    if not method.available():
        pytest.skip(f"{name} needs {method.requires}")
    if task == "sr":
        pytest.importorskip("pixelsmith.degrade.resize")
    fn = method.load()
    y, known, size = _case(task, small_images[channels])
    for field in method.needs:
        assert getattr(known, field) is not None
    out = fn(y, known)
    assert out.shape == (y.shape[0], channels, *size)
    assert out.dtype == y.dtype and out.device == y.device
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    if task != "sr":  # float64 in, float64 out
        assert fn(y[:1].double(), known.with_(
            mask=None if known.mask is None else known.mask[:1])).dtype == torch.float64


def test_missing_known_field_is_a_clear_error(small_images):
    for _, _, method in CLASSICAL:
        if method.needs and method.available():
            with pytest.raises(ValueError, match=method.needs[0]):
                method.load()(small_images[1], Known())


@pytest.fixture(scope="module")
def noisy_crop() -> tuple[torch.Tensor, torch.Tensor]:
    x = _set12("02.png")[..., 80:176, 80:176]  # 96x96 keeps BM3D fast
    return x, x + _noise(x.shape, SIGMA, 1)  # not clipped, as in the evaluation protocol


@pytest.mark.parametrize("name", ["bm3d", "nlm", "tv", "wavelet"])
def test_denoisers_improve_psnr(name, noisy_crop):
    method = task_methods("denoise")[name]
    if not method.available():
        pytest.skip(f"{name} needs {method.requires}")
    x, y = noisy_crop
    before = psnr(y, x).item()
    after = psnr(method.load()(y, Known(sigma=SIGMA)), x).item()
    assert after > before + 5.0, (name, before, after)


@pytest.fixture(scope="module")
def blurred() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    x = _set12("01.png")[..., 40:168, 60:188]
    k = _levin(0)  # 19x19 motion kernel
    y = torch.from_numpy(convolve(x[0, 0].double().numpy(), k.numpy(), mode="wrap"))[None, None]
    return x, y.float() + _noise(x.shape, 2.55 / 255, 2), k


def _shifted_psnrs(out: torch.Tensor, x: torch.Tensor) -> list[float]:
    shifts = [(1, -2), (-1, -2), (1, -1), (-1, -1)]
    return [psnr(torch.roll(out, s, dims=d)[..., 2:-2, 2:-2], x[..., 2:-2, 2:-2]).item()
            for s, d in shifts]


@pytest.mark.parametrize("name", ["wiener", "richardson-lucy"])
def test_deblur_improves_without_shift(name, blurred):
    x, y, k = blurred
    fn = task_methods("deblur")[name].load()
    out = fn(y, Known(sigma=2.55 / 255, kernel=k))
    before, after = psnr(y, x).item(), psnr(out, x).item()
    assert after > before + 4.0, (name, before, after)
    aligned = psnr(out[..., 2:-2, 2:-2], x[..., 2:-2, 2:-2]).item()
    assert all(aligned > s + 2.0 for s in _shifted_psnrs(out, x)), name


@pytest.mark.parametrize("name", ["wiener", "richardson-lucy"])
def test_deblur_even_kernel_is_centred(name, blurred):
    x = blurred[0]
    k = torch.outer(torch.tensor([1.0, 3.0, 3.0, 1.0]), torch.tensor([1.0, 2.0, 4.0, 2.0]))
    k = (k / k.sum()).double()  # 4x4: centre at (2, 2) as in scipy.ndimage.convolve
    y = torch.from_numpy(convolve(x[0, 0].double().numpy(), k.numpy(), mode="wrap"))[None, None]
    out = task_methods("deblur")[name].load()(y.float(), Known(sigma=0.5 / 255, kernel=k))
    aligned = psnr(out[..., 2:-2, 2:-2], x[..., 2:-2, 2:-2]).item()
    assert aligned > psnr(y, x).item()
    assert all(aligned > s + 2.0 for s in _shifted_psnrs(out, x)), name


@pytest.mark.parametrize("name", ["biharmonic", "telea"])
def test_inpainting_fills_missing_pixels(name):
    method = task_methods("inpaint")[name]
    if not method.available():
        pytest.skip(f"{name} needs {method.requires}")
    x = _set12("03.png")[..., 60:156, 60:156]
    g = torch.Generator().manual_seed(3)
    mask = (torch.rand(1, 1, 96, 96, generator=g) < 0.5).float()
    mask[..., 40:50, 30:60] = 1.0  # a hole as well as scattered pixels
    y = x * (1 - mask)
    out = method.load()(y, Known(mask=mask))
    missing = mask.bool().expand_as(x)
    torch.testing.assert_close(out[~missing], y[~missing], rtol=0, atol=1e-6)

    def on_missing(img: torch.Tensor) -> float:
        return psnr(img[missing][None, None, None], x[missing][None, None, None]).item()

    assert on_missing(out) > on_missing(y) + 10.0, (name, on_missing(y), on_missing(out))


def test_bicubic_is_imresize():
    resize = pytest.importorskip("pixelsmith.degrade.resize")
    x = _set12("04.png")[..., :30, :31]
    out = task_methods("sr")["bicubic"].load()(x, Known(scale=3))
    assert out.shape == (1, 1, 90, 93)
    torch.testing.assert_close(out, resize.imresize(x, 3.0).clamp(0, 1))
