"""Learning-rate schedules: the linear decay's shape, by hand."""

import pytest

from pixelsmith.train.config import ScheduleConfig
from pixelsmith.train.optim import lr_factor


def test_linear_decay_is_constant_then_a_straight_line_to_the_floor():
    config = ScheduleConfig(name="linear", decay_start=600, min_lr=1e-5)
    base, total = 1e-4, 1000
    assert lr_factor(0, total, config, base) == 1.0
    assert lr_factor(599, total, config, base) == 1.0
    assert lr_factor(600, total, config, base) == pytest.approx(1.0)
    # halfway through the 400 decaying steps: halfway between 1 and the floor 0.1
    assert lr_factor(800, total, config, base) == pytest.approx(0.55)
    assert lr_factor(1000, total, config, base) == pytest.approx(0.1)
    assert lr_factor(5000, total, config, base) == pytest.approx(0.1)


def test_linear_decay_starts_after_warmup():
    config = ScheduleConfig(name="linear", warmup_steps=100)
    assert lr_factor(49, 1100, config, 1.0) == pytest.approx(0.5)
    assert lr_factor(600, 1100, config, 1.0) == pytest.approx(0.5)
