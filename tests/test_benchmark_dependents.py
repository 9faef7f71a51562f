"""benchmarks.dependents names shipped models and benchmark modules that exist."""

from __future__ import annotations

import importlib.util

from benchmarks.dependents import DEPENDENTS, commands_for
from pixelsmith.zoo import shipped_models


def test_every_listed_model_is_shipped_and_every_command_names_a_benchmark_module():
    assert set(DEPENDENTS) <= set(shipped_models())
    for command in commands_for(list(DEPENDENTS)):
        if command.startswith("#"):
            continue
        words = command.split()
        assert words[:2] == ["python", "-m"] and words[2].startswith("benchmarks.")
        assert importlib.util.find_spec(words[2]) is not None, command


def test_commands_are_listed_once_in_first_mention_order():
    both = commands_for(["denoise-gray", "denoise-color"])
    assert len(both) == len(set(both))
    assert both[: len(DEPENDENTS["denoise-gray"])] == list(DEPENDENTS["denoise-gray"])
