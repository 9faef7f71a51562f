"""Exponential moving average of the weights, kept with torch's own AveragedModel."""

from __future__ import annotations

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


def warmup_decay(decay: float, updates: int) -> float:
    """The decay after ``updates`` averaging steps when warming up: min(decay, (1+n)/(10+n)).

    Early on the average then spans about the last tenth of training instead of dragging the
    initial weights along (with a fixed 0.999 they still weigh 13% after 2,000 steps).
    """
    return min(decay, (1.0 + updates) / (10.0 + updates))


def _warmup_ema_fn(decay: float):
    """AveragedModel's ``multi_avg_fn``: it is called once per (device, dtype) group."""
    @torch.no_grad()
    def update(ema_params: list, current_params: list, updates: torch.Tensor) -> None:
        if torch.is_floating_point(ema_params[0]):
            torch._foreach_lerp_(ema_params, current_params,
                                 1.0 - warmup_decay(decay, int(updates)))
        else:  # integer buffers (e.g. BatchNorm's step count) follow the model
            torch._foreach_copy_(ema_params, current_params)

    return update


def make_ema(model: torch.nn.Module, decay: float, warmup: bool = False) -> AveragedModel:
    """An EMA copy of ``model`` (buffers such as BatchNorm statistics are averaged too).

    ``warmup`` ramps the decay up to ``decay`` (see ``warmup_decay``), which matters for
    models trained from scratch in few steps; the resume state is torch's own update count.
    """
    avg_fn = _warmup_ema_fn(decay) if warmup else get_ema_multi_avg_fn(decay)
    return AveragedModel(model, multi_avg_fn=avg_fn, use_buffers=True)
