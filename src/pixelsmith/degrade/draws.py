"""Random degradations of training patches: what to draw (:class:`DegradationSpec`) and the
draws themselves (blur kernels, masks, noise levels, JPEG qualities), each from an explicit
``torch.Generator`` so that a patch's degradation is reproducible from its seed.

:func:`degrade_patch` degrades one clean patch and returns the item dict that
:class:`pixelsmith.data.patches.RandomPatches` yields (its keys are documented there);
:func:`pad_kernel`/:func:`unpad_kernel` give kernels of different sizes one shape so a batch
stacks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch

from pixelsmith.degrade.blur import Blur
from pixelsmith.degrade.jpeg import JPEG
from pixelsmith.degrade.kernels import disk_kernel, gaussian_kernel, motion_kernel
from pixelsmith.degrade.known import TASKS
from pixelsmith.degrade.mask import box_mask, random_pixel_mask, stroke_mask
from pixelsmith.degrade.noise import GaussianNoise
from pixelsmith.degrade.realistic import RealisticDegradation
from pixelsmith.degrade.resize import imresize
from pixelsmith.io import quantize

KERNEL_KINDS = ("gaussian", "disk", "motion")
MASK_KINDS = ("box", "strokes", "pixels")
BOUNDARIES = ("valid", "circular", "reflect")
DEFAULT_MASKS = {"box": (0.05, 0.4), "strokes": (0.05, 0.4), "pixels": (0.2, 0.9)}


def _range(value: Sequence[float], name: str, low: float = 0.0,
           high: float = math.inf) -> tuple[float, float]:
    """Check a (lo, hi) pair with low <= lo <= hi <= high; one number v means (v, v)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = (value, value)
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a (low, high) pair, got {value!r}") from None
    if not (low <= lo <= hi <= high):
        raise ValueError(f"{name} must satisfy {low:g} <= low <= high <= {high:g}, got {value}")
    return lo, hi


def _check_kernel(kernel: torch.Tensor, limit: int) -> torch.Tensor:
    kernel = torch.as_tensor(kernel, dtype=torch.float32)
    if kernel.ndim != 2 or kernel.numel() == 0:
        raise ValueError(f"a blur kernel must be a non-empty 2-D tensor, got {tuple(kernel.shape)}")
    if max(kernel.shape) > limit:
        raise ValueError(f"a {tuple(kernel.shape)} kernel does not fit kernel_size={limit}")
    if not torch.isfinite(kernel).all() or (kernel < 0).any() or kernel.sum() <= 0:
        raise ValueError("a blur kernel must be finite, non-negative and not all zero")
    return kernel / kernel.sum()


