"""Peak memory of decoding .pxs files, per image size: writes the "codec-decode-memory"
section of docs/CODEC.md and checks the decoder's memory guard
(``pixelsmith.codec.memory.decode_bytes``) against what was measured.

    python -m benchmarks.codec_decode_memory                        # codec-q3, ~2 min
    python -m benchmarks.codec_decode_memory --models codec-q1 --output-dir /tmp/m

The files are written first, in this process: flat grey images of 1024x1024, 2048x2048 and
4096x4096 (a 4096x4096 flat file is about 44 KB: the small file that asks for a large image),
whose latents are coded directly (all symbols 0, no analysis transform), and kodim23 tiled
2 x 2 (1536x1024), compressed normally. Each is then decoded in a fresh Python process (peak
RSS, ``ru_maxrss``, only grows): the process loads the model and reads the file, notes its peak
so far, decodes (``decompress``, the API; or ``decompress_file``, which also writes a PNG as the
CLI does) and reports its peak. "Added" is the difference: what decoding itself takes.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.common import replace_section
from pixelsmith.sysinfo import machine_summary

ROOT = Path(__file__).resolve().parents[1]
SECTION = "codec-decode-memory"
IMAGE = "test/Kodak24/kodim23.png"
FLAT_SIDES = (1024, 2048, 4096)


def peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def flat_file(model: str, height: int, width: int) -> bytes:
    """A valid .pxs of a flat image, made without running the analysis transform."""
    from pixelsmith.codec.api import load_codec, model_id
    from pixelsmith.codec.format import Header, clean_name, pack

    codec = load_codec(model)
    padded_h = height + (-height) % codec.pad_multiple
    padded_w = width + (-width) % codec.pad_multiple
    latents = {"y": torch.zeros(1, codec.M, padded_h // 16, padded_w // 16)}
    if codec.streams > 1:  # a hyper-latent z (kinds 2 and 4)
        latents["z"] = torch.zeros(1, codec.N, padded_h // 64, padded_w // 64)
    streams = codec.compress_latents(latents)
    header = Header(codec.kind, codec.channels, codec.quality, width, height,
                    padded_h - height, padded_w - width,
                    getattr(codec, "pixelsmith_id", None) or model_id(codec), clean_name(model))
    return pack(header, streams)


def photo_file(model: str) -> bytes:
    from pixelsmith.codec.api import compress
    from pixelsmith.io import read_image
    from pixelsmith.settings import dataset_path

    x = read_image(dataset_path(IMAGE), gray=False).repeat(1, 1, 2, 2)
    return compress(x, model=model)


def child(model: str, path: str, mode: str) -> dict:
    """One measurement, in this (fresh) process."""
    from pixelsmith.cli.codec_files import decompress_file
    from pixelsmith.codec.api import decompress, load_codec, read_header
    from pixelsmith.codec.memory import decode_bytes

    codec = load_codec(model)
    data = Path(path).read_bytes()
    header = read_header(data)
    before = peak_bytes()
    started = time.perf_counter()
    if mode == "decode":
        decompress(data, model=codec)
    else:
        decompress_file(Path(path), Path(path).with_suffix(".png"), codec, 10**9)
    seconds = time.perf_counter() - started
    return {"model": model, "mode": mode, "height": header.height, "width": header.width,
            "bytes": len(data), "before": before, "peak": peak_bytes(), "seconds": seconds,
            "estimate": decode_bytes(codec, header.height, header.width, header.pad_bottom,
                                     header.pad_right), "threads": torch.get_num_threads()}


def make_files(model: str, folder: str) -> dict:
    """Write the files (in a process of their own: peak RSS survives exec into the children,
    so the measuring parent must stay small)."""
    files = {f"flat {side}": flat_file(model, side, side) for side in FLAT_SIDES}
    files["kodim23 2x2"] = photo_file(model)
    paths = {}
    for label, data in files.items():
        path = Path(folder) / f"{model}-{label.replace(' ', '-')}.pxs"
        path.write_bytes(data)
        paths[label] = str(path)
    return paths


def measure(model: str, path: Path, mode: str, label: str) -> dict:
    command = [sys.executable, "-m", "benchmarks.codec_decode_memory", "--child", model,
               str(path), mode]
    out = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return {**json.loads(out.strip().splitlines()[-1]), "image": label}


def section(rows: list[dict], meta: dict) -> str:
    from pixelsmith.codec.api import load_codec
    from pixelsmith.codec.memory import (
        LATENT_BYTES,
        LATENT_BYTES_BY_KIND,
        OUTPUT_BYTES,
        TILE_BYTES_PER_CHANNEL,
        decode_bytes,
    )
    from pixelsmith.codec.models import LATENT_STRIDE, SYNTHESIS_HALO, SYNTHESIS_TILE

    lines = [
        "### Decoding memory, measured",
        "",
        f"Command: `{meta['command']}`. Peak resident memory of a fresh process that loads the "
        "model and reads one .pxs file, then decodes it (`decode`: `decompress`, the API) or "
        "decodes it and writes a PNG (`decode+png`: what `pixelsmith decompress` does). "
        "\"Added\" is the peak minus the peak before decoding. The flat files code a flat grey "
        "image (all latent symbols 0: a file of tens of kB asks for megapixels); the photo is "
        "kodim23 tiled 2 x 2. The guard's estimate is what `pixelsmith.codec.memory.decode_bytes` "
        f"predicts from the header alone ({OUTPUT_BYTES} bytes x channels x pixels for the "
        f"output and its writing, {LATENT_BYTES} bytes per latent value "
        f"({LATENT_BYTES_BY_KIND[4]} for the checkerboard codec), "
        f"{TILE_BYTES_PER_CHANNEL} bytes x N x tile pixels); a file whose estimate exceeds "
        "the free memory is refused before decoding starts.",
        "",
        f"- machine: {meta['machine']}",
        f"- date: {meta['date']}",
        "",
        "| model | image | size | file (kB) | mode | seconds | peak (GB) | added (GB) | "
        "added per megapixel (MB) | guard's estimate (GB) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        pixels = r["height"] * r["width"]
        added = r["peak"] - r["before"]
        lines.append(f"| {r['model']} | {r['image']} | {r['width']}x{r['height']} | "
                     f"{r['bytes'] / 1e3:.1f} | {r['mode']} | {r['seconds']:.1f} | "
                     f"{r['peak'] / 1e9:.2f} | {added / 1e9:.3f} | {added / pixels:.1f} | "
                     f"{r['estimate'] / 1e9:.3f} |")
    lines.append("")
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == model]
        codec = load_codec(model)
        side = (SYNTHESIS_TILE + 2 * SYNTHESIS_HALO) * LATENT_STRIDE
        fixed = TILE_BYTES_PER_CHANNEL * codec.N * side * side / 1e6
        per_mp = (decode_bytes(codec, 4096, 4096) / 1e6 - fixed) / (4096 * 4096 / 1e6)
        ratio = max((r["peak"] - r["before"]) / r["estimate"] for r in mine)
        largest = max(mine, key=lambda r: (r["height"] * r["width"], r["mode"]))
        megapixels = largest["height"] * largest["width"] / 1e6
        added = (largest["peak"] - largest["before"]) / 1e6 / megapixels
        lines.append(
            f"- {model}: bound (the guard's estimate) {per_mp:.0f} MB per megapixel + "
            f"{fixed:.0f} MB; every decoding above stayed under it (at most {ratio:.2f} of "
            f"it); the largest, {largest['width']}x{largest['height']} with the PNG written, "
            f"added {added:.0f} MB per megapixel in all.")
    return "\n".join(lines)


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], sys.argv[3], sys.argv[4])))
        return 0
    if len(sys.argv) == 4 and sys.argv[1] == "--make":
        print(json.dumps(make_files(sys.argv[2], sys.argv[3])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["codec-q3"])
    parser.add_argument("--output-dir", default=str(ROOT / "docs"),
                        help="where CODEC.md goes (default docs/)")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models:
            command = [sys.executable, "-m", "benchmarks.codec_decode_memory", "--make", model,
                       tmp]
            out = subprocess.run(command, check=True, capture_output=True, text=True,
                                 cwd=ROOT).stdout
            for label, path in json.loads(out.strip().splitlines()[-1]).items():
                for mode in ("decode", "decode+png"):
                    rows.append(measure(model, path, mode, label))
                    print(rows[-1], flush=True)
    meta = {"command": ("python -m benchmarks.codec_decode_memory " + " ".join(sys.argv[1:])
                        ).strip(),
            "machine": machine_summary(), "date": time.strftime("%Y-%m-%d %H:%M")}
    out = Path(args.output_dir) / "CODEC.md"
    replace_section(out, SECTION, section(rows, meta), title="# Learned image compression")
    print(f"wrote {out} (section {SECTION})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
