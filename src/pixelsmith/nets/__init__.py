"""Plain ``nn.Module`` architectures: they only compute (no training logic, no file I/O).

``NETWORKS`` maps the names used in recipes and ``config.json`` files to their classes, so a
saved model is rebuilt from its name and constructor arguments, never from pickled code.
"""

from __future__ import annotations

import importlib

from pixelsmith.errors import PixelsmithError

#: name -> "module:Class"; imported on first use so ``import pixelsmith.nets`` stays cheap.
NETWORKS: dict[str, str] = {
    "dncnn": "pixelsmith.nets.dncnn:DnCNN",
    "conv-ae": "pixelsmith.nets.autoencoder:ConvAutoencoder",
    "conv-vae": "pixelsmith.nets.autoencoder:ConvVAE",
    "dcgan-g": "pixelsmith.nets.dcgan:DCGANGenerator",
    "dcgan-d": "pixelsmith.nets.dcgan:DCGANDiscriminator",
    "patchgan": "pixelsmith.nets.patchgan:PatchGAN",
    "unet": "pixelsmith.nets.unet:ConditionedUNet",
    "ffdnet": "pixelsmith.nets.ffdnet:FFDNet",
    "nafnet": "pixelsmith.nets.nafnet:NAFNet",
    "codec-factorized": "pixelsmith.codec.models:FactorizedPrior",
    "codec-hyperprior": "pixelsmith.codec.models:MeanScaleHyperprior",
    "codec-ae": "pixelsmith.codec.models:ConvAECodec",
    "codec-checkerboard": "pixelsmith.codec.checkerboard:CheckerboardHyperprior",
    "edsr": "pixelsmith.nets.edsr:EDSR",
    "feature-classifier": "pixelsmith.nets.classifier:FeatureClassifier",
}


def build_network(name: str, args: dict | None = None):
    """Instantiate the network ``name`` with constructor ``args`` (one-line error if unknown)."""
    if name not in NETWORKS:
        raise PixelsmithError(f"unknown network '{name}' (choose from {', '.join(NETWORKS)})")
    module_name, class_name = NETWORKS[name].split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    try:
        return cls(**(args or {}))
    except (TypeError, ValueError, RuntimeError, KeyError) as exc:  # wrong names or values
        raise PixelsmithError(f"network '{name}': bad arguments ({exc})") from None
