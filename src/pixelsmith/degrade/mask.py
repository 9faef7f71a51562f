"""Inpainting masks and the masking operator. A mask is float, 1 = missing pixel, 0 = known.

Generators return (1, 1, H, W) float32 masks and draw every random number from an explicit
``torch.Generator`` (its device; results are moved to the CPU), so a seed reproduces a mask.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import torch

from pixelsmith.degrade.base import LinearOperator
from pixelsmith.errors import PixelsmithError, PixelsmithWarning


def _as_mask(mask: torch.Tensor) -> torch.Tensor:
    """(H, W), (1, H, W) or (N, 1, H, W) -> (N, 1, H, W) float."""
    mask = torch.as_tensor(mask)
    while mask.ndim < 4:
        mask = mask[None]
    if mask.ndim != 4 or mask.shape[1] != 1:
        raise ValueError(f"mask must be (H, W) or (N, 1, H, W), got {tuple(mask.shape)}")
    return mask if mask.is_floating_point() else mask.float()


class Mask(LinearOperator):
    """Inpainting: A(x) = x * (1 - mask), i.e. missing pixels set to 0. Self-adjoint.

    A (1, 1, H, W) mask applies to every image of a batch; an (N, 1, H, W) mask gives each
    image its own.
    """

    def __init__(self, mask: torch.Tensor) -> None:
        self.mask = _as_mask(mask)

    def _keep(self, x: torch.Tensor) -> torch.Tensor:
        if self.mask.shape[-2:] != x.shape[-2:]:
            raise ValueError(
                f"mask is {tuple(self.mask.shape[-2:])} but the image is {tuple(x.shape[-2:])}"
            )
        return 1 - self.mask.to(dtype=x.dtype, device=x.device)

    def A(self, x: torch.Tensor) -> torch.Tensor:  # noqa: N802
        return x * self._keep(x)

    def A_adjoint(self, y: torch.Tensor) -> torch.Tensor:  # noqa: N802
        return self.A(y)

    def describe(self) -> str:
        return f"mask ({float(self.mask.mean()):.0%} missing)"


def _uniform(generator: torch.Generator | None, n: int = 1) -> np.ndarray:
    """``n`` uniform draws in [0, 1) from ``generator``, as float64 numpy."""
    device = generator.device if generator is not None else "cpu"
    return torch.rand(n, generator=generator, device=device, dtype=torch.float64).cpu().numpy()


def _box_size(h: int, w: int, box: int | float | tuple[int, int] | None) -> tuple[int, int]:
    """Box (height, width): None -> half of each side; a float below 1 -> area fraction with
    the image's aspect ratio; an int (or a whole float >= 1) -> a square; a pair -> (h, w)."""
    if box is None:
        box = 0.25
    if isinstance(box, (tuple, list)):
        bh, bw = (int(v) for v in box)
    elif isinstance(box, float) and box < 1:
        if box <= 0:
            raise ValueError(f"box area fraction must be in (0, 1), got {box}")
        side = math.sqrt(box)
        bh, bw = max(1, round(side * h)), max(1, round(side * w))
    else:
        bh = bw = int(box)
    if not (1 <= bh <= h and 1 <= bw <= w):
        raise ValueError(f"box {bh}x{bw} does not fit in a {h}x{w} image")
    return bh, bw


def box_mask(
    h: int, w: int, generator: torch.Generator | None = None,
    box: int | float | tuple[int, int] | None = None,
) -> torch.Tensor:
    """One rectangular hole at a uniformly random position.

    ``box``: None (a box of half the height and width), a side in pixels (square), a
    (height, width) pair, or a float in (0, 1) giving the hole's area as a fraction of the image.
    """
    bh, bw = _box_size(h, w, box)
    top_draw, left_draw = _uniform(generator, 2)
    top = min(int(top_draw * (h - bh + 1)), h - bh)
    left = min(int(left_draw * (w - bw + 1)), w - bw)
    mask = torch.zeros(1, 1, h, w)
    mask[..., top:top + bh, left:left + bw] = 1.0
    return mask


