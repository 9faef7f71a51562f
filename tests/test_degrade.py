"""Degradation operators: adjointness, reproducibility, statistics, references (scipy, MATLAB)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import scipy.ndimage as ndi
import torch

from pixelsmith import degrade as dg
from pixelsmith.settings import dataset_path


def rand(*shape: int, seed: int = 0, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def random_kernel(kh: int, kw: int, seed: int = 1) -> torch.Tensor:
    kernel = rand(kh, kw, seed=seed)
    return kernel / kernel.sum()


# -- one adjointness test for every linear operator ------------------------------------------
ADJOINT_CASES = {
    "blur-circular-odd": (lambda: dg.Blur(random_kernel(5, 7), "circular"), (2, 3, 20, 17)),
    "blur-circular-even": (lambda: dg.Blur(random_kernel(4, 6), "circular"), (2, 3, 20, 17)),
    "blur-reflect-odd": (lambda: dg.Blur(random_kernel(5, 7), "reflect"), (2, 3, 20, 17)),
    "blur-reflect-even": (lambda: dg.Blur(random_kernel(4, 6), "reflect"), (2, 3, 20, 17)),
    "blur-circular-huge-kernel": (lambda: dg.Blur(random_kernel(13, 12), "circular"), (1, 1, 5, 6)),
    "blur-reflect-huge-kernel": (lambda: dg.Blur(random_kernel(13, 12), "reflect"), (1, 1, 5, 6)),
    "mask-shared": (lambda: dg.Mask(dg.random_pixel_mask(16, 12, 0.4, None)), (3, 2, 16, 12)),
    "mask-per-image": (lambda: dg.Mask((rand(3, 1, 16, 12, seed=5) > 0.5).double()),
                       (3, 2, 16, 12)),
    **{
        f"downsample-x{s}-{kind}": (
            (lambda s=s, size=size: dg.Downsample(s, input_size=size)), (2, 3, *size)
        )
        for s in (2, 3, 4)
        for kind, size in (("multiple", (12 * s, 7 * s)), ("non-multiple", (12 * s + 1, 7 * s - 1)))
    },
}


@pytest.mark.parametrize("name", sorted(ADJOINT_CASES))
def test_adjoint(name: str) -> None:
    make, shape = ADJOINT_CASES[name]
    op = make()
    u = rand(*shape, seed=2)
    au = op.A(u)
    v = rand(*au.shape, seed=3)
    lhs = float((au * v).sum())
    rhs = float((u * op.A_adjoint(v)).sum())
    assert op.A_adjoint(v).shape == u.shape
    assert abs(lhs - rhs) <= 1e-10 * abs(lhs)


# -- random operators and generators: same seed, same draw ------------------------------------
RANDOM_OPERATORS = {
    "gaussian": dg.GaussianNoise(25 / 255),
    "gaussian-range": dg.GaussianNoise((5 / 255, 50 / 255)),
    "poisson": dg.PoissonNoise(30),
    "poisson-gaussian": dg.PoissonGaussianNoise(30, 5 / 255),
    "saltpepper": dg.SaltPepperNoise(0.1),
}


@pytest.mark.parametrize("name", sorted(RANDOM_OPERATORS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_random_operator_reproducible(name: str, dtype: torch.dtype) -> None:
    op = RANDOM_OPERATORS[name]
    assert op.random
    x = rand(2, 3, 16, 16, dtype=dtype)
    first = dg.degrade(x, op, seed=7)
    assert first.dtype == dtype and first.shape == x.shape
    assert torch.equal(first, dg.degrade(x, op, seed=7))
    assert not torch.equal(first, dg.degrade(x, op, seed=8))


GENERATORS = {
    "motion": lambda g: dg.motion_kernel(17, g),
    "box": lambda g: dg.box_mask(40, 30, g, box=10),
    "pixels": lambda g: dg.random_pixel_mask(40, 30, 0.3, g),
    "strokes": lambda g: dg.stroke_mask(40, 30, g),
}


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generator_reproducible(name: str) -> None:
    draw = GENERATORS[name]
    first = draw(dg.make_generator(3))
    assert torch.equal(first, draw(dg.make_generator(3)))
    assert not torch.equal(first, draw(dg.make_generator(4)))


# -- noise statistics -----------------------------------------------------------------------
def test_gaussian_noise_std_and_no_clipping() -> None:
    x = torch.full((1, 1, 256, 256), 0.5, dtype=torch.float64)
    sigma = 25 / 255
    noise = dg.GaussianNoise(sigma)(x, dg.make_generator(0)) - x
    assert abs(float(noise.std()) / sigma - 1) < 0.03
    assert abs(float(noise.mean())) < 0.02 * sigma
    white = torch.ones(1, 1, 64, 64)
    assert float(dg.GaussianNoise(sigma)(white, dg.make_generator(0)).max()) > 1  # not clipped


def test_gaussian_range_draws_one_sigma_per_image() -> None:
    op = dg.GaussianNoise((5 / 255, 50 / 255))
    x = torch.full((4, 1, 128, 128), 0.5, dtype=torch.float64)
    y, sigma = op.apply_with_sigma(x, dg.make_generator(1))
    assert sigma.shape == (4,) and len(set(sigma.tolist())) == 4
    assert bool(((sigma >= 5 / 255) & (sigma <= 50 / 255)).all())
    measured = (y - x).flatten(1).std(dim=1)
    assert torch.allclose(measured, sigma, rtol=0.05)
    assert torch.equal(op(x, dg.make_generator(1)), y)  # apply uses the same draws


def test_poisson_and_saltpepper_statistics() -> None:
    x = torch.full((1, 1, 256, 256), 0.4, dtype=torch.float64)
    y = dg.PoissonNoise(20)(x, dg.make_generator(0))
    assert float(y.min()) >= 0
    assert abs(float(y.mean()) - 0.4) < 0.01
    assert abs(float(y.var()) / (0.4 / 20) - 1) < 0.05  # var(P(peak x) / peak) = x / peak
    sp = dg.SaltPepperNoise(0.2, salt_vs_pepper=0.25)(x, dg.make_generator(0))
    changed = sp != x
    assert abs(float(changed.double().mean()) - 0.2) < 0.01
    assert abs(float((sp[changed] == 1).double().mean()) - 0.25) < 0.02
    assert set(torch.unique(sp).tolist()) == {0.0, 0.4, 1.0}


# -- kernels --------------------------------------------------------------------------------
KERNELS = {
    "gaussian": lambda: dg.gaussian_kernel(1.6),
    "gaussian-even": lambda: dg.gaussian_kernel(2.0, size=8),
    "gaussian-aniso": lambda: dg.gaussian_kernel((4.0, 1.0), angle=30),
    "gaussian-zero": lambda: dg.gaussian_kernel(0.0),
    "disk": lambda: dg.disk_kernel(3),
    "disk-fraction": lambda: dg.disk_kernel(2.5),
    "motion": lambda: dg.motion_kernel(21, dg.make_generator(0)),
    "motion-straight": lambda: dg.motion_kernel(15, dg.make_generator(1), anxiety=0.0),
}


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_kernel_normalised(name: str) -> None:
    kernel = KERNELS[name]()
    assert kernel.dtype == torch.float32 and kernel.ndim == 2
    assert float(kernel.min()) >= 0
    assert abs(float(kernel.double().sum()) - 1) < 1e-6


def test_kernel_shapes_and_symmetry() -> None:
    assert dg.gaussian_kernel(1.6).shape == (11, 11)
    assert dg.disk_kernel(3).shape == (7, 7)
    k = dg.gaussian_kernel((3.0, 1.0), angle=90)
    assert torch.allclose(k, dg.gaussian_kernel((1.0, 3.0)), atol=1e-7)  # rotating swaps axes
    disk = dg.disk_kernel(3).double()
    assert torch.allclose(disk, disk.T) and torch.allclose(disk, disk.flip(0))


def test_motion_kernel_is_centred() -> None:
    for seed in range(5):
        kernel = dg.motion_kernel(20, dg.make_generator(seed)).double()
        rows, cols = torch.meshgrid(torch.arange(20.0), torch.arange(20.0), indexing="ij")
        assert abs(float((kernel * rows.double()).sum()) - 10) < 1e-4
        assert abs(float((kernel * cols.double()).sum()) - 10) < 1e-4


# -- blur against scipy ---------------------------------------------------------------------
@pytest.mark.parametrize("boundary, mode", [("circular", "wrap"), ("reflect", "reflect")])
@pytest.mark.parametrize("kshape, size", [((5, 5), (24, 19)), ((4, 6), (24, 19)),
                                          ((9, 8), (6, 5))])
def test_blur_matches_scipy(boundary: str, mode: str, kshape, size) -> None:
    kernel = random_kernel(*kshape)
    x = rand(2, 3, *size)
    y = dg.Blur(kernel, boundary)(x)
    expected = np.stack([[ndi.convolve(c.numpy(), kernel.numpy(), mode=mode) for c in image]
                         for image in x])
    assert np.abs(y.numpy() - expected).max() < 1e-6
    y32 = dg.Blur(kernel.float(), boundary)(x.float())
    assert y32.dtype == torch.float32
    assert np.abs(y32.double().numpy() - expected).max() < 1e-5


@pytest.mark.parametrize("boundary", ["circular", "reflect"])
@pytest.mark.parametrize("side", [1, 3, 4])
def test_delta_kernel_is_identity(boundary: str, side: int) -> None:
    delta = torch.zeros(side, side)
    delta[side // 2, side // 2] = 1
    x = rand(1, 3, 15, 12)
    assert torch.allclose(dg.Blur(delta, boundary)(x), x, atol=1e-12)


def test_blur_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        dg.Blur(torch.ones(3), "circular")
    with pytest.raises(ValueError):
        dg.Blur(torch.ones(3, 3), "zero")


# -- masks ----------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("h, w, coverage", [(64, 64, (0.1, 0.3)), (48, 80, (0.3, 0.4)),
                                            (256, 256, (0.1, 0.3))])
def test_stroke_mask_coverage(seed: int, h: int, w: int, coverage) -> None:
    mask = dg.stroke_mask(h, w, dg.make_generator(seed), coverage=coverage)
    assert mask.shape == (1, 1, h, w)
    assert set(torch.unique(mask).tolist()) <= {0.0, 1.0}
    assert coverage[0] <= float(mask.mean()) <= coverage[1]


def test_box_and_pixel_masks() -> None:
    g = dg.make_generator(0)
    assert float(dg.random_pixel_mask(20, 30, 0.25, g).sum()) == 150
    box = dg.box_mask(40, 60, g, box=(10, 20))
    assert float(box.sum()) == 200
    rows, cols = box[0, 0].nonzero(as_tuple=True)
    assert int(rows.max() - rows.min()) == 9 and int(cols.max() - cols.min()) == 19
    assert abs(float(dg.box_mask(100, 60, g, box=0.25).mean()) - 0.25) < 0.01
    assert float(dg.box_mask(100, 60, g).mean()) == 0.25
    with pytest.raises(ValueError):
        dg.box_mask(10, 10, g, box=11)


def test_mask_operator_zeroes_missing_pixels() -> None:
    mask = dg.box_mask(8, 8, dg.make_generator(0), box=4)
    x = rand(2, 3, 8, 8, dtype=torch.float32)
    y = dg.Mask(mask)(x)
    assert y.dtype == torch.float32
    assert float(y[mask.expand_as(y) == 1].abs().max()) == 0
    assert torch.equal(y[mask.expand_as(y) == 0], x[mask.expand_as(x) == 0])


# -- resize and MATLAB ----------------------------------------------------------------------
def test_imresize_shapes_and_constants() -> None:
    x = torch.full((1, 3, 13, 10), 0.3, dtype=torch.float64)
    up = dg.imresize(x, 3)
    assert up.shape == (1, 3, 39, 30) and torch.allclose(up, torch.full_like(up, 0.3))
    assert dg.Downsample(4)(x).shape == (1, 3, 4, 3)
    assert torch.allclose(dg.imresize(x, 1.0), x)
    assert dg.imresize(x.float(), 0.5).dtype == torch.float32
    assert dg.imresize(x, size=(7, 21)).shape == (1, 3, 7, 21)


def _set5_case(name: str, scale: int):
    root = dataset_path("test/Set5")
    hr_path = root / "HR" / f"{name}.png"
    lr_path = root / "LR_bicubic" / f"X{scale}" / f"{name}x{scale}.png"
    if not (hr_path.is_file() and lr_path.is_file()):
        pytest.skip(f"Set5 data not found under {root}")
    from pixelsmith.io import read_image

    hr = read_image(hr_path).double()
    h, w = hr.shape[-2:]
    hr = torch.round(hr[..., : h - h % scale, : w - w % scale] * 255) / 255
    lr = torch.round(read_image(lr_path).double() * 255)
    return hr, lr


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_matches_matlab_imresize_on_set5_baby(scale: int) -> None:
    hr, lr = _set5_case("baby", scale)
    ours = dg.imresize(hr, 1 / scale, uint8=True) * 255
    assert ours.shape == lr.shape
    assert float((ours - lr).abs().mean()) < 1e-3  # measured: identical, pixel for pixel
    linear = torch.floor(dg.Downsample(scale)(hr).clamp(0, 1) * 255 + 0.5)
    assert float((linear - lr).abs().mean()) < 0.2  # one rounding fewer than MATLAB's uint8 path
    assert float((linear - lr).abs().max()) <= 2


# -- JPEG -----------------------------------------------------------------------------------
def test_jpeg_gray_and_rgb() -> None:
    gray = rand(2, 1, 32, 40, dtype=torch.float32)
    y = dg.JPEG(20)(gray)
    assert y.shape == gray.shape and y.dtype == torch.float32
    assert torch.equal(y, dg.JPEG(20)(gray))
    assert torch.equal(torch.round(y * 255) / 255, y)
    rgb = rand(1, 3, 32, 32)
    full = dg.JPEG(90, subsampling="4:4:4")(rgb)
    sub = dg.JPEG(90)(rgb)
    assert full.dtype == torch.float64
    assert (full - rgb).abs().mean() < (sub - rgb).abs().mean()
    with pytest.raises(ValueError):
        dg.JPEG(0)
    with pytest.raises(ValueError):
        dg.JPEG(50)(rand(1, 2, 8, 8))


# -- composition ----------------------------------------------------------------------------
def test_compose_chain_is_reproducible() -> None:
    chain = dg.Compose(dg.Blur(dg.gaussian_kernel(1.2)), dg.Downsample(2),
                       dg.GaussianNoise(5 / 255), dg.JPEG(40))
    assert chain.random
    assert "JPEG" in chain.describe()
    x = rand(2, 3, 32, 24, dtype=torch.float32)
    y = dg.degrade(x, *chain.operators, seed=11)
    assert y.shape == (2, 3, 16, 12)
    assert torch.equal(y, chain(x, dg.make_generator(11)))
    assert not torch.equal(y, dg.degrade(x, *chain.operators, seed=12))


def test_import_stays_light() -> None:
    code = ("import sys, pixelsmith.degrade; "
            "print(sorted(m for m in ('scipy', 'PIL', 'h5py') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
