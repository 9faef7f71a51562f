"""Which input pixels made an output: gradient x input, integrated gradients, the effective
receptive field, and for inpainting the known pixels a filled region draws on.

A :class:`Target` turns a model output into one number per image: the sum of the output over
a pixel or box (restoration models; coordinates are in the output image, so x4 super-resolution
boxes are in the large image), a class logit (classifiers), or the real/fake logit
(discriminators). Attribution maps have the input's shape (1, C, H, W); :func:`pixel_map`
sums them over channels for display.

Integrated gradients (Sundararajan et al. 2017) come from captum (the ``explain`` extra): with
enough steps they are *complete*, their sum equals ``f(x) - f(baseline)``; the returned
``completeness_error`` says how close this run got.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pixelsmith.errors import PixelsmithError
from pixelsmith.explain.subject import Subject


@dataclass(frozen=True)
class Target:
    """What one output number is: ``box`` (x0, y0, x1, y1), x1/y1 excluded, summed over the
    output's channels; or a class index ``label`` of a classifier; or ``region`` a (1, 1, H, W)
    0/1 weight map over the output (inpainting: the filled pixels). ``residual``: explain the
    restoration network's correction, output minus its weight-free skip path."""

    box: tuple[int, int, int, int] | None = None
    label: int | None = None
    region: torch.Tensor | None = None
    residual: bool = False  # explain output - skip path (what the weights add), not the output

    def describe(self) -> str:
        return ("learned correction (output minus the weight-free skip path) of the "
                if self.residual else "") + self._what()

    def _what(self) -> str:
        if self.label is not None:
            return f"class {self.label} logit"
        if self.region is not None:
            return f"sum of the output over {int(self.region.sum())} filled pixels"
        x0, y0, x1, y1 = self.box
        if (x1 - x0, y1 - y0) == (1, 1):
            return f"output pixel ({x0}, {y0})"
        return f"output box ({x0}, {y0})-({x1 - 1}, {y1 - 1})"


