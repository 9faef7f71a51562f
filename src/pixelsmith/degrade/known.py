"""What a restorer is told about the degradation: the second argument of every restore method."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

TASKS = ("denoise", "deblur", "inpaint", "sr", "dejpeg", "photo")


@dataclass(frozen=True)
class Known:
    """Known degradation parameters. Fields a task does not use stay ``None``.

    - ``sigma``: Gaussian noise standard deviation in [0, 1] units (25/255 for "sigma 25"),
      one float, or an (N,) tensor with one value per image of the batch.
    - ``kernel``: 2-D blur kernel (kh, kw), summing to 1, applied as a convolution.
    - ``mask``: (N, 1, H, W) float tensor, 1 where pixels are missing, 0 where known.
    - ``scale``: integer super-resolution factor.
    - ``quality``: JPEG quality the input was compressed at (1-100).
    """

    sigma: float | torch.Tensor | None = None
    kernel: torch.Tensor | None = None
    mask: torch.Tensor | None = None
    scale: int | None = None
    quality: int | None = None

    def with_(self, **changes) -> Known:
        """A copy with some fields replaced."""
        return replace(self, **changes)
