"""Training throughput per recipe: steps/s and pixels/s, with and without channels_last,
torch.compile (``train.compile``) and, on CPUs with native bf16, bf16 autocast
(``train.precision: bf16``), and how much of a step the data pipeline takes.

    python -m benchmarks.train_throughput                       # the default recipes
    python -m benchmarks.train_throughput --recipes denoise-color,sr-x4 --steps 20

For each recipe (configs/NAME.yaml) and each variant, a Trainer runs ``--warmup`` steps (not
timed) and then ``--steps`` timed steps of the recipe's own batch and patch size, without
validation or checkpoints (torch.compile compiles during the warm-up); variants run interleaved
in one process, ``--repeats`` rounds, and the median is reported, so the comparison holds on a
machine whose load drifts. "data" is the time to draw the same number of batches from the
recipe's dataset alone (the part of a step a background loader could hide). Writes the section
"train-throughput" of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.common import (
    cpu_label,
    load_line,
    load_now,
    markdown_table,
    meta_lines,
    replace_section,
    run_meta,
    wants_bf16,
    write_json,
)
from pixelsmith.train.callbacks import Callback
from pixelsmith.train.config import load_recipe
from pixelsmith.train.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]
SECTION = "train-throughput"
DEFAULT_RECIPES = ("denoise-gray", "denoise-color", "dejpeg-color", "sr-x4", "inpaint", "photo",
                   "codec-cb-q4")
VARIANTS = {"fp32": {}, "channels_last": {"train.channels_last": True},
            "compile": {"train.channels_last": True, "train.compile": True},
            "bf16": {"train.channels_last": True, "train.precision": "bf16"}}


def chosen_variants(names: str, bf16: str) -> dict[str, dict]:
    """The variants to time: fp32 and channels_last always, then those named that apply
    (bf16 only on a CPU with native bf16 unless ``bf16`` is "yes")."""
    wanted = {"fp32", "channels_last", *names.split(",")}
    unknown = wanted - set(VARIANTS)
    if unknown:
        raise SystemExit(f"unknown variant(s) {', '.join(sorted(unknown))}; "
                         f"choose from {', '.join(VARIANTS)}")
    if not wants_bf16(bf16):
        wanted.discard("bf16")
    return {name: overrides for name, overrides in VARIANTS.items() if name in wanted}


class StepClock(Callback):
    """Records the time at the end of every step."""

    def __init__(self) -> None:
        self.marks: list[float] = []

    def on_step_end(self, trainer, logs: dict) -> None:
        self.marks.append(time.perf_counter())


def _trainer(name: str, variant: dict, steps: int, output: Path,
             clock: StepClock | None = None) -> Trainer:
    overrides = {"train.log_every": 10_000, "train.checkpoint_every": 10_000,
                 "val.every": 10_000, "early_stopping.patience": None, **variant}
    recipe = load_recipe(ROOT / "configs" / f"{name}.yaml",
                         [f"{k}={'null' if v is None else v}" for k, v in overrides.items()])
    recipe.init = None  # random weights time the same as the shipped ones, without the zoo
    return Trainer(recipe, output, max_steps=steps, progress=False,
                   extra_callbacks=[clock] if clock else None)


def time_steps(name: str, variant: dict, warmup: int, steps: int) -> dict:
    """Seconds per step after ``warmup`` steps, and the batch's pixels."""
    with tempfile.TemporaryDirectory() as tmp:
        clock = StepClock()
        trainer = _trainer(name, variant, warmup + steps, Path(tmp), clock)
        trainer.fit()
        item = trainer.dataset[0]
        image = item.get("clean", item.get("image"))
        pixels = trainer.recipe.train.batch_size * image.shape[-1] * image.shape[-2]
    timed = clock.marks[warmup:]
    per_step = (timed[-1] - timed[0]) / (len(timed) - 1) if len(timed) > 1 else float("nan")
    return {"seconds_per_step": per_step, "pixels_per_batch": pixels}


def time_data(name: str, batches: int) -> float:
    """Seconds per batch to draw items from the recipe's training dataset alone."""
    with tempfile.TemporaryDirectory() as tmp:
        trainer = _trainer(name, {}, 1, Path(tmp))
        size = trainer.recipe.train.batch_size
        start = time.perf_counter()
        for index in range(batches * size):
            trainer.dataset[index % len(trainer.dataset)]
        return (time.perf_counter() - start) / batches


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", default=",".join(DEFAULT_RECIPES))
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--results", type=Path, default=ROOT / "docs" / "results")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "BENCHMARKS.md")
    parser.add_argument("--variants", default="fp32,channels_last,compile,bf16",
                        help="which of fp32, channels_last, compile, bf16 to time (fp32 and "
                             "channels_last always run: the speed-ups are over them)")
    parser.add_argument("--bf16", choices=("auto", "yes", "no"), default="auto",
                        help="time the bf16 variant (auto: only where the CPU has native bf16, "
                             "AVX512-BF16 or AMX; emulated bf16 is many times slower)")
    parser.add_argument("--section", default=SECTION,
                        help="the marked section of BENCHMARKS.md (and results file) to write, "
                             f"so that several machines' tables stand side by side "
                             f"(default {SECTION})")
    args = parser.parse_args()
    variants = chosen_variants(args.variants, args.bf16)
    meta = run_meta()
    load_before = load_now()
    rows, report = [], {}
    for name in args.recipes.split(","):
        samples: dict[str, list[float]] = {v: [] for v in variants}
        pixels = 0
        for _ in range(args.repeats):
            for variant, overrides in variants.items():
                result = time_steps(name, overrides, args.warmup, args.steps)
                samples[variant].append(result["seconds_per_step"])
                pixels = result["pixels_per_batch"]
        data = time_data(name, args.steps)
        medians = {v: statistics.median(s) for v, s in samples.items()}
        report[name] = {"seconds_per_step": samples, "median": medians, "data_seconds": data,
                        "pixels_per_batch": pixels}
        base, layout = medians["fp32"], medians["channels_last"]
        row = [name, f"{1 / base:.2f}", f"{pixels / base / 1e6:.2f}", f"{1 / layout:.2f}",
               f"{base / layout:.2f}x"]
        for extra in ("compile", "bf16"):
            if extra in medians:
                row += [f"{1 / medians[extra]:.2f}", f"{layout / medians[extra]:.2f}x"]
        rows.append(row + [f"{data / base:.0%}"])
        print(f"{name}: {medians}, data {data:.3f} s/batch", flush=True)
    meta["load"] = load_line(load_before, load_now(), meta["threads"])
    write_json(args.results / f"{args.section}.json", {"meta": meta, "report": report})
    header = ["recipe", "steps/s", "MP/s", "steps/s channels_last", "channels_last speed-up"]
    if "compile" in variants:
        header += ["steps/s channels_last + compile", "compile speed-up (over channels_last)"]
    if "bf16" in variants:
        header += ["steps/s channels_last + bf16", "bf16 speed-up (over channels_last)"]
    recipes = args.recipes.split(",")
    which = "" if recipes == list(DEFAULT_RECIPES) else f": {', '.join(recipes)}"
    body = "\n".join([
        f"## Training throughput{which} (CPU: {cpu_label()})", "", meta_lines(meta), "",
        meta["load"], "",
        f"Median of {args.repeats} interleaved rounds of {args.steps} steps after {args.warmup} "
        "warm-up steps; each recipe's own batch and patch size, random weights, no validation.",
        "", markdown_table(header + ["data share of a step"], rows)])
    replace_section(args.docs, args.section, body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
