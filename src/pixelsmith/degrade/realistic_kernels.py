"""Blur kernels of the realistic degradation model, built from plain parameters.

A kernel is described by a JSON-serializable dict, so a saved draw rebuilds exactly the same
kernel (:func:`kernel_from_params`):

- ``{"type": "gaussian" | "generalized" | "plateau", "size": K, "sigma": [sx, sy],
  "angle": DEG, "beta": B, "shift": S}``: bivariate kernels of the quadratic form
  ``q = d^T Sigma^-1 d``, where ``Sigma`` has standard deviations ``sx``, ``sy`` along axes
  rotated counter-clockwise by ``angle`` degrees (isotropic when ``sx == sy``):
  Gaussian ``exp(-q / 2)``, generalized Gaussian ``exp(-q**beta / 2)`` (flat-topped for
  beta > 1, heavy-tailed below) and plateau ``1 / (1 + q**beta)`` (Real-ESRGAN's kernel
  families). ``shift`` (pixels, default 0) moves the centre up and to the left, so that
  blurring then keeping every ``s``-th pixel samples block centres when ``shift = (s - 1)/2``
  (BSRGAN's nearest-neighbour downsampling). ``beta`` is ignored by ``gaussian``.
- ``{"type": "sinc", "size": K, "cutoff": W}``: the ideal circular low-pass filter of cutoff
  ``W`` radians per pixel (0 < W <= pi), truncated to K x K: ``W J1(W r) / (2 pi r)``. Its
  side lobes make ringing and overshoot like the sharpening/resampling filters of cameras
  and editors. It has negative values.
- ``{"type": "motion", "size": K, "length": L, "seed": S}``: a camera-shake kernel, the
  random path of ``L`` pixels that :func:`~pixelsmith.degrade.kernels.motion_kernel` draws
  from a generator seeded with ``S`` (Boracchi & Foi 2012), on a K x K canvas.

Kernels are float32 (K, K) tensors summing to 1, odd K, applied as convolutions centred at
(K // 2, K // 2) (see :class:`~pixelsmith.degrade.Blur`).
"""

from __future__ import annotations

import math

import torch

KERNEL_TYPES = ("gaussian", "generalized", "plateau", "sinc", "motion")


def _check_size(size: int) -> int:
    size = int(size)
    if size < 1 or size % 2 == 0:
        raise ValueError(f"kernel size must be odd and >= 1, got {size}")
    return size


def _grid(size: int, shift: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) float64 coordinates of a size x size grid, origin at its centre minus ``shift``."""
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2 + float(shift)
    y, x = torch.meshgrid(coords, coords, indexing="ij")  # x to the right, y downwards
    return x, y


def quadratic_form(size: int, sigma: tuple[float, float], angle: float,
                   shift: float = 0.0) -> torch.Tensor:
    """``d^T Sigma^-1 d`` on the kernel grid (float64), ``Sigma`` as in the module docstring."""
    sx, sy = (float(s) for s in sigma)
    if not (sx > 0 and sy > 0 and math.isfinite(sx) and math.isfinite(sy)):
        raise ValueError(f"kernel sigmas must be finite and > 0, got {sigma}")
    x, y = _grid(_check_size(size), shift)
    theta = math.radians(float(angle))
    u = x * math.cos(theta) - y * math.sin(theta)  # image y points down: flip the rotation
    v = x * math.sin(theta) + y * math.cos(theta)
    return u**2 / sx**2 + v**2 / sy**2


def _normalised(values: torch.Tensor) -> torch.Tensor:
    total = values.sum()
    if not torch.isfinite(total) or total == 0:
        raise ValueError("kernel sums to zero or is not finite")
    return (values / total).to(torch.float32)


def bivariate_kernel(kind: str, size: int, sigma: tuple[float, float], angle: float = 0.0,
                     beta: float = 1.0, shift: float = 0.0) -> torch.Tensor:
    """A ``gaussian``, ``generalized`` (Gaussian) or ``plateau`` kernel; see the module doc."""
    beta = float(beta)
    if not (beta > 0 and math.isfinite(beta)):
        raise ValueError(f"kernel beta must be finite and > 0, got {beta}")
    q = quadratic_form(size, sigma, angle, shift)
    if kind == "gaussian":
        values = torch.exp(-0.5 * q)
    elif kind == "generalized":
        values = torch.exp(-0.5 * q**beta)
    elif kind == "plateau":
        values = 1.0 / (1.0 + q**beta)
    else:
        raise ValueError(f"bivariate kernel kind must be gaussian, generalized or plateau, "
                         f"not {kind!r}")
    return _normalised(values)


def sinc_kernel(size: int, cutoff: float) -> torch.Tensor:
    """The circular low-pass (2-D sinc, "jinc") filter of ``cutoff`` radians per pixel."""
    cutoff = float(cutoff)
    if not 0 < cutoff <= math.pi:
        raise ValueError(f"sinc cutoff must be in (0, pi], got {cutoff}")
    x, y = _grid(_check_size(size), 0.0)
    r = torch.sqrt(x**2 + y**2)
    safe = torch.where(r > 0, r, torch.ones_like(r))
    values = cutoff * torch.special.bessel_j1(cutoff * safe) / (2 * math.pi * safe)
    values = torch.where(r > 0, values, torch.full_like(r, cutoff**2 / (4 * math.pi)))
    return _normalised(values)


def kernel_from_params(params: dict) -> torch.Tensor:
    """Rebuild the kernel a draw describes (see the module docstring for the dict forms)."""
    kind = params["type"]
    if kind == "sinc":
        return sinc_kernel(params["size"], params["cutoff"])
    if kind == "motion":
        from pixelsmith.degrade.kernels import motion_kernel

        generator = torch.Generator().manual_seed(int(params["seed"]))
        return motion_kernel(_check_size(params["size"]), generator,
                             length=float(params["length"])).to(torch.float32)
    if kind in KERNEL_TYPES:
        return bivariate_kernel(kind, params["size"], tuple(params["sigma"]),
                                params.get("angle", 0.0), params.get("beta", 1.0),
                                params.get("shift", 0.0))
    raise ValueError(f"unknown kernel type {kind!r} (expected one of {', '.join(KERNEL_TYPES)})")
