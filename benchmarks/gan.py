"""Evaluate the GANs against the VAEs, the L2-trained restoration models and the
classical baselines; writes the "gan" section of docs/BENCHMARKS.md and
docs/results/gan-<part>.json.

    python -m benchmarks.gan --runs runs/gan-mnist runs/gan-cifar10 runs/gan-faces \\
        runs/inpaint-faces-l2 runs/inpaint-faces-gan runs/deblur-gan     # every part
    python -m benchmarks.gan --only inpaint --inpaint-gan models/inpaint-faces-gan \\
        --inpaint-l2 models/inpaint-faces-l2                             # one part
    python -m benchmarks.gan --limit 8 --gan-mnist /tmp/m-gan-mnist \\
        --results /tmp/gan --docs /tmp/BENCHMARKS.md                     # a smoke run

Models are shipped names or model folders (``pixelsmith.zoo.load_model``). A model named on
the command line must exist (else a one-line message, exit code 2, before any work); a
default name that is not shipped yet skips its comparison with a printed note, and when
nothing is left to run the script stops the same way. Seed 0 everywhere.

Parts and protocols:

- synthesis: for MNIST, CIFAR-10 and the faces, ``--gan-<data>`` against ``--vae-<data>``
  (the VAE trained on the same data), as ``benchmarks/vae.py`` part quality: as many samples
  as held-out images (MNIST: the 10,000 t10k digits; CIFAR-10: the 1,000 images outside the
  9,000-image training split of the CIFAR-10 test data; UTKFace: the 609 faces seed 0 holds
  out), drawn in batches of 500 with seeds 0, 500, 1000, ...; FID, KID, precision and recall
  against the held-out images in the shipped extractor's feature space (features-mnist /
  features-cifar10 / features-faces; docs/FEATURE_METRICS.md), class coverage and the
  normalised entropy of the extractor's predicted classes of the samples (mode collapse shows
  as low recall, coverage < 1 or low entropy). FID is also measured on ``--draws`` (20) sample
  draws in all, draw k seeded k * 1,000,000 + 0, 500, ... (draw 0 is the one above): their
  mean and standard deviation say how much of a difference is the luck of one draw. Floor
  row, once per data set: as many seeded (seed 1) training images against the held-out ones.
  Target: the GAN's mean FID over the draws <= 0.7 x the VAE's.
  Grids of 64 samples (``model.sample(64, seed=0)``, as ``pixelsmith generate -n 64 --seed
  0``) go to docs/images/<model>-samples.png.
- inpaint: the UTKFace faces at 64x64 held out by the face recipes (``--faces-recipe``,
  default configs/inpaint-faces-l2.yaml: ``synthesis_datasets`` split by train.seed, 609
  faces) minus the first ``val.limit`` (200) of them, which select checkpoints during
  training: the other 409. One mask per face from the recipe's own generator
  (``DegradedImages`` with the recipe's degradation: a box or free-form strokes covering
  20-40%, 8-bit input; item i drawn from ``item_generator(seed, 0, i)``), identical for every
  method. Methods: ``--inpaint-gan`` (inpaint-faces-gan), ``--inpaint-l2``
  (inpaint-faces-l2), the general shipped ``inpaint``, biharmonic, the faces VAE
  (``--vae-faces``, masked-ELBO posterior fit, mean of 16 samples; ``--no-vae-inpaint`` leaves
  it out) and the masked input. Scores: PSNR / SSIM of the 8-bit output over the whole face
  and PSNR over the hole (``pixelsmith.evaluate.protocol`` conventions), mean over faces;
  FID / KID / precision / recall of the restored faces against the originals (features-faces);
  seconds per face. Target: inpaint-faces-gan with a lower FID than inpaint-faces-l2 and a PSNR
  within 1.5 dB of it.
- deblur: the 68 CBSD68 images (colour: the deblurring models are RGB), each blurred by a
  camera-shake kernel from the deblur-gan recipe's generator (``--deblur-recipe``; paths of
  5-25 pixels on a 25x25 canvas) and Gaussian noise of sigma drawn in its range (0-10/255),
  quantised to 8 bits, all from ``image_generator(seed, index)`` (the ``pixelsmith
  evaluate`` streams). The blur is circular by default (the evaluation protocol, which the
  FFT-based baselines assume); ``--boundary valid`` blurs as in training (no wrapped border)
  and scores the image without a 12-pixel margin. Methods: ``--deblur-gan``,
  ``--deblur-blind`` (blind: no kernel, no sigma), and given the true kernel and noise level
  (sigma combined with the 8-bit rounding, sqrt(sigma^2 + 1/(12 * 255^2))) the
  ``--deblur-baselines`` (Wiener, Richardson-Lucy, PnP-HQS ``deblur``), and the blurred
  input. Scores: PSNR / SSIM of the 8-bit output (``pixelsmith.evaluate.protocol.score``),
  seconds per image, and FID / KID / precision / recall of the non-overlapping 32x32 tiles of the
  outputs against the same tiles of the clean images in the features-cifar10 space: a proxy (the
  extractor was trained on CIFAR-10 objects, not on photo tiles).
- figure: docs/images/gan-restoration-crops.png, input | each method | ground truth for the
  first 4 evaluated faces and a central 96x96 crop of the first 3 CBSD68 images; drawn when
  inpaint or deblur runs (the other part's few images are then restored for it alone).
- curves: ``--runs`` run folders are plotted by benchmarks/training_curves.py (losses, and
  the validation FID over steps) to docs/images/<run>-curves.png; plots of runs not named are
  kept.

``--limit N`` (smoke runs) uses the first N images of every set and writes nothing under
docs/ unless ``--results`` / ``--docs`` point elsewhere; the docs section is written by full
runs, figures beside the ``--docs`` page (its folder's images/).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import shlex
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from benchmarks.common import replace_section
from pixelsmith.errors import PixelsmithError
from pixelsmith.io import atomic_write_text, quantize
from pixelsmith.sysinfo import machine_summary

ROOT = Path(__file__).resolve().parents[1]
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
    print(f"gan.py: {message}", file=sys.stderr)
    sys.exit(2)


def note(message: str) -> None:
    print(f"gan.py: {message}", file=sys.stderr, flush=True)


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
        out.update(_classes(labels, num_classes))
    return out


def _classes(labels: torch.Tensor, num_classes: int | None) -> dict:
    """Coverage, normalised entropy and histogram of the extractor's predicted classes."""
    from pixelsmith.metrics.features import class_coverage

    if not num_classes:
        return {}
    spread = class_coverage(labels, num_classes)
    return {"coverage": spread["coverage"], "class_entropy": spread["entropy"],
            "class_counts": np.bincount(labels.numpy(), minlength=num_classes).tolist()}


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
                     "held_out_classes": _classes(real_labels, classes)})
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
              + [(_column(label, src), outputs[label][i])
                 for label, src in methods if label != "input"] + [("ground truth", x[i])])
             for i in range(min(FIGURE_FACES, len(x)))]
    result = {"images": len(x), "images_note": faces["note"],
              "mask_coverage": faces["coverage"], "rows": results, "target": target,
              "degradation": faces["recipe"].degradation.model_dump(mode="json")}
    return result, crops


