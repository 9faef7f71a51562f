"""A realistic degradation model for blind photo restoration (BSRGAN and Real-ESRGAN orders).

Real photos carry several unknown degradations at once. This model draws a random chain of
them, in one of two published orders:

- ``"bsrgan"`` (Zhang et al. 2021, "Designing a practical degradation model for deep blind
  image super-resolution"): two blurs, two resizes, Gaussian noise, JPEG and camera noise in
  a random order (the first resize always before the second), then a final JPEG;
- ``"realesrgan"`` (Wang et al. 2021, "Real-ESRGAN"): the classical chain blur -> resize ->
  noise -> JPEG applied twice ("second order"), with ringing (2-D sinc) filters, ending with
  the final resize and a sinc filter before or after the last JPEG.

``"mixed"`` picks one of the two per draw, with equal odds. With ``light`` > 0 that share of
the draws is instead a *light* chain (:class:`LightRanges`: a slight blur, weak noise, one
JPEG of good quality), the damage of a photo that is already decent, so that a model trained
on the mixture learns to leave such photos' detail alone instead of smoothing it. With
``shake`` > 0 that share of the draws (of any order) starts with a camera-shake blur
(:class:`ShakeRanges`: a random hand-held path, Boracchi & Foi 2012), applied to the scene
before anything else, as shake happens during the exposure.

The output is ``scale`` times smaller than the input (``scale`` 1: same size, the ``photo``
model; 4: the ``photo-x4`` model; sizes ``ceil(H / scale) x ceil(W / scale)``), clipped to
[0, 1] after every step and rounded to 8 bits at the end, as a stored image is.

A draw is a JSON-serializable dict (:meth:`RealisticDegradation.draw`) listing its steps
and their parameters (kernels as parameters, noise as a seed), and :func:`replay` applies a
draw: the same dict always gives the same output, so a saved draw can be inspected and
re-applied. Every random number of a draw comes from the ``torch.Generator`` passed in.
The parameter ranges are the papers' (the :class:`BSRGANRanges` and
:class:`RealESRGANRanges` fields; docs/REALISTIC.md lists them), with narrower resize and
blur ranges for scale 1 (:meth:`RealESRGANRanges.for_scale`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from pixelsmith.degrade.base import Operator
from pixelsmith.degrade.realistic_kernels import kernel_from_params
from pixelsmith.degrade.realistic_noise import (
    BAYER_PATTERNS,
    camera_noise,
    gaussian_noise,
    poisson_noise,
)

MODEL = "pixelsmith-realistic"
VERSION = 1
ORDERS = ("mixed", "bsrgan", "realesrgan")
SCALES = (1, 4)
RESIZE_MODES = ("area", "bilinear", "bicubic")
_SEED_LIMIT = 2**62


# -- parameter ranges -----------------------------------------------------------------------
@dataclass(frozen=True)
class CameraRanges:
    """Camera noise (Brooks et al. 2019, "Unprocessing images for learned raw denoising"):
    shot-noise factor log-uniform in ``shot``; log(read variance) = 2.18 log(shot) + 1.20 +
    N(0, 0.26^2); white-balance gains uniform in ``red_gain`` / ``blue_gain``; one of the four
    Bayer patterns."""

    shot: tuple[float, float] = (1e-4, 1.2e-2)
    read_slope: float = 2.18
    read_intercept: float = 1.20
    read_std: float = 0.26
    red_gain: tuple[float, float] = (1.9, 2.4)
    blue_gain: tuple[float, float] = (1.5, 1.9)


@dataclass(frozen=True)
class BSRGANRanges:
    """BSRGAN's degradation (its ``degradation_bsrgan``). Widths depend on the factor ``sf``
    still to apply (the scale, or 2 after the optional first halving): isotropic sigma up to
    ``iso_width[0] + iso_width[1] * sf``, anisotropic variances up to ``aniso_width[0] +
    aniso_width[1] * sf``; the first resize shrinks by a factor up to ``2 sf``."""

    halve_prob: float = 0.25  # scale 4 only: halve the image first, then sf = 2
    kernel_sizes: tuple[int, int] = (7, 25)  # odd sides, uniform
    aniso_prob: float = 0.5
    iso_width: tuple[float, float] = (2.0, 0.2)
    aniso_width: tuple[float, float] = (4.0, 1.0)
    min_sigma: float = 0.1  # floor on drawn sigmas (a zero sigma is no kernel)
    resize_prob: float = 0.75  # else: shifted Gaussian blur + nearest subsampling by sf
    nearest_sigma: tuple[float, float] = (0.1, 0.6)  # x sf
    nearest_kernel_size: int = 25
    noise_levels: tuple[int, int] = (2, 25)  # Gaussian sigma, 0-255 units, integers
    gray_noise_prob: float = 0.4
    correlated_noise_prob: float = 0.2  # cross-channel correlated; else colour
    jpeg_prob: float = 0.9  # the shuffled JPEG; the final one is always applied
    jpeg_quality: tuple[int, int] = (30, 95)
    camera_prob: float = 0.25


KERNEL_FAMILIES = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso",
                   "plateau_aniso")


@dataclass(frozen=True)
class LightRanges:
    """A light chain: an already decent photo (slight blur, weak noise, one good JPEG)."""

    blur_prob: float = 0.5
    blur_sigma: tuple[float, float] = (0.3, 1.2)  # isotropic Gaussian, 7x7
    noise_prob: float = 0.8
    noise_sigma: tuple[float, float] = (0.5, 8.0)  # 0-255 units
    gray_noise_prob: float = 0.4
    jpeg_quality: tuple[int, int] = (60, 95)


@dataclass(frozen=True)
class ShakeRanges:
    """Camera shake: a random path of ``length`` pixels (uniform) on a ``size`` x ``size``
    canvas, the ranges of the ``deblur-gan`` recipe's kernels."""

    size: int = 25
    length: tuple[float, float] = (5.0, 25.0)


