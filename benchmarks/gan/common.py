"""Constants, model options and feature scores shared by the parts of the GAN benchmark."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import torch

from pixelsmith.errors import PixelsmithError

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
RESULTS = DOCS / "results"
PAGE = DOCS / "BENCHMARKS.md"
SECTION = "gan"
PARTS = ("synthesis", "inpaint", "deblur")
KINDS = ("mnist", "cifar10", "faces")
TARGET_RATIO = 0.7  # GAN FID <= 0.7 x VAE FID (means over the sample draws)
DRAW_STRIDE = 1_000_000  # sample draw k uses seeds k * DRAW_STRIDE + 0, 500, 1000, ...
PSNR_SLACK = 1.5  # dB the GAN inpainter may lose to the L2 one
CHUNK = 50  # faces per restoration call
FIGURE_FACES, FIGURE_PHOTOS, FIGURE_CROP = 4, 3, 96
TILE = 32
QUANT_SIGMA = 1.0 / (255.0 * math.sqrt(12.0))  # std of 8-bit rounding

#: option -> (default source, what it must be: "task:<task>" or "<gan|vae>:<data kind>")
MODELS = {
    "gan_mnist": ("gan-mnist", "gan:mnist"), "gan_cifar10": ("gan-cifar10", "gan:cifar10"),
    "gan_faces": ("gan-faces", "gan:faces"), "vae_mnist": ("vae-mnist", "vae:mnist"),
    "vae_cifar10": ("vae-cifar10", "vae:cifar10"), "vae_faces": ("vae-faces", "vae:faces"),
    "inpaint_gan": ("inpaint-faces-gan", "task:inpaint"),
    "inpaint_l2": ("inpaint-faces-l2", "task:inpaint"),
    "inpaint_general": ("inpaint", "task:inpaint"),
    "deblur_gan": ("deblur-gan", "task:deblur"), "deblur_blind": ("deblur-blind", "task:deblur"),
}


def fail(message: str) -> None:
    print(f"benchmarks.gan: {message}", file=sys.stderr)
    sys.exit(2)


def note(message: str) -> None:
    print(f"benchmarks.gan: {message}", file=sys.stderr, flush=True)


# -- models -------------------------------------------------------------------------------------

def _check_model(source: str, option: str, want: str) -> None:
    """Stop (exit 2) when ``source`` is not the kind of model ``option`` takes."""
    from pixelsmith.restoration.vae import is_vae_config
    from pixelsmith.zoo import read_config, resolve_model_dir

    config = read_config(resolve_model_dir(source))
    what, value = want.split(":")
    network = config.get("network", {}).get("name")
    if what == "task":
        if config.get("task") != value:
            fail(f"{option} {source}: a model for task '{config.get('task')}', not '{value}'")
        return
    if what == "gan" and network != "dcgan-g":
        fail(f"{option} {source}: a '{network}' network, not a GAN generator (dcgan-g)")
    if what == "vae" and not is_vae_config(config):
        fail(f"{option} {source}: a '{network}' network, not a VAE")
    kind = config.get("training", {}).get("recipe", {}).get("data", {}).get("kind")
    if kind != value:
        fail(f"{option} {source}: trained on data kind {kind!r}, not {value!r}")


def resolve_models(args: argparse.Namespace) -> dict[str, str | None]:
    """Each model option's source, or None for a default that is not there (printed note);
    a model given on the command line that is missing or of the wrong kind stops the run."""
    from pixelsmith.zoo import resolve_model_dir

    found: dict[str, str | None] = {}
    for dest, (default, want) in MODELS.items():
        given = getattr(args, dest)
        option = "--" + dest.replace("_", "-")
        source = given or default
        try:
            resolve_model_dir(source)
        except PixelsmithError as exc:
            if given:
                fail(f"{option} {given}: {exc}")
            found[dest] = None
            continue
        _check_model(source, option, want)
        found[dest] = source
    return found


def plan_parts(parts: list[str], models: dict[str, str | None],
               args) -> list[str]:
    """The asked parts that can run, with a note for each comparison left out."""
    runnable = []
    if "synthesis" in parts:
        kinds = [k for k in KINDS if models[f"gan_{k}"]]
        for kind in KINDS:
            if not models[f"gan_{kind}"]:
                note(f"synthesis {kind}: skipped, no GAN (train configs/gan-{kind}.yaml and "
                     f"export it, or pass --gan-{kind} PATH)")
            elif not models[f"vae_{kind}"]:
                note(f"synthesis {kind}: no VAE '{MODELS[f'vae_{kind}'][0]}', the GAN is "
                     f"scored without its target (--vae-{kind} PATH)")
        if kinds:
            runnable.append("synthesis")
    if "inpaint" in parts:
        missing = [f"--{d.replace('_', '-')}" for d in ("inpaint_gan", "inpaint_l2")
                   if not models[d]]
        if missing:
            note(f"inpaint: skipped, no model for {' and '.join(missing)} "
                 "(configs/inpaint-faces-*.yaml)")
        else:
            runnable.append("inpaint")
            if not models["vae_faces"] and not args.no_vae_inpaint:
                note("inpaint: no faces VAE, its row is left out (--vae-faces PATH)")
    if "deblur" in parts:
        if models["deblur_gan"]:
            runnable.append("deblur")
        else:
            note("deblur: skipped, no deblur-gan (configs/deblur-gan.yaml, or --deblur-gan PATH)")
    return runnable


# -- feature scores -----------------------------------------------------------------------------

def scores_against(real: torch.Tensor, fake: torch.Tensor, num_classes: int | None = None,
                   labels: torch.Tensor | None = None) -> dict:
    """FID, KID, precision, recall of feature sets (None when too few for k = 3 neighbours),
    with class coverage / entropy / histogram of ``labels``."""
    from pixelsmith.metrics import features as fm

    out: dict = {"n": len(fake)}
    if min(len(real), len(fake)) >= 5:
        out.update(fm.feature_scores(real, fake, kid_subset_size=min(1000, len(real),
                                                                      len(fake))))
    else:
        out.update({key: None for key in ("fid", "kid", "kid_std", "precision", "recall")})
    if num_classes and labels is not None:
        out.update(class_spread(labels, num_classes))
    return out


def class_spread(labels: torch.Tensor, num_classes: int | None) -> dict:
    """Coverage, normalised entropy and histogram of the extractor's predicted classes."""
    from pixelsmith.metrics.features import class_coverage

    if not num_classes:
        return {}
    spread = class_coverage(labels, num_classes)
    return {"coverage": spread["coverage"], "class_entropy": spread["entropy"],
            "class_counts": np.bincount(labels.numpy(), minlength=num_classes).tolist()}
