"""Part synthesis: GAN samples against the VAE's of the same data (FID over draws)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from benchmarks.gan.common import (
    DRAW_STRIDE,
    KINDS,
    TARGET_RATIO,
    class_spread,
    note,
    scores_against,
)

# -- part: synthesis ----------------------------------------------------------------------------

def part_synthesis(args: argparse.Namespace, models: dict, images: Path | None) -> dict:
    from benchmarks.vae import EXTRACTOR_OF, draw_samples, split_data
    from pixelsmith.metrics.features import extract_features, feature_statistics, load_extractor
    from pixelsmith.zoo import load_model

    rows, grids = [], {}
    kinds = [k for k in KINDS if models[f"gan_{k}"]]
    for kind in tqdm(kinds, desc="synthesis", unit="data set"):
        data = split_data(kind, args.limit)
        real = data["test_x"]
        n = len(real)
        extractor = load_extractor(EXTRACTOR_OF[kind])
        classes = getattr(extractor, "num_classes", None)
        real_feats, real_labels = extract_features(real, extractor)
        real_stats = feature_statistics(real_feats) if n >= 5 else None  # else no FID at all
        generator = torch.Generator().manual_seed(1)
        floor = data["train_x"][torch.randperm(len(data["train_x"]), generator=generator)[:n]]
        feats, labels = extract_features(floor, extractor)
        rows.append({"data": kind, "model": "training images (floor)", "role": "floor",
                     **scores_against(real_feats, feats, classes, labels),
                     "held_out_classes": class_spread(real_labels, classes)})
        for role in ("vae", "gan"):
            source = models[f"{role}_{kind}"]
            if source is None:
                continue
            model = load_model(source)
            start = time.perf_counter()
            samples = draw_samples(model, n)
            seconds = time.perf_counter() - start
            feats, labels = extract_features(samples, extractor)
            row = {"data": kind, "model": source, "role": role, "seconds": seconds,
                   **scores_against(real_feats, feats, classes, labels)}
            row.update(fid_over_draws(model, n, args.draws, real_stats, extractor, row["fid"]))
            rows.append(row)
            note(f"synthesis {kind} {source}: FID {row['fid']}, recall {row['recall']}, "
                 f"coverage {row.get('coverage')}")
            path = None if images is None else images / f"{Path(source).name}-samples.png"
            if path is not None and role == "gan":
                from benchmarks.gan_figures import save_sample_grid

                save_sample_grid(path, model.sample(64, seed=0))
                grids[source] = path.name
            elif path is not None and path.is_file():  # the VAE's grid from benchmarks/vae.py
                grids[source] = path.name
    for kind in kinds:
        by_role = {r["role"]: r for r in rows if r["data"] == kind}
        gan, vae = by_role.get("gan"), by_role.get("vae")
        if gan and vae and gan["fid_mean"] is not None and vae["fid_mean"] is not None:
            bound = TARGET_RATIO * vae["fid_mean"]
            gan["target"] = {"vae_fid": vae["fid_mean"], "bound": bound,
                             "ratio": gan["fid_mean"] / vae["fid_mean"],
                             "met": gan["fid_mean"] <= bound}
    return {"rows": rows, "grids": grids}


def fid_over_draws(model: torch.nn.Module, n: int, draws: int, real_stats: tuple | None,
                   extractor: torch.nn.Module, first: float | None) -> dict:
    """FID of ``draws`` independent draws of ``n`` samples (the first already scored as
    ``first``) against the held-out images' feature ``real_stats`` (mean, covariance): a single
    draw's FID moves by a few tenths with the sample seeds alone."""
    from benchmarks.vae import draw_samples
    from pixelsmith.metrics.features import (
        extract_features,
        feature_statistics,
        frechet_from_statistics,
    )

    if first is None:
        return {"fid_draws": [], "fid_mean": None, "fid_std": None}
    fids = [first]
    for k in range(1, draws):
        feats, _ = extract_features(draw_samples(model, n, first_seed=k * DRAW_STRIDE),
                                    extractor)
        fids.append(frechet_from_statistics(*real_stats, *feature_statistics(feats)))
    spread = float(np.std(fids, ddof=1)) if len(fids) > 1 else None
    return {"fid_draws": fids, "fid_mean": float(np.mean(fids)), "fid_std": spread}
