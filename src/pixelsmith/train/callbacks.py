"""Optional behaviour of a run, outside the training loop: progress, logs, early stopping.

Every hook receives the trainer; callbacks that keep state across a resume implement
``state_dict``/``load_state_dict`` and are saved in the checkpoint under their ``key``.
"""

from __future__ import annotations

import json
import math
import sys
import time
import warnings
from pathlib import Path


class Callback:
    key = ""

    def on_train_start(self, trainer) -> None: ...
    def on_step_end(self, trainer, logs: dict) -> None: ...
    def on_validation_end(self, trainer, metrics: dict) -> None: ...
    def on_train_end(self, trainer, summary: dict) -> None: ...

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None: ...


class ProgressBar(Callback):
    """A tqdm bar over steps with the loss, the last validation metric and the ETA."""

    def __init__(self) -> None:
        self.bar = None
        self.last_metric = ""

    def on_train_start(self, trainer) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=trainer.total_steps, initial=trainer.step, unit="step",
                        desc=trainer.recipe.name, dynamic_ncols=True, file=sys.stderr)

    def on_step_end(self, trainer, logs: dict) -> None:
        self.bar.update(1)
        if trainer.step % trainer.recipe.train.log_every == 0 or trainer.step == 1:
            shown = {k: f"{v:.4g}" for k, v in logs.items() if isinstance(v, float)}
            if self.last_metric:
                shown["val"] = self.last_metric
            self.bar.set_postfix(shown, refresh=False)

    def on_validation_end(self, trainer, metrics: dict) -> None:
        name = trainer.recipe.val.metric
        if name in metrics:
            self.last_metric = f"{metrics[name]:.3f}"

    def on_train_end(self, trainer, summary: dict) -> None:
        if self.bar is not None:
            self.bar.close()


class JsonlLogger(Callback):
    """Appends one JSON object per logged step and per validation to ``metrics.jsonl``.

    On resume, lines written after the checkpoint's step (by the run that died) are dropped,
    so the file reads as one uninterrupted run.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.started = time.time()

    def on_train_start(self, trainer) -> None:
        if self.path.exists():
            keep = [line for line in self.path.read_text().splitlines()
                    if line.strip() and json.loads(line).get("step", 0) <= trainer.step]
            self.path.write_text("".join(line + "\n" for line in keep))

    def _write(self, record: dict) -> None:
        with open(self.path, "a") as handle:
            handle.write(json.dumps(record) + "\n")

    def on_step_end(self, trainer, logs: dict) -> None:
        if trainer.step % trainer.recipe.train.log_every == 0:
            self._write({"step": trainer.step, "kind": "train", "lr": trainer.current_lr(),
                         "time": time.time() - self.started, **logs})

    def on_validation_end(self, trainer, metrics: dict) -> None:
        self._write({"step": trainer.step, "kind": "val", **metrics})


class TensorBoardLogger(Callback):
    """TensorBoard event files in the run folder (skipped, with a warning, without tensorboard)."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.writer = folder, None

    def on_train_start(self, trainer) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            warnings.warn("tensorboard is not installed: no event files are written", stacklevel=2)
            return
        self.writer = SummaryWriter(log_dir=str(self.folder), purge_step=trainer.step or None)

    def on_step_end(self, trainer, logs: dict) -> None:
        if self.writer is not None and trainer.step % trainer.recipe.train.log_every == 0:
            for name, value in logs.items():
                self.writer.add_scalar(f"train/{name}", value, trainer.step)
            self.writer.add_scalar("train/lr", trainer.current_lr(), trainer.step)

    def on_validation_end(self, trainer, metrics: dict) -> None:
        if self.writer is not None:
            for name, value in metrics.items():
                self.writer.add_scalar(f"val/{name}", value, trainer.step)
            self.writer.flush()

    def on_train_end(self, trainer, summary: dict) -> None:
        if self.writer is not None:
            self.writer.close()


class EarlyStopping(Callback):
    """Stop when the validation metric has not improved by ``min_delta`` for ``patience`` runs."""

    key = "early_stopping"

    def __init__(self, patience: int, min_delta: float, higher_is_better: bool = True) -> None:
        self.patience, self.min_delta = patience, min_delta
        self.sign = 1.0 if higher_is_better else -1.0
        self.best, self.bad = -math.inf, 0

    def on_validation_end(self, trainer, metrics: dict) -> None:
        score = self.sign * metrics[trainer.recipe.val.metric]
        if score > self.best + self.min_delta:
            self.best, self.bad = score, 0
        else:
            self.bad += 1
            if self.bad >= self.patience:
                trainer.stop_reason = (f"early stopping: no improvement in {self.patience} "
                                       "validations")

    def state_dict(self) -> dict:
        return {"best": self.best, "bad": self.bad}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.bad = state["best"], state["bad"]
