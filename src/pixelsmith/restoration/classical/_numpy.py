"""Shared plumbing: run a NumPy image function over a torch batch, one image at a time."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from pixelsmith.degrade.known import Known

ImageFn = Callable[[np.ndarray, int], np.ndarray]


def check_input(y: torch.Tensor) -> None:
    """Raise ValueError unless ``y`` is a float (N, C, H, W) tensor with C = 1 or 3."""
    if y.ndim != 4 or y.shape[1] not in (1, 3) or not y.is_floating_point():
        raise ValueError(f"expected a float (N, 1|3, H, W) tensor, got {tuple(y.shape)} {y.dtype}")


def require(known: Known, field: str):
    """The value of ``known.<field>``, or a ValueError naming the missing field."""
    value = getattr(known, field)
    if value is None:
        raise ValueError(f"this method needs Known.{field}")
    return value


def to_numpy(image: torch.Tensor) -> np.ndarray:
    """(C, H, W) tensor -> float64 HxW (gray) or HxWx3 (colour) array."""
    array = image.detach().to("cpu", torch.float64).numpy()
    return array[0] if array.shape[0] == 1 else np.ascontiguousarray(array.transpose(1, 2, 0))


def from_numpy(array: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    """HxW or HxWxC array -> (C, H, W) tensor in [0, 1] with the dtype and device of ``like``."""
    array = np.asarray(array, dtype=np.float64)
    array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    tensor = torch.from_numpy(np.ascontiguousarray(array)).clamp_(0.0, 1.0)
    return tensor.to(device=like.device, dtype=like.dtype)


def map_images(y: torch.Tensor, fn: ImageFn, min_side: int = 1) -> torch.Tensor:
    """Apply ``fn(array, index)`` to each image of the batch and stack the results.

    Images smaller than ``min_side`` (a method's block or patch size) are padded at the bottom
    and right by repeating their edge pixels, and the result is cropped back.
    """
    check_input(y)
    height, width = y.shape[-2:]
    pad = ((0, max(0, min_side - height)), (0, max(0, min_side - width)))

    def run(img: torch.Tensor, i: int) -> np.ndarray:
        array = to_numpy(img)
        if pad[0][1] or pad[1][1]:
            array = np.pad(array, pad + ((0, 0),) * (array.ndim - 2), mode="edge")
        return fn(array, i)[:height, :width]

    return torch.stack([from_numpy(run(img, i), y) for i, img in enumerate(y)])
