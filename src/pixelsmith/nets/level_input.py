"""Input handling shared by the level-conditioned restoration networks.

A network conditioned on a degradation level (noise sigma / 255, JPEG quality / 100) takes it
as one extra constant input channel, so one set of weights covers a whole range of levels.
Networks that work at a coarser grid pad their input to a multiple of that grid first.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def reflect_padder(height: int, width: int, multiple: int
                   ) -> Callable[[torch.Tensor], torch.Tensor]:
    """A function that pads a tensor of ``height`` x ``width`` (reflect, bottom and right) to
    the next multiple of ``multiple``; the identity when it already is one."""
    pad_h, pad_w = -height % multiple, -width % multiple
    if not (pad_h or pad_w):
        return lambda tensor: tensor
    return lambda tensor: nn.functional.pad(tensor, (0, pad_w, 0, pad_h), mode="reflect")


def append_level(x: torch.Tensor, level: torch.Tensor | float | None,
                 conditioning: str | None) -> torch.Tensor:
    """``x`` with ``level`` (one value per image, or one for all) appended as a constant
    channel; ``x`` as is for a blind network (``conditioning`` None)."""
    if conditioning is None:
        return x
    if level is None:
        raise ValueError(f"this network needs its {conditioning} level")
    level = torch.as_tensor(level, dtype=x.dtype, device=x.device).reshape(-1, 1, 1, 1)
    return torch.cat([x, level.expand(x.shape[0], 1, *x.shape[-2:])], dim=1)