@dataclass(frozen=True, eq=False)
class DegradationSpec:
    """What a training pair looks like: the task and the ranges its parameters are drawn from.

    Build it with the task constructors (:meth:`denoise`, :meth:`deblur`, :meth:`inpaint`,
    :meth:`sr`, :meth:`dejpeg`); ranges are (low, high), drawn uniformly per sample (one
    number v is the fixed range (v, v)).

    - ``sigma``: Gaussian noise std in 0-255 units (``(0, 75)`` = blind denoising up to 75);
      added after the operator for every task but ``dejpeg``. ``sigma_bias`` b skews the
      draw toward the low end, ``low + (high - low) * u ** b`` (b = 2 puts 58% of the draws
      of 0-75 at 25 or below and 18% above 50, against 33% and 33%), for a model whose
      low-noise results lag because the squared error of the high levels dominates its loss.
    - ``kernels``: entries chosen uniformly per sample: ``"gaussian"`` (std in
      ``gaussian_sigma``, anisotropic with a random angle if ``anisotropic``), ``"disk"``
      (radius in ``disk_radius``), ``"motion"`` (path length in ``motion_length``) or fixed
      kernel tensors (normalised to sum 1). ``kernel_size`` (odd) is the kernel canvas.
    - ``boundary``: ``"valid"`` blurs a larger crop and keeps the centre, so the patch has no
      artificial border (the physical model); ``"circular"`` / ``"reflect"`` blur the patch
      itself with that boundary rule (e.g. to match an FFT-based model).
    - ``masks``: {kind: coverage range}, kinds ``"box"`` (one hole, area fraction),
      ``"strokes"`` (free-form brush strokes) and ``"pixels"`` (random missing pixels).
    - ``scale``: super-resolution factor; the input is MATLAB-bicubic ``imresize(clean, 1/s)``.
    - ``quality``: JPEG quality range (integers, inclusive); ``subsampling`` for colour.
      ``quality_bias`` b skews the draw: the quality is ``low + floor(n * u ** b)`` with u
      uniform in [0, 1) and n the range's size, so 1 draws evenly and b > 1 favours the low
      qualities (b = 2 puts 62% of the draws of 10-90 at 40 or below) without leaving out the
      high ones, which a model fine-tuned on a narrower range forgets.
    - ``quantize``: clip and round the degraded input to 8 bits, as a stored image would be.
    - ``realistic``: a :class:`~pixelsmith.degrade.realistic.RealisticDegradation` that makes
      the input instead of the task's operator and noise (blind photo restoration; build it
      with :meth:`realistic_photo`).
    """

    task: str
    sigma: tuple[float, float] = (0.0, 0.0)
    sigma_bias: float = 1.0
    kernels: tuple[str | torch.Tensor, ...] = KERNEL_KINDS
    kernel_size: int = 25
    gaussian_sigma: tuple[float, float] = (0.5, 4.0)
    anisotropic: bool = True
    disk_radius: tuple[float, float] = (1.0, 6.0)
    motion_length: tuple[float, float] = (5.0, 25.0)
    boundary: str = "valid"
    masks: Mapping[str, tuple[float, float]] = field(default_factory=lambda: dict(DEFAULT_MASKS))
    scale: int = 4
    quality: tuple[int, int] = (10, 90)
    quality_bias: float = 1.0
    subsampling: str = "4:2:0"
    quantize: bool = False
    realistic: RealisticDegradation | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, not {self.task!r}")
        fix = object.__setattr__  # frozen: normalise fields once, here
        fix(self, "sigma", _range(self.sigma, "sigma", 0.0, 255.0))
        if not (math.isfinite(float(self.sigma_bias)) and float(self.sigma_bias) > 0):
            raise ValueError(f"sigma_bias must be > 0, got {self.sigma_bias}")
        fix(self, "sigma_bias", float(self.sigma_bias))
        size = int(self.kernel_size)
        if size < 1 or size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and >= 1, got {self.kernel_size}")
        fix(self, "kernel_size", size)
        fix(self, "gaussian_sigma", _range(self.gaussian_sigma, "gaussian_sigma"))
        fix(self, "disk_radius", _range(self.disk_radius, "disk_radius"))
        fix(self, "motion_length", _range(self.motion_length, "motion_length"))
        if self.task == "deblur":
            self._check_kernels(size)
        if self.boundary not in BOUNDARIES:
            raise ValueError(f"boundary must be one of {BOUNDARIES}, not {self.boundary!r}")
        masks = {}
        for kind, coverage in dict(self.masks).items():
            if kind not in MASK_KINDS:
                raise ValueError(f"mask kind must be one of {MASK_KINDS}, not {kind!r}")
            top = 0.999 if kind == "box" else 1.0
            masks[kind] = _range(coverage, f"{kind} coverage", 0.0, top)
        if self.task == "inpaint" and not masks:
            raise ValueError("inpaint needs at least one mask kind")
        fix(self, "masks", masks)
        if isinstance(self.scale, bool) or int(self.scale) != self.scale or self.scale < 1:
            raise ValueError(f"scale must be an integer >= 1, got {self.scale}")
        fix(self, "scale", int(self.scale))
        quality = (self.quality,) * 2 if isinstance(self.quality, int) else tuple(self.quality)
        low, high = (int(q) for q in quality)
        if not (1 <= low <= high <= 100) or (low, high) != quality:
            raise ValueError(f"quality must be integers 1 <= low <= high <= 100, "
                             f"got {self.quality}")
        fix(self, "quality", (low, high))
        if not float(self.quality_bias) > 0:
            raise ValueError(f"quality_bias must be > 0, got {self.quality_bias}")
        fix(self, "quality_bias", float(self.quality_bias))
        if self.realistic is not None:
            self._check_realistic()

    def _check_realistic(self) -> None:
        expected = "sr" if self.realistic.scale > 1 else "denoise"
        if self.task != expected or self.scale != self.realistic.scale:
            raise ValueError(f"a realistic degradation of scale {self.realistic.scale} goes "
                             f"with task {expected} and scale {self.realistic.scale}")
        if self.sigma != (0.0, 0.0):
            raise ValueError("the realistic degradation draws its own noise: leave sigma unset")

    def _check_kernels(self, size: int) -> None:
        if not self.kernels:
            raise ValueError("deblur needs at least one kernel kind or kernel tensor")
        checked: list[str | torch.Tensor] = []
        for entry in self.kernels:
            if isinstance(entry, str):
                if entry not in KERNEL_KINDS:
                    raise ValueError(f"kernel kind must be one of {KERNEL_KINDS}, not {entry!r}")
                checked.append(entry)
            else:
                checked.append(_check_kernel(entry, size))
        if "disk" in checked and 2 * math.ceil(self.disk_radius[1]) + 1 > size:
            raise ValueError(f"disk radius {self.disk_radius[1]} does not fit kernel_size={size}")
        if "motion" in checked and size < 3:
            raise ValueError("motion kernels need kernel_size >= 3")
        object.__setattr__(self, "kernels", tuple(checked))

    # -- task constructors ---------------------------------------------------------------
    @classmethod
    def denoise(cls, sigma: tuple[float, float] = (0.0, 75.0), **options) -> DegradationSpec:
        """Additive white Gaussian noise with std drawn in ``sigma`` (0-255 units)."""
        return cls("denoise", sigma=sigma, **options)

    @classmethod
    def deblur(cls, kernels: Sequence[str | torch.Tensor] = KERNEL_KINDS,
               sigma: tuple[float, float] = (0.0, 0.0), **options) -> DegradationSpec:
        """Blur by a random or listed kernel, then optional noise."""
        return cls("deblur", sigma=sigma, kernels=tuple(kernels), **options)

    @classmethod
    def inpaint(cls, masks: Sequence[str] | Mapping[str, tuple[float, float]] = MASK_KINDS,
                coverage: tuple[float, float] | None = None, **options) -> DegradationSpec:
        """Missing pixels set to 0; ``masks`` is a list of kinds (default coverage ranges, or
        ``coverage`` for all) or a {kind: coverage range} mapping."""
        if isinstance(masks, Mapping):
            table = dict(masks)
        else:
            unknown = [k for k in masks if k not in DEFAULT_MASKS]
            if unknown:
                raise ValueError(f"mask kind must be one of {MASK_KINDS}, not {unknown[0]!r}")
            table = {k: coverage if coverage is not None else DEFAULT_MASKS[k] for k in masks}
        return cls("inpaint", masks=table, **options)

    @classmethod
    def sr(cls, scale: int = 4, **options) -> DegradationSpec:
        """Bicubic (MATLAB ``imresize``) downsampling by ``scale``, then optional noise."""
        return cls("sr", scale=scale, **options)

    @classmethod
    def dejpeg(cls, quality: tuple[int, int] = (10, 90), **options) -> DegradationSpec:
        """JPEG compression at a quality drawn from ``quality`` (inclusive)."""
        return cls("dejpeg", quality=quality, **options)

    @classmethod
    def realistic_photo(cls, scale: int = 1, order: str = "mixed", light: float = 0.0,
                        shake: float = 0.0, **options) -> DegradationSpec:
        """Blind photo restoration: inputs made by the realistic degradation model of ``scale``
        1 (task ``denoise``: same size) or 4 (task ``sr``) in ``order`` (``"mixed"``,
        ``"bsrgan"`` or ``"realesrgan"``), with a ``light`` share of light chains and a
        ``shake`` share that starts with camera shake; see :mod:`pixelsmith.degrade.realistic`."""
        model = RealisticDegradation(scale, order, light=light, shake=shake)
        task = "sr" if model.scale > 1 else "denoise"
        return cls(task, scale=model.scale, realistic=model, **options)

    # -- geometry ------------------------------------------------------------------------
    def margin(self) -> int:
        """Extra pixels cut on each side of the patch before degrading (valid blur)."""
        return self.kernel_size // 2 if self.task == "deblur" and self.boundary == "valid" else 0


