"""Pairs of degraded and clean images from two folders, matched by file name.

Files pair up by their path relative to each folder without the suffix (``a/img01.jpg`` pairs
with ``a/img01.png``), so the two sides may use different formats. Both sides get the same
random crop, flip and rotation. For super-resolution pairs (``scale > 1``) the clean image is
``scale`` times larger; crops are drawn on the degraded (low-resolution) grid and mapped up.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import Dataset

from pixelsmith.data.augment import DEFAULT_AUGMENT, Augment, AugmentParams
from pixelsmith.data.folders import ImageFolder, to_float
from pixelsmith.data.seeding import item_generator
from pixelsmith.errors import PixelsmithError
from pixelsmith.io import list_images

_SHOW = 10  # names listed in a pairing error


def _keyed(folder: str | Path) -> dict[str, Path]:
    """Image files below ``folder`` by their relative path without suffix."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PixelsmithError(f"{folder}: not a folder")
    keyed: dict[str, Path] = {}
    for path in list_images(folder):
        key = path.relative_to(folder).with_suffix("").as_posix()
        if key in keyed:
            raise PixelsmithError(
                f"{folder}: '{key}' is ambiguous ({keyed[key].name} and {path.name})"
            )
        keyed[key] = path
    if not keyed:
        raise PixelsmithError(f"{folder}: no image files found")
    return keyed


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOW])
    return shown + (f" (+{len(names) - _SHOW} more)" if len(names) > _SHOW else "")


def match_files(degraded: str | Path, clean: str | Path) -> list[tuple[str, Path, Path]]:
    """(name, degraded path, clean path) for every pair, sorted by name.

    Raises :class:`PixelsmithError` listing the names found on one side only.
    """
    low, high = _keyed(degraded), _keyed(clean)
    only_low = sorted(set(low) - set(high))
    only_high = sorted(set(high) - set(low))
    if only_low or only_high:
        parts = []
        if only_low:
            parts.append(f"{len(only_low)} only in {degraded}: {_listing(only_low)}")
        if only_high:
            parts.append(f"{len(only_high)} only in {clean}: {_listing(only_high)}")
        raise PixelsmithError("degraded and clean images do not pair up; " + "; ".join(parts))
    return [(key, low[key], high[key]) for key in sorted(low)]


class PairedFolders(Dataset):
    """Degraded/clean pairs as dicts ``{"degraded": (C, h, w), "clean": (C, H, W), "name"}``.

    - ``crop``: side of the random clean patch (a multiple of ``scale``); None keeps the full
      images (then items of different sizes need ``batch_size=1``).
    - ``augment``: flips/rotations applied to both sides (default: all 8); None for none.
      Scale jitter is refused because rescaling would change the degradation.
    - ``scale``: clean size / degraded size (1 for denoising, deblurring, de-JPEG).
    - ``color`` and ``cache`` as in :class:`~pixelsmith.data.folders.ImageFolder`.

    Randomness comes from ``item_generator(seed, epoch, index)``; call :meth:`set_epoch`.
    """

    def __init__(
        self,
        degraded: str | Path,
        clean: str | Path,
        *,
        crop: int | None = None,
        augment: Augment | None = DEFAULT_AUGMENT,
        scale: int = 1,
        color: str = "auto",
        cache: bool = False,
        seed: int = 0,
    ) -> None:
        self.scale = int(scale)
        if self.scale < 1:
            raise ValueError(f"scale must be an integer >= 1, got {scale}")
        if augment is not None and augment.scale_jitter is not None:
            raise ValueError("scale jitter would change the degradation of a pair; not allowed")
        if crop is not None and (int(crop) < 1 or int(crop) % self.scale):
            raise ValueError(f"crop {crop} must be a positive multiple of scale {self.scale}")
        pairs = match_files(degraded, clean)
        self.names = [name for name, _, _ in pairs]
        self.degraded = ImageFolder([p for _, p, _ in pairs], color=color, cache=cache)
        self.clean = ImageFolder([p for _, _, p in pairs], color=color, cache=cache)
        self.crop = None if crop is None else int(crop)
        self.augment = augment
        self.seed = int(seed)
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.names)

    def set_epoch(self, epoch: int) -> None:
        """Use the random draws of ``epoch``."""
        self.epoch = int(epoch)

    def _check_sizes(self, index: int, low: torch.Tensor, high: torch.Tensor) -> None:
        lh, lw = low.shape[-2:]
        hh, hw = high.shape[-2:]
        s = self.scale
        if (hh, hw) != (lh * s, lw * s) or low.shape[0] != high.shape[0]:
            raise PixelsmithError(
                f"{self.names[index]}: degraded is {low.shape[0]}x{lh}x{lw} (CxHxW), clean is "
                f"{high.shape[0]}x{hh}x{hw}; expected the clean one {s}x larger with the same "
                "channels"
            )

    def __getitem__(self, index: int) -> dict:
        index = int(index)
        if index < 0:
            index += len(self)
        low = self.degraded.stored(index)
        high = self.clean.stored(index)
        self._check_sizes(index, low, high)
        if self.crop is not None or self.augment is not None:
            gen = item_generator(self.seed, self.epoch, index)
            low_crop = None if self.crop is None else self.crop // self.scale
            if self.augment is not None:
                params = self.augment.draw(low.shape[-2], low.shape[-1], low_crop, gen)
            else:
                params = Augment(flip=False, rot90=False).draw(
                    low.shape[-2], low.shape[-1], low_crop, gen
                )
            low = params.apply(low)
            high = _scaled(params, self.scale).apply(high)
        return {"degraded": to_float(low), "clean": to_float(high), "name": self.names[index]}


def _scaled(params: AugmentParams, scale: int) -> AugmentParams:
    return params if scale == 1 else params.scaled(scale)