@dataclass(frozen=True)
class RealESRGANRanges:
    """Real-ESRGAN's second-order degradation (its x4plus training options). Stage-1 resize
    factors are relative to the input, stage-2 ones to the output size."""

    kernel_sizes: tuple[int, int] = (7, 21)  # odd sides, uniform
    kernel_probs: tuple[float, ...] = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)  # KERNEL_FAMILIES
    blur_sigma: tuple[float, float] = (0.2, 3.0)
    blur_sigma2: tuple[float, float] = (0.2, 1.5)
    generalized_beta: tuple[float, float] = (0.5, 4.0)
    plateau_beta: tuple[float, float] = (1.0, 2.0)
    sinc_prob: float = 0.1  # a sinc kernel instead of the blur kernel, each stage
    second_blur_prob: float = 0.8
    resize_probs: tuple[float, float, float] = (0.2, 0.7, 0.1)  # up, down, keep
    resize_range: tuple[float, float] = (0.15, 1.5)
    resize_probs2: tuple[float, float, float] = (0.3, 0.4, 0.3)
    resize_range2: tuple[float, float] = (0.3, 1.2)
    gaussian_noise_prob: float = 0.5  # else Poisson, each stage
    noise_sigma: tuple[float, float] = (1.0, 30.0)  # 0-255 units
    noise_sigma2: tuple[float, float] = (1.0, 25.0)
    poisson_scale: tuple[float, float] = (0.05, 3.0)
    poisson_scale2: tuple[float, float] = (0.05, 2.5)
    gray_noise_prob: float = 0.4
    jpeg_quality: tuple[int, int] = (30, 95)
    jpeg_quality2: tuple[int, int] = (30, 95)
    final_sinc_prob: float = 0.8

    @classmethod
    def for_scale(cls, scale: int) -> RealESRGANRanges:
        """The paper's ranges at scale 4. At scale 1 there is no final downscaling to hide the
        stage-1 blur and resizing, so they are narrowed to the amount BSRGAN's formulas give
        at sf = 1 (sigma up to about 2, resolution lost up to 2x)."""
        if scale == 1:
            return cls(blur_sigma=(0.2, 2.0), blur_sigma2=(0.2, 1.0), resize_range=(0.5, 1.5),
                       resize_range2=(0.5, 1.2))
        return cls()


# -- drawing --------------------------------------------------------------------------------
def _uniform(low: float, high: float, gen: torch.Generator) -> float:
    return low + (high - low) * float(torch.rand((), generator=gen, dtype=torch.float64))


def _log_uniform(low: float, high: float, gen: torch.Generator) -> float:
    return math.exp(_uniform(math.log(low), math.log(high), gen))


def _chance(probability: float, gen: torch.Generator) -> bool:
    return float(torch.rand((), generator=gen, dtype=torch.float64)) < probability


def _integer(low: int, high: int, gen: torch.Generator) -> int:
    """Uniform integer in [low, high], both included."""
    return int(torch.randint(int(low), int(high) + 1, (), generator=gen))


