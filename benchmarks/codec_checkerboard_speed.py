"""Encode, decode and refinement-step times of the checkerboard codec on one 768x512 Kodak image:
writes the "codec-checkerboard-speed" section of docs/CODEC.md.

    python -m benchmarks.codec_checkerboard_speed                  # recipe sizes, random weights
    python -m benchmarks.codec_checkerboard_speed --models models/codec-cb-q1 models/codec-cb-q3

Speed does not depend on training (the same layers run whatever the weights; only the count of
escaped values could, and it is small), so by default the models are built from the recipes
configs/codec-cb-wide-q1.yaml (N64/M128) and codec-cb-wide-q3.yaml (N96/M192) with random
weights and finalized tables. The shipped codec-q3 (mean-scale hyperprior without context) is
timed in the same run as the reference. Every time is the minimum and the median over
``--repeats`` runs, wall clock, with the given torch thread count; the machine's load average is
recorded, since a shared machine slows every figure down.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

from benchmarks.common import (
    load_line,
    load_now,
    markdown_table,
    other_cores,
    replace_section,
    run_meta,
    write_json,
)
from pixelsmith.codec.api import compress, decompress, load_codec
from pixelsmith.codec.format import unpack
from pixelsmith.codec.models import Codec
from pixelsmith.io import read_image
from pixelsmith.settings import dataset_path

ROOT = Path(__file__).resolve().parents[1]
SECTION = "codec-checkerboard-speed"
RECIPES = ("codec-cb-wide-q1", "codec-cb-wide-q3")


def recipe_model(name: str) -> Codec:
    """The recipe's network with random weights (seed 0), finalized, in eval mode."""
    from pixelsmith.nets import build_network
    from pixelsmith.train.config import load_recipe

    recipe = load_recipe(ROOT / "configs" / f"{name}.yaml")
    torch.manual_seed(0)
    model = build_network(recipe.model.name, recipe.model.args).eval()
    model.update()
    model.bench_name = f"{name} (random weights, N{model.N}/M{model.M})"
    return model


def timed(work, repeats: int, clock=time.perf_counter) -> list[float]:
    times = []
    for _ in range(repeats):
        start = clock()
        work()
        times.append(clock() - start)
    return times


def with_threads(count: int, work):
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        return work()
    finally:
        torch.set_num_threads(previous)


def measure(codec: Codec, name: str, x: torch.Tensor, repeats: int, threads: int,
            refine_steps: int) -> dict:
    """Wall times with ``threads`` threads, and CPU seconds of a one-thread run (the work
    itself, which other jobs on the machine inflate much less than wall time)."""
    data = compress(x, model=codec)
    header, streams = unpack(data)
    row = {"model": name, "bytes": len(data), "bpp": 8.0 * len(data) / (x.shape[-2] * x.shape[-1])}
    for label, work in (("encode", lambda: compress(x, model=codec)),
                        ("decode", lambda: decompress(data, model=codec)),
                        ("entropy_decode",
                         lambda: codec.decode_symbols(streams, *header.padded_size))):
        work()  # warm-up
        row[label] = with_threads(threads, lambda w=work: timed(w, repeats))
        row[label + "_cpu1"] = min(with_threads(1, lambda w=work: timed(w, repeats,
                                                                          time.process_time)))
    if refine_steps and codec.learned_rate:
        # the marginal cost of a step: refinement also has a fixed part (analysis, coding the
        # plain and the refined latents to keep the smaller file) that a short run would spread
        # over its few steps
        compress(x, model=codec, refine_steps=1)  # warm-up: the first backward pass allocates
        short, long = (min(with_threads(threads, lambda s=s: timed(
            lambda: compress(x, model=codec, refine_steps=s), 2)))
            for s in (refine_steps, 2 * refine_steps))
        row["refine_step"] = (long - short) / refine_steps
        row["refine_steps"] = refine_steps
    return row


def fmt(times: list[float]) -> str:
    return f"{min(times):.3f} / {statistics.median(times):.3f}"


def section(rows: list[dict], meta: dict, image: str, load: str, threads: int) -> str:
    table = [[r["model"], fmt(r["encode"]), f"{r['encode_cpu1']:.3f}", fmt(r["decode"]),
              f"{r['decode_cpu1']:.3f}", fmt(r["entropy_decode"]),
              f"{r['entropy_decode_cpu1']:.3f}",
              f"{r['refine_step']:.2f}" if "refine_step" in r else "-"] for r in rows]
    steps = next((r["refine_steps"] for r in rows if "refine_steps" in r), 0)
    return "\n".join([
        "### Checkerboard codec: speed, measured",
        "",
        f"Command: `{meta['command']}`. Image: {image} (768x512). `encode` is `compress` "
        "(analysis, both passes, range coding), `decode` is `decompress` (both passes, range "
        "decoding, tiled g_s), `entropy decode` the part of decoding before g_s (z, h_s, the "
        "two passes of context and entropy parameters in fixed point, range decoding). Wall "
        f"seconds with {threads} threads, minimum / median over the repeats; `CPU, 1 thread` "
        "is the least process CPU time of the same work with one thread: the work itself, "
        "which other jobs on the machine inflate far less than wall time. `refine s/step`: "
        f"the wall seconds a step of refinement adds (`--refine {2 * steps}` minus "
        f"`--refine {steps}`, / {steps}), {threads} threads. Models with random weights run "
        "the same layers as trained ones. codec-q3 is the shipped hyperprior without "
        "context, timed in the same run for reference.",
        "",
        f"- machine: {meta['machine']}",
        f"- date: {meta['date']}",
        load,
        "",
        markdown_table(["model", "encode (s)", "encode CPU, 1 thread (s)", "decode (s)",
                        "decode CPU, 1 thread (s)", "entropy decode (s)",
                        "entropy decode CPU, 1 thread (s)", "refine s/step"], table),
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="*", default=None,
                        help="exported checkerboard models (default: the recipes, random weights)")
    parser.add_argument("--reference", default="codec-q3", help="a model timed for reference")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--refine-steps", type=int, default=5)
    parser.add_argument("--image", default=None, help="default: Kodak24 kodim01")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "CODEC.md")
    parser.add_argument("--json", type=Path,
                        default=ROOT / "docs" / "results" / "codec-checkerboard-speed.json")
    args = parser.parse_args(argv)
    path = Path(args.image) if args.image else dataset_path("test/Kodak24") / "kodim01.png"
    if not path.is_file():
        print(f"pixelsmith: error: {path} not found (set PIXELSMITH_DATA or give --image)",
              file=sys.stderr)
        return 2
    x = read_image(path, gray=False)
    load_start = load_now()
    models = ([(load_codec(m), str(m)) for m in args.models] if args.models
              else [(m, m.bench_name) for m in map(recipe_model, RECIPES)])
    if args.reference:
        models.append((load_codec(args.reference), f"{args.reference} (reference)"))
    rows = []
    for codec, name in models:
        rows.append(measure(codec, name, x, args.repeats, args.threads,
                            args.refine_steps))
        print(rows[-1]["model"], fmt(rows[-1]["encode"]), fmt(rows[-1]["decode"]), flush=True)
    meta = run_meta()
    load_end = load_now()
    write_json(args.json, {"meta": meta, "image": path.name,
                           "other_cores": other_cores(load_start, load_end), "rows": rows})
    load = load_line(load_start, load_end, args.threads)
    replace_section(args.output, SECTION, section(rows, meta, path.name, load, args.threads),
                    title="# Learned image compression")
    return 0


if __name__ == "__main__":
    sys.exit(main())