# -- drawing parameters ------------------------------------------------------------------
def _uniform(low: float, high: float, gen: torch.Generator) -> float:
    return low + (high - low) * float(torch.rand((), generator=gen, dtype=torch.float64))


def _choice(count: int, gen: torch.Generator) -> int:
    return int(torch.randint(count, (), generator=gen)) if count > 1 else 0


def draw_quality(spec: DegradationSpec, gen: torch.Generator) -> int:
    """A JPEG quality from ``spec.quality``, skewed by ``spec.quality_bias`` (module docs)."""
    low, high = spec.quality
    if spec.quality_bias == 1.0:  # the even draw, as before the bias existed
        return low + _choice(high - low + 1, gen)
    u = float(torch.rand((), generator=gen, dtype=torch.float64))
    return low + min(int((high - low + 1) * u ** spec.quality_bias), high - low)


def draw_kernel(spec: DegradationSpec, gen: torch.Generator) -> torch.Tensor:
    """One blur kernel for ``spec`` (a deblur spec), drawn from ``gen``."""

    entry = spec.kernels[_choice(len(spec.kernels), gen)]
    if isinstance(entry, torch.Tensor):
        return entry
    if entry == "gaussian":
        low, high = spec.gaussian_sigma
        sx = _uniform(low, high, gen)
        if spec.anisotropic:
            sy, angle = _uniform(low, high, gen), _uniform(0.0, 180.0, gen)
            return gaussian_kernel((sx, sy), size=spec.kernel_size, angle=angle)
        return gaussian_kernel(sx, size=spec.kernel_size)
    if entry == "disk":
        return disk_kernel(_uniform(*spec.disk_radius, gen))
    return motion_kernel(spec.kernel_size, gen, length=_uniform(*spec.motion_length, gen))


