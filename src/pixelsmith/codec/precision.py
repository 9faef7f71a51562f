"""Mixed precision for codec training: bf16 where it is safe, float32 where rates are decided.

Under an enabled autocast (a recipe's ``train.precision: bf16``) the inner layers of the
analysis and synthesis transforms, most of a codec's arithmetic, run in bf16. The first and
last layer of each transform, the hyperprior, the context and entropy-parameter networks and
every likelihood stay float32: bf16 keeps 8 significant bits, so a latent near 100 would move
in steps of 0.5, as wide as the quantization noise the rate model assumes, and the image that
g_s returns would lose its last level. Without autocast (fp32 recipes, validation, coding,
refinement) both containers are plain :class:`torch.nn.Sequential`; their state-dict keys are
the same, so weights load either way.
"""

from __future__ import annotations

import torch
from torch import nn


def autocasting(x: torch.Tensor) -> bool:
    """Whether an autocast context is active for ``x``'s device."""
    return torch.is_autocast_enabled(x.device.type)


def float32_region(x: torch.Tensor) -> torch.autocast:
    """A context in which autocast is off for ``x``'s device."""
    return torch.autocast(x.device.type, enabled=False)


def widened(x: torch.Tensor) -> torch.Tensor:
    """``x`` in float32 if it is a half-precision tensor, else unchanged (float64 stays)."""
    return x.float() if x.dtype in (torch.bfloat16, torch.float16) else x


class Float32Sequential(nn.Sequential):
    """A sequence of layers that always runs in float32, even inside an autocast."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not autocasting(x):
            return super().forward(x)
        with float32_region(x):
            return super().forward(widened(x))


class MixedSequential(nn.Sequential):
    """A transform whose first and last layer run in float32 and whose inner layers follow
    the ambient autocast; the output is float32."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not autocasting(x) or len(self) < 3:
            return super().forward(x)
        first, *inner, last = self
        with float32_region(x):
            x = first(widened(x))
        for layer in inner:
            x = layer(x)
        with float32_region(x):
            return last(widened(x))