def parse_point(text: str) -> tuple[int, int]:
    """'x,y' -> (x, y) integers (one-line error otherwise)."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        x, y = (int(p) for p in parts)
    except ValueError:
        raise PixelsmithError(f"--at takes x,y (two integers), not '{text}'") from None
    return x, y


def parse_box(text: str) -> tuple[int, int, int, int]:
    """'x0,y0,x1,y1' -> a box (x1, y1 excluded; one-line error otherwise)."""
    parts = [p.strip() for p in str(text).split(",")]
    try:
        x0, y0, x1, y1 = (int(p) for p in parts)
    except ValueError:
        raise PixelsmithError(f"--box takes x0,y0,x1,y1 (four integers), not '{text}'") from None
    if x1 <= x0 or y1 <= y0:
        raise PixelsmithError(f"--box needs x0 < x1 and y0 < y1, not '{text}'")
    return x0, y0, x1, y1


#: what a restoration model's target explains: its learned correction or its whole output
OUTPUTS = ("correction", "full")


def default_target(subject: Subject, at: tuple[int, int] | None = None,
                   box: tuple[int, int, int, int] | None = None,
                   label: int | None = None, output: str = "full") -> Target:
    """The target for a subject: the given point/box/class, else the centre pixel (restoration),
    the filled region (inpainting), the predicted class (classifiers) or the logit.

    ``output`` (restoration models): "correction" explains what the weights compute, the output
    minus the weight-free skip path (input, bicubic upscale or pull-push fill; see
    :func:`pixelsmith.explain.subject.skip_path`); "full" the whole output."""
    if output not in OUTPUTS:
        raise PixelsmithError(f"the explained output must be one of {', '.join(OUTPUTS)}, "
                              f"not '{output}'")
    if subject.kind != "restoration" and (at is not None or box is not None):
        raise PixelsmithError("--at and --box pick output pixels of restoration models; a "
                              f"{subject.kind} model explains one score (use --class)")
    if subject.kind == "classifier":
        with torch.no_grad():
            logits = subject.run(subject.x)
        count = logits.shape[-1]
        if label is None:
            label = int(logits.argmax(dim=-1)[0])
        if not 0 <= label < count:
            raise PixelsmithError(f"--class must be in 0-{count - 1}, not {label}")
        return Target(label=label)
    if subject.kind == "discriminator":
        return Target(label=0)
    if subject.kind != "restoration":
        raise PixelsmithError(f"attribution needs a restoration model or a classifier, not a "
                              f"{subject.kind} model")
    out_h, out_w = subject.output().shape[-2:]
    if at is not None:
        box = (at[0], at[1], at[0] + 1, at[1] + 1)
    residual = output == "correction" and subject.skip is not None
    if box is None:
        if subject.mask is not None:
            return Target(region=subject.mask, residual=residual)
        box = (out_w // 2, out_h // 2, out_w // 2 + 1, out_h // 2 + 1)
    x0, y0, x1, y1 = box
    if not (0 <= x0 < x1 <= out_w and 0 <= y0 < y1 <= out_h):
        raise PixelsmithError(f"the point or box is outside the {out_w}x{out_h} output")
    return Target(box=box, residual=residual)


def scalar_fn(subject: Subject, target: Target):
    """``f(x) -> (N,)``: the target number for a batch of inputs (what attribution explains)."""
    def f(x: torch.Tensor) -> torch.Tensor:
        out = subject.run(x)
        if target.label is not None:
            return out.reshape(len(x), -1)[:, target.label]
        if target.residual:
            out = out - subject.skip(x)
        if target.region is not None:
            return (out * target.region.to(out)).flatten(1).sum(dim=1)
        x0, y0, x1, y1 = target.box
        return out[..., y0:y1, x0:x1].flatten(1).sum(dim=1)

    return f


def gradient(subject: Subject, target: Target) -> torch.Tensor:
    """d f / d x at the subject's image, (1, C, H, W)."""
    x = subject.x.clone().requires_grad_(True)
    with torch.enable_grad():
        value = scalar_fn(subject, target)(x).sum()
        (grad,) = torch.autograd.grad(value, x)
    return grad.detach()


def gradient_x_input(subject: Subject, target: Target) -> torch.Tensor:
    """Gradient times input (Shrikumar et al. 2016): a first-order split of f(x) - f(0)."""
    return gradient(subject, target) * subject.x


@dataclass
class IGResult:
    attribution: torch.Tensor  # (1, C, H, W)
    delta: float  # f(x) - f(baseline)
    total: float  # sum of the attribution
    steps: int

    @property
    def completeness_error(self) -> float:
        """|sum - (f(x) - f(baseline))| / |f(x) - f(baseline)|."""
        return abs(self.total - self.delta) / max(abs(self.delta), 1e-12)


def require_captum():
    """The captum module, or a one-line error naming the extra to install."""
    try:
        import captum  # noqa: F401
    except ImportError:
        raise PixelsmithError("this explanation needs captum: pip install "
                              "'pixelsmith[explain]'") from None
    import captum.attr

    return captum.attr


def integrated_gradients(subject: Subject, target: Target, steps: int = 16,
                         baseline: torch.Tensor | float = 0.0, batch: int = 8,
                         tolerance: float | None = 0.01, max_steps: int = 256) -> IGResult:
    """Integrated gradients from ``baseline`` (default: a black image) to the image, with
    captum's Gauss-Legendre rule over ``steps`` points, ``batch`` points per forward pass.

    With a ``tolerance``, the steps are doubled (up to ``max_steps``) while the completeness
    error is above it: kinks of ReLU and max pooling along the path need more points in some
    networks than in others. ``tolerance=None`` keeps ``steps`` as given."""
    attr = require_captum()
    f = scalar_fn(subject, target)
    base = torch.as_tensor(baseline, dtype=subject.x.dtype).expand_as(subject.x).contiguous()
    ig = attr.IntegratedGradients(f)
    with torch.no_grad():
        delta = float(f(subject.x)[0] - f(base)[0])
    steps = int(steps)
    while True:
        with torch.enable_grad():
            result = ig.attribute(subject.x.clone(), baselines=base, n_steps=steps,
                                  method="gausslegendre", internal_batch_size=int(batch))
        out = IGResult(result.detach(), delta, float(result.sum()), steps)
        if tolerance is None or out.completeness_error <= tolerance or steps >= max_steps:
            return out
        steps = min(2 * steps, int(max_steps))


