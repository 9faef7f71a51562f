"""Training augmentation: random crops, scale jitter, the 8 dihedral transforms and colour
saturation.

Random values are drawn once into an :class:`AugmentParams` from an explicit
``torch.Generator``, then applied to any number of tensors, so a degraded/clean pair (or an
image and its mask) gets exactly the same crop, flip and rotation. Tensors are (..., H, W).

The dihedral transform ``k`` in 0..7 is ``rot90`` by ``k % 4`` quarter turns (counter-
clockwise), followed by a horizontal flip when ``k >= 4``; together these are all flips and
90-degree rotations of a square.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch


def dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """Apply dihedral transform ``k`` (0..7) to the last two axes of ``x``."""
    if not 0 <= k < 8:
        raise ValueError(f"dihedral transform index must be in 0..7, got {k}")
    if k % 4:
        x = torch.rot90(x, k % 4, dims=(-2, -1))
    if k >= 4:
        x = torch.flip(x, dims=(-1,))
    return x


def dihedral_inverse(k: int) -> int:
    """The index of the transform that undoes transform ``k``."""
    return (-k) % 4 if k < 4 else k  # flips-after-rotations are their own inverses


@dataclass(frozen=True)
class AugmentParams:
    """One draw: the source window (top, left, side ``window``) is cut out, resized to
    ``crop`` if ``window != crop`` (scale jitter), then dihedral transform ``transform``.
    ``window = crop = None`` means no crop (the whole image). ``saturation`` scales the
    colourfulness of 3-channel tensors (:func:`saturate`); others (gray images, masks) keep
    their values."""

    top: int = 0
    left: int = 0
    window: int | None = None
    crop: int | None = None
    transform: int = 0
    saturation: float = 1.0

    def scaled(self, factor: int) -> AugmentParams:
        """The same draw on a grid ``factor`` times finer (for the HR side of an SR pair)."""
        if self.window != self.crop:
            raise ValueError("scale jitter cannot be mapped between resolutions")
        side = None if self.window is None else self.window * factor
        return replace(self, top=self.top * factor, left=self.left * factor,
                       window=side, crop=side)

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """Crop, rescale and transform ``x`` (..., H, W) with these parameters."""
        if self.window is not None:
            height, width = x.shape[-2:]
            if self.top + self.window > height or self.left + self.window > width:
                raise ValueError(
                    f"crop window {self.window} at ({self.top}, {self.left}) does not fit a "
                    f"{height}x{width} image"
                )
            x = x[..., self.top:self.top + self.window, self.left:self.left + self.window]
            if self.crop != self.window:
                x = _resize_square(x, int(self.crop))
        x = dihedral(x, self.transform)
        if self.saturation != 1.0 and x.ndim >= 3 and x.shape[-3] == 3:
            x = saturate(x, self.saturation)
        return x


#: Luma weights of ITU-R BT.601 (R, G, B): the gray level that saturation keeps.
LUMA = (0.299, 0.587, 0.114)


def saturate(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Scale the colourfulness of RGB ``x`` (..., 3, H, W) by ``factor`` around its BT.601
    luma, clipped to [0, 1]: more saturated photos than the training set holds (strongly
    coloured scenes such as McMaster's), gray pixels unchanged. uint8 in, uint8 out."""
    work = x if x.is_floating_point() else x.float() / 255.0
    weights = torch.tensor(LUMA, dtype=work.dtype, device=work.device).view(3, 1, 1)
    luma = (work * weights).sum(dim=-3, keepdim=True)
    out = (luma + factor * (work - luma)).clamp_(0.0, 1.0)
    if not x.is_floating_point():
        out = torch.round(out * 255.0).to(x.dtype)
    return out


def _resize_square(x: torch.Tensor, side: int) -> torch.Tensor:
    """MATLAB-bicubic resize of (..., s, s) to (..., side, side), clipped to [0, 1]."""
    from pixelsmith.degrade import imresize

    shape = x.shape
    batch = x.reshape(-1, 1, shape[-2], shape[-1])
    work = batch if batch.is_floating_point() else batch.float() / 255.0
    out = imresize(work, size=(side, side)).clamp_(0.0, 1.0)
    if not batch.is_floating_point():  # uint8 in, uint8 out (rounded like a stored image)
        out = torch.round(out * 255.0).to(batch.dtype)
    return out.reshape(*shape[:-2], side, side)


