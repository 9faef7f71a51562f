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
    @torch.no_grad()
    def update(ema_params: list, current_params: list, updates: torch.Tensor) -> None:
        weight = 1.0 - warmup_decay(decay, int(updates))
        floats = [(e, c) for e, c in zip(ema_params, current_params, strict=True)
                  if torch.is_floating_point(e)]
        if floats:
            torch._foreach_lerp_([e for e, _ in floats], [c for _, c in floats], weight)
        for e, c in zip(ema_params, current_params, strict=True):
            if not torch.is_floating_point(e):
                e.copy_(c)  # integer buffers (e.g. BatchNorm's step count) follow the model

    return update


def make_ema(model: torch.nn.Module, decay: float, warmup: bool = False) -> AveragedModel:
    """An EMA copy of ``model`` (buffers such as BatchNorm statistics are averaged too).

    ``warmup`` ramps the decay up to ``decay`` (see ``warmup_decay``), which matters for
    models trained from scratch in few steps; the resume state is torch's own update count.
    """
    avg_fn = _warmup_ema_fn(decay) if warmup else get_ema_multi_avg_fn(decay)
    return AveragedModel(model, multi_avg_fn=avg_fn, use_buffers=True)
