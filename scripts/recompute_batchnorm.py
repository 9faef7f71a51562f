"""Recompute the BatchNorm statistics of exported GAN generators for their own weights.

    python scripts/recompute_batchnorm.py gan-mnist gan-cifar10 gan-faces
    python scripts/recompute_batchnorm.py models/my-gan

``pixelsmith export-model`` (and ``scripts/ship_model.py``) do this for every GAN they export
(:mod:`pixelsmith.train.standing_stats`); this script brings a model exported before that up
to date in place, without its run folder. Only the BatchNorm buffers change, and the result
is the same however often it runs.
"""

from __future__ import annotations

import argparse
import sys

import torch

from pixelsmith.errors import PixelsmithError
from pixelsmith.train.families.synthesis import GANFamily
from pixelsmith.zoo import load_model, resolve_model_dir, save_model

WRITTEN_BY_SAVE = ("format", "format_version", "sha256", "storage_dtype")


def recompute(name_or_path: str) -> str:
    """Recompute one model's statistics and rewrite its folder; a line saying what changed."""
    network = load_model(name_or_path)
    config = dict(network.pixelsmith_config)
    if config.get("family") != "gan":
        raise PixelsmithError(f"{name_or_path}: not a GAN generator (family "
                              f"{config.get('family')!r})")
    before = {k: v.clone() for k, v in network.named_buffers()}
    note = GANFamily.finish_export(network)
    if not note:
        return f"{name_or_path}: no BatchNorm, left as it was"
    moved = max(float((before[k] - v).abs().max()) for k, v in network.named_buffers()
                if v.is_floating_point())
    dtype = config.get("storage_dtype")
    kept = {k: v for k, v in config.items() if k not in WRITTEN_BY_SAVE}
    save_model(resolve_model_dir(name_or_path), network, {**kept, **note},
               storage_dtype=getattr(torch, dtype) if dtype else None)
    return f"{name_or_path}: statistics recomputed (largest change {moved:.4g})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="shipped model names or model folders")
    args = parser.parse_args()
    try:
        for model in args.models:
            print(recompute(model))
    except PixelsmithError as error:
        print(f"recompute_batchnorm: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
