"""The EMA of the weights: torch's fixed decay, and the warm-up ramp that forgets the start."""

from __future__ import annotations

import torch

from pixelsmith.train.ema import make_ema, warmup_decay


def _average_of(values: list[float], warmup: bool, decay: float = 0.999) -> float:
    net = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        net.weight.fill_(values[0])
    ema = make_ema(net, decay, warmup=warmup)
    for value in values:
        with torch.no_grad():
            net.weight.fill_(value)
        ema.update_parameters(net)
    return float(ema.module.weight.detach())


def test_warmup_decay_ramps_to_the_configured_decay():
    assert warmup_decay(0.999, 0) == 0.1
    assert warmup_decay(0.999, 90) == 0.91
    assert warmup_decay(0.999, 100_000) == 0.999


def test_warmup_forgets_the_initial_weights_and_the_plain_ema_does_not():
    values = [0.0] + [1.0] * 2000  # the weights jump once, then stay
    assert abs(_average_of(values, warmup=False) - (1 - 0.999 ** 2000)) < 1e-4  # 0.865
    assert _average_of(values, warmup=True) > 0.999


def test_warmup_matches_a_hand_computed_average():
    values = [0.0, 1.0, 2.0, 3.0]
    expected = 0.0  # first update copies; then lerp with 1 - min(d, (1+n)/(10+n)), n = 1, 2, 3
    for n, value in enumerate(values[1:], start=1):
        expected += (value - expected) * (1 - warmup_decay(0.999, n))
    assert abs(_average_of(values, warmup=True) - expected) < 1e-6
