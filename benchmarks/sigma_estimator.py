"""Accuracy of the noise-level estimator behind ``--sigma auto`` on BSD68; writes its section of
docs/BENCHMARKS.md ("sigma-estimator").

    python -m benchmarks.sigma_estimator
    python -m benchmarks.sigma_estimator --data /path/to/BSD68 --no-write

Each clean image gets Gaussian noise from its own seeded generator (not clipped, not rounded,
as in the usual synthetic-noise protocol), and :func:`pixelsmith.degrade.estimate.estimate_sigma`
estimates the level back. Figures are in 0-255 units.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from benchmarks.common import replace_section
from pixelsmith.degrade.estimate import estimate_sigma
from pixelsmith.io import list_images, read_image
from pixelsmith.settings import dataset_path
from pixelsmith.sysinfo import machine_summary

ROOT = Path(__file__).resolve().parents[1]
SIGMAS = (5, 10, 15, 25, 35, 50)


def measure(images: list[torch.Tensor], sigma: float, seed: int) -> dict:
    """Estimates for every image at ``sigma`` (0-255), and their summary."""
    estimates = []
    for index, clean in enumerate(images):
        generator = torch.Generator().manual_seed(seed * 100_000 + int(sigma) * 1000 + index)
        noisy = clean + sigma / 255 * torch.randn(clean.shape, generator=generator)
        estimates.append(estimate_sigma(noisy).item() * 255)
    errors = torch.tensor(estimates) - sigma
    return {"sigma": sigma, "estimates": estimates, "mean": sum(estimates) / len(estimates),
            "bias": errors.mean().item(), "mae": errors.abs().mean().item(),
            "max_error": errors.abs().max().item()}


def report(rows: list[dict], names: list[str], clean: list[float], seconds_per_mp: float,
           data: Path, command: str) -> str:
    """The Markdown section: header, table, and what it shows."""
    lines = [
        "## Noise-level estimator (`--sigma auto`)",
        "",
        "Donoho's wavelet estimator (median |HH1| / 0.6745, db2, scikit-image's "
        "`estimate_sigma`; colour images average their channels) on "
        f"{len(names)} images of `{data.name}`, each with seeded Gaussian noise, not clipped "
        "or rounded. Figures in 0-255 units.",
        "",
        f"- machine: {machine_summary()}",
        f"- command: `{command}`",
        f"- date: {time.strftime('%Y-%m-%d %H:%M')}",
        f"- speed: {seconds_per_mp * 1000:.0f} ms per megapixel (gray)",
        "",
        "| sigma | mean estimate | bias | mean abs. error | max abs. error |",
        "|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(f"| {row['sigma']:g} | {row['mean']:.2f} | {row['bias']:+.2f} | "
                     f"{row['mae']:.2f} | {row['max_error']:.2f} |")
    low = rows[0]
    worst = sorted(zip(low["estimates"], names, clean, strict=True), reverse=True)[:3]
    lines += [
        "",
        f"On the clean images (no added noise) the estimator reads {min(clean):.2f} to "
        f"{max(clean):.2f} (mean {sum(clean) / len(clean):.2f}): fine texture and edges leak "
        "into the finest diagonal subband and read as noise. That floor adds to the noise "
        "roughly in quadrature, so the estimate is biased up at low sigma and the bias fades "
        f"as sigma grows. Largest estimates at sigma {low['sigma']:g}: "
        + ", ".join(f"{name} {est:.1f} (clean {c:.1f})" for est, name, c in worst) + ".",
        "Give `--sigma` explicitly for textured images with little noise.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=dataset_path("test/BSD68"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true", help="Print, do not touch the docs.")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "BENCHMARKS.md")
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"{args.data}: no such folder (set $PIXELSMITH_DATA)", file=sys.stderr)
        return 2
    paths = list_images(args.data)
    images = [read_image(p) for p in paths]
    names = [p.stem for p in paths]

    start = time.perf_counter()
    clean = [estimate_sigma(x).item() * 255 for x in images]
    megapixels = sum(x.shape[-2] * x.shape[-1] for x in images) / 1e6
    seconds_per_mp = (time.perf_counter() - start) / megapixels
    rows = [measure(images, sigma, args.seed) for sigma in SIGMAS]

    command = "python -m benchmarks.sigma_estimator" + "".join(
        f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    body = report(rows, names, clean, seconds_per_mp, args.data, command)
    print(body)
    if not args.no_write:
        replace_section(args.output, "sigma-estimator", body)
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