def draw_mask(spec: DegradationSpec, height: int, width: int,
              gen: torch.Generator) -> torch.Tensor:
    """One (1, 1, H, W) inpainting mask (1 = missing) for ``spec``, drawn from ``gen``."""

    kinds = list(spec.masks)
    kind = kinds[_choice(len(kinds), gen)]
    low, high = spec.masks[kind]
    if kind == "box":
        fraction = _uniform(low, high, gen)
        if fraction * height * width < 0.5:
            return torch.zeros(1, 1, height, width)
        return box_mask(height, width, gen, box=fraction)
    if kind == "pixels":
        return random_pixel_mask(height, width, _uniform(low, high, gen), gen)
    return stroke_mask(height, width, gen, coverage=(low, high))


def pad_kernel(kernel: torch.Tensor, size: int) -> torch.Tensor:
    """Place ``kernel`` (kh, kw) in a (size, size) zero canvas, keeping its centre (kh // 2,
    kw // 2) at (size // 2, size // 2), so convolving with either gives the same result."""
    kh, kw = kernel.shape
    top, left = size // 2 - kh // 2, size // 2 - kw // 2
    if top < 0 or left < 0 or top + kh > size or left + kw > size:
        raise ValueError(f"a {kh}x{kw} kernel does not fit a {size}x{size} canvas")
    canvas = torch.zeros(size, size, dtype=torch.float32)
    canvas[top:top + kh, left:left + kw] = kernel
    return canvas


