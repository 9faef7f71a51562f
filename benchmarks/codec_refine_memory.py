"""Peak memory of encoder-side refinement against plain encoding, per image size: writes the
"codec-refine-memory" section of docs/BENCHMARKS.md and checks the memory guard's estimate
(``pixelsmith.codec.refine.BYTES_PER_PIXEL_CHANNEL``) against what was measured.

    python -m benchmarks.codec_refine_memory                       # codec-q3, two sizes, ~1 min
    python -m benchmarks.codec_refine_memory --models codec-q1 --output-dir /tmp/m

Each measurement runs in a fresh Python process (peak RSS, ``ru_maxrss``, only grows): the
process loads the model and builds the image (kodim23, tiled 2 x 2 for the larger size), notes
its peak so far, encodes once (plain) or refines for a few steps (the peak is reached in the
first backward pass), and reports its peak. "Added" is the difference, the encoding's own cost.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

from benchmarks.common import replace_section
from pixelsmith.sysinfo import machine_summary

ROOT = Path(__file__).resolve().parents[1]
SECTION = "codec-refine-memory"
IMAGE = "test/Kodak24/kodim23.png"
TILES = (1, 2)  # 512x768 and 1024x1536
STEPS = 3


def peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def child(model: str, tiles: int, mode: str) -> dict:
    """One measurement, in this (fresh) process."""
    from pixelsmith.codec.api import load_codec
    from pixelsmith.codec.models import pad_image
    from pixelsmith.codec.refine import RefineSettings, refine_compress
    from pixelsmith.io import read_image
    from pixelsmith.settings import dataset_path

    codec = load_codec(model)
    x = read_image(dataset_path(IMAGE), gray=False).repeat(1, 1, tiles, tiles)
    padded, _ = pad_image(x, codec.pad_multiple)
    before = peak_bytes()
    if mode == "plain":
        with torch.no_grad():
            codec.compress_padded(padded)
    else:
        refine_compress(codec, padded, tuple(x.shape[-2:]), RefineSettings(steps=STEPS))
    return {"model": model, "mode": mode, "height": x.shape[-2], "width": x.shape[-1],
            "channels": codec.N, "before": before, "peak": peak_bytes()}


def measure(model: str, tiles: int, mode: str) -> dict:
    command = [sys.executable, "-m", "benchmarks.codec_refine_memory", "--child", model,
               str(tiles), mode]
    out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(out.strip().splitlines()[-1])


def section(rows: list[dict], meta: dict) -> str:
    from pixelsmith.codec.refine import BYTES_PER_PIXEL_CHANNEL

    lines = [
        "## Learned codec: memory of encoder-side refinement",
        "",
        f"Command: `{meta['command']}`. Peak resident memory of a fresh process that loads the "
        f"model and one image ({IMAGE}, tiled 2 x 2 for the larger size), then encodes it "
        f"plainly or refines it ({STEPS} steps; the peak comes in the first backward pass). "
        "\"Added\" is the peak minus the peak before encoding: what the encoding itself "
        "needs. The memory guard refuses an image when its estimate, "
        f"{BYTES_PER_PIXEL_CHANNEL} bytes x N x pixels (`BYTES_PER_PIXEL_CHANNEL`), exceeds "
        "the free memory (which excludes what the process already holds), so compare it with "
        "\"added\" on the larger images, where it matters; on small images a fixed overhead, "
        "which the estimate leaves out, dominates.",
        "",
        f"- machine: {meta['machine']}",
        f"- date: {meta['date']}",
        "",
        "| model | size | mode | peak (GB) | added (GB) | added per pixel (kB) | "
        "guard's estimate (GB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        pixels = r["height"] * r["width"]
        estimate = (f"{BYTES_PER_PIXEL_CHANNEL * r['channels'] * pixels / 1e9:.2f}"
                    if r["mode"] == "refine" else "")
        lines.append(f"| {r['model']} | {r['width']}x{r['height']} | {r['mode']} | "
                     f"{r['peak'] / 1e9:.2f} | {(r['peak'] - r['before']) / 1e9:.2f} | "
                     f"{(r['peak'] - r['before']) / pixels / 1e3:.2f} | {estimate} |")
    return "\n".join(lines)


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], int(sys.argv[3]), sys.argv[4])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["codec-q3"])
    parser.add_argument("--output-dir", default=str(ROOT / "docs"),
                        help="where BENCHMARKS.md goes (default docs/)")
    args = parser.parse_args()
    rows = []
    for model in args.models:
        for tiles in TILES:
            for mode in ("plain", "refine"):
                rows.append(measure(model, tiles, mode))
                print(rows[-1], flush=True)
    meta = {"command": ("python -m benchmarks.codec_refine_memory " + " ".join(sys.argv[1:])
                        ).strip(),
            "machine": machine_summary(), "date": time.strftime("%Y-%m-%d %H:%M")}
    out = Path(args.output_dir) / "BENCHMARKS.md"
    replace_section(out, SECTION, section(rows, meta))
    print(f"wrote {out} (section {SECTION})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
