"""Plot the training curves of runs (losses per logged step, validation metrics per validation)
from their metrics.jsonl, one PNG per run in docs/images/<run name>-curves.png.

    python -m benchmarks.training_curves runs/gan-mnist runs/gan-faces
    python -m benchmarks.training_curves runs/vae-mnist --output-dir /tmp/curves

Each figure has one panel per logged quantity: the training ones (e.g. ``d_loss``/``g_loss``
of a GAN, ``recon``/``kl`` of a VAE) against the step, and the validation ones (``fid`` of a
GAN validated with ``val.extractor``, the ``elbo`` of a VAE, ``psnr``) as markers. A run that
was resumed logs some steps twice; the later record wins, as in the run itself.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SKIP = {"step", "kind", "time", "lr"}
TRAIN_KEYS = ("d_loss", "g_loss", "d_real", "d_fake", "g_pixel", "g_adv", "g_fm", "r1",
              "recon", "kl", "loss", "beta")
VAL_KEYS = ("fid", "kid", "precision", "recall", "coverage", "elbo", "psnr", "ssim", "accuracy")


def read_metrics(run: Path) -> dict[str, dict[str, dict[int, float]]]:
    """{"train" | "val": {quantity: {step: value}}} from ``run``/metrics.jsonl."""
    path = run / "metrics.jsonl"
    if not path.is_file():
        raise SystemExit(f"training_curves: error: {path} does not exist")
    series: dict[str, dict[str, dict[int, float]]] = {"train": {}, "val": {}}
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        kind = record.get("kind")
        if kind not in series:
            continue
        for key, value in record.items():
            if key not in SKIP and isinstance(value, (int, float)):
                series[kind].setdefault(key, {})[int(record["step"])] = float(value)
    return series


def panels(series: dict[str, dict[str, dict[int, float]]]) -> list[tuple[str, str, list[str]]]:
    """(title, kind, quantities) per panel: GAN players share one panel, the rest one each."""
    train, val = series["train"], series["val"]
    out: list[tuple[str, str, list[str]]] = []
    grouped = {"discriminator and generator losses": ["d_loss", "g_loss"],
               "discriminator logits": ["d_real", "d_fake"],
               "generator terms (pix2pix)": ["g_pixel", "g_adv", "g_fm"]}
    used: set[str] = set()
    for title, keys in grouped.items():
        present = [key for key in keys if key in train]
        if len(present) > 1:
            out.append((title, "train", present))
            used.update(present)
    out += [(key, "train", [key]) for key in TRAIN_KEYS if key in train and key not in used]
    out += [(f"validation {key}", "val", [key]) for key in VAL_KEYS if key in val]
    return out


def plot_run(run: Path, output: Path) -> Path:
    """Write the curves of ``run`` to ``output`` (a PNG); return its path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pixelsmith.io import atomic_output

    series = read_metrics(run)
    layout = panels(series)
    if not layout:
        raise SystemExit(f"training_curves: error: {run} has no logged quantities to plot")
    cols = min(3, len(layout))
    rows = (len(layout) + cols - 1) // cols
    figure, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax, (title, kind, keys) in zip(axes.flat, layout, strict=False):
        for key in keys:
            points = sorted(series[kind][key].items())
            steps, values = zip(*points, strict=True)
            ax.plot(steps, values, "o-" if kind == "val" else "-", label=key,
                    markersize=3, linewidth=1.2 if kind == "val" else 0.8)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if len(keys) > 1:
            ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(layout):]:
        ax.set_visible(False)
    figure.suptitle(f"{run.name}: training curves", fontsize=11)
    figure.tight_layout()
    output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(output) as tmp:
        figure.savefig(tmp, format="png", dpi=110)
    plt.close(figure)
    return output


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders with metrics.jsonl")
    parser.add_argument("--output-dir", type=Path, default=DOCS / "images")
    parser.add_argument("--name", action="append",
                        help="figure name per run (default: the run folder's name)")
    args = parser.parse_args()
    names = args.name or [run.name for run in args.runs]
    if len(names) != len(args.runs):
        parser.error("give one --name per run, or none")
    for run, name in zip(args.runs, names, strict=True):
        print(plot_run(run, args.output_dir / f"{name}-curves.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
