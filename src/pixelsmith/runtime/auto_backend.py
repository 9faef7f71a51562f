"""``--backend auto``: the faster of eager torch and ONNX Runtime for a model on this machine.

Which one is faster depends on the CPU, the library versions, the model and the thread count
(docs/DEPLOY.md has this project's measurements: on an idle 2-core AVX2 machine eager
channels_last torch beat ONNX Runtime fp32 on every model), so ``auto`` measures rather than
guesses: the first time a model runs with ``auto`` on a machine, a 256x256 forward pass of
each backend is timed (the two taking turns, the best of three each, after a warm-up; about
two seconds in all), and the choice is cached beside
the ONNX exports (``auto-backends.json``, keyed by the weights' sha256, the thread count and
the CPU) so later runs only read it. A quantized package keeps ONNX Runtime (its int8 graph).
"""

from __future__ import annotations

import json
import platform

import torch
from torch import nn

from pixelsmith.runtime.cache import cache_dir
from pixelsmith.sysinfo import cpu_model
from pixelsmith.zoo.config import config_of

CHOICES_FILE = "auto-backends.json"
PROBE_SIDE = 256
SETTLE_SECONDS = 0.2  # idle before each timed call: the other library's threads stop spinning


def _machine_key(net: nn.Module) -> str:
    sha = config_of(net).sha256 or ""
    return f"{sha}|threads={torch.get_num_threads()}|{platform.machine()}|{cpu_model()}"


def _probe_inputs(net: nn.Module) -> tuple[torch.Tensor, torch.Tensor | None]:
    channels = int(net.channels)
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(1, channels, PROBE_SIDE, PROBE_SIDE, generator=generator)
    conditioning = net.conditioning
    if conditioning == "mask":
        return image, torch.zeros(1, 1, PROBE_SIDE, PROBE_SIDE)
    return image, (torch.full((1,), 0.1) if conditioning is not None else None)


def measure(net: nn.Module, ort_net, rounds: int = 3) -> dict:
    """Seconds of one probe forward pass on each backend (CPU, fp32), timed in turns with a
    pause before each call (:func:`pixelsmith.runtime.timing.fastest_interleaved`), so that
    neither a slow moment of a shared machine nor the other library's spinning threads
    decide."""
    from pixelsmith.runtime.timing import fastest_interleaved

    image, level = _probe_inputs(net)
    net.to(memory_format=torch.channels_last)
    torch_input = image.contiguous(memory_format=torch.channels_last)
    runs = {"torch": lambda: net(torch_input, level) if level is not None else net(torch_input),
            "onnxruntime": lambda: ort_net(image, level)}
    with torch.inference_mode():
        return fastest_interleaved(runs, rounds, SETTLE_SECONDS)


def faster_backend(net: nn.Module, ort_net) -> str:
    """"torch" or "onnxruntime", whichever ran ``net`` faster here (measured once, cached)."""
    from pixelsmith.io import atomic_write_text

    path = cache_dir() / CHOICES_FILE
    key = _machine_key(net)
    try:
        choices = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        choices = {}
    if key in choices and choices[key].get("backend") in ("torch", "onnxruntime"):
        return choices[key]["backend"]
    seconds = measure(net, ort_net)
    backend = min(seconds, key=seconds.get)
    choices[key] = {"backend": backend, "seconds": seconds}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(choices, indent=1, sort_keys=True))
    except OSError:
        pass  # an unwritable cache only means measuring again next time
    return backend
