"""Speed of each default restoration model now against the same model at an earlier commit.

Retraining buys quality only if the network stays as fast: a wider or deeper model would show
here. Both versions run in one process on the same inputs, taking turns with a pause before
each timed call (:func:`pixelsmith.runtime.timing.fastest_interleaved`), so that the shared
machine's moment-to-moment speed cancels out; tables measured at different times cannot settle
this. The earlier package is read from git (``git show REV:src/pixelsmith/zoo/NAME/...``); a
model shipped after ``--against`` is compared with its first shipped version.

    python -m benchmarks.speed_regression                 # against BASELINE_REV, 2 threads
    python -m benchmarks.speed_regression --against HEAD~5 --images 2
"""

from __future__ import annotations

import argparse
import functools
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from benchmarks.common import (
    load_line,
    load_now,
    markdown_table,
    meta_lines,
    replace_section,
    run_meta,
    write_json,
)
from benchmarks.deploy import CASES
from benchmarks.deploy_extras import tiled, tiled_case
from pixelsmith.degrade import GaussianNoise
from pixelsmith.evaluate.protocol import Known
from pixelsmith.io import list_images, read_image
from pixelsmith.restoration.restorer import Restorer
from pixelsmith.runtime.timing import fastest_interleaved
from pixelsmith.settings import dataset_path
from pixelsmith.zoo import load_model, read_config, resolve_model_dir

ROOT = Path(__file__).resolve().parents[1]
SECTION = "speed-regression"
#: the zoo before the present training stages of the default models (2026-12-06)
BASELINE_REV = "1d7a6d1"
PACKAGE_FILES = ("config.json", "model.safetensors")
SIDE = 512  # output side of the timed inputs
TOLERANCE = 0.10  # "within 10% or faster"
#: the photo task's default models -> output scale; timed on noisy tiles of this colour test set
#: (the cost of a network does not depend on what damage its input shows)
PHOTO_MODELS = {"photo": 1, "photo-fast": 1, "photo-x4": 4}
PHOTO_DATA = "test/CBSD68"
MODELS = [*CASES, *PHOTO_MODELS]


def package_at(rev: str, name: str, into: Path) -> Path | None:
    """The zoo package ``name`` as it was at commit ``rev``, written below ``into`` (None when
    the model did not exist then)."""
    folder = into / rev / name
    folder.mkdir(parents=True)
    for file in PACKAGE_FILES:
        shown = subprocess.run(["git", "-C", str(ROOT), "show",
                                f"{rev}:src/pixelsmith/zoo/{name}/{file}"],
                               capture_output=True)
        if shown.returncode != 0:
            return None
        (folder / file).write_bytes(shown.stdout)
    return folder


def first_shipped(name: str) -> str | None:
    """The commit that first shipped zoo package ``name`` (None if none did)."""
    log = subprocess.run(["git", "-C", str(ROOT), "log", "--diff-filter=A", "--format=%h",
                          "--", f"src/pixelsmith/zoo/{name}/model.safetensors"],
                         capture_output=True, text=True).stdout.split()
    return log[-1] if log else None


