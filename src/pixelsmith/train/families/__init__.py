"""Model families the Trainer can train; each supplies networks, data, a step and validation.

A family class has: ``main`` (the key of the network that is validated and exported),
``optimized`` (keys with an optimiser), ``channels(recipe)``/``needs(recipe)`` (for export),
and methods ``build_models``, ``prepare_models``, ``train_dataset``, ``train_step``,
``validate``, plus the attribute ``higher_is_better`` of its validation metric.
"""

from __future__ import annotations

import importlib

from pixelsmith.errors import PixelsmithError

FAMILIES: dict[str, str] = {
    "restoration": "pixelsmith.train.families.restoration:RestorationFamily",
    "pix2pix": "pixelsmith.train.families.pix2pix:Pix2PixFamily",
    "autoencoder": "pixelsmith.train.families.synthesis:AutoencoderFamily",
    "vae": "pixelsmith.train.families.synthesis:VAEFamily",
    "gan": "pixelsmith.train.families.synthesis:GANFamily",
    "codec": "pixelsmith.train.families.codec:CodecFamily",
    "classifier": "pixelsmith.train.families.classifier:ClassifierFamily",
}


def family_class(name: str):
    """The class implementing family ``name``."""
    if name not in FAMILIES:
        raise PixelsmithError(
            f"family '{name}' has no trainer yet (available: {', '.join(FAMILIES)})"
        )
    module_name, class_name = FAMILIES[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def build_family(recipe, device):
    """An instance of the recipe's family, ready to build its networks and data."""
    return family_class(recipe.family)(recipe, device)
