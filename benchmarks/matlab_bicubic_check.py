"""Compare pixelsmith's bicubic downsampling with MATLAB's, on the Set5 test images.

The reference is the published ``Set5/LR_bicubic/X{s}/{name}x{s}.png``, made with MATLAB
``imresize(hr, 1/s)`` on the HR image cropped to a multiple of ``s``. Two pixelsmith paths
are measured, both in float64 and rounded to uint8 at the end:

- ``uint8``: ``imresize(hr, 1/s, uint8=True)``, MATLAB's behaviour on uint8 images (the
  intermediate after the first axis is rounded to 8 bits);
- ``float``: the linear :class:`~pixelsmith.degrade.Downsample` operator (MATLAB on doubles).

Prints a Markdown report and writes it to ``docs/matlab_bicubic_check.md``.
Run: ``python -m benchmarks.matlab_bicubic_check [--data DIR] [--output FILE]``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
from pathlib import Path

import numpy as np
import torch

from pixelsmith.degrade import Downsample, imresize
from pixelsmith.io import atomic_write_text, read_image
from pixelsmith.settings import dataset_path

ROOT = Path(__file__).resolve().parents[1]


def to_levels(x: torch.Tensor) -> np.ndarray:
    """[0, 1] tensor -> integer gray levels (MATLAB's uint8 rounding: halves away from zero)."""
    return np.floor(x.double().clamp(0, 1).numpy() * 255.0 + 0.5).astype(np.int64)


def compare(ours: torch.Tensor, reference: np.ndarray) -> dict[str, float]:
    """Mean and max absolute difference in gray levels, and the fraction of equal samples."""
    diff = np.abs(to_levels(ours) - reference)
    return {"mad": float(diff.mean()), "max": int(diff.max()), "same": float((diff == 0).mean())}


def check_image(hr_path: Path, lr_path: Path, scale: int) -> dict[str, dict[str, float]]:
    hr = read_image(hr_path).double()
    height, width = hr.shape[-2:]
    hr = hr[..., : height - height % scale, : width - width % scale]
    hr = torch.floor(hr * 255 + 0.5) / 255  # exact uint8 levels in float64
    reference = to_levels(read_image(lr_path))
    if reference.shape[-2:] != (hr.shape[-2] // scale, hr.shape[-1] // scale):
        raise SystemExit(f"{lr_path}: size {reference.shape[-2:]} does not match {hr_path}")
    return {
        "uint8": compare(imresize(hr, 1 / scale, uint8=True), reference),
        "float": compare(Downsample(scale)(hr), reference),
    }


def header(command: str) -> list[str]:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cpu = platform.processor() or platform.machine()
    machine = f"{platform.platform()}, {cpu}, {os.cpu_count()} logical CPUs"
    return [
        "# MATLAB bicubic check (Set5)",
        "",
        f"- machine: {machine}; Python {platform.python_version()}, torch {torch.__version__}",
        f"- command: `{command}`",
        f"- date: {now}",
        "",
        "Reference: `Set5/LR_bicubic/X{s}` (MATLAB `imresize(hr, 1/s)`, HR cropped to a",
        "multiple of s). Differences in gray levels (0-255) after rounding to uint8.",
        "`uint8` = `imresize(hr, 1/s, uint8=True)` (MATLAB's uint8 path, rounding between the two",
        "axis passes); `float` = the linear `Downsample(s)` operator, rounded once (MATLAB's path",
        "for a double image). The path that matches a folder exactly tells how it was made.",
        "",
    ]


def table(scale: int, rows: dict[str, dict[str, dict[str, float]]]) -> list[str]:
    lines = [
        f"## x{scale}",
        "",
        "| image | uint8: mean abs diff | uint8: max | uint8: identical | "
        "float: mean abs diff | float: max | float: identical |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, result in rows.items():
        cells = []
        for mode in ("uint8", "float"):
            r = result[mode]
            cells += [f"{r['mad']:.4f}", f"{r['max']}", f"{r['same']:.2%}"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="Set5 folder (default: settings)")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "matlab_bicubic_check.md")
    parser.add_argument("--scales", type=int, nargs="+", default=[2, 3, 4, 8])
    args = parser.parse_args(argv)
    root = args.data or dataset_path("test/Set5")
    if not (root / "HR").is_dir():
        print(f"{root}: no Set5 HR folder (set PIXELSMITH_DATA)", file=sys.stderr)
        return 2
    command = "python " + " ".join([Path(sys.argv[0]).as_posix(), *(argv or sys.argv[1:])])
    lines = header(command)
    for scale in args.scales:
        rows = {}
        for hr_path in sorted((root / "HR").glob("*.png")):
            lr_path = root / "LR_bicubic" / f"X{scale}" / f"{hr_path.stem}x{scale}.png"
            if lr_path.is_file():
                rows[hr_path.stem] = check_image(hr_path, lr_path, scale)
        lines += table(scale, rows)
    report = "\n".join(lines)
    print(report)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.output, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
