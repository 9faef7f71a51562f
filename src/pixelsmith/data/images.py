"""Whole images as training items: any image data set fitted to a model's channels and size.

Synthesis models (autoencoders, VAEs, GANs, classifiers) and whole-image restoration train on
items ``{"image": (C, S, S) in [0, 1], "label": int}`` drawn from MNIST, CIFAR-10, faces or a
folder; :class:`SynthesisItems` makes every source look the same.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.nn import functional as F
from torch.utils.data import Dataset

from pixelsmith.color import rgb_to_gray


class SynthesisItems(Dataset):
    """``base[indices[i]]`` as ``{"image", "label"}``, converted to ``channels`` and resized to
    ``size`` x ``size`` (bilinear, antialiased) when the source differs."""

    def __init__(self, base: Dataset, indices: list[int] | None = None, *,
                 size: int | None = None, channels: int | None = None) -> None:
        self.base = base
        self.indices = list(range(len(base))) if indices is None else list(indices)
        self.size, self.channels = size, channels

    def __len__(self) -> int:
        return len(self.indices)

    def set_epoch(self, epoch: int) -> None:
        """Forward to the source set when it randomises per epoch."""
        setter = getattr(self.base, "set_epoch", None)
        if setter is not None:
            setter(epoch)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self.base[self.indices[index]]
        image, label = item if isinstance(item, (tuple, list)) else (item, -1)
        return {"image": self._fit(image), "label": int(label)}

    def _fit(self, image: torch.Tensor) -> torch.Tensor:
        if self.channels == 1 and image.shape[0] == 3:
            image = rgb_to_gray(image)
        elif self.channels == 3 and image.shape[0] == 1:
            image = image.expand(3, -1, -1).contiguous()
        if self.size is not None and tuple(image.shape[-2:]) != (self.size, self.size):
            image = F.interpolate(image[None], size=(self.size, self.size), mode="bilinear",
                                  antialias=True, align_corners=False)[0].clamp_(0.0, 1.0)
        return image
