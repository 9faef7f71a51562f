"""Part inpaint: held-out UTKFace faces, one recipe mask each, every inpainting method."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from benchmarks.gan.common import CHUNK, FIGURE_FACES, PSNR_SLACK, note, scores_against
from pixelsmith.io import quantize

# -- part: face inpainting ----------------------------------------------------------------------

def held_out_faces(recipe_path: Path, limit: int | None, seed: int) -> dict:
    """The faces the recipe holds out and never validates on, each with its mask."""
    from pixelsmith.data import DegradedImages
    from pixelsmith.data.images import SynthesisItems
    from pixelsmith.train.config import load_recipe
    from pixelsmith.train.datasets import synthesis_datasets
    from pixelsmith.train.families.restoration import degradation_spec

    recipe = load_recipe(recipe_path)
    size = recipe.data.image_size
    whole = recipe.model_copy(update={"val": recipe.val.model_copy(update={"limit": None})})
    _, val = synthesis_datasets(whole, 3, size)
    skip = recipe.val.limit or 0
    indices = val.indices[skip:]
    if limit:
        indices = indices[:limit]
    faces = SynthesisItems(val.base, indices, size=size, channels=3)
    items = DegradedImages(faces, degradation_spec(recipe), seed=seed)
    stacked = [items[i] for i in tqdm(range(len(items)), desc="faces + masks", unit="face")]
    mask = torch.stack([item["mask"] for item in stacked])
    return {"clean": torch.stack([item["clean"] for item in stacked]),
            "degraded": torch.stack([item["degraded"] for item in stacked]),
            "mask": mask, "recipe": recipe,
            "note": (f"{len(indices)} faces: the {len(val)} held out by {recipe_path.name} "
                     f"(data {recipe.data.train}, seed {recipe.train.seed}) without the first "
                     f"{skip}, which select checkpoints"),
            "coverage": float(mask.mean())}


def _recipe_differences(source: str, recipe) -> list[str]:
    """Fields of ``source``'s training recipe that differ from the protocol recipe's."""
    from pixelsmith.zoo import read_config, resolve_model_dir

    stored = read_config(resolve_model_dir(source)).get("training", {}).get("recipe")
    if stored is None:
        return []
    ours = recipe.model_dump(mode="json")
    keys = (("data", "train"), ("data", "kind"), ("data", "image_size"), ("train", "seed"),
            ("val", "limit"), ("degradation",))
    out = []
    for key in keys:
        a, b = ours, stored
        for part in key:
            a, b = (a or {}).get(part), (b or {}).get(part)
        if key == ("degradation",):
            a = {k: v for k, v in (a or {}).items() if v is not None}
            b = {k: v for k, v in (b or {}).items() if v is not None}
        if a != b:
            out.append(f"{'.'.join(key)} {b!r} (protocol: {a!r})")
    return out


def inpaint_methods(models: dict, args: argparse.Namespace) -> list[tuple[str, str]]:
    """(label, method source) in table order; "input" is the masked face itself."""
    out = [("GAN", models["inpaint_gan"]), ("L2", models["inpaint_l2"])]
    if models["inpaint_general"]:
        out.append(("general", models["inpaint_general"]))
    out.append(("classical", "biharmonic"))
    if models["vae_faces"] and not args.no_vae_inpaint:
        out.append(("VAE", models["vae_faces"]))
    return out + [("input", "input")]


def part_inpaint(args: argparse.Namespace, models: dict, limit: int | None, features: bool = True
                 ) -> tuple[dict, list]:
    from pixelsmith.degrade.known import Known
    from pixelsmith.evaluate.protocol import EvalParams, missing_psnr, score
    from pixelsmith.metrics.features import extract_features, load_extractor
    from pixelsmith.restoration.restorer import Restorer

    faces = held_out_faces(args.faces_recipe, limit, args.seed)
    x, y, mask = faces["clean"], faces["degraded"], faces["mask"]
    params = EvalParams("inpaint")
    extractor = load_extractor("features-faces") if features else None
    real_feats = extract_features(x, extractor)[0] if features else None
    results, outputs = [], {}
    methods = inpaint_methods(models, args)
    for label, source in methods:
        if label in ("GAN", "L2"):
            for line in _recipe_differences(source, faces["recipe"]):
                note(f"inpaint: {source} was trained with {line}")
    for label, source in tqdm(methods, desc="inpaint methods", unit="method"):
        start = time.perf_counter()
        if source == "input":
            out = y.clone()
        else:
            restorer = Restorer("inpaint", source, device=args.device)
            out = torch.cat([restorer(y[i:i + CHUNK], Known(mask=mask[i:i + CHUNK]))
                             for i in tqdm(range(0, len(y), CHUNK), desc=source, unit="chunk",
                                           leave=False)])
        seconds = time.perf_counter() - start
        out = quantize(out.float())
        outputs[label] = out[:FIGURE_FACES]
        per = [(*score(out[i:i + 1], x[i:i + 1], params),
                missing_psnr(out[i:i + 1], x[i:i + 1], mask[i:i + 1])) for i in range(len(x))]
        row = {"method": source, "role": label, "psnr": float(np.mean([p[0] for p in per])),
               "ssim": float(np.mean([p[1] for p in per])),
               "psnr_hole": float(np.mean([p[2] for p in per])),
               "seconds_per_image": 0.0 if source == "input" else seconds / len(x)}
        if features:
            row.update(scores_against(real_feats, extract_features(out, extractor)[0]))
        results.append(row)
        if features:  # not for the figure's few faces alone
            note(f"inpaint {source}: PSNR {row['psnr']:.2f}, hole {row['psnr_hole']:.2f}, "
                 f"FID {row.get('fid')}")
    by_role = {r["role"]: r for r in results}
    gan, l2 = by_role["GAN"], by_role["L2"]
    target = None
    if gan.get("fid") is not None and l2.get("fid") is not None:
        target = {"fid_lower": gan["fid"] < l2["fid"],
                  "psnr_gap": l2["psnr"] - gan["psnr"],
                  "psnr_within": l2["psnr"] - gan["psnr"] <= PSNR_SLACK}
        target["met"] = target["fid_lower"] and target["psnr_within"]
    crops = [(f"face {i + 1}", [("input", y[i])]
              + [(method_column(label, src), outputs[label][i])
                 for label, src in methods if label != "input"] + [("ground truth", x[i])])
             for i in range(min(FIGURE_FACES, len(x)))]
    result = {"images": len(x), "images_note": faces["note"],
              "mask_coverage": faces["coverage"], "rows": results, "target": target,
              "degradation": faces["recipe"].degradation.model_dump(mode="json")}
    return result, crops


def method_column(label: str, source: str) -> str:
    return f"{Path(source).name}" if label in ("GAN", "L2", "VAE", "general") else source
