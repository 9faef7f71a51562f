"""Restore images with any registered method: one entry point for the API, CLI and evaluator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pixelsmith.errors import PixelsmithError
from pixelsmith.known import TASKS, Known
from pixelsmith.methods import Method, default_method, get_method


class Restorer:
    """A loaded method for one task: ``restorer(y, known) -> x_hat`` on (N, C, H, W) tensors.

    It checks that what the method needs (a sigma, a kernel, a mask, a scale) is known and that
    masks match the image, so every method gets valid input and users get one-line errors.
    """

    def __init__(self, task: str, method: str | None = None) -> None:
        if task not in TASKS:
            raise PixelsmithError(f"unknown task '{task}' (choose from {', '.join(TASKS)})")
        self.task = task
        self.method: Method = get_method(task, method or default_method(task))
        self._fn = self.method.load()

    @property
    def name(self) -> str:
        return self.method.name

    def check(self, y: torch.Tensor, known: Known) -> None:
        """Raise PixelsmithError if ``known`` lacks what the method needs or does not fit ``y``."""
        if y.ndim != 4 or y.shape[1] not in (1, 3):
            raise PixelsmithError(f"expected (N, 1|3, H, W) pixels, got {tuple(y.shape)}")
        for field_name in self.method.needs:
            if getattr(known, field_name) is None:
                option = {"sigma": "--sigma", "kernel": "--kernel", "mask": "--mask",
                          "scale": "--scale", "quality": "--quality"}[field_name]
                raise PixelsmithError(
                    f"method '{self.name}' for task '{self.task}' needs {option}"
                )
        if known.mask is not None and known.mask.shape[-2:] != y.shape[-2:]:
            mh, mw = known.mask.shape[-2:]
            raise PixelsmithError(
                f"mask is {mw}x{mh} but the image is {y.shape[-1]}x{y.shape[-2]}"
            )
        if known.sigma is not None and not 0.0 <= known.sigma <= 1.0:
            raise PixelsmithError(f"sigma {known.sigma * 255:g} is outside 0-255")
        if known.scale is not None and known.scale < 1:
            raise PixelsmithError(f"scale must be a positive integer, not {known.scale}")

    def __call__(self, y: torch.Tensor, known: Known | None = None) -> torch.Tensor:
        known = known or Known()
        self.check(y, known)
        with torch.inference_mode():
            return self._fn(y, known).clamp(0.0, 1.0)


def _as_batch(image) -> tuple[torch.Tensor, str]:
    """Accept a path, an (H, W[, C]) array or a (C, H, W) / (N, C, H, W) tensor; return NCHW."""
    if isinstance(image, (str, Path)):
        from pixelsmith.io import read_image

        return read_image(image), "tensor"
    if isinstance(image, np.ndarray):
        array = image.astype(np.float32) / (255.0 if image.dtype == np.uint8 else 1.0)
        if array.ndim == 2:
            array = array[:, :, None]
        return torch.from_numpy(array.transpose(2, 0, 1).copy())[None], "numpy"
    if isinstance(image, torch.Tensor):
        if image.ndim == 3:
            return image[None], "chw"
        if image.ndim == 4:
            return image, "tensor"
    raise PixelsmithError("image must be a path, a NumPy array or a (C, H, W)/(N, C, H, W) tensor")


def restore(
    image,
    task: str = "denoise",
    *,
    method: str | None = None,
    sigma: float | None = None,
    kernel: torch.Tensor | np.ndarray | str | Path | None = None,
    mask: torch.Tensor | np.ndarray | str | Path | None = None,
    scale: int | None = None,
    quality: int | None = None,
):
    """Restore ``image`` for ``task`` with ``method`` (default: the best available one).

    ``sigma`` is in 0-255 units as in the literature (``sigma=25``). ``kernel`` and ``mask`` may
    be arrays or file paths (mask: white = missing). Returns the same kind of object as given:
    a tensor for a tensor or path, a float32 HxW[xC] array in [0, 1] for a NumPy array.
    """
    batch, kind = _as_batch(image)
    known = Known(
        sigma=None if sigma is None else float(sigma) / 255.0,
        kernel=_load_kernel(kernel),
        mask=_load_mask(mask, batch.shape[-2:]),
        scale=None if scale is None else int(scale),
        quality=None if quality is None else int(quality),
    )
    out = Restorer(task, method)(batch.float(), known)
    if kind == "chw":
        return out[0]
    if kind == "numpy":
        array = out[0].numpy().transpose(1, 2, 0)
        return array[:, :, 0] if array.shape[2] == 1 else array
    return out


def _load_kernel(kernel) -> torch.Tensor | None:
    if kernel is None:
        return None
    if isinstance(kernel, (str, Path)):
        from pixelsmith.degrade.kernels import load_kernel

        return load_kernel(kernel)
    k = torch.as_tensor(np.asarray(kernel), dtype=torch.float32)
    if k.ndim != 2 or (k < 0).any() or k.sum() <= 0:
        raise PixelsmithError("kernel must be a non-negative 2-D array with a positive sum")
    return k / k.sum()


def _load_mask(mask, size: torch.Size) -> torch.Tensor | None:
    if mask is None:
        return None
    if isinstance(mask, (str, Path)):
        from pixelsmith.degrade.mask import load_mask

        return load_mask(mask, size=tuple(size))
    m = torch.as_tensor(np.asarray(mask), dtype=torch.float32)
    while m.ndim < 4:
        m = m[None]
    return (m > 0.5).float()
