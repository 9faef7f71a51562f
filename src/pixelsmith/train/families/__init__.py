"""Model families the Trainer can train; each supplies networks, data, a step and validation.

Every family subclasses :class:`~pixelsmith.train.families.base.Family` (the contract the
Trainer, validation, resume and export rely on); this registry maps a recipe's ``family``
name to its class, imported when first used.
"""

from __future__ import annotations

import importlib

import torch

from pixelsmith.errors import PixelsmithError
from pixelsmith.train.config import Recipe
from pixelsmith.train.families.base import Family

FAMILIES: dict[str, str] = {
    "restoration": "pixelsmith.train.families.restoration:RestorationFamily",
    "pix2pix": "pixelsmith.train.families.pix2pix:Pix2PixFamily",
    "autoencoder": "pixelsmith.train.families.synthesis:AutoencoderFamily",
    "vae": "pixelsmith.train.families.synthesis:VAEFamily",
    "gan": "pixelsmith.train.families.synthesis:GANFamily",
    "codec": "pixelsmith.train.families.codec:CodecFamily",
    "classifier": "pixelsmith.train.families.classifier:ClassifierFamily",
}


def family_class(name: str) -> type[Family]:
    """The class implementing family ``name``."""
    if name not in FAMILIES:
        raise PixelsmithError(
            f"family '{name}' has no trainer yet (available: {', '.join(FAMILIES)})"
        )
    module_name, class_name = FAMILIES[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def build_family(recipe: Recipe, device: torch.device) -> Family:
    """An instance of the recipe's family, ready to build its networks and data."""
    return family_class(recipe.family)(recipe, device)
