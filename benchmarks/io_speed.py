"""Seconds to read and write a 12-megapixel 16-bit RGB PNG: OpenCV (the fast path) vs pypng.

The image is a Kodak24 photograph enlarged to 4000x3000 (bicubic) and widened to 16 bits with
seeded noise in the low byte, so the file compresses like a real 16-bit photo. Each path is
timed on the same file; the pixels of every path are checked equal. Rows:

- ``load_image`` with OpenCV: the fast path (OpenCV installed, the ``classical`` extra);
- ``load_image`` without OpenCV: the fallback (pypng);
- the reading before the fast path: Pillow decoded the file (to 8 bits, for its checks), then
  pypng decoded it again;
- ``save_image`` with and without OpenCV (pypng wrote every 16-bit colour PNG before).

Run: ``python -m benchmarks.io_speed`` (writes the "io-speed" section of docs/BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np
import torch

from benchmarks.common import markdown_table, meta_lines, replace_section, run_meta
from pixelsmith import io_png
from pixelsmith.io import load_image, save_image
from pixelsmith.settings import data_root

ROOT = Path(__file__).resolve().parents[1]
SECTION = "io-speed"
WIDTH, HEIGHT = 4000, 3000


def make_image(seed: int = 0) -> np.ndarray:
    """HxWx3 uint16: kodim01 enlarged to 4000x3000, 8-bit values x 257 plus noise in 0-255."""
    from PIL import Image

    source = data_root() / "test" / "Kodak24" / "kodim01.png"
    with Image.open(source) as img:
        big = np.asarray(img.convert("RGB").resize((WIDTH, HEIGHT), Image.BICUBIC))
    noise = np.random.default_rng(seed).integers(0, 256, big.shape, dtype=np.uint16)
    return big.astype(np.uint16) * 256 + noise


def best_of(repeats: int, fn) -> float:
    """The fastest of ``repeats`` timed calls, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def read_before(path: Path) -> np.ndarray:
    """How pixelsmith read a 16-bit RGB PNG before the fast path: Pillow, then pypng."""
    from PIL import Image

    with Image.open(path) as img:
        img.load()
    return io_png.read_pypng(path.read_bytes(), str(path))


def pixels_of(path: Path) -> np.ndarray:
    return np.round(load_image(path).pixels[0].double().numpy() * 65535).astype(np.uint16)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="best of N for the fast path")
    parser.add_argument("--output", default=str(ROOT / "docs" / "BENCHMARKS.md"))
    args = parser.parse_args()
    if not io_png.has_cv2():
        raise SystemExit("OpenCV is not installed (pip install 'pixelsmith[classical]')")
    array = make_image()
    tensor = torch.from_numpy(array.transpose(2, 0, 1).astype(np.float32) / 65535.0)[None]
    no_cv2 = mock.patch.object(io_png, "has_cv2", return_value=False)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        fast, slow = Path(tmp) / "fast.png", Path(tmp) / "slow.png"
        write_fast = best_of(args.repeats, lambda: save_image(fast, tensor, bit_depth=16))
        with no_cv2:
            write_slow = best_of(1, lambda: save_image(slow, tensor, bit_depth=16))
        read_fast = best_of(args.repeats, lambda: load_image(fast))
        with no_cv2:
            read_slow = best_of(1, lambda: load_image(fast))
        read_old = best_of(1, lambda: read_before(fast))
        reference = pixels_of(fast)
        with no_cv2:
            same = np.array_equal(reference, pixels_of(fast))
        same &= np.array_equal(reference, pixels_of(slow))
        same &= np.array_equal(reference.transpose(1, 2, 0), array)
        sizes = {name: os.path.getsize(p) / 1e6 for name, p in (("fast", fast), ("slow", slow))}
    rows = [
        ["read", "load_image, OpenCV", f"{read_fast:.2f}", ""],
        ["read", "load_image, pypng (no OpenCV)", f"{read_slow:.2f}", ""],
        ["read", "before: Pillow decode, then pypng", f"{read_old:.2f}", ""],
        ["write", "save_image, OpenCV", f"{write_fast:.2f}", f"{sizes['fast']:.1f}"],
        ["write", "save_image, pypng (no OpenCV; before)", f"{write_slow:.2f}",
         f"{sizes['slow']:.1f}"],
    ]
    meta = run_meta()
    body = "\n".join([
        "## 16-bit PNG reading and writing",
        "",
        meta_lines(meta),
        "",
        f"A {WIDTH}x{HEIGHT} 16-bit RGB PNG (kodim01 enlarged, noise in the low byte); seconds, "
        f"the fast path best of {args.repeats}, the others one run. Pixels equal on every "
        f"path: {'yes' if same else 'NO'}.",
        "",
        markdown_table(["", "path", "seconds", "file MB"], rows),
    ])
    print(body)
    replace_section(Path(args.output), SECTION, body)
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