def pixel_map(attribution: torch.Tensor) -> np.ndarray:
    """(1, C, H, W) attribution -> (H, W) float64 map, summed over channels."""
    return attribution.detach().double().sum(dim=(0, 1)).cpu().numpy()


@dataclass
class ReceptiveField:
    """The measured effective receptive field (Luo et al. 2016) of one output pixel: |gradient|
    of that pixel w.r.t. the input, and the half-sides of the centred squares that hold 50% and
    90% of its mass (r: a square of side 2r + 1 pixels)."""

    grad: np.ndarray  # (H, W) |d out / d in| summed over channels
    centre: tuple[int, int]  # (x, y) in input coordinates
    r50: int
    r90: int


def _radius(mass: np.ndarray, cx: int, cy: int, fraction: float) -> int:
    total = mass.sum()
    if total <= 0:
        return 0
    h, w = mass.shape
    for r in range(max(h, w)):
        inside = mass[max(cy - r, 0):cy + r + 1, max(cx - r, 0):cx + r + 1].sum()
        if inside >= fraction * total:
            return r
    return max(h, w)


def effective_receptive_field(subject: Subject, at: tuple[int, int] | None = None,
                              grad: torch.Tensor | None = None) -> ReceptiveField:
    """The effective receptive field of the output pixel ``at`` (default: the centre);
    ``grad``: that pixel's input gradient when it is already computed."""
    if subject.kind != "restoration":
        raise PixelsmithError("the receptive field is measured for restoration models")
    out_h, out_w = subject.output().shape[-2:]
    at = at or (out_w // 2, out_h // 2)
    if grad is None:
        grad = gradient(subject, default_target(subject, at=at))
    grad = pixel_map(grad.abs())
    scale_y, scale_x = out_h / grad.shape[0], out_w / grad.shape[1]
    cx, cy = int(at[0] / scale_x), int(at[1] / scale_y)
    return ReceptiveField(grad, (cx, cy), _radius(grad, cx, cy, 0.5), _radius(grad, cx, cy, 0.9))


@dataclass
class InpaintSources:
    """Where the filled region's content comes from: |attribution| over the known pixels,
    and the attribution-weighted mean and 90th-percentile distance of the sources from the hole
    (pixels)."""

    sources: np.ndarray  # (H, W), zero inside the hole
    mean_distance: float
    p90_distance: float
    inside_share: float  # share of |attribution| on missing pixels (should be ~0)


def inpaint_sources(attribution: torch.Tensor, mask: torch.Tensor) -> InpaintSources:
    """Summarise an attribution of the filled region (target = the mask) for an inpainting model:
    which known pixels it draws on and how far they are from the hole."""
    from scipy.ndimage import distance_transform_edt

    amount = np.abs(pixel_map(attribution))
    hole = mask.detach().cpu().numpy()[0, 0] > 0.5
    total = amount.sum()
    inside = float(amount[hole].sum() / total) if total > 0 else 0.0
    sources = np.where(hole, 0.0, amount)
    distance = distance_transform_edt(~hole)
    weights = sources.ravel()
    if weights.sum() <= 0:
        return InpaintSources(sources, 0.0, 0.0, inside)
    order = np.argsort(distance.ravel())
    cumulative = np.cumsum(weights[order]) / weights.sum()
    p90 = float(distance.ravel()[order][np.searchsorted(cumulative, 0.9)])
    mean = float((distance.ravel() * weights).sum() / weights.sum())
    return InpaintSources(sources, mean, p90, inside)