def unpad_kernel(kernel: torch.Tensor, kernel_size: torch.Tensor | Sequence[int]) -> torch.Tensor:
    """Inverse of :func:`pad_kernel`: the (kh, kw) kernel out of its canvas."""
    kh, kw = (int(v) for v in kernel_size)
    size = kernel.shape[-1]
    top, left = size // 2 - kh // 2, size // 2 - kw // 2
    return kernel[..., top:top + kh, left:left + kw]


def _identity(size: int) -> torch.Tensor:
    kernel = torch.zeros(size, size)
    kernel[size // 2, size // 2] = 1.0
    return kernel


# -- degrading one patch -------------------------------------------------------------------
def _add_noise(spec: DegradationSpec, y: torch.Tensor,
               gen: torch.Generator) -> tuple[torch.Tensor, float]:

    low, high = spec.sigma
    if high == 0:
        return y, 0.0
    noise = GaussianNoise((low / 255.0, high / 255.0), bias=spec.sigma_bias)
    noisy, sigma = noise.apply_with_sigma(y, gen)
    return noisy, float(sigma[0])


def degrade_patch(spec: DegradationSpec, big: torch.Tensor, gen: torch.Generator) -> dict:
    """Degrade one (1, C, P + 2 m, P + 2 m) patch (m = ``spec.margin()``) per ``spec``.

    Returns the item fields listed in the module docstring (without ``image``), un-batched.
    Draws happen in a fixed order (operator parameters, then noise) from ``gen``.
    """

    m = spec.margin()
    clean = big[..., m:big.shape[-2] - m, m:big.shape[-1] - m] if m else big
    height, width = clean.shape[-2:]
    kernel = _identity(spec.kernel_size)
    kernel_hw = (1, 1)
    mask = torch.zeros(1, 1, height, width)
    scale, quality, sigma = 1, 0, 0.0
    if spec.realistic is not None:  # blind: the chain's parameters are not part of the item
        y, scale = spec.realistic(clean, gen), spec.realistic.scale
    elif spec.task == "denoise":
        y, sigma = _add_noise(spec, clean, gen)
    elif spec.task == "deblur":
        raw = draw_kernel(spec, gen)
        kernel, kernel_hw = pad_kernel(raw, spec.kernel_size), tuple(raw.shape)
        if m:  # blur the larger crop, keep the centre: no artificial border in the patch
            y = Blur(raw, "circular")(big)[..., m:m + height, m:m + width]
        else:
            y = Blur(raw, spec.boundary)(clean)
        y, sigma = _add_noise(spec, y, gen)
    elif spec.task == "inpaint":
        mask = draw_mask(spec, height, width, gen)
        y, sigma = _add_noise(spec, clean, gen)
        y = y * (1.0 - mask)
    elif spec.task == "sr":
        scale = spec.scale
        y = imresize(clean, 1.0 / scale)
        y, sigma = _add_noise(spec, y, gen)
    else:  # dejpeg
        quality = draw_quality(spec, gen)
        y = JPEG(quality, spec.subsampling)(clean.clamp(0.0, 1.0))
    if spec.quantize and spec.task != "dejpeg":
        y = quantize(y)
        if spec.task == "inpaint":
            y = y * (1.0 - mask)
    return {
        "clean": clean[0].contiguous(),
        "degraded": y[0].to(torch.float32).contiguous(),
        "sigma": torch.tensor(sigma, dtype=torch.float32),
        "kernel": kernel,
        "kernel_size": torch.tensor(kernel_hw, dtype=torch.int64),
        "mask": mask[0].to(torch.float32),
        "scale": torch.tensor(scale, dtype=torch.int64),
        "quality": torch.tensor(quality, dtype=torch.int64),
    }