def _column(label: str, source: str) -> str:
    return f"{Path(source).name}" if label in ("GAN", "L2", "VAE", "general") else source


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
                cells.append((_column(label, source) if label != "true kernel" else source,
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


# -- the docs section ---------------------------------------------------------------------------

def _f(value, digits: int = 2, scale: float = 1.0) -> str:
    return "-" if value is None else f"{scale * value + 0.0:.{digits}f}"  # no "-0.00"


def _features_cells(r: dict) -> str:
    return (f"{_f(r.get('fid'))} | {_f(r.get('kid'), 2, 1000)} | {_f(r.get('precision'), 3)} | "
            f"{_f(r.get('recall'), 3)}")


def _draws_cell(r: dict) -> str:
    if r.get("fid_std") is None:
        return ""
    return f"{r['fid_mean']:.2f} +- {r['fid_std']:.2f}"


def _meta_line(meta: dict, machines: dict, commands: dict) -> str:
    machine = machines.setdefault(meta["machine"], f"M{len(machines) + 1}")
    command = commands.setdefault(meta["command"], f"C{len(commands) + 1}")
    limit = f" (smoke run: first {meta['limit']} images)" if meta.get("limit") else ""
    return f"Measured on {machine} by {command}, {meta['date'][:10]}{limit}."


def merge_curves(kept: list[dict], plotted: list[dict]) -> list[dict]:
    """The curves listed before, each replaced by a fresh plot of the same PNG, with new PNGs
    last: ``--runs`` redraws the runs it names and keeps the others' plots."""
    fresh = {entry["png"]: entry for entry in plotted}
    merged = [fresh.pop(entry["png"], entry) for entry in kept]
    return merged + list(fresh.values())


def _close_calls(rows: list[dict]) -> list[str]:
    """A sentence for each GAN whose mean lies within two standard errors of its bound: the
    verdict then rests on the draws, and the first draw shares half its latents with the
    training validation's samples (both start from seed 0), which chose best.pt."""
    out = []
    for r in rows:
        t, draws = r.get("target"), r.get("fid_draws") or []
        if not t or len(draws) < 3:
            continue
        se = r["fid_std"] / math.sqrt(len(draws))
        gap = t["bound"] - r["fid_mean"]
        if abs(gap) < 2 * se:
            out.append(f"{Path(r['model']).name} {'meets' if t['met'] else 'misses'} its "
                       f"bound by {abs(gap):.2f}, {abs(gap) / se:.1f} standard errors: a close "
                       f"call. Without the first draw, whose latents half overlap those of the "
                       f"validation that chose its checkpoint, its mean is "
                       f"{float(np.mean(draws[1:])):.2f}.")
    return out


def section(report: dict) -> str:
    """The Markdown of the "gan" section from the parts' results (images linked relative to
    the page's folder)."""
    machines: dict[str, str] = {}
    commands: dict[str, str] = {}
    lines = ["## GANs against VAEs, L2-trained models and classical methods", "",
             "Written by `python -m benchmarks.gan` (protocols in its docstring). FID / KID / "
             "precision / recall are computed in the feature space of pixelsmith's own "
             "classifiers (docs/FEATURE_METRICS.md): comparable only among pixelsmith models "
             "scored the same way, never with Inception FIDs. KID is shown x1000.", ""]
    synth = report.get("synthesis")
    if synth:
        lines += ["### Synthesis: each GAN against the VAE trained on the same data", "",
                  "Samples against the held-out images (MNIST t10k, the CIFAR-10 1,000, the "
                  "609 UTKFace faces), as many as there are. Mode collapse shows as low recall "
                  "and as low class coverage / entropy of the extractor's predicted classes "
                  "(the floor row's are those of real images). FID / KID / precision / recall "
                  "are those of the first draw of samples; \"FID, draws\" is the mean +- "
                  f"standard deviation over {synth['meta'].get('draws', 1)} independent draws "
                  "(the first included); the target column gives the GAN's mean +- its "
                  "standard error. Target: the GAN's mean FID over the draws <= "
                  f"{TARGET_RATIO} x the VAE's.", "",
                  "| data | model | n | FID | KID | precision | recall | FID, draws | "
                  "class coverage | class entropy | target |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in synth["rows"]:
            target = ""
            if r.get("target"):
                t = r["target"]
                error = (f" +- {r['fid_std'] / math.sqrt(len(r['fid_draws'])):.2f}"
                         if r.get("fid_std") is not None else "")
                target = (f"{'met' if t['met'] else 'not met'} ({r['fid_mean']:.2f}{error} vs "
                          f"{t['bound']:.2f} = {TARGET_RATIO} x {t['vae_fid']:.2f})")
            elif r["role"] == "gan":
                target = "no VAE"
            name = r["model"] if r["role"] == "floor" else f"{r['model']} ({r['role'].upper()})"
            lines.append(f"| {r['data']} | {name} | {r['n']} | {_features_cells(r)} | "
                         f"{_draws_cell(r)} | {_f(r.get('coverage'))} | "
                         f"{_f(r.get('class_entropy'), 3)} | {target} |")
        lines += ["", "The GAN generators sample with BatchNorm statistics recomputed for "
                  "their EMA weights (docs/TRAINING.md, GANs).", *_close_calls(synth["rows"]),
                  "", "CIFAR-10 and faces GANs validated by FID against these same held-out "
                  "images (no other held-out images exist here), so a best.pt chosen by it "
                  "carries a small selection bias; gan-mnist validated on 1,000 held-out "
                  "training digits. Read FID beside recall and the grids: in features-cifar10 "
                  "space, gan-cifar10's grey-texture checkpoints at a constant learning rate "
                  "scored a lower FID than later, more varied ones; the shipped model is the "
                  "last checkpoint, where its learning-rate decay ends (docs/MODELS.md).", "",
                  _meta_line(synth["meta"], machines, commands), ""]
        if synth.get("grids"):
            lines += ["Samples: the GANs' `model.sample(64, seed=0)` (`pixelsmith generate "
                      "--method NAME -n 64 --seed 0`), beside the VAEs' grids of "
                      "benchmarks/vae.py where they exist:", ""]
            lines += [f"![{name} samples](images/{png})" for name, png in synth["grids"].items()]
            lines.append("")
    inpaint = report.get("inpaint")
    if inpaint:
        lines += ["### Face inpainting: GAN against the L2 model, general model, VAE and "
                  "biharmonic", "",
                  f"{inpaint['images_note']}; one mask per face (box or strokes, mean "
                  f"coverage {100 * inpaint['mask_coverage']:.1f}%), the same for every method. "
                  "PSNR / SSIM over the whole 8-bit face, PSNR over the hole; FID etc. of the "
                  "restored faces against the originals (features-faces).", "",
                  "| method | PSNR | SSIM | PSNR hole | FID | KID | precision | recall "
                  "| s / face |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in inpaint["rows"]:
            name = "masked input" if r["role"] == "input" else f"{r['method']} ({r['role']})"
            lines.append(f"| {name} | {r['psnr']:.2f} | {r['ssim']:.4f} | "
                         f"{r['psnr_hole']:.2f} | {_features_cells(r)} | "
                         f"{r['seconds_per_image']:.3f} |")
        t = inpaint.get("target")
        if t:
            lines += ["", f"Target (GAN FID below the L2 model's, PSNR within {PSNR_SLACK} dB "
                      f"of it): **{'met' if t['met'] else 'not met'}** (FID "
                      f"{'lower' if t['fid_lower'] else 'not lower'}; PSNR "
                      f"{-t['psnr_gap']:+.2f} dB against the L2 model's)."]
        lines += ["", _meta_line(inpaint["meta"], machines, commands), ""]
    deblur = report.get("deblur")
    if deblur:
        boundary = ("circular blur (the evaluation protocol)" if deblur["boundary"] == "circular"
                    else "valid blur (as in training; scored without a 12-pixel margin)")
        lines += ["### Motion deblurring on CBSD68: GAN against the L1 model and non-blind "
                  "baselines", "",
                  f"{deblur['images']} images of `{deblur['data']}`, each with its own "
                  "camera-shake kernel from the deblur-gan recipe's generator and noise of "
                  f"sigma 0-10 (mean {deblur['mean_sigma']:.2f}/255), 8-bit input, "
                  f"{boundary}. The GAN and the L1 model are blind; the baselines are given "
                  "the true kernel and noise level. FID etc. over "
                  f"{deblur['tiles']} non-overlapping 32x32 tiles of outputs against the "
                  "clean tiles in the features-cifar10 space: a proxy, that extractor never "
                  "saw photo tiles.", "",
                  "| method | PSNR | SSIM | FID | KID | precision | recall | s / image |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in deblur["rows"]:
            name = "blurred input" if r["method"] == "identity" else f"{r['method']} ({r['role']})"
            lines.append(f"| {name} | {r['psnr']:.2f} | {r['ssim']:.4f} | "
                         f"{_features_cells(r)} | {r['seconds_per_image']:.3f} |")
        lines += ["", _meta_line(deblur["meta"], machines, commands), ""]
    figure = report.get("figure")
    if figure:
        lines += ["### Side by side", "",
                  "Input | each method | ground truth: the first evaluated faces (whole, "
                  "64x64) and central 96x96 crops of the first CBSD68 images.", "",
                  f"![GAN restoration crops](images/{figure['png']})", ""]
    curves = report.get("curves")
    if curves and curves.get("runs"):
        lines += ["### Training curves", "",
                  "Losses per logged step and the validation metrics (FID over steps for the "
                  "runs validated with an extractor), from each run's metrics.jsonl "
                  "(benchmarks/training_curves.py).", ""]
        lines += [f"![{Path(run['run']).name} curves](images/{run['png']})"
                  for run in curves["runs"]]
        lines.append("")
    lines += [f"- {label}: {machine}" for machine, label in machines.items()]
    lines += [f"- {label}: `{command}`" for command, label in commands.items()]
    return "\n".join(lines)


# -- main ---------------------------------------------------------------------------------------

def check_recipes(args: argparse.Namespace, parts: list[str]) -> None:
    """Stop (exit 2) when a protocol recipe or the deblurring images are not usable."""
    from pixelsmith.train.config import load_recipe

    def recipe(path: Path, option: str):
        try:
            return load_recipe(path)
        except PixelsmithError as exc:
            fail(f"{option}: {exc}")

    if "inpaint" in parts:
        faces = recipe(args.faces_recipe, "--faces-recipe")
        if faces.degradation.task != "inpaint" or faces.data.image_size is None:
            fail(f"--faces-recipe {args.faces_recipe}: not a whole-image inpainting recipe")
    if "deblur" in parts:
        if recipe(args.deblur_recipe, "--deblur-recipe").degradation.task != "deblur":
            fail(f"--deblur-recipe {args.deblur_recipe}: not a deblurring recipe")
        photo_files(args, 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(PARTS), help=f"parts: {', '.join(PARTS)}")
    parser.add_argument("--limit", type=int, help="first N images of every set (smoke runs)")
    for dest, (default, _) in MODELS.items():
        parser.add_argument("--" + dest.replace("_", "-"), help=f"default {default}")
    parser.add_argument("--no-vae-inpaint", action="store_true",
                        help="leave the faces VAE out of the inpainting comparison")
    parser.add_argument("--faces-recipe", type=Path, default=ROOT / "configs" /
                        "inpaint-faces-l2.yaml", help="recipe whose held-out faces and masks "
                        "the inpainting part uses")
    parser.add_argument("--deblur-recipe", type=Path, default=ROOT / "configs" /
                        "deblur-gan.yaml", help="recipe whose kernels and noise deblur uses")
    parser.add_argument("--deblur-data", default="test/CBSD68",
                        help="folder (or folder below $PIXELSMITH_DATA) of the deblur images")
    parser.add_argument("--deblur-baselines", default="wiener,richardson-lucy,deblur",
                        type=lambda s: [m for m in s.split(",") if m],
                        help="non-blind deblur methods given the true kernel")
    parser.add_argument("--boundary", choices=("circular", "valid"), default="circular")
    parser.add_argument("--runs", nargs="*", type=Path, default=[],
                        help="run folders whose training curves to plot")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--draws", type=int, default=20,
                        help="sample draws whose FIDs are averaged (synthesis)")
    parser.add_argument("--device", default="cpu",
                        help="where the restoration methods run (cpu, cuda); timings are "
                             "per image on it")
    parser.add_argument("--results", type=Path, default=RESULTS,
                        help="folder of the gan-<part>.json files")
    parser.add_argument("--docs", type=Path, default=PAGE, help="the page of the section")
    args = parser.parse_args()
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown parts {unknown}; choose from {', '.join(PARTS)}")
    if args.draws < 1:
        parser.error("--draws must be >= 1")
    if args.limit is not None and args.limit < 1:
        parser.error("--limit must be >= 1")
    for run in args.runs:
        if not (run / "metrics.jsonl").is_file():
            fail(f"--runs {run}: no metrics.jsonl there")
    if "deblur" in parts:
        from pixelsmith.restoration.registry import task_methods

        known = task_methods("deblur")
        bad = [m for m in args.deblur_baselines if m not in known or not known[m].available()]
        if bad:
            fail(f"--deblur-baselines: {', '.join(bad)} not available for deblur "
                 f"(see `pixelsmith methods`)")
    check_recipes(args, parts)
    models = resolve_models(args)
    runnable = plan_parts(parts, models, args)
    if not runnable and not args.runs:
        fail("nothing to run: none of the asked parts has its models (see the notes above)")

    torch.manual_seed(0)
    write_results = not (args.limit and args.results == RESULTS)
    write_docs = not (args.limit and args.docs == PAGE)
    images = args.docs.parent / "images" if write_docs else None
    if not write_docs:
        note("--limit: nothing is written under docs/ (give --results and --docs elsewhere)")
    meta = {"machine": machine_summary(), "torch": torch.__version__, "limit": args.limit,
            "device": args.device, "draws": args.draws,
            "seed": args.seed, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": "python -m benchmarks.gan " + shlex.join(sys.argv[1:])}
    report = {}
    for part in (*PARTS, "curves", "figure"):
        path = args.results / f"gan-{part}.json"
        if path.is_file():
            report[part] = json.loads(path.read_text())
    fresh: dict[str, dict] = {}
    crops: dict[str, list] = {}
    for part in runnable:
        start = time.perf_counter()
        if part == "synthesis":
            fresh[part] = part_synthesis(args, models, images)
        elif part == "inpaint":
            fresh[part], crops[part] = part_inpaint(args, models, args.limit)
        else:
            fresh[part], crops[part] = part_deblur(args, models, args.limit)
        fresh[part]["wall_seconds"] = time.perf_counter() - start
        note(f"{part}: {fresh[part]['wall_seconds']:.0f} s")
    if images is not None and crops:
        from benchmarks.gan_figures import write_crops_figure

        if "inpaint" not in crops and models["inpaint_gan"] and models["inpaint_l2"]:
            crops["inpaint"] = part_inpaint(args, models, FIGURE_FACES, features=False)[1]
        if "deblur" not in crops and models["deblur_gan"]:
            crops["deblur"] = part_deblur(args, models, FIGURE_PHOTOS, features=False)[1]
        png = write_crops_figure(images / "gan-restoration-crops.png",
                                 [("Face inpainting (held-out faces)", crops.get("inpaint", [])),
                                  ("Motion deblurring (CBSD68 crops)", crops.get("deblur", []))])
        fresh["figure"] = {"png": png.name}
    if images is not None and args.runs:
        from benchmarks.training_curves import plot_run

        plotted = [{"run": str(run), "png": plot_run(run, images / f"{run.name}-curves.png").name}
                   for run in args.runs]
        fresh["curves"] = {"runs": merge_curves(report.get("curves", {}).get("runs", []),
                                                plotted)}
    for part, result in fresh.items():
        result["meta"] = meta
        report[part] = result
        if write_results:
            args.results.mkdir(parents=True, exist_ok=True)
            atomic_write_text(args.results / f"gan-{part}.json", json.dumps(result, indent=2))
    if write_docs:
        replace_section(args.docs, SECTION, section(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
