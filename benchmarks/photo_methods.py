"""The methods benchmarks.photo compares, and the extra model folders (``--extra NAME=FOLDER``)
it adds as rows."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from pixelsmith.degrade.known import Known
from pixelsmith.io import quantize
from pixelsmith.restoration.restorer import Restorer

#: (row label, restore(y, known) -> output)
Method = tuple[str, Callable[[torch.Tensor, Known], torch.Tensor]]


def fail(message: str) -> None:
    """Stop with a one-line error (exit 2), as the CLI does for bad input."""
    print(f"benchmarks.photo: error: {message}", file=sys.stderr)
    sys.exit(2)


def parse_extra(values: list[str] | None) -> list[tuple[str, str]]:
    """``NAME=FOLDER`` values as (name, folder) pairs, in the order given."""
    out = []
    for value in values or []:
        name, sep, folder = value.partition("=")
        if not sep or not name.strip() or not folder.strip():
            fail(f"--extra {value!r}: expected NAME=MODEL_FOLDER")
        if name.strip() in {n for n, _ in out}:
            fail(f"--extra {name.strip()}: given twice")
        out.append((name.strip(), folder.strip()))
    return out


def photo_model_scale(source: str) -> int:
    """The upscaling factor of a ``photo`` model (shipped name or folder); a model of another
    task stops the run."""
    from pixelsmith.errors import PixelsmithError
    from pixelsmith.zoo import read_config, resolve_model_dir

    try:
        config = read_config(resolve_model_dir(source))
    except PixelsmithError as exc:
        fail(f"{source}: {exc}")
    if config.get("task") != "photo":
        fail(f"{source}: a model for task '{config.get('task')}', not 'photo'")
    return int(config.get("network", {}).get("args", {}).get("scale", 1) or 1)


def trained(task: str, source: str, known: Known | None = None) -> Callable:
    """A restorer of ``task`` by ``source``; ``known`` replaces what the case says (blind
    methods get ``Known()``)."""
    restorer = Restorer(task, source)
    if known is None:
        return restorer
    return lambda y, _known: restorer(y, known)


def chain_then_deblur() -> Callable:
    """photo-chain (denoise, de-JPEG when the quality is known), then deblur-blind."""
    chain = Restorer("photo", "photo-chain")
    deblur = Restorer("deblur", "deblur-blind")
    return lambda y, known: deblur(chain(y, known), Known())


def enlarged_input(y: torch.Tensor, known: Known) -> torch.Tensor:
    """The degraded input itself, MATLAB-bicubic enlarged to the output size."""
    from pixelsmith.degrade.resize import imresize

    scale = known.scale or 1
    return imresize(y, float(scale)).clamp(0.0, 1.0) if scale > 1 else y


def input_itself(y: torch.Tensor, known: Known) -> torch.Tensor:
    return y


def timed(fn: Callable, y: torch.Tensor, known: Known) -> tuple[torch.Tensor, float]:
    """(8-bit output, seconds) of one restoration."""
    start = time.perf_counter()
    out = fn(y, known)
    return quantize(out.float()), time.perf_counter() - start


def model_label(source: str) -> str:
    """A row label for a model: its shipped name or folder name."""
    return Path(source).name
