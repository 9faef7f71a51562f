"""The contract of a training family, and the helpers every family shares.

The Trainer, validation, resume and export call a family only through :class:`Family`: a
family builds its networks and training data from a recipe, takes one optimisation step,
validates the main network, and says what an exported model needs (channels, what must be
known at restore time, its task). Each family module (restoration, pix2pix, synthesis,
codec, classifier) subclasses it once.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from typing import Any, ClassVar

import torch
from torch.utils.data import Dataset

from pixelsmith.data.seeding import item_seed
from pixelsmith.train.config import Recipe

_STEP_STREAM = 0x57E9_5EED  # keeps step draws apart from data items' (seed, epoch, index)


class Family(ABC):
    """A model family the Trainer can train.

    Class attributes: ``main`` (the key of the network that is validated, EMA'd and
    exported) and ``optimized`` (the keys that get an optimiser). Instances set
    ``higher_is_better`` for their validation metric.
    """

    main: ClassVar[str] = "model"
    optimized: ClassVar[tuple[str, ...]] = ("model",)
    task: ClassVar[str | None] = None  # an exported model's task; None: the recipe's family
    higher_is_better: bool = True

    def __init__(self, recipe: Recipe, device: torch.device) -> None:
        self.recipe, self.device = recipe, device

    # -- export metadata (class-level: export has a recipe, not a built family) --------------
    @staticmethod
    @abstractmethod
    def channels(recipe: Recipe) -> int:
        """Image channels the exported model takes."""

    @staticmethod
    def needs(recipe: Recipe) -> list[str]:
        """What must be known at restore time besides the image (e.g. ``["sigma"]``)."""
        return []

    @classmethod
    def exported_task(cls, recipe: Recipe) -> str:
        """The ``task`` written to an exported model's config.json."""
        return cls.task or recipe.family

    @staticmethod
    def finish_export(network: torch.nn.Module) -> dict[str, Any]:
        """Last changes to the main network before it is exported; returns config entries."""
        return {}

    # -- training ----------------------------------------------------------------------------
    @abstractmethod
    def build_models(self) -> dict[str, torch.nn.Module]:
        """The networks by key, ``main`` among them."""

    def prepare_models(self, models: dict[str, torch.nn.Module]) -> None:  # noqa: B027
        """Called once the networks are on their device (fine-tuning, freezing); a no-op
        unless a family overrides it."""

    @abstractmethod
    def train_dataset(self) -> Dataset:
        """The training items (``set_epoch(epoch)`` is called when the dataset has it)."""

    @abstractmethod
    def train_step(self, batch: dict, trainer) -> dict:
        """One optimisation step on ``batch``; returns the values to log."""

    @abstractmethod
    def validate(self, model: torch.nn.Module) -> dict:
        """Validation metrics of ``model`` (the main network, or its EMA)."""


def step_generator(trainer, device: torch.device) -> torch.Generator:
    """The source of every random draw of one training step (latents, reparameterisation
    noise, DiffAugment), seeded from (train.seed, step, rank).

    A step's randomness thus depends on nothing else: not on torch's global RNG, which
    DataLoader iterators also draw from (one number per iterator, so a resumed run that
    starts an extra iterator mid-epoch would shift it), nor on validation. Resuming is
    exact without checkpointing any generator.
    """
    generator = torch.Generator(device=device)
    generator.manual_seed(item_seed(trainer.recipe.train.seed ^ _STEP_STREAM, trainer.step,
                                    trainer.dist.rank))
    return generator


@contextlib.contextmanager
def evaluating(model: torch.nn.Module, frozen: bool = False):
    """Eval mode (and, with ``frozen``, no parameter gradients) inside; restored after."""
    was_training = model.training
    flags = [p.requires_grad for p in model.parameters()]
    model.eval()
    if frozen:
        for param in model.parameters():
            param.requires_grad_(False)
    try:
        yield model
    finally:
        model.train(was_training)
        for param, flag in zip(model.parameters(), flags, strict=True):
            param.requires_grad_(flag)