def _uniform(generator: torch.Generator | None) -> float:
    return float(torch.rand((), generator=generator, dtype=torch.float64))


def _randint(high: int, generator: torch.Generator | None) -> int:
    """A uniform integer in 0..high-1."""
    return int(torch.randint(high, (), generator=generator))


@dataclass(frozen=True)
class Augment:
    """What to randomise: ``flip`` (horizontal), ``rot90`` (quarter turns; with ``flip`` all
    8 dihedral transforms, which also covers vertical flips) and ``scale_jitter``: a range
    (low, high) of rescaling factors applied before cropping (``> 1`` zooms in).

    Scale jitter cuts a window of side ``round(crop / factor)`` and resizes it to ``crop``
    with MATLAB bicubic ``imresize``: the same as rescaling the whole image and cropping, up
    to the 2-pixel border of the resize. A window larger than the image is shrunk to fit
    (the effective factor is then larger than drawn).

    ``saturation``: a range (low, high) of colourfulness factors for RGB images
    (:func:`saturate`), drawn last so that the other draws are the same with or without it.
    """

    flip: bool = True
    rot90: bool = True
    scale_jitter: tuple[float, float] | None = None
    saturation: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.scale_jitter is not None:
            low, high = (float(v) for v in self.scale_jitter)
            if not (0 < low <= high and math.isfinite(high)):
                raise ValueError(f"scale_jitter must be (low, high) with 0 < low <= high, "
                                 f"got {self.scale_jitter}")
            object.__setattr__(self, "scale_jitter", (low, high))  # a list from a config too
        if self.saturation is not None:
            low, high = (float(v) for v in self.saturation)
            if not (0 <= low <= high and math.isfinite(high)):
                raise ValueError(f"saturation must be (low, high) with 0 <= low <= high, "
                                 f"got {self.saturation}")
            object.__setattr__(self, "saturation", (low, high))

    def transforms(self) -> tuple[int, ...]:
        """The dihedral transform indices this augmentation draws from (uniformly)."""
        if self.flip and self.rot90:
            return tuple(range(8))
        if self.rot90:
            return (0, 1, 2, 3)
        if self.flip:
            return (0, 4)
        return (0,)

    def draw(self, height: int, width: int, crop: int | None,
             generator: torch.Generator | None) -> AugmentParams:
        """Draw parameters for an image of ``height`` x ``width`` and an output ``crop`` side.

        The order of draws is fixed (scale, window position, transform, saturation), so a
        generator seeded the same way gives the same parameters.
        """
        window = crop
        if crop is not None:
            crop = int(crop)
            if crop > min(height, width):
                raise ValueError(f"crop {crop} is larger than the {height}x{width} image")
            if self.scale_jitter is not None:
                low, high = self.scale_jitter
                factor = low + (high - low) * _uniform(generator)
                window = max(1, min(round(crop / factor), height, width))
            top = _randint(height - window + 1, generator)
            left = _randint(width - window + 1, generator)
        else:
            top = left = 0
        options = self.transforms()
        transform = options[_randint(len(options), generator)] if len(options) > 1 else 0
        factor = 1.0
        if self.saturation is not None:
            low, high = self.saturation
            factor = low + (high - low) * _uniform(generator)
        return AugmentParams(top, left, window, crop, transform, factor)

    def __call__(self, *tensors: torch.Tensor, crop: int | None = None,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, ...]:
        """Apply one draw to all ``tensors`` (same H and W), e.g. an image and its mask."""
        if not tensors:
            return ()
        size = tensors[0].shape[-2:]
        for t in tensors[1:]:
            if t.shape[-2:] != size:
                raise ValueError(
                    f"paired tensors differ in size: {tuple(size)} vs {tuple(t.shape[-2:])}"
                )
        params = self.draw(int(size[0]), int(size[1]), crop, generator)
        return tuple(params.apply(t) for t in tensors)


#: The usual restoration augmentation: all 8 flips/rotations, no scale jitter.
DEFAULT_AUGMENT = Augment()
