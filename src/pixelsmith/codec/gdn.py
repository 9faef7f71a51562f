"""Generalized divisive normalization (Balle et al. 2016), the codec's non-linearity.

``GDN``: ``y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2)``; ``inverse=True`` (IGDN, used in
the synthesis transform) multiplies instead of dividing, one fixed-point step of the inverse.

beta must stay positive and gamma non-negative. Both are stored reparametrised,
``value = max(p, sqrt(minimum + eps^2))^2 - eps^2`` with a small pedestal ``eps^2``: squaring
keeps them non-negative, the pedestal keeps gradients alive near 0, and the lower bound lets
a gradient through whenever it pushes the parameter back up (so a parameter that hit the
bound can still leave it).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

PEDESTAL = 2.0**-36  # eps^2 with eps = 2^-18


class _LowerBound(torch.autograd.Function):
    """max(x, bound) whose gradient also flows where it would raise x above the bound."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, bound: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.bound = bound
        return x.clamp_min(bound)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (x,) = ctx.saved_tensors
        passes = (x >= ctx.bound) | (grad < 0)
        return grad * passes.to(grad.dtype), None


def lower_bound(x: torch.Tensor, bound: float) -> torch.Tensor:
    """``max(x, bound)`` with a gradient that can lift ``x`` off the bound."""
    return _LowerBound.apply(x, float(bound))


def to_stored(value: torch.Tensor) -> torch.Tensor:
    """The stored parameter whose reparametrised value is ``value`` (>= 0)."""
    return torch.sqrt(torch.clamp(value + PEDESTAL, min=PEDESTAL))


def from_stored(param: torch.Tensor, minimum: float = 0.0) -> torch.Tensor:
    """The non-negative value (>= ``minimum``) of a stored parameter."""
    bound = (minimum + PEDESTAL) ** 0.5
    return lower_bound(param, bound) ** 2 - PEDESTAL


class GDN(nn.Module):
    """GDN over the channels of (N, C, H, W); ``inverse=True`` gives IGDN."""

    def __init__(self, channels: int, inverse: bool = False, beta_min: float = 1e-6,
                 gamma_init: float = 0.1) -> None:
        super().__init__()
        self.inverse, self.beta_min = bool(inverse), float(beta_min)
        self.beta = nn.Parameter(to_stored(torch.ones(channels)))
        self.gamma = nn.Parameter(to_stored(gamma_init * torch.eye(channels)))

    def parameters_value(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(beta (C,), gamma (C, C)) as used in the formula."""
        return from_stored(self.beta, self.beta_min), from_stored(self.gamma)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        beta, gamma = self.parameters_value()
        channels = gamma.shape[0]
        norm = F.conv2d(x * x, gamma.view(channels, channels, 1, 1), beta)
        return x * torch.sqrt(norm) if self.inverse else x * torch.rsqrt(norm)