def random_pixel_mask(
    h: int, w: int, fraction: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Exactly ``round(fraction * h * w)`` missing pixels, chosen uniformly without replacement."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"missing-pixel fraction must be in [0, 1], got {fraction}")
    count = round(fraction * h * w)
    device = generator.device if generator is not None else "cpu"
    chosen = torch.randperm(h * w, generator=generator, device=device)[:count].cpu()
    mask = torch.zeros(h * w)
    mask[chosen] = 1.0
    return mask.view(1, 1, h, w)


def _stroke(h: int, w: int, generator: torch.Generator | None, scale: float) -> np.ndarray:
    """One free-form brush stroke (DeepFill v2 style): a random polyline of thick segments with
    round joints. ``scale`` (<= 1) shrinks the brush width and segment lengths."""
    from PIL import Image, ImageDraw

    side = min(h, w)
    count, width_draw, *start = _uniform(generator, 4)
    vertices = 2 + int(count * 8)
    width = max(1, round(side * scale * (0.02 + 0.08 * width_draw)))
    x, y = start[0] * w, start[1] * h
    angle_draw = _uniform(generator, 2 * vertices)
    points = [(x, y)]
    for i in range(vertices):
        angle = 2 * math.pi * angle_draw[2 * i]
        length = side * scale * (0.05 + 0.2 * angle_draw[2 * i + 1])
        x = min(max(x + length * math.cos(angle), 0), w - 1)
        y = min(max(y + length * math.sin(angle), 0), h - 1)
        points.append((x, y))
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    draw.line(points, fill=255, width=width)
    radius = width / 2
    for px, py in points:
        draw.ellipse((px - radius, py - radius, px + radius, py + radius), fill=255)
    return np.asarray(canvas) > 127


def stroke_mask(
    h: int, w: int, generator: torch.Generator | None = None,
    coverage: tuple[float, float] = (0.1, 0.3), max_strokes: int = 200,
) -> torch.Tensor:
    """Free-form brush strokes (DeepFill v2 / LaMa style) covering a fraction in ``coverage``.

    Strokes are added until the missing fraction reaches ``coverage[0]``; a stroke that would
    push it past ``coverage[1]`` is redrawn smaller. Fails with ValueError only if the range
    cannot be reached within ``max_strokes`` attempts (e.g. a range narrower than one pixel).
    """
    low, high = (float(c) for c in coverage)
    if not 0 <= low <= high <= 1:
        raise ValueError(f"coverage must be (low, high) with 0 <= low <= high <= 1, got {coverage}")
    mask = np.zeros((h, w), dtype=bool)
    scale = 1.0
    for _ in range(max_strokes):
        if mask.mean() >= low:
            return torch.from_numpy(mask.astype(np.float32)).view(1, 1, h, w)
        candidate = mask | _stroke(h, w, generator, scale)
        if candidate.mean() <= high:
            mask = candidate
        else:
            scale *= 0.7
    if low <= mask.mean() <= high:
        return torch.from_numpy(mask.astype(np.float32)).view(1, 1, h, w)
    raise ValueError(f"could not reach stroke coverage {coverage} on a {h}x{w} image")


def load_mask(path: str | Path, size: tuple[int, int] | None = None) -> torch.Tensor:
    """Read a mask image (gray, RGB or RGBA; alpha is ignored): white (> 0.5) = missing.

    Colour masks are averaged over channels. Returns a (1, 1, H, W) float32 mask of 0 and 1;
    if ``size`` = (height, width) is given and differs, raises :class:`PixelsmithError`. A
    soft mask (gray levels, antialiased edges, JPEG) is cut at 0.5 and says so
    (:func:`binarize`).
    """
    from pixelsmith.io import load_image

    pixels = load_image(path).pixels.mean(dim=1, keepdim=True)
    height, width = pixels.shape[-2:]
    if size is not None and (int(size[0]), int(size[1])) != (height, width):
        raise PixelsmithError(
            f"{path}: mask is {width}x{height} but the image is {int(size[1])}x{int(size[0])}"
        )
    return binarize(pixels, str(path))


def binarize(mask: torch.Tensor, name: str = "mask") -> torch.Tensor:
    """``mask > 0.5`` as 0/1 floats; a :class:`~pixelsmith.errors.PixelsmithWarning` says how
    many pixels were neither black nor white (a soft mask, cut at 0.5)."""
    soft = int(((mask > 0) & (mask < 1)).sum())
    if soft:
        warnings.warn(f"{name}: {soft} pixels ({100 * soft / mask.numel():.1f}%) are neither "
                      "black nor white: cut at 0.5 (above = missing)", PixelsmithWarning,
                      stacklevel=3)
    return (mask > 0.5).float()
