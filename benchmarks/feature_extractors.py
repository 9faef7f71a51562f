"""The shipped feature extractors: held-out accuracy, and reference FID/KID/precision/recall
between real image sets; writes the "feature-extractors" section of docs/FEATURE_METRICS.md
and docs/results/feature-extractors.json.

    python -m benchmarks.feature_extractors                  # all three, 1,000 images per set
    python -m benchmarks.feature_extractors --limit 200 --output-dir /tmp/fx   # smoke run

Protocol, per extractor (``features-mnist``, ``features-cifar10``, ``features-faces``):

- accuracy on the images its recipe held out (the seeded split of ``data.train`` that
  validation used: 1,000 MNIST training digits, the 1,000 held-out CIFAR-10 PNGs, 609 UTKFace
  faces); for MNIST also on the 10,000 t10k digits, which training never read.
- reference rows: the held-out images ("real") against ``n`` training images (the floor an
  ideal generator reaches with this many images: FID is biased upwards for small sets),
  the same training images with Gaussian noise (sigma 0.1, clipped) and blurred (2x bilinear
  down- and up-sampling), to show how far visible damage moves each number.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from torch.nn import functional as F

from benchmarks.common import replace_section
from pixelsmith.io import atomic_write_text
from pixelsmith.metrics.features import EXTRACTORS, extract_features, load_extractor, sample_quality
from pixelsmith.sysinfo import machine_summary
from pixelsmith.train.config import recipe_from_dict
from pixelsmith.train.families import build_family
from pixelsmith.zoo import ZOO

ROOT = Path(__file__).resolve().parents[1]
SECTION = "feature-extractors"


def held_out_and_training(model: torch.nn.Module, limit: int | None):
    """(held-out images, labels, n training images) from the model's own recipe split."""
    recipe = recipe_from_dict(model.pixelsmith_config["training"]["recipe"])
    recipe.data.cache = False  # decode only the images used
    family = build_family(recipe, torch.device("cpu"))
    family.prepare_models({"model": model})
    train = family.train_dataset()
    val = family.val_set
    n_val = min(len(val), limit or len(val))
    items = [val[i] for i in range(n_val)]
    images = torch.stack([item["image"] for item in items])
    labels = torch.tensor([item["label"] for item in items])
    picks = torch.randperm(len(train), generator=torch.Generator().manual_seed(1))[:n_val]
    reference = torch.stack([train[int(i)]["image"] for i in picks])
    return recipe, images, labels, reference


def accuracy(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    _, predicted = extract_features(images, model)
    known = labels >= 0
    return float((predicted[known] == labels[known]).float().mean())


def measure(name: str, limit: int | None) -> dict:
    model = load_extractor(name)
    config = model.pixelsmith_config
    recipe, images, labels, reference = held_out_and_training(model, limit)
    row = {"extractor": name, "data": recipe.data.train, "kind": recipe.data.kind,
           "image": f"{model.channels}x{model.image_size}x{model.image_size}",
           "classes": model.num_classes, "feature_dim": model.feature_dim,
           "held_out": len(labels), "held_out_accuracy": accuracy(model, images, labels),
           "training": config["training"]["summary"], "step": config["training"]["step"],
           "checkpoint": config["training"]["checkpoint"], "batch": recipe.train.batch_size,
           "weights_mb": (ZOO / name / "model.safetensors").stat().st_size / 1e6}
    if recipe.data.kind == "mnist":
        from pixelsmith.data import MNIST
        from pixelsmith.train.datasets import data_path

        test = MNIST(data_path(recipe.data.train), train=False)
        count = min(len(test), limit or len(test))
        row["t10k"] = count
        row["t10k_accuracy"] = accuracy(model, test.images[:count, None].float() / 255.0,
                                        test.labels[:count])
    noise = torch.Generator().manual_seed(2)
    noisy = (reference + 0.1 * torch.randn(reference.shape, generator=noise)).clamp(0, 1)
    size = reference.shape[-1]
    blurred = F.interpolate(F.interpolate(reference, scale_factor=0.5, mode="bilinear",
                                          antialias=True, align_corners=False),
                            size=(size, size), mode="bilinear", align_corners=False)
    row["reference"] = []
    for label, fake in (("training images", reference), ("training + noise 0.1", noisy),
                        ("training, 2x blurred", blurred.clamp(0, 1))):
        scores = sample_quality(images, fake, model)
        row["reference"].append({"against": label, **scores})
        print(f"{name} {label}: {scores}", file=sys.stderr)
    return row


def section(rows: list[dict], machine: str, command: str) -> str:
    lines = ["## The shipped extractors", "",
             f"Measured by `{command}` on {time.strftime('%Y-%m-%d')}; machine: {machine}.", "",
             "| extractor | images | training data | steps | wall time | held-out accuracy |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        summary = r["training"]
        held = f"{100 * r['held_out_accuracy']:.1f}% of {r['held_out']}"
        if "t10k_accuracy" in r:
            held += f"; t10k {100 * r['t10k_accuracy']:.2f}% of {r['t10k']}"
        lines.append(f"| `{r['extractor']}` | {r['image']}, {r['classes']} classes, "
                     f"{r['feature_dim']}-d features | `{r['data']}` | {r['step']} "
                     f"of batch {r['batch']} | "
                     f"{summary.get('wall_seconds', 0) / 60:.1f} min | {held} |")
    lines += ["", "Reference values: the held-out images against as many other real images "
              "(the floor a perfect generator reaches at this sample size), and against the "
              "same real images damaged. FID and KID are in the extractor's feature units and "
              "cannot be compared across extractors. With at most 1,000 images per set KID is "
              "one unbiased estimate on the whole sets (its subset std is 0 and not shown); "
              "slightly negative values are estimation noise around 0.", "",
              "| extractor | held-out vs | n | FID | KID | precision | recall |",
              "|---|---|---|---|---|---|---|"]
    for r in rows:
        for ref in r["reference"]:
            lines.append(f"| `{r['extractor']}` | {ref['against']} | {ref['n_fake']} | "
                         f"{ref['fid']:.3f} | {ref['kid']:.4f} | {ref['precision']:.3f} | "
                         f"{ref['recall']:.3f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extractors", nargs="+", default=sorted(EXTRACTORS.values()))
    parser.add_argument("--limit", type=int, default=None, help="images per set (default all)")
    parser.add_argument("--output-dir", type=Path, default=None,
                        help="write the JSON and the page here instead of docs/")
    args = parser.parse_args()
    rows = [measure(name, args.limit) for name in args.extractors]
    machine = machine_summary()
    command = "python -m benchmarks.feature_extractors" + (
        f" --limit {args.limit}" if args.limit else "")
    docs = args.output_dir or ROOT / "docs"
    results = args.output_dir or ROOT / "docs" / "results"
    results.mkdir(parents=True, exist_ok=True)
    atomic_write_text(results / "feature-extractors.json",
                      json.dumps({"machine": machine, "command": command, "rows": rows},
                                 indent=2) + "\n")
    replace_section(docs / "FEATURE_METRICS.md", SECTION, section(rows, machine, command),
                    title="# Feature-space sample quality")
    return 0


if __name__ == "__main__":
    sys.exit(main())
