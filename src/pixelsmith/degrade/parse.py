"""Parse degradation specs as typed on the command line (``gaussian:25``, ``disk:3,reflect``).

Every malformed spec raises :class:`PixelsmithError` with one line naming the spec and the
accepted forms. Forms (noise levels in 0-255 units, as people say them):

- noise: ``gaussian:SIGMA``, ``gaussian:LOW-HIGH`` (one sigma per image, uniform),
  ``poisson:PEAK``, ``poisson-gaussian:PEAK,SIGMA``, ``saltpepper:AMOUNT`` (fraction 0-1)
- blur: ``gaussian:SIGMA``, ``gaussian:SX,SY[,ANGLE]`` (anisotropic, angle in degrees),
  ``disk:RADIUS``, ``motion:SIZE`` (random camera shake from the seed), ``file:PATH`` or just
  ``PATH`` (``PATH`` may be ``kernels.mat:NAME:INDEX``); any of them may end in ``,reflect``
  or ``,circular`` (the default) to choose the boundary rule
- mask: ``box`` (half height and width), ``box:SIDE``, ``box:HxW``, ``box:FRACTION`` (area,
  below 1), ``pixels:FRACTION``, ``strokes`` or ``strokes:LOW-HIGH`` (coverage), ``file:PATH``
  or just ``PATH``
- downsample: an integer >= 2 (``4`` or ``x4``); JPEG: a quality 1..100
"""

from __future__ import annotations

import math
import re

import torch

from pixelsmith.degrade.base import Operator
from pixelsmith.degrade.blur import BOUNDARIES, Blur
from pixelsmith.degrade.jpeg import JPEG
from pixelsmith.degrade.mask import Mask, box_mask, random_pixel_mask, stroke_mask
from pixelsmith.degrade.noise import (
    GaussianNoise,
    PoissonGaussianNoise,
    PoissonNoise,
    SaltPepperNoise,
)
from pixelsmith.degrade.resize import Downsample
from pixelsmith.errors import PixelsmithError

NOISE_FORMS = ("gaussian:SIGMA, gaussian:LOW-HIGH, poisson:PEAK, poisson-gaussian:PEAK,SIGMA "
               "or saltpepper:AMOUNT (sigmas in 0-255 units)")
BLUR_FORMS = ("gaussian:SIGMA, gaussian:SX,SY[,ANGLE], disk:RADIUS, motion:SIZE, file:PATH or "
              "PATH, optionally followed by ,reflect or ,circular")
MASK_FORMS = ("box, box:SIDE, box:HxW, box:FRACTION, pixels:FRACTION, strokes, "
              "strokes:LOW-HIGH, file:PATH or PATH")

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_RANGE = re.compile(rf"^({_NUMBER})-({_NUMBER})$")


class _BadSpec(ValueError):
    """Internal: a spec that does not parse; turned into a PixelsmithError by the caller."""


def _number(text: str) -> float:
    """A finite, non-negative number; ValueError naming a negative one, _BadSpec otherwise."""
    text = text.strip()
    if re.fullmatch(rf"-{_NUMBER}", text):
        raise ValueError(f"{text} is negative; every number of a spec is 0 or more")
    if not re.fullmatch(_NUMBER, text):
        raise _BadSpec(text)
    value = float(text)
    if not math.isfinite(value):
        raise _BadSpec(text)
    return value


def _numbers(text: str, count: tuple[int, ...]) -> list[float]:
    """Comma-separated numbers; their count must be one of ``count``."""
    values = [_number(part) for part in text.split(",")] if text else []
    if len(values) not in count:
        raise _BadSpec(text)
    return values


def _range(text: str) -> tuple[float, float]:
    match = _RANGE.match(text.strip())
    if not match:
        raise _BadSpec(text)
    low, high = float(match.group(1)), float(match.group(2))
    if low > high:
        raise ValueError(f"range {text} must be LOW-HIGH with LOW <= HIGH")
    return low, high


def _split(spec: str) -> tuple[str, str]:
    """'kind:args' -> ('kind', 'args'); 'kind' -> ('kind', '')."""
    kind, _, args = str(spec).strip().partition(":")
    return kind.strip().lower(), args.strip()


