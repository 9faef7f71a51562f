"""scripts/ship_model.py's index update: re-shipping keeps a model's place and default flag."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "ship_model.py"
spec = importlib.util.spec_from_file_location("ship_model", SCRIPT)
ship_model = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ship_model)

INDEX = {
    "a": {"task": "dejpeg", "channels": 1, "default": True},
    "b": {"task": "denoise", "channels": 1, "default": False},
    "c": {"task": "dejpeg", "channels": 3, "default": True},
}


def test_reshipping_keeps_place_and_default_flag():
    out = ship_model.with_entry(INDEX, "a", {"task": "dejpeg", "channels": 1}, False)
    assert list(out) == ["a", "b", "c"]
    assert out["a"]["default"] is True


def test_new_model_goes_last_and_is_not_default():
    out = ship_model.with_entry(INDEX, "d", {"task": "dejpeg", "channels": 1}, False)
    assert list(out) == ["a", "b", "c", "d"] and out["d"]["default"] is False


def test_make_default_goes_first_and_demotes_only_its_own_kind():
    out = ship_model.with_entry(INDEX, "d", {"task": "dejpeg", "channels": 1}, True)
    assert list(out) == ["d", "a", "b", "c"]
    assert out["d"]["default"] is True and out["a"]["default"] is False
    assert out["c"]["default"] is True  # 3-channel de-JPEG is another kind
    assert INDEX["a"]["default"] is True  # the input is not modified