def _odd(low: int, high: int, gen: torch.Generator) -> int:
    """Uniform odd integer in [low, high] (both odd)."""
    return low + 2 * _integer(0, (high - low) // 2, gen)


def _pick(options: tuple, gen: torch.Generator, weights: tuple[float, ...] | None = None):
    if weights is None:
        return options[_integer(0, len(options) - 1, gen)]
    draw, total = _uniform(0.0, sum(weights), gen), 0.0
    for option, weight in zip(options, weights, strict=True):
        total += weight
        if draw < total:
            return option
    return options[-1]


def _seed(gen: torch.Generator) -> int:
    return int(torch.randint(0, _SEED_LIMIT, (), generator=gen))


def _resize(relative_to: str, factor: float, gen: torch.Generator) -> dict:
    return {"op": "resize", "relative_to": relative_to, "factor": factor,
            "mode": _pick(RESIZE_MODES, gen)}


def _jpeg(quality: tuple[int, int], gen: torch.Generator) -> dict:
    return {"op": "jpeg", "quality": _integer(*quality, gen)}


def _draw_camera(ranges: CameraRanges, gen: torch.Generator) -> dict:
    shot = _log_uniform(*ranges.shot, gen)
    jitter = float(torch.randn((), generator=gen, dtype=torch.float64)) * ranges.read_std
    read = math.exp(ranges.read_slope * math.log(shot) + ranges.read_intercept + jitter)
    return {"op": "camera_noise", "shot": shot, "read": read,
            "red_gain": _uniform(*ranges.red_gain, gen),
            "blue_gain": _uniform(*ranges.blue_gain, gen),
            "pattern": _pick(BAYER_PATTERNS, gen), "seed": _seed(gen)}


def _bsrgan_blur(r: BSRGANRanges, sf: int, gen: torch.Generator) -> dict:
    size = _odd(*r.kernel_sizes, gen)
    if _chance(r.aniso_prob, gen):
        top = r.aniso_width[0] + r.aniso_width[1] * sf  # variances along the two axes
        sigma = [max(math.sqrt(_uniform(0.0, top, gen)), r.min_sigma) for _ in range(2)]
        angle = _uniform(0.0, 180.0, gen)
    else:
        top = r.iso_width[0] + r.iso_width[1] * sf
        sigma = [max(_uniform(0.0, top, gen), r.min_sigma)] * 2
        angle = 0.0
    return {"op": "blur", "kernel": {"type": "gaussian", "size": size, "sigma": sigma,
                                     "angle": angle}}


def _bsrgan_noise(r: BSRGANRanges, gen: torch.Generator) -> dict:
    level = float(_integer(*r.noise_levels, gen))
    draw = _uniform(0.0, 1.0, gen)
    step: dict = {"op": "gaussian_noise", "sigma": level}
    if draw < r.gray_noise_prob:
        step["kind"] = "gray"
    elif draw < r.gray_noise_prob + r.correlated_noise_prob:
        # covariance (level/255)^2 U^T D U, D uniform in [0, 1]^3, U a random rotation
        d = torch.rand(3, generator=gen, dtype=torch.float64)
        u, _ = torch.linalg.qr(torch.rand(3, 3, generator=gen, dtype=torch.float64))
        cov = (level / 255.0) ** 2 * (u.T @ torch.diag(d) @ u)
        cov = (cov + cov.T) / 2
        step.update(kind="correlated", covariance=[[float(v) for v in row] for row in cov])
    else:
        step["kind"] = "color"
    step["seed"] = _seed(gen)
    return step


def _draw_bsrgan(r: BSRGANRanges, camera: CameraRanges, scale: int,
                 gen: torch.Generator) -> list[dict]:
    steps: list[dict] = []
    sf = scale
    if scale == 4 and _chance(r.halve_prob, gen):
        steps.append(_resize("current", 0.5, gen))
        sf = 2
    order = [int(i) for i in torch.randperm(7, generator=gen)]
    first, second = order.index(2), order.index(3)
    if first > second:  # the free resize comes before the resize to the output size
        order[first], order[second] = 3, 2
    for op in order:
        if op in (0, 1):
            steps.append(_bsrgan_blur(r, sf, gen))
        elif op == 2:
            if _chance(r.resize_prob, gen):
                steps.append(_resize("current", 1.0 / _uniform(1.0, 2.0 * sf, gen), gen))
            else:
                sigma = _uniform(r.nearest_sigma[0], r.nearest_sigma[1] * sf, gen)
                kernel = {"type": "gaussian", "size": r.nearest_kernel_size,
                          "sigma": [sigma, sigma], "angle": 0.0, "shift": (sf - 1) / 2}
                steps += [{"op": "blur", "kernel": kernel}, {"op": "subsample", "factor": sf}]
        elif op == 3:
            steps.append(_resize("target", 1.0, gen))
        elif op == 4:
            steps.append(_bsrgan_noise(r, gen))
        elif op == 5:
            if _chance(r.jpeg_prob, gen):
                steps.append(_jpeg(r.jpeg_quality, gen))
        elif _chance(r.camera_prob, gen):
            steps.append(_draw_camera(camera, gen))
    steps.append(_jpeg(r.jpeg_quality, gen))
    return steps


def _draw_light(r: LightRanges, scale: int, gen: torch.Generator) -> list[dict]:
    steps: list[dict] = []
    if _chance(r.blur_prob, gen):
        sigma = _uniform(*r.blur_sigma, gen)
        steps.append({"op": "blur", "kernel": {"type": "gaussian", "size": 7,
                                               "sigma": [sigma, sigma], "angle": 0.0}})
    if scale > 1:
        steps.append(_resize("target", 1.0, gen))
    if _chance(r.noise_prob, gen):
        kind = "gray" if _chance(r.gray_noise_prob, gen) else "color"
        steps.append({"op": "gaussian_noise", "sigma": _uniform(*r.noise_sigma, gen),
                      "kind": kind, "seed": _seed(gen)})
    steps.append(_jpeg(r.jpeg_quality, gen))
    return steps


def _draw_shake(r: ShakeRanges, gen: torch.Generator) -> dict:
    return {"op": "blur", "kernel": {"type": "motion", "size": r.size,
                                     "length": _uniform(*r.length, gen), "seed": _seed(gen)}}


def _beta(low: float, high: float, gen: torch.Generator) -> float:
    """Real-ESRGAN's shape draw: below or above 1 with equal odds, then uniform."""
    if _chance(0.5, gen):
        return _uniform(low, min(1.0, high), gen)
    return _uniform(max(1.0, low), high, gen)


def _sinc(size: int, low: float, gen: torch.Generator) -> dict:
    return {"type": "sinc", "size": size, "cutoff": _uniform(low, math.pi, gen)}


def _esrgan_kernel(r: RealESRGANRanges, sigma_range: tuple[float, float],
                   gen: torch.Generator) -> dict:
    size = _odd(*r.kernel_sizes, gen)
    if _chance(r.sinc_prob, gen):
        return _sinc(size, math.pi / 3 if size < 13 else math.pi / 5, gen)
    family = _pick(KERNEL_FAMILIES, gen, r.kernel_probs)
    sx = _uniform(*sigma_range, gen)
    if family.endswith("aniso"):
        sigma, angle = [sx, _uniform(*sigma_range, gen)], _uniform(-180.0, 180.0, gen)
    else:
        sigma, angle = [sx, sx], 0.0
    kernel = {"type": "gaussian", "size": size, "sigma": sigma, "angle": angle}
    if family.startswith("generalized"):
        kernel.update(type="generalized", beta=_beta(*r.generalized_beta, gen))
    elif family.startswith("plateau"):
        kernel.update(type="plateau", beta=_beta(*r.plateau_beta, gen))
    return kernel


def _esrgan_resize(relative_to: str, probs: tuple[float, float, float],
                   factors: tuple[float, float], gen: torch.Generator) -> dict:
    direction = _pick(("up", "down", "keep"), gen, probs)
    if direction == "up":
        factor = _uniform(1.0, factors[1], gen)
    elif direction == "down":
        factor = _uniform(factors[0], 1.0, gen)
    else:
        factor = 1.0
    return _resize(relative_to, factor, gen)


def _esrgan_noise(r: RealESRGANRanges, sigma: tuple[float, float], scale: tuple[float, float],
                  gen: torch.Generator) -> dict:
    if _chance(r.gaussian_noise_prob, gen):
        step = {"op": "gaussian_noise", "sigma": _uniform(*sigma, gen),
                "kind": "gray" if _chance(r.gray_noise_prob, gen) else "color"}
    else:
        step = {"op": "poisson_noise", "scale": _uniform(*scale, gen),
                "gray": _chance(r.gray_noise_prob, gen)}
    step["seed"] = _seed(gen)
    return step


def _draw_realesrgan(r: RealESRGANRanges, gen: torch.Generator) -> list[dict]:
    steps = [{"op": "blur", "kernel": _esrgan_kernel(r, r.blur_sigma, gen)},
             _esrgan_resize("current", r.resize_probs, r.resize_range, gen),
             _esrgan_noise(r, r.noise_sigma, r.poisson_scale, gen),
             _jpeg(r.jpeg_quality, gen)]
    if _chance(r.second_blur_prob, gen):
        steps.append({"op": "blur", "kernel": _esrgan_kernel(r, r.blur_sigma2, gen)})
    steps.append(_esrgan_resize("target", r.resize_probs2, r.resize_range2, gen))
    steps.append(_esrgan_noise(r, r.noise_sigma2, r.poisson_scale2, gen))
    resize_back = [_resize("target", 1.0, gen)]
    if _chance(r.final_sinc_prob, gen):
        resize_back.append({"op": "blur",
                            "kernel": _sinc(_odd(*r.kernel_sizes, gen), math.pi / 3, gen)})
    jpeg = [_jpeg(r.jpeg_quality2, gen)]
    steps += resize_back + jpeg if _chance(0.5, gen) else jpeg + resize_back
    return steps


# -- applying a draw ------------------------------------------------------------------------
def output_size(height: int, width: int, scale: int) -> tuple[int, int]:
    """(height, width) of the degraded image: ``ceil(size / scale)``."""
    return -(-int(height) // int(scale)), -(-int(width) // int(scale))


def _resize_to(x: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    if tuple(x.shape[-2:]) == size:
        return x
    if mode == "area":
        return F.interpolate(x, size=size, mode="area")
    if mode in ("bilinear", "bicubic"):
        return F.interpolate(x, size=size, mode=mode, align_corners=False)
    raise ValueError(f"resize mode must be one of {RESIZE_MODES}, not {mode!r}")


def _apply_step(x: torch.Tensor, step: dict, target: tuple[int, int]) -> torch.Tensor:
    from pixelsmith.degrade.blur import Blur
    from pixelsmith.degrade.jpeg import JPEG

    op = step["op"]
    if op == "blur":
        return Blur(kernel_from_params(step["kernel"]).to(x.dtype), "reflect")(x)
    if op == "resize":
        base = x.shape[-2:] if step["relative_to"] == "current" else target
        factor = float(step["factor"])
        size = (max(1, int(base[0] * factor)), max(1, int(base[1] * factor)))
        return _resize_to(x, size, step["mode"])
    if op == "subsample":
        factor = int(step["factor"])
        return x[..., ::factor, ::factor]
    if op == "jpeg":
        return JPEG(int(step["quality"]))(x)
    gen = torch.Generator().manual_seed(int(step["seed"]))
    if op == "gaussian_noise":
        return gaussian_noise(x, float(step["sigma"]) / 255.0, step["kind"], gen,
                              step.get("covariance"))
    if op == "poisson_noise":
        return poisson_noise(x, float(step["scale"]), bool(step["gray"]), gen)
    if op == "camera_noise":
        return camera_noise(x, step["shot"], step["read"], step["red_gain"], step["blue_gain"],
                            step["pattern"], gen)
    raise ValueError(f"unknown realistic degradation step {op!r}")


def replay(x: torch.Tensor, params: dict) -> torch.Tensor:
    """Apply a draw (:meth:`RealisticDegradation.draw`, or its JSON read back) to every image
    of the batch ``x`` (N, C, H, W) in [0, 1], C = 1 or 3: 8-bit values k / 255 of size
    ``ceil(H / scale) x ceil(W / scale)``."""
    if params.get("model") != MODEL or params.get("version") != VERSION:
        raise ValueError(f"not a {MODEL} version {VERSION} draw")
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"the realistic model needs (N, 1 or 3, H, W) images, "
                         f"got {tuple(x.shape)}")
    target = output_size(*x.shape[-2:], int(params["scale"]))
    y = x.clamp(0.0, 1.0)
    for step in params["steps"]:
        y = _apply_step(y, step, target).clamp(0.0, 1.0)
    if tuple(y.shape[-2:]) != target:  # every chain ends at the output size; keep it certain
        y = _resize_to(y, target, "area")
    return torch.round(y * 255.0) / 255.0


# -- the operator ---------------------------------------------------------------------------
@dataclass(frozen=True, repr=False)
class RealisticDegradation(Operator):
    """Random realistic degradations of ``scale`` (1 or 4) in ``order`` (``"mixed"``,
    ``"bsrgan"`` or ``"realesrgan"``); each image of a batch gets its own draw."""

    scale: int = 1
    order: str = "mixed"
    bsrgan: BSRGANRanges = field(default_factory=BSRGANRanges)
    realesrgan: RealESRGANRanges | None = None  # default: RealESRGANRanges.for_scale(scale)
    camera: CameraRanges = field(default_factory=CameraRanges)
    light: float = 0.0  # share of light draws (:class:`LightRanges`) instead of ``order``'s
    light_ranges: LightRanges = field(default_factory=LightRanges)
    shake: float = 0.0  # share of draws that start with camera shake (:class:`ShakeRanges`)
    shake_ranges: ShakeRanges = field(default_factory=ShakeRanges)

    random = True

    def __post_init__(self) -> None:
        if isinstance(self.scale, bool) or self.scale not in SCALES:
            raise ValueError(f"realistic scale must be 1 or 4, got {self.scale!r}")
        object.__setattr__(self, "scale", int(self.scale))
        if self.order not in ORDERS:
            raise ValueError(f"realistic order must be one of {', '.join(ORDERS)}, "
                             f"not {self.order!r}")
        for name in ("light", "shake"):
            if not 0.0 <= getattr(self, name) <= 1.0:  # also refuses nan
                raise ValueError(f"realistic {name} share must be in 0-1, "
                                 f"got {getattr(self, name)!r}")
        if self.realesrgan is None:
            object.__setattr__(self, "realesrgan", RealESRGANRanges.for_scale(self.scale))

    def draw(self, generator: torch.Generator | None = None) -> dict:
        """One random degradation chain: a JSON-serializable dict for :func:`replay`."""
        order = self.order
        # no random number is spent on the light share when it is 0: draws stay as they were
        if self.light > 0.0 and _chance(self.light, generator):
            order = "light"
        elif order == "mixed":
            order = "bsrgan" if _chance(0.5, generator) else "realesrgan"
        if order == "light":
            steps = _draw_light(self.light_ranges, self.scale, generator)
        elif order == "bsrgan":
            steps = _draw_bsrgan(self.bsrgan, self.camera, self.scale, generator)
        else:
            steps = _draw_realesrgan(self.realesrgan, generator)
        # like the light share, a shake share of 0 spends no random number
        if self.shake > 0.0 and _chance(self.shake, generator):
            steps.insert(0, _draw_shake(self.shake_ranges, generator))
        return {"model": MODEL, "version": VERSION, "scale": self.scale, "order": order,
                "steps": steps}

    def apply_with_params(self, x: torch.Tensor, generator: torch.Generator | None = None
                          ) -> tuple[torch.Tensor, list[dict]]:
        """The degraded batch and the draw used for each of its images."""
        draws = [self.draw(generator) for _ in range(x.shape[0])]
        out = [replay(image[None], params) for image, params in zip(x, draws, strict=True)]
        return torch.cat(out), draws

    def apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return self.apply_with_params(x, generator)[0]

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        return output_size(height, width, self.scale)

    def describe(self) -> str:
        light = f", {self.light:.0%} light" if self.light else ""
        shake = f", {self.shake:.0%} camera shake" if self.shake else ""
        return f"realistic degradation x{self.scale} ({self.order}{light}{shake})"


def realistic_case(clean: torch.Tensor, model: RealisticDegradation,
                   generator: torch.Generator | None = None):
    """(reference, degraded, known) for one image: the image cropped to a multiple of the
    scale, its degradation by a draw of ``model``, and what a blind model is told (the scale)."""
    from pixelsmith.degrade.known import Known

    s = model.scale
    h, w = clean.shape[-2:]
    reference = clean[..., : h - h % s, : w - w % s]
    known = Known(scale=s) if s > 1 else Known()
    return reference, model(reference, generator), known


def parse_realistic_scale(value: int | str | None) -> int:
    """The ``--scale`` of ``pixelsmith degrade --realistic``: 1 (default) or 4 (``x4`` too)."""
    from pixelsmith.errors import PixelsmithError

    if value is None:
        return 1
    text = str(value).strip().lower().removeprefix("x")
    if text not in ("1", "4"):
        raise PixelsmithError(f"bad --scale '{value}': the realistic model has scales 1 and 4")
    return int(text)
