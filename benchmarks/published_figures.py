"""Reproduce published classical figures with `pixelsmith evaluate` and write docs/BENCHMARKS.md.

    python -m benchmarks.published_figures            # every row (BM3D on BSD68 takes a while)
    python -m benchmarks.published_figures --only sr  # rows whose key starts with "sr"

Each row runs the evaluator on a standard test set from $PIXELSMITH_DATA and compares the
measured mean PSNR with the figure published in the literature (../shared/PUBLISHED_FIGURES.md).
A gap above 0.1 dB is flagged: it means our protocol or method differs from the paper's.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import replace_section
from pixelsmith.evaluate.protocol import EvalParams, evaluate
from pixelsmith.io import atomic_write_text
from pixelsmith.settings import dataset_path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
RESULTS = DOCS / "results"


@dataclass(frozen=True)
class Row:
    key: str
    method: str
    dataset: str
    params: EvalParams
    published: float
    source: str
    # SSIM published beside PSNR, where the source gives it
    published_ssim: float | None = None


SWINIR = "SwinIR README (figs/gray_image_denoising.png), same in DPIR README"
RCAN = "RCAN README tables"
ROWS = (
    Row("denoise-set12-25", "bm3d", "test/Set12", EvalParams("denoise", sigma=25), 29.97, SWINIR),
    Row("denoise-bsd68-25", "bm3d", "test/BSD68", EvalParams("denoise", sigma=25), 28.57, SWINIR),
    Row("sr-set5-x4", "bicubic", "test/Set5/HR", EvalParams("sr", scale=4), 28.42, RCAN, 0.8104),
    Row("sr-set5-x2", "bicubic", "test/Set5/HR", EvalParams("sr", scale=2), 33.66, RCAN, 0.9299),
    Row("sr-set14-x4", "bicubic", "test/Set14", EvalParams("sr", scale=4), 26.00, RCAN, 0.7027),
    Row("sr-set14-x2", "bicubic", "test/Set14", EvalParams("sr", scale=2), 30.24, RCAN, 0.8688),
)


def describe(params: EvalParams) -> str:
    p = params.resolved().public()
    return ", ".join(f"{k} {v}" for k, v in p.items() if k not in ("seed", "color"))


def run_rows(rows: list[Row]) -> None:
    """Evaluate ``rows`` and store each report as docs/results/published-<key>.json."""
    for row in rows:
        report = evaluate(dataset_path(row.dataset), row.params.task, [row.method], row.params)
        text = json.dumps(report, indent=2) + "\n"
        atomic_write_text(RESULTS / f"published-{row.key}.json", text)
        result = report["results"][0]
        print(f"{row.key}: {result['psnr']:.2f} dB (published {row.published:.2f}, "
              f"gap {result['psnr'] - row.published:+.2f})", flush=True)


def table() -> str:
    """The section's Markdown, from every stored report of ROWS (so partial runs keep the rest)."""
    lines = [
        "## Classical baselines against their published figures",
        "",
        "Command: `python -m benchmarks.published_figures [--only KEY_PREFIX]` (data from "
        "`$PIXELSMITH_DATA`, default `../shared/data`). Protocol: docs/EVALUATION.md, seed 0. "
        "Per-image figures, machine and date of each row: `docs/results/published-<key>.json`. "
        "Published figures: ../shared/PUBLISHED_FIGURES.md. A gap over 0.1 dB is flagged. "
        "Speed columns are wall-clock on the machine named; the 2026-11-22 run shared its 2 "
        "cores with other jobs (load about 3-5), so its BM3D seconds are pessimistic.",
        "",
        "| key | method | data set | setting | PSNR measured | PSNR published | gap | "
        "SSIM measured | SSIM published | s / image | MP / s | measured on | date |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    machines = {}
    for row in ROWS:
        path = RESULTS / f"published-{row.key}.json"
        if not path.exists():
            continue
        report = json.loads(path.read_text())
        result = report["results"][0]
        machine = machines.setdefault(report["meta"]["machine"], f"M{len(machines) + 1}")
        gap = result["psnr"] - row.published
        flag = "" if abs(gap) <= 0.1 else " (over 0.1 dB)"
        ssim_pub = f"{row.published_ssim:.4f}" if row.published_ssim else "-"
        lines.append(
            f"| {row.key} | {row.method} | {row.dataset} | {describe(row.params)} | "
            f"{result['psnr']:.2f} | {row.published:.2f} | {gap:+.2f}{flag} | "
            f"{result['ssim']:.4f} | {ssim_pub} | {result['seconds_per_image']:.2f} | "
            f"{result['megapixels_per_second']:.3f} | {machine} | {report['meta']['date'][:10]} |"
        )
    lines.append("")
    lines += [f"- {label}: {name}" for name, label in machines.items()]
    lines.append("")
    lines.append("Sources: denoising, " + SWINIR + "; super-resolution, " + RCAN + ".")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="run only the rows whose key starts with this")
    args = parser.parse_args()
    run_rows([r for r in ROWS if r.key.startswith(args.only)])
    replace_section(DOCS / "BENCHMARKS.md", "published-classical", table())
    print(f"wrote {DOCS / 'BENCHMARKS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
