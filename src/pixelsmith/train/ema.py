"""Exponential moving average of the weights, kept with torch's own AveragedModel."""

from __future__ import annotations

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


def make_ema(model: torch.nn.Module, decay: float) -> AveragedModel:
    """An EMA copy of ``model`` (buffers such as BatchNorm statistics are averaged too)."""
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
