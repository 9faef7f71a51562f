"""One training loop for every model family; the family supplies the maths, callbacks the rest.

The Trainer owns what every family shares: devices and processes, optimisers and schedules,
mixed precision, gradient clipping, EMA, validation timing, checkpoints and exact resume.
A family (restoration, VAE, GAN, ...) builds its networks and data and implements
``train_step(batch, trainer)``, calling :meth:`Trainer.optimize` for each optimiser it steps.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from pixelsmith.errors import PixelsmithError
from pixelsmith.io import atomic_write_text, check_output_folder, output_folder
from pixelsmith.runtime.device import resolve_device
from pixelsmith.runtime.precision import warn_slow_precision
from pixelsmith.sysinfo import machine_summary
from pixelsmith.train import callbacks as cb
from pixelsmith.train import distributed
from pixelsmith.train.checkpoint import (
    BEST,
    LAST,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
    snapshot_name,
)
from pixelsmith.train.config import Recipe, dump_recipe
from pixelsmith.train.ema import make_ema
from pixelsmith.train.optim import Schedule, build_optimizer
from pixelsmith.train.sampler import EpochBatchSampler


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch; optionally ask torch for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


class Trainer:
    """Train ``recipe`` into ``output``; ``resume`` continues from ``output/last.pt``."""

    def __init__(self, recipe: Recipe, output: str | Path | None = None, *, resume: bool = False,
                 max_steps: int | None = None, device: str | None = None, progress: bool = True,
                 extra_callbacks: list[cb.Callback] | None = None) -> None:
        from pixelsmith.train.families import build_family

        self.recipe = recipe
        self.output = check_output_folder(Path(output or recipe.output))  # before any data
        self.device = resolve_device(device)
        self.dist = distributed.setup(self.device)
        if self.device.type == "cuda" and self.dist.enabled:
            self.device = torch.device("cuda", self.dist.local_rank)
            torch.cuda.set_device(self.device)
        if recipe.train.precision == "fp16" and self.device.type != "cuda":
            raise PixelsmithError("train.precision fp16 needs a CUDA device; use bf16 on CPU")
        warn_slow_precision(self.device.type, recipe.train.precision,
                            option="train.precision:", fp32="--set train.precision=fp32")
        seed_everything(recipe.train.seed, recipe.train.deterministic)

        self.family = build_family(recipe, self.device)
        self.models = {k: m.to(self.device) for k, m in self.family.build_models().items()}
        if recipe.train.channels_last:
            for model in self.models.values():
                model.to(memory_format=torch.channels_last)
        self.family.prepare_models(self.models)
        self.optimizers = {k: build_optimizer(m.parameters(), recipe.optim)
                           for k, m in self.models.items() if k in self.family.optimized}
        self.dataset = self.family.train_dataset()
        self.sampler = EpochBatchSampler(len(self.dataset), recipe.train.batch_size,
                                         recipe.train.seed, self.dist.rank, self.dist.world_size)
        self.batches_per_epoch = len(self.dataset) // recipe.train.batch_size
        planned = recipe.train.steps or recipe.train.epochs * self.batches_per_epoch
        self.total_steps = min(planned, max_steps) if max_steps else planned
        self.schedules = {k: Schedule(o, recipe.schedule, planned)
                          for k, o in self.optimizers.items()}
        self.scaler = torch.amp.GradScaler(self.device.type,
                                           enabled=recipe.train.precision == "fp16")
        main = self.models[self.family.main]
        self.ema = (make_ema(main, recipe.train.ema_decay, warmup=recipe.train.ema_warmup)
                    if recipe.train.ema_decay else None)
        self.wrapped = self._compiled(self._wrap_ddp())

        self.step, self.epoch, self.batch_in_epoch = 0, 0, 0
        self.best_metric, self.best_step = -math.inf, 0
        self.stop_reason: str | None = None
        self.callbacks = self._callbacks(progress, extra_callbacks or [])
        if resume:
            self._resume()

    # -- set-up -------------------------------------------------------------------------------

    def _compiled(self, wrapped: dict[str, torch.nn.Module]) -> dict[str, torch.nn.Module]:
        """With ``train.compile``, the trained networks run their training steps through
        ``torch.compile`` (docs/BENCHMARKS.md, "Training throughput", measures it per recipe);
        validation, the EMA copy and checkpoints keep the plain modules, so saved weights are
        unchanged."""
        if not self.recipe.train.compile:
            return wrapped
        if self.device.type == "cpu" and not any(
                shutil.which(name) for name in ("c++", "g++", "clang++")):
            raise PixelsmithError("train.compile needs a C++ compiler on CPU and none was "
                                  "found (install g++, or set train.compile: false)")
        return {k: torch.compile(m) if k in self.optimizers else m for k, m in wrapped.items()}

    def _wrap_ddp(self) -> dict[str, torch.nn.Module]:
        if not self.dist.enabled:
            return dict(self.models)
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return {k: DistributedDataParallel(m, device_ids=ids) if k in self.optimizers else m
                for k, m in self.models.items()}

    def _callbacks(self, progress: bool, extra: list[cb.Callback]) -> list[cb.Callback]:
        callbacks: list[cb.Callback] = []
        if self.dist.is_main:
            if progress:
                callbacks.append(cb.ProgressBar())
            callbacks += [cb.JsonlLogger(self.output / "metrics.jsonl"),
                          cb.TensorBoardLogger(self.output / "tensorboard")]
        stopping = self.recipe.early_stopping
        if stopping.patience:
            callbacks.append(cb.EarlyStopping(stopping.patience, stopping.min_delta,
                                              self.family.higher_is_better))
        return callbacks + extra

    # -- what families call -------------------------------------------------------------------

    def autocast(self):
        """The mixed-precision context of the recipe (a no-op for fp32)."""
        precision = self.recipe.train.precision
        if precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def optimize(self, loss: torch.Tensor, key: str) -> None:
        """Backward ``loss`` and step optimiser ``key`` (scaling, clipping, EMA handled here)."""
        optimizer = self.optimizers[key]
        optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.recipe.train.grad_clip:
            self.scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(self.models[key].parameters(),
                                           self.recipe.train.grad_clip)
        self.scaler.step(optimizer)
        self.scaler.update()
        if key == self.family.main and self.ema is not None:
            self.ema.update_parameters(self.models[key])

    def to_device(self, batch):
        """Move a collated batch (tensors, dicts, lists) to the training device."""
        if isinstance(batch, torch.Tensor):
            memory = (torch.channels_last if self.recipe.train.channels_last and batch.ndim == 4
                      else torch.contiguous_format)
            return batch.to(self.device, non_blocking=True, memory_format=memory)
        if isinstance(batch, dict):
            return {k: self.to_device(v) for k, v in batch.items()}
        if isinstance(batch, (list, tuple)):
            return type(batch)(self.to_device(v) for v in batch)
        return batch

    def current_lr(self) -> float:
        optimizer = self.optimizers[self.family.main]
        return float(optimizer.param_groups[0]["lr"])

    def eval_model(self) -> torch.nn.Module:
        """The weights to validate and export: the EMA copy when there is one."""
        return self.ema.module if self.ema is not None else self.models[self.family.main]

    # -- checkpoints ----------------------------------------------------------------------------

    def state_dict(self) -> dict:
        return {
            "step": self.step, "epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch,
            "best_metric": self.best_metric, "best_step": self.best_step,
            "models": {k: m.state_dict() for k, m in self.models.items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "schedules": {k: s.state_dict() for k, s in self.schedules.items()},
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "scaler": self.scaler.state_dict(),
            "callbacks": {c.key: c.state_dict() for c in self.callbacks if c.key},
            "rng": rng_state(),
            "recipe": self.recipe.model_dump(mode="json"),
        }

    def save(self, name: str = LAST) -> Path | None:
        """Write a checkpoint (rank 0 only); returns its path."""
        if not self.dist.is_main:
            return None
        path = self.output / name
        save_checkpoint(path, self.state_dict())
        return path

    def _resume(self) -> None:
        state = load_checkpoint(self.output / LAST)
        for key, model in self.models.items():
            model.load_state_dict(state["models"][key])
        for key, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][key])
        for key, schedule in self.schedules.items():
            schedule.load_state_dict(state["schedules"][key])
        if self.ema is not None and state["ema"] is not None:
            self.ema.load_state_dict(state["ema"])
        self.scaler.load_state_dict(state["scaler"])
        for callback in self.callbacks:
            if callback.key in state["callbacks"]:
                callback.load_state_dict(state["callbacks"][callback.key])
        self.step, self.epoch = state["step"], state["epoch"]
        self.batch_in_epoch = state["batch_in_epoch"]
        self.best_metric, self.best_step = state["best_metric"], state["best_step"]
        set_rng_state(state["rng"])

    # -- the loop -------------------------------------------------------------------------------

    def _loader(self) -> torch.utils.data.DataLoader:
        from pixelsmith.data.seeding import worker_init_fn

        workers = self.recipe.data.num_workers
        # Its own generator: a DataLoader otherwise draws its base seed from torch's global
        # RNG, so the extra loader a resumed run starts mid-epoch would shift every later draw.
        generator = torch.Generator().manual_seed(self.recipe.train.seed * 100_003 + self.epoch)
        return torch.utils.data.DataLoader(
            self.dataset, batch_sampler=self.sampler, num_workers=workers,
            worker_init_fn=worker_init_fn if workers else None,
            pin_memory=self.device.type == "cuda", generator=generator,
        )

    def validate(self) -> dict:
        """Run the family's validation on rank 0 and keep the best weights."""
        metrics = self.family.validate(self.eval_model()) if self.dist.is_main else {}
        if self.dist.is_main:
            name = self.recipe.val.metric
            score = metrics[name] if self.family.higher_is_better else -metrics[name]
            for schedule in self.schedules.values():
                schedule.validated(score)
            if score > self.best_metric:
                self.best_metric, self.best_step = score, self.step
                self.save(BEST)
            for callback in self.callbacks:
                callback.on_validation_end(self, metrics)
        return metrics

    def fit(self) -> dict:
        """Train until the step budget, early stopping or Ctrl-C (which saves a checkpoint)."""
        if self.dist.is_main:
            output_folder(self.output)
            atomic_write_text(self.output / "recipe.yaml", dump_recipe(self.recipe))
        for callback in self.callbacks:
            callback.on_train_start(self)
        started, start_step = time.time(), self.step
        try:
            self._loop()
        except KeyboardInterrupt:
            self.save()
            self.stop_reason = "interrupted"
            summary = self.summary(time.time() - started, self.step - start_step)
            for callback in self.callbacks:  # close writers and bars, so the process can exit
                callback.on_train_end(self, summary)
            distributed.teardown(wait_for_all=False)  # the other ranks may be gone already
            raise
        finally:
            elapsed = time.time() - started
        if self.step > start_step and self.stop_reason != "interrupted":
            if self.step % self.recipe.val.every:
                self.validate()
            self.save()
        summary = self.summary(elapsed, self.step - start_step)
        for callback in self.callbacks:
            callback.on_train_end(self, summary)
        distributed.teardown()
        return summary

    def _loop(self) -> None:
        val_every, ckpt_every = self.recipe.val.every, self.recipe.train.checkpoint_every
        keep_every = self.recipe.train.keep_every
        while self.step < self.total_steps and self.stop_reason is None:
            if hasattr(self.dataset, "set_epoch"):
                self.dataset.set_epoch(self.epoch)
            self.sampler.set_epoch(self.epoch, self.batch_in_epoch)
            for batch in self._loader():
                for model in self.models.values():
                    model.train()
                for schedule in self.schedules.values():
                    schedule.step(self.step)
                logs = self.family.train_step(self.to_device(batch), self)
                self.step += 1
                self.batch_in_epoch += 1
                for callback in self.callbacks:
                    callback.on_step_end(self, logs)
                if self.step % val_every == 0:
                    self.validate()
                    self._share_stop_decision()
                if self.step % ckpt_every == 0:
                    self.save()
                if keep_every and self.step % keep_every == 0:
                    self.save(snapshot_name(self.step))
                if self.step >= self.total_steps or self.stop_reason is not None:
                    break
            else:
                self.epoch += 1
                self.batch_in_epoch = 0

    def _share_stop_decision(self) -> None:
        """Rank 0 validates and decides on early stopping; every rank follows it."""
        if self.dist.enabled:
            stop = distributed.broadcast_flag(self.stop_reason is not None, self.dist)
            if stop and self.stop_reason is None:
                self.stop_reason = "early stopping (decided on rank 0)"

    def summary(self, elapsed: float, steps_run: int) -> dict:
        """What the run achieved; written to ``summary.json`` in the run folder."""
        name = self.recipe.val.metric
        best = self.best_metric if self.family.higher_is_better else -self.best_metric
        summary = {
            "name": self.recipe.name,
            "steps": self.step,
            "steps_this_run": steps_run,
            "best_metric": {name: None if math.isinf(best) else best, "step": self.best_step},
            "wall_seconds": elapsed,
            "images_per_second": steps_run * self.recipe.train.batch_size / max(elapsed, 1e-9),
            "stopped": self.stop_reason or "step budget reached",
            "device": str(self.device),
            "processes": self.dist.world_size,
            "machine": machine_summary(),
        }
        if self.dist.is_main:
            atomic_write_text(self.output / "summary.json", json.dumps(summary, indent=2) + "\n")
        return summary
