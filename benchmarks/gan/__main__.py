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

The protocol of each part is in docs/PROTOCOLS.md (section "GAN benchmark").

``--limit N`` (smoke runs) uses the first N images of every set and writes nothing under
docs/ unless ``--results`` / ``--docs`` point elsewhere; the docs section is written by full
runs, figures beside the ``--docs`` page (its folder's images/).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from benchmarks.common import replace_section
from benchmarks.gan.common import (
    FIGURE_FACES,
    FIGURE_PHOTOS,
    MODELS,
    PAGE,
    PARTS,
    RESULTS,
    ROOT,
    SECTION,
    fail,
    note,
    plan_parts,
    resolve_models,
)
from benchmarks.gan.deblur import part_deblur, photo_files
from benchmarks.gan.inpaint import part_inpaint
from benchmarks.gan.section import merge_curves, section
from benchmarks.gan.synthesis import part_synthesis
from pixelsmith.errors import PixelsmithError
from pixelsmith.io import atomic_write_text
from pixelsmith.sysinfo import machine_summary

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