def photo_case(path: Path, scale: int, seed: int) -> tuple[torch.Tensor, Known]:
    """A colour test image tiled to the input of a SIDE x SIDE output, with noise (sigma 15)."""
    clean = tiled(read_image(path, gray=False), SIDE // scale)
    noisy = GaussianNoise(15 / 255)(clean, torch.Generator().manual_seed(seed))
    return noisy.clamp(0, 1), Known()


def timed_inputs(name: str, images: int) -> tuple[str, str, list[tuple[torch.Tensor, Known]]]:
    """(test folder, task, inputs) on which model ``name`` is timed."""
    if name in PHOTO_MODELS:
        paths = list_images(dataset_path(PHOTO_DATA))[:images]
        return PHOTO_DATA, "photo", [photo_case(p, PHOTO_MODELS[name], i)
                                     for i, p in enumerate(paths)]
    folder, params = CASES[name]
    paths = list_images(dataset_path(folder))[:images]
    return folder, params.task, [tiled_case(p, params.resolved(), SIDE, params.seed)
                                 for p in paths]


def parameters(model: str | Path) -> int:
    return sum(p.numel() for p in load_model(model).parameters())


def measure(name: str, then: Path, images: int, rounds: int, settle: float) -> dict:
    """Output MP/s of the model now and at ``then`` on the first ``images`` images of its test
    set, each tiled to SIDE x SIDE outputs: the median over the images of each one's fastest
    call."""
    folder, task, inputs = timed_inputs(name, images)
    runs = {"now": Restorer(task, name, device="cpu", backend="torch"),
            "then": Restorer(task, then, device="cpu", backend="torch")}
    speeds: dict[str, list[float]] = {"now": [], "then": []}
    for degraded, known in inputs:
        fastest = fastest_interleaved(
            {key: functools.partial(restorer, degraded, known) for key, restorer in runs.items()},
            rounds, settle)
        for key, seconds in fastest.items():
            speeds[key].append(SIDE * SIDE / 1e6 / seconds)
    return {"data": folder, "images": len(speeds["now"]),
            "sha256_now": read_config(resolve_model_dir(name)).get("sha256"),
            "sha256_then": read_config(then).get("sha256"),
            "parameters_now": parameters(name),
            "parameters_then": parameters(then),
            "mp_per_s_now": statistics.median(speeds["now"]),
            "mp_per_s_then": statistics.median(speeds["then"])}


def section(results: dict, missing: list[str], meta: dict, rev: str, load: str) -> str:
    rows, slow = [], []
    for name, r in results.items():
        ratio = r["mp_per_s_now"] / r["mp_per_s_then"]
        if ratio < 1 - TOLERANCE:
            slow.append(name)
        weights = "same" if r["sha256_now"] == r["sha256_then"] else "retrained"
        then = r.get("then", rev)
        rows.append([name, f"{r['data']} ({r['images']})", then if then == rev else
                     f"{then} (first shipped)", weights,
                     f"{r['parameters_then']:,} -> {r['parameters_now']:,}",
                     f"{r['mp_per_s_then']:.3f}", f"{r['mp_per_s_now']:.3f}", f"{ratio:.2f}x"])
    verdict = (f"**met**: every default model within {TOLERANCE:.0%} of its earlier speed "
               "or faster" if not slow else
               f"**not met**: {', '.join(slow)} slower by more than {TOLERANCE:.0%}")
    lines = [f"## Speed of the default models against commit {rev}", "", meta_lines(meta), "",
             load, "",
             f"Each default restoration model as shipped now and as it was at commit {rev} "
             "(read from git), or at the commit that first shipped it where it is newer (the "
             "photo task's models), both on the eager torch path, in one process: the first "
             f"images of the model's test set, each tiled to a {SIDE}x{SIDE} output and "
             "degraded the protocol's way (photo models: noisy tiles of "
             f"{PHOTO_DATA}); the two versions take turns with a pause before each timed "
             "call; MP/s is the median over the images of each one's fastest call.", "",
             markdown_table(["model", "images", "then", "weights", "parameters then -> now",
                             "MP/s then", "MP/s now", "now / then"], rows), "",
             f"- target: every default model's MP/s within {TOLERANCE:.0%} of its speed then "
             f"or better: {verdict}"]
    if missing:
        lines.append(f"- never shipped before: {', '.join(missing)}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default=BASELINE_REV, help="the earlier commit")
    parser.add_argument("--models", nargs="*", default=MODELS, choices=MODELS)
    parser.add_argument("--images", type=int, default=3, help="test images per model")
    parser.add_argument("--rounds", type=int, default=5, help="timed calls per version")
    parser.add_argument("--settle", type=float, default=0.3, help="seconds idle before a call")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "BENCHMARKS.md")
    parser.add_argument("--results", type=Path, default=ROOT / "docs" / "results")
    args = parser.parse_args()
    if subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", "--quiet",
                       f"{args.against}^{{commit}}"], capture_output=True).returncode != 0:
        print(f"error: {args.against} is not a commit of this repository", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    meta, before = run_meta(), load_now()
    results, missing = {}, []
    with tempfile.TemporaryDirectory(prefix="pixelsmith-speed-") as work:
        for name in args.models:
            rev = args.against
            then = package_at(rev, name, Path(work))
            if then is None and (rev := first_shipped(name)) is not None:
                then = package_at(rev, name, Path(work))
            if then is None:
                missing.append(name)
                continue
            results[name] = {"then": rev,
                             **measure(name, then, args.images, args.rounds, args.settle)}
            r = results[name]
            print(f"{name}: {r['mp_per_s_then']:.3f} -> {r['mp_per_s_now']:.3f} MP/s",
                  flush=True)
    load = load_line(before, load_now(), args.threads)
    write_json(args.results / "speed-regression.json",
               {"meta": meta, "against": args.against, "results": results, "missing": missing})
    replace_section(args.docs, SECTION, section(results, missing, meta, args.against, load))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
