"""``--backend auto`` measures both backends once per model and machine and keeps the faster."""

from __future__ import annotations

import json

import pytest

from pixelsmith.restoration.trained import ModelRestorer, RunOptions
from pixelsmith.runtime import auto_backend
from pixelsmith.runtime.cache import cache_dir
from pixelsmith.runtime.ort_backend import onnxruntime_available
from pixelsmith.zoo import load_model

pytestmark = [pytest.mark.usefixtures("one_thread", "onnx_cache"),
              pytest.mark.skipif(not onnxruntime_available(), reason="needs onnxruntime")]


@pytest.mark.parametrize("faster", ["torch", "onnxruntime"])
def test_auto_runs_the_measured_faster_backend_and_caches_the_choice(monkeypatch, faster):
    calls = []

    def fake_measure(net, ort_net):
        calls.append(1)
        return {"torch": 1.0, "onnxruntime": 2.0} if faster == "torch" else \
            {"torch": 2.0, "onnxruntime": 1.0}

    monkeypatch.setattr(auto_backend, "measure", fake_measure)
    (cache_dir() / auto_backend.CHOICES_FILE).unlink(missing_ok=True)
    for _ in range(2):
        method = ModelRestorer(load_model("sr-x4"), RunOptions(backend="auto", device="cpu"))
        assert method.backend == faster
        assert (type(method.net).__name__ == "OrtNetwork") == (faster == "onnxruntime")
    assert len(calls) == 1  # the second model read the cached choice
    saved = json.loads((cache_dir() / auto_backend.CHOICES_FILE).read_text())
    assert [entry["backend"] for entry in saved.values()] == [faster]


def test_measure_times_both_backends_on_a_real_model():
    from pixelsmith.runtime.ort_backend import OrtNetwork

    net = load_model("denoise-gray").eval()
    seconds = auto_backend.measure(net, OrtNetwork(net))
    assert set(seconds) == {"torch", "onnxruntime"} and all(s > 0 for s in seconds.values())