def _fail(what: str, spec, forms: str, why: str = "") -> PixelsmithError:
    """The one-line error for a bad ``what`` (noise, blur, mask) spec."""
    detail = f" ({why})" if why else ""
    return PixelsmithError(f"bad {what} spec '{spec}'{detail}: expected {forms}")


# -- noise ----------------------------------------------------------------------------------
def _gaussian_noise(args: str) -> Operator:
    if re.fullmatch(rf"-?{_NUMBER}", args):
        return GaussianNoise(_number(args) / 255.0)
    low, high = _range(args)
    return GaussianNoise((low / 255.0, high / 255.0))


def _poisson_gaussian(args: str) -> Operator:
    peak, sigma = _numbers(args, (2,))
    return PoissonGaussianNoise(peak, sigma / 255.0)


_NOISES = {
    "gaussian": _gaussian_noise,
    "poisson": lambda args: PoissonNoise(_number(args)),
    "poisson-gaussian": _poisson_gaussian,
    "saltpepper": lambda args: SaltPepperNoise(_number(args)),
}


def parse_noise(spec: str) -> Operator:
    """A noise operator from ``gaussian:25``, ``gaussian:5-50``, ``poisson:30``,
    ``poisson-gaussian:30,5`` or ``saltpepper:0.05`` (Gaussian sigmas in 0-255 units)."""
    kind, args = _split(spec)
    if kind not in _NOISES:
        raise _fail("noise", spec, NOISE_FORMS, f"unknown kind '{kind}'")
    try:
        return _NOISES[kind](args)
    except (_BadSpec, ValueError) as exc:
        raise _fail("noise", spec, NOISE_FORMS, _why(exc)) from None


def _why(exc: Exception) -> str:
    """Reason text for an error message: constructor messages, not the bare bad token."""
    return "" if isinstance(exc, _BadSpec) else str(exc)


# -- blur -----------------------------------------------------------------------------------
def _gaussian_blur(args: str, generator: torch.Generator | None) -> torch.Tensor:
    from pixelsmith.degrade.kernels import gaussian_kernel

    values = _numbers(args, (1, 2, 3))
    if len(values) == 1:
        return gaussian_kernel(values[0])
    angle = values[2] if len(values) == 3 else 0.0
    return gaussian_kernel((values[0], values[1]), angle=angle)


def _disk_blur(args: str, generator: torch.Generator | None) -> torch.Tensor:
    from pixelsmith.degrade.kernels import disk_kernel

    return disk_kernel(_number(args))


def _motion_blur(args: str, generator: torch.Generator | None) -> torch.Tensor:
    from pixelsmith.degrade.kernels import motion_kernel

    size = _number(args)
    if not size.is_integer():
        raise ValueError(f"motion kernel size must be an integer, got {args}")
    return motion_kernel(int(size), generator)


def _file_kernel(path: str) -> torch.Tensor:
    from pixelsmith.degrade.kernels import load_kernel

    if not path:
        raise _BadSpec(path)
    return load_kernel(path)


_BLURS = {"gaussian": _gaussian_blur, "disk": _disk_blur, "motion": _motion_blur}


def _split_boundary(spec: str) -> tuple[str, str]:
    """'disk:3,reflect' -> ('disk:3', 'reflect'); no suffix -> (spec, 'circular')."""
    head, sep, tail = spec.rpartition(",")
    if sep and tail.strip().lower() in BOUNDARIES:
        return head.strip(), tail.strip().lower()
    return spec.strip(), "circular"


def _looks_like_path(spec: str) -> bool:
    from pixelsmith.degrade.kernels import _split_reference

    try:
        _split_reference(spec)
    except PixelsmithError:
        return False
    return True


