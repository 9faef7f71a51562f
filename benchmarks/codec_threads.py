"""What the learned codec's determinism looks like across thread counts, on Kodak24: writes the
"codec-threads" section of docs/BENCHMARKS.md (docs/CODEC.md, "Determinism", explains it).

    python -m benchmarks.codec_threads                      # the shipped codec-q1..q4, 24 images
    python -m benchmarks.codec_threads --models models/codec-q3 --limit 2 --output-dir /tmp/t

Per model and image: the file encoded with 1 thread against the one encoded with 2 (equal
bytes?); the 2-thread file decoded twice with 2 threads (equal pixels?) and once with 1 thread
(how many 8-bit sub-pixels differ from the 2-thread decode, and by how many levels at most).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import replace_section
from pixelsmith.codec.api import compress, decompress, load_codec
from pixelsmith.io import list_images, read_image, to_array
from pixelsmith.settings import dataset_path
from pixelsmith.sysinfo import machine_summary

ROOT = Path(__file__).resolve().parents[1]
SECTION = "codec-threads"


def levels(x: torch.Tensor) -> np.ndarray:
    """The 8-bit image as signed integers, so two of them can be subtracted."""
    return to_array(x).astype(np.int16)


def with_threads(count: int, work, *args, **kwargs):
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        return work(*args, **kwargs)
    finally:
        torch.set_num_threads(previous)


def measure(name: str, images: dict[str, torch.Tensor]) -> dict:
    codec = load_codec(name)
    same_bytes = same_repeat = differing = worst = 0
    for x in images.values():
        data = with_threads(2, compress, x, model=codec)
        same_bytes += data == with_threads(1, compress, x, model=codec)
        two = levels(with_threads(2, decompress, data, model=codec))
        same_repeat += np.array_equal(two, levels(with_threads(2, decompress, data, model=codec)))
        gap = np.abs(two - levels(with_threads(1, decompress, data, model=codec)))
        differing += int((gap > 0).sum())
        worst = max(worst, int(gap.max()))
    subpixels = sum(x.numel() for x in images.values())
    return {"model": name, "images": len(images), "same_bytes": same_bytes,
            "same_repeat": same_repeat, "differing": differing, "subpixels": subpixels,
            "worst": worst}


def section(rows: list[dict], command: str) -> str:
    lines = [
        "## Learned codec: determinism across thread counts (Kodak24)",
        "",
        f"Command: `{command}`. Each image is encoded with 2 threads and with 1; the 2-thread "
        "file is decoded twice with 2 threads and once with 1, and the 8-bit decoded images are "
        "compared. Why 1 and 2 threads may differ at all: docs/CODEC.md, Determinism.",
        "",
        f"- machine: {machine_summary()}",
        f"- date: {time.strftime('%Y-%m-%d %H:%M')}",
        "",
        "| model | images | same bytes, 1 vs 2 threads | same pixels, two 2-thread decodes | "
        "sub-pixels differing, 1 vs 2 threads | largest difference (levels) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['model']} | {r['images']} | {r['same_bytes']} of {r['images']} | "
                     f"{r['same_repeat']} of {r['images']} | {r['differing']:,} of "
                     f"{r['subpixels']:,} | {r['worst']} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*",
                        default=[f"codec-q{q}" for q in (1, 2, 3, 4)],
                        help="codec model folders or shipped names (default: codec-q1..q4)")
    parser.add_argument("--data", default=str(dataset_path("test/Kodak24")))
    parser.add_argument("--limit", type=int, default=None, help="only the first N images")
    parser.add_argument("--output-dir", default=str(ROOT / "docs"),
                        help="where BENCHMARKS.md goes (default docs/)")
    args = parser.parse_args()
    paths = list_images(args.data)[: args.limit]
    images = {p.stem: read_image(p, gray=False) for p in paths}
    rows = []
    for name in args.models:
        rows.append(measure(name, images))
        print(rows[-1], flush=True)
    command = "python -m benchmarks.codec_threads " + " ".join(sys.argv[1:])
    out = Path(args.output_dir) / "BENCHMARKS.md"
    replace_section(out, SECTION, section(rows, command.strip()))
    print(f"wrote {out} (section {SECTION})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
