"""Turn a run folder into a model package (config.json + model.safetensors + sha256)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pixelsmith.errors import PixelsmithError
from pixelsmith.train.checkpoint import BEST, LAST, load_checkpoint, snapshot_name

if TYPE_CHECKING:
    import torch


def checkpoint_weights(state: dict, main: str, use_ema: bool) -> dict:
    """The main network's weights from a checkpoint: the EMA average when asked and present."""
    if use_ema and state.get("ema"):
        prefix = "module."
        return {k[len(prefix):]: v for k, v in state["ema"].items() if k.startswith(prefix)}
    return state["models"][main]


def checkpoint_path(run: Path, checkpoint: str) -> Path:
    """The file of ``checkpoint`` in ``run``: ``best`` (``last`` when the run never
    validated), ``last``, or a step whose snapshot ``train.keep_every`` kept."""
    if checkpoint in ("best", "last"):
        path = run / (BEST if checkpoint == "best" else LAST)
        return run / LAST if checkpoint == "best" and not path.exists() else path
    if not str(checkpoint).isdigit():
        raise PixelsmithError(f"--checkpoint {checkpoint!r}: expected best, last or a step number")
    path = run / snapshot_name(int(checkpoint))
    if not path.exists():
        kept = [str(int(p.stem.removeprefix("step-"))) for p in sorted(run.glob("step-*.pt"))]
        raise PixelsmithError(f"{run}: no snapshot of step {int(checkpoint)} (kept: "
                              f"{', '.join(kept) if kept else 'none; see train.keep_every'})")
    return path


def export_run(run: Path, output: Path, checkpoint: str = "best", use_ema: bool = True,
               storage_dtype: torch.dtype | None = None) -> Path:
    """Write the model of ``run`` to ``output``; its config records how it was trained."""
    from pixelsmith.nets import build_network
    from pixelsmith.train.config import recipe_from_dict
    from pixelsmith.train.families import family_class
    from pixelsmith.zoo import save_model

    path = checkpoint_path(run, checkpoint)
    state = load_checkpoint(path)
    recipe = recipe_from_dict(state["recipe"], str(path))
    family = family_class(recipe.family)
    network = build_network(recipe.model.name, recipe.model.args)
    network.load_state_dict(checkpoint_weights(state, family.main, use_ema))
    finished = family.finish_export(network)  # e.g. a GAN's BatchNorm statistics
    if storage_dtype is not None and hasattr(network, "round_weights"):
        network.round_weights(storage_dtype)  # a codec rebuilds its tables from what is stored
    summary_file = run / "summary.json"
    summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
    config = {
        "name": output.name,
        "summary": f"{output.name}: {recipe.model.name} trained by pixelsmith"
                   + ("" if recipe.name == output.name else f" (recipe {recipe.name})"),
        "family": recipe.family,
        "task": family.exported_task(recipe),
        "network": {"name": recipe.model.name, "args": recipe.model.args},
        "channels": family.channels(recipe),
        "needs": family.needs(recipe),
        "weights": "ema" if use_ema and state.get("ema") else "raw",
        **finished,
        "training": {"recipe": recipe.model_dump(mode="json"), "checkpoint": path.name,
                     "step": state["step"], "summary": summary},
        "exported": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    if config["task"] == "none":
        raise PixelsmithError(f"{run}: the recipe has no degradation task to restore")
    return save_model(output, network, config, storage_dtype=storage_dtype)
