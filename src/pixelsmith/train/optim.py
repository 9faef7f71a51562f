"""Optimisers and learning-rate schedules from a recipe (warm-up, cosine, linear, step, plateau)."""

from __future__ import annotations

import math

import torch

from pixelsmith.train.config import OptimConfig, ScheduleConfig


def build_optimizer(params, config: OptimConfig) -> torch.optim.Optimizer:
    """Adam, AdamW or SGD; ``weight_decay`` is L2 (Adam, SGD) or decoupled decay (AdamW)."""
    params = [p for p in params if p.requires_grad]
    if config.name == "adam":
        return torch.optim.Adam(params, lr=config.lr, betas=config.betas,
                                weight_decay=config.weight_decay)
    if config.name == "adamw":
        return torch.optim.AdamW(params, lr=config.lr, betas=config.betas,
                                 weight_decay=config.weight_decay)
    return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum,
                           weight_decay=config.weight_decay)


def lr_factor(step: int, total: int, config: ScheduleConfig, base_lr: float) -> float:
    """Multiplier of the base learning rate at ``step`` (plateau is handled at validation)."""
    if config.warmup_steps and step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    if config.name == "cosine":
        span = max(total - config.warmup_steps, 1)
        progress = min((step - config.warmup_steps) / span, 1.0)
        floor = config.min_lr / base_lr
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    if config.name == "linear":
        # Constant, then a straight line to min_lr at the last step (SNGAN, BigGAN): a GAN's
        # samples settle as the steps shrink, and the run can be resumed into its decay.
        start = max(config.decay_start, config.warmup_steps)
        if step < start:
            return 1.0
        progress = min((step - start) / max(total - start, 1), 1.0)
        floor = config.min_lr / base_lr
        return floor + (1 - floor) * (1 - progress)
    if config.name == "step":
        return config.gamma ** ((step - config.warmup_steps) // config.step_size)
    return 1.0


class Schedule:
    """Per-step schedule plus an optional reduce-on-plateau factor; its state is checkpointed."""

    def __init__(self, optimizer: torch.optim.Optimizer, config: ScheduleConfig, total: int):
        self.optimizer, self.config, self.total = optimizer, config, total
        self.base_lrs = [group["lr"] for group in optimizer.param_groups]
        self.plateau_factor, self.best, self.bad_validations = 1.0, -math.inf, 0

    def step(self, step: int) -> None:
        """Set the learning rate for optimisation step ``step``."""
        for group, base in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
            factor = lr_factor(step, self.total, self.config, base)
            group["lr"] = base * factor * self.plateau_factor

    def validated(self, score: float) -> None:
        """Plateau schedule: multiply by gamma after ``patience`` validations without progress."""
        if self.config.name != "plateau":
            return
        if score > self.best:
            self.best, self.bad_validations = score, 0
        else:
            self.bad_validations += 1
            if self.bad_validations >= self.config.patience:
                self.plateau_factor *= self.config.gamma
                self.bad_validations = 0

    def state_dict(self) -> dict:
        return {"plateau_factor": self.plateau_factor, "best": self.best,
                "bad_validations": self.bad_validations}

    def load_state_dict(self, state: dict) -> None:
        self.plateau_factor = state["plateau_factor"]
        self.best, self.bad_validations = state["best"], state["bad_validations"]
