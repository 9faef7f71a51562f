"""Simulating another host: every float a function returns, one ulp higher."""

from __future__ import annotations

import math

import torch


def up(value):
    """The next float above ``value`` (tensor or Python float; other values unchanged)."""
    if isinstance(value, torch.Tensor) and value.is_floating_point():
        return torch.nextafter(value, torch.full_like(value, math.inf))
    if isinstance(value, float):
        return math.nextafter(value, math.inf)
    return value


def nudged(fn):
    """``fn`` with its result one ulp higher."""
    def wrapper(*args, **kwargs):
        return up(fn(*args, **kwargs))
    return wrapper
