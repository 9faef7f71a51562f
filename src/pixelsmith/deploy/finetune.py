"""Fine-tune a model package for a few steps of its own training recipe (``prune
--finetune``, ``quantize --qat``).

The recipe is the one in the package's config (data, degradations, loss, optimizer); the
network arguments are the package's (a pruned model's smaller widths), the weights start from
the package, the schedule restarts over the steps without warm-up, and the EMA ramps its
decay up so that a short fine-tune's average is not held back by its start. ``prepare`` may
change the training module in place before the first step (quantization-aware training puts
its fake quantization there); the exported weights are the last EMA weights. A recipe that
trained in reduced precision fine-tunes in bf16 only where this machine has it natively (an
emulated bf16 step is many times slower than fp32), and quantization-aware training always in
fp32 (its fake quantization measures fp32 ranges).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from torch import nn

from pixelsmith.errors import PixelsmithError


def finetune_package(package: Path, config: dict, steps: int, work: Path,
                     device: str | None = None,
                     prepare: Callable[[nn.Module], None] | None = None,
                     hint: str = "use --finetune 0", lr: float | None = None,
                     progress: bool = True) -> Path:
    """Fine-tune ``package`` (a model folder whose config is ``config``) for ``steps`` steps
    in ``work`` (peak learning rate ``lr``, default the recipe's; a progress bar on stderr
    unless ``progress`` is false); returns the model folder of the result (``work``/tuned)."""
    from pixelsmith.runtime.device import resolve_device
    from pixelsmith.runtime.precision import fast_precision
    from pixelsmith.train.config import recipe_from_dict
    from pixelsmith.train.export import export_run
    from pixelsmith.train.trainer import Trainer

    recipe = config.get("training", {}).get("recipe")
    if not recipe:
        raise PixelsmithError(f"{config.get('name')}: no training recipe in its config to "
                              f"fine-tune with ({hint})")
    data = json.loads(json.dumps(recipe))
    data["model"] = {**data["model"], "args": config["network"]["args"]}
    data["init"] = str(package)
    data["freeze"] = []
    resolved = resolve_device(device)
    precision = data["train"].get("precision", "fp32")
    if prepare is not None:
        precision = "fp32"
    elif precision != "fp32" and resolved.type == "cpu":
        precision = fast_precision(resolved)
    data["train"] = {**data["train"], "steps": int(steps), "epochs": None,
                     "checkpoint_every": max(1, int(steps)), "ema_warmup": True,
                     "precision": precision}
    data["val"] = {**data["val"], "every": max(1, int(steps))}
    data["schedule"] = {**data["schedule"], "warmup_steps": 0}
    if lr is not None:
        data["optim"] = {**data["optim"], "lr": float(lr)}
    data["early_stopping"] = {"patience": None, "min_delta": 0.0}
    run = work / "finetune"
    data["output"] = str(run)
    trainer = Trainer(recipe_from_dict(data, "fine-tuning recipe"), run, device=str(resolved),
                      progress=progress)
    if prepare is not None:
        prepare(trainer.models[trainer.family.main])
    trainer.fit()
    tuned = work / "tuned"
    export_run(run, tuned, checkpoint="last")
    return tuned
