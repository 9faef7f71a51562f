"""Part deblur: CBSD68 blurred by the deblur-gan recipe's camera shake, every method."""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from benchmarks.gan.common import (
    FIGURE_CROP,
    FIGURE_PHOTOS,
    QUANT_SIGMA,
    TILE,
    fail,
    note,
    scores_against,
)
from benchmarks.gan.inpaint import method_column
from pixelsmith.io import quantize

# -- part: deblurring ---------------------------------------------------------------------------

def photo_files(args: argparse.Namespace, limit: int | None) -> list[Path]:
    """The deblurring images: ``--deblur-data`` as given or below $PIXELSMITH_DATA."""
    from pixelsmith.io import list_images
    from pixelsmith.train.datasets import data_path

    root = data_path(args.deblur_data)
    files = list_images(root) if root.exists() else []
    if not files:
        fail(f"--deblur-data {root}: no images")
    return files[:limit or None]


def photo_cases(args: argparse.Namespace, files: list[Path]) -> Iterator[tuple]:
    """(name, clean, blurred input, sigma, kernel) per image, drawn by the recipe's
    generator from ``image_generator(seed, index)``."""
    from pixelsmith.data.patches import known_from_item
    from pixelsmith.degrade.draws import degrade_patch
    from pixelsmith.evaluate.protocol import image_generator
    from pixelsmith.io import read_image
    from pixelsmith.train.config import load_recipe
    from pixelsmith.train.families.restoration import degradation_spec

    recipe = load_recipe(args.deblur_recipe)
    spec = dataclasses.replace(degradation_spec(recipe), boundary=args.boundary)
    for index, path in enumerate(files):
        item = degrade_patch(spec, read_image(path, gray=False), image_generator(args.seed, index))
        known = known_from_item(item, "deblur")
        yield (path.name, item["clean"][None], item["degraded"][None], float(known.sigma),
               known.kernel)


def tiles(image: torch.Tensor, size: int = TILE) -> torch.Tensor:
    """Non-overlapping ``size`` x ``size`` tiles of a (1, C, H, W) image from its top left."""
    _, c, h, w = image.shape
    x = image[..., :h - h % size, :w - w % size]
    x = x.unfold(2, size, size).unfold(3, size, size)  # (1, C, nh, nw, s, s)
    return x.permute(0, 2, 3, 1, 4, 5).reshape(-1, c, size, size)


def deblur_methods(models: dict, args: argparse.Namespace) -> list[tuple[str, str]]:
    out = [("GAN", models["deblur_gan"])]
    if models["deblur_blind"]:
        out.append(("L1", models["deblur_blind"]))
    out += [("true kernel", name) for name in args.deblur_baselines]
    return out + [("input", "identity")]


def part_deblur(args: argparse.Namespace, models: dict, limit: int | None, features: bool = True
                ) -> tuple[dict, list]:
    from pixelsmith.degrade.known import Known
    from pixelsmith.evaluate.protocol import EvalParams, score
    from pixelsmith.metrics.features import extract_features, load_extractor
    from pixelsmith.restoration.restorer import Restorer

    methods = deblur_methods(models, args)
    restorers = {source: Restorer("deblur", source, device=args.device)
                 for _, source in methods}
    extractor = load_extractor("features-cifar10") if features else None
    params = EvalParams("deblur")
    per: list[list] = [[] for _ in methods]
    feats: list[list] = [[] for _ in methods]
    real_feats, sigmas, crops = [], [], []
    files = photo_files(args, limit)
    for index, (name, clean, y, sigma, kernel) in enumerate(
            tqdm(photo_cases(args, files), total=len(files), desc="deblur images",
                 unit="image")):
        sigmas.append(sigma)
        if features:
            real_feats.append(extract_features(tiles(clean), extractor)[0])
        cells = []
        for column, (label, source) in enumerate(methods):
            blind = label in ("GAN", "L1") or source == "identity"
            known = Known() if blind else Known(sigma=math.hypot(sigma, QUANT_SIGMA),
                                                kernel=kernel)
            start = time.perf_counter()
            out = restorers[source](y, known)
            seconds = time.perf_counter() - start
            out = quantize(out.float())
            per[column].append((*score(out, clean, params), seconds))
            if features:
                feats[column].append(extract_features(tiles(out), extractor)[0])
            if index < FIGURE_PHOTOS and source != "identity":
                cells.append((method_column(label, source) if label != "true kernel" else source,
                              _crop(out)))
        if index < FIGURE_PHOTOS:
            crops.append((name, [("input", _crop(y)), *cells, ("ground truth", _crop(clean))]))
    rows = []
    real = torch.cat(real_feats) if features else None
    for column, (label, source) in enumerate(methods):
        values = np.array(per[column])
        row = {"method": source, "role": label, "psnr": float(values[:, 0].mean()),
               "ssim": float(values[:, 1].mean()),
               "seconds_per_image": 0.0 if source == "identity" else float(values[:, 2].mean())}
        if features:
            row.update(scores_against(real, torch.cat(feats[column])))
        rows.append(row)
        if features:
            note(f"deblur {source}: PSNR {row['psnr']:.2f}, FID {row.get('fid')}")
    result = {"images": len(files), "data": args.deblur_data, "boundary": args.boundary,
              "tiles": 0 if real is None else len(real), "mean_sigma": 255 * float(np.mean(sigmas)),
              "recipe": str(args.deblur_recipe), "rows": rows}
    return result, crops


def _crop(image: torch.Tensor) -> torch.Tensor:
    from benchmarks.gan_figures import center_crop

    return center_crop(image, FIGURE_CROP)