def parse_blur(spec: str, generator: torch.Generator | None = None
               ) -> tuple[Blur, torch.Tensor]:
    """A :class:`Blur` and its kernel from ``gaussian:1.6``, ``gaussian:3,1,45`` (sx, sy, angle
    in degrees), ``disk:3``, ``motion:21`` (drawn from ``generator``), ``file:PATH`` or a bare
    kernel file path, each optionally followed by ``,reflect`` or ``,circular`` (default)."""
    body, boundary = _split_boundary(str(spec))
    kind, args = _split(body)
    try:
        if kind in _BLURS:
            kernel = _BLURS[kind](args, generator)
        elif kind == "file":
            kernel = _file_kernel(args)
        elif _looks_like_path(body):
            kernel = _file_kernel(body)
        else:
            raise _fail("blur", spec, BLUR_FORMS, f"unknown kind '{kind}' and no such file")
    except (_BadSpec, ValueError) as exc:
        raise _fail("blur", spec, BLUR_FORMS, _why(exc)) from None
    return Blur(kernel, boundary=boundary), kernel


# -- mask -----------------------------------------------------------------------------------
def _box_arg(args: str) -> int | float | tuple[int, int] | None:
    if not args:
        return None
    if "x" in args.lower():
        parts = args.lower().split("x")
        values = [_number(p) for p in parts]
        if len(values) != 2 or not all(v.is_integer() for v in values):
            raise _BadSpec(args)
        return int(values[0]), int(values[1])
    value = _number(args)
    if value < 1:
        return value
    if not value.is_integer():
        raise ValueError(f"box side must be a whole number of pixels, got {args}")
    return int(value)


def _mask_tensor(kind: str, args: str, size: tuple[int, int],
                 generator: torch.Generator | None) -> torch.Tensor:
    """Draw a generated mask: ``kind`` is box, pixels or strokes."""
    h, w = size
    if kind == "box":
        return box_mask(h, w, generator, box=_box_arg(args))
    if kind == "pixels":
        return random_pixel_mask(h, w, _number(args), generator)
    coverage = _range(args) if args else (0.1, 0.3)
    return stroke_mask(h, w, generator, coverage=coverage)


def parse_mask(spec: str, size: tuple[int, int], generator: torch.Generator | None = None
               ) -> tuple[Mask, torch.Tensor]:
    """A :class:`Mask` and its (1, 1, H, W) tensor for an image of ``size`` = (height, width),
    from ``box``, ``box:64``, ``box:64x32``, ``box:0.25`` (area fraction), ``pixels:0.5``,
    ``strokes``, ``strokes:0.1-0.3``, ``file:PATH`` or a bare mask image path."""
    from pixelsmith.degrade.mask import load_mask

    text = str(spec).strip()
    kind, args = _split(text)
    size = (int(size[0]), int(size[1]))
    try:
        if kind in ("box", "pixels", "strokes"):
            mask = _mask_tensor(kind, args, size, generator)
        elif kind == "file" and args:
            mask = load_mask(args, size=size)
        elif _looks_like_path(text):
            mask = load_mask(text, size=size)
        else:
            raise _fail("mask", spec, MASK_FORMS, f"unknown kind '{kind}' and no such file")
    except (_BadSpec, ValueError) as exc:
        raise _fail("mask", spec, MASK_FORMS, _why(exc)) from None
    return Mask(mask), mask


# -- downsampling and JPEG ------------------------------------------------------------------
def _integer(value) -> int:
    """A whole number from 4, 4.0, "4" or "x4"; anything else is _BadSpec."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip().lower().removeprefix("x")
    if not re.fullmatch(r"\d+", text):
        raise _BadSpec(text)
    return int(text)


def parse_downsample(value: int | str) -> Downsample:
    """A bicubic :class:`Downsample` from a factor: ``2``, ``"3"``, ``"x4"``: any integer >= 2."""
    try:
        scale = _integer(value)
    except _BadSpec:
        scale = 0
    if scale < 2:
        raise PixelsmithError(
            f"bad downsampling factor '{value}': expected an integer >= 2 (e.g. 4)"
        )
    return Downsample(scale)


def parse_jpeg(value: int | str) -> JPEG:
    """A :class:`JPEG` operator from a quality: an integer 1..100."""
    try:
        quality = _integer(value)
    except _BadSpec:
        quality = 0
    if not 1 <= quality <= 100:
        raise PixelsmithError(f"bad JPEG quality '{value}': expected an integer from 1 to 100")
    return JPEG(quality)
