"""Checkpoints: the full training state, written atomically, read without unpickling code.

``torch.load(weights_only=True)`` accepts tensors and plain containers only, so a checkpoint
handed in by someone else cannot run code; the RNG states are stored in that plain form.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import torch

from pixelsmith.errors import PixelsmithError
from pixelsmith.io import atomic_output

LAST, BEST = "last.pt", "best.pt"


def snapshot_name(step: int) -> str:
    """File name of the snapshot ``train.keep_every`` keeps at ``step`` (sorts by step)."""
    return f"step-{step:07d}.pt"


def rng_state() -> dict:
    """Every random number generator a run draws from, as tensors and plain values."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": pos,
                  "has_gauss": has_gauss, "cached": cached},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` captured."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np_state = state["numpy"]
    np.random.set_state((np_state["kind"], np_state["keys"].numpy().astype(np.uint32),
                         np_state["pos"], np_state["has_gauss"], np_state["cached"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, state: dict) -> None:
    """Write ``state`` to ``path`` through a temporary file: a kill mid-write loses nothing."""
    with atomic_output(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path) -> dict:
    """Read a checkpoint (tensors and plain containers only), with a one-line error if damaged."""
    if not Path(path).is_file():
        raise PixelsmithError(f"{path}: no checkpoint to resume from")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any decoding failure means a damaged file
        raise PixelsmithError(f"{path}: damaged checkpoint ({type(exc).__name__})") from None
