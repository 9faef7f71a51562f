"""Benchmark the shipped denoising and de-JPEG models against BM3D / the JPEG input, same run.

    python -m benchmarks.denoise_dejpeg                     # everything (BM3D is the slow part)
    python -m benchmarks.denoise_dejpeg --baseline-limit 10 # BM3D on the first 10 images only
    python -m benchmarks.denoise_dejpeg --only gray         # rows whose key starts with "gray"
    python -m benchmarks.denoise_dejpeg --only color --reuse-baseline  # a retrained model only

Protocols (docs/EVALUATION.md): Gaussian noise added to [0, 1] floats without clipping, seed 0,
outputs quantised to 8 bits, full-image PSNR/SSIM; JPEG by Pillow at the given quality.
Kodak24 is measured on the 500x500 crops of the denoising papers (data README). Results go
to docs/results/<key>.json and the section "learned-denoise-dejpeg" of docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks.common import load_now, other_cores, replace_section
from benchmarks.reference_speed import dncnn_megapixels_per_second
from pixelsmith.evaluate.protocol import EvalParams, evaluate
from pixelsmith.io import atomic_write_text, list_images, read_image, save_image
from pixelsmith.settings import dataset_path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
RESULTS = DOCS / "results"
PORTRAIT = {"kodim04", "kodim09", "kodim10", "kodim17", "kodim18", "kodim19"}
#: images of each row on which the DnCNN-sized yardstick is timed (the first ones)
REFERENCE_IMAGES = 8

SWINIR_GRAY = "SwinIR README, gray denoising figure"
SWINIR_COLOR = "SwinIR README, colour denoising figure"
FBCNN = "FBCNN README table"
# Published PSNR (dB) per (data set, level): {method: value}; ../shared/PUBLISHED_FIGURES.md
PUBLISHED = {
    ("Set12", 15): {"BM3D": 32.37, "DnCNN": 32.86, "FFDNet": 32.75, "DRUNet": 33.25},
    ("Set12", 25): {"BM3D": 29.97, "DnCNN": 30.44, "FFDNet": 30.43, "DRUNet": 30.94},
    ("Set12", 50): {"BM3D": 26.72, "DnCNN": 27.18, "FFDNet": 27.32, "DRUNet": 27.90},
    ("BSD68", 15): {"BM3D": 31.08, "DnCNN": 31.73, "FFDNet": 31.63, "DRUNet": 31.91},
    ("BSD68", 25): {"BM3D": 28.57, "DnCNN": 29.23, "FFDNet": 29.19, "DRUNet": 29.48},
    ("BSD68", 50): {"BM3D": 25.60, "DnCNN": 26.23, "FFDNet": 26.29, "DRUNet": 26.59},
    ("CBSD68", 15): {"CBM3D": 33.52, "CDnCNN": 33.90, "FFDNet": 33.87, "DRUNet": 34.30},
    ("CBSD68", 25): {"CBM3D": 30.71, "CDnCNN": 31.24, "FFDNet": 31.21, "DRUNet": 31.69},
    ("CBSD68", 50): {"CBM3D": 27.38, "CDnCNN": 27.95, "FFDNet": 27.96, "DRUNet": 28.51},
    ("Kodak24", 15): {"CBM3D": 34.28, "CDnCNN": 34.60, "FFDNet": 34.63, "DRUNet": 35.31},
    ("Kodak24", 25): {"CBM3D": 32.15, "CDnCNN": 32.14, "FFDNet": 32.13, "DRUNet": 32.89},
    ("Kodak24", 50): {"CBM3D": 28.46, "CDnCNN": 28.95, "FFDNet": 28.98, "DRUNet": 29.86},
    ("LIVE1", 10): {"JPEG": 27.77, "ARCNN": 28.96, "DnCNN-3": 29.19},
    ("LIVE1", 20): {"JPEG": 30.07, "ARCNN": 31.29, "DnCNN-3": 31.59},
    ("LIVE1", 30): {"JPEG": 31.41, "ARCNN": 32.67, "DnCNN-3": 32.98},
    ("classic5", 10): {"JPEG": 27.82, "ARCNN": 29.03, "DnCNN-3": 29.40},
    ("classic5", 20): {"JPEG": 30.12, "ARCNN": 31.15, "DnCNN-3": 31.63},
    ("classic5", 30): {"JPEG": 31.48, "ARCNN": 32.51, "DnCNN-3": 32.91},
}


@dataclass(frozen=True)
class Row:
    key: str
    dataset: str  # short name for PUBLISHED
    folder: str  # below $PIXELSMITH_DATA
    model: str
    baseline: str
    params: EvalParams

    @property
    def level(self) -> int:
        return int(self.params.sigma if self.params.task == "denoise" else self.params.quality)


def rows() -> list[Row]:
    out = []
    for name, folder in (("Set12", "test/Set12"), ("BSD68", "test/BSD68")):
        for sigma in (15, 25, 50):
            out.append(Row(f"gray-{name}-{sigma}", name, folder, "denoise-gray", "bm3d",
                           EvalParams("denoise", sigma=sigma, color="gray")))
    for name, folder in (("CBSD68", "test/CBSD68"), ("Kodak24", "kodak-crops"),
                         ("McMaster", "test/McMaster")):
        for sigma in (15, 25, 50):
            out.append(Row(f"color-{name}-{sigma}", name, folder, "denoise-color", "bm3d",
                           EvalParams("denoise", sigma=sigma, color="rgb")))
    for name, folder in (("classic5", "test/classic5"), ("LIVE1", "test/LIVE1/gray")):
        for quality in (10, 20, 30):
            out.append(Row(f"jpeg-{name}-{quality}", name, folder, "dejpeg-gray", "identity",
                           EvalParams("dejpeg", quality=quality, color="gray")))
    return out


def kodak_crops(target: Path) -> Path:
    """The 500x500 crops of Kodak24 used by the denoising papers, written to ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    for path in list_images(dataset_path("test/Kodak24")):
        x, y = (6, 134) if path.stem in PORTRAIT else (134, 6)
        image = read_image(path)
        save_image(target / path.name, image[..., y:y + 500, x:x + 500])
    return target


def kept_baseline(row: Row, images: int, limit: int | None) -> tuple[dict, int, str] | None:
    """The baseline's result, image count and date from the row's last report on the same
    folder, as it was (``limit`` None) or when it ran on at least the first ``limit`` images:
    a baseline does not change when the model is retrained, and BM3D is the slow part."""
    old = report_of(row.key)
    if old is None or old["meta"]["images"] != images or old["results"][1]["method"] != \
            row.baseline:
        return None
    count = old["meta"]["baseline_images"]
    if limit is not None and count < min(limit, images):
        return None
    return (old["results"][1], count,
            old["meta"].get("baseline_date", old["meta"]["date"]))


def run(row: Row, folder: Path, baseline_limit: int | None, reuse_baseline: bool = False
        ) -> dict:
    """Model on every image; baseline on the first ``baseline_limit`` (all when None), or
    taken from the row's last report with ``reuse_baseline`` where it covers them."""
    before = load_now()
    model = evaluate(folder, row.params.task, [row.model], row.params)
    model["meta"]["other_cores"] = other_cores(before, load_now())
    limit = None if row.baseline == "identity" else baseline_limit  # the JPEG input is free
    kept = kept_baseline(row, model["meta"]["images"], limit) if reuse_baseline else None
    if kept is not None:
        result, count, date = kept
        model["results"].append(result)
        model["meta"].update(baseline_images=count, baseline_date=date)
    else:
        base = evaluate(folder, row.params.task, [row.baseline], row.params, limit=limit)
        model["results"] += base["results"]
        model["meta"]["baseline_images"] = base["meta"]["images"]
    channels = 1 if row.params.color == "gray" else 3
    model["meta"]["dncnn_megapixels_per_second"] = dncnn_megapixels_per_second(
        folder, row.params.task, channels, limit=REFERENCE_IMAGES)
    return model


def section() -> str:
    lines = [
        "## Learned denoising and de-JPEG models against BM3D / the JPEG input",
        "",
        "Command: `python -m benchmarks.denoise_dejpeg [--baseline-limit N] "
        "[--reuse-baseline]`. Protocol: docs/EVALUATION.md, seed 0. The baseline (BM3D, CBM3D "
        "for colour; the decoded JPEG for de-JPEG) is measured in the same run, on the first N "
        "images when a limit is given (its column says how many), and its own mean over those "
        "images is shown; the model's mean over the same images is in the JSON. With "
        "`--reuse-baseline` a row whose last run measured the baseline on those images keeps "
        "that result (the date column then gives the baseline's date too): a retrained model "
        "is measured without running BM3D again. Published figures are cited, not measured. "
        "MP/s is the median over the images of each image's megapixels per second (the first "
        "call's warm-up and moments when other jobs hold the cores do not move it). DnCNN-size: "
        f"the median MP/s of a network of DnCNN's published size (random weights, "
        f"benchmarks/reference_speed.py) on the first {REFERENCE_IMAGES} images of the row, in "
        "the same run, and the model's speed as a multiple of it.",
        "",
        "| key | model PSNR / SSIM (all images) | model MP/s | DnCNN-size MP/s (model's multiple) "
        "| baseline (images) PSNR / SSIM | model PSNR on the baseline's images | baseline MP/s | "
        "published | measured on | date |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    machines: dict[str, str] = {}
    for row in rows():
        path = RESULTS / f"{row.key}.json"
        if not path.exists():
            continue
        report = json.loads(path.read_text())
        model, base = report["results"][0], report["results"][1]
        machine = machines.setdefault(report["meta"]["machine"], f"M{len(machines) + 1}")
        published = PUBLISHED.get((row.dataset, row.level), {})
        cited = ", ".join(f"{k} {v:.2f}" for k, v in published.items()) or "-"
        count = report["meta"]["baseline_images"]
        same = model_psnr_on_baseline_images(report)
        lines.append(
            f"| {row.key} | {model['psnr']:.2f} / {model['ssim']:.4f} | "
            f"{model['median_megapixels_per_second']:.3f} | {reference(report)} | "
            f"{base['method']} "
            f"({count}) {base['psnr']:.2f} / {base['ssim']:.4f} | {same:.2f} | "
            f"{base['median_megapixels_per_second']:.3f} | {cited} | {machine} | "
            f"{report['meta']['date'][:10]}{load(report)}{baseline_date(report)} |"
        )
    lines.append("")
    lines += [f"- {label}: {name}" for name, label in machines.items()]
    lines.append("")
    lines.append(f"Sources: {SWINIR_GRAY}; {SWINIR_COLOR}; {FBCNN} (PSNR only).")
    lines += ["", *targets(), "", LIMITS]
    return "\n".join(lines)


#: (row key, PSNR threshold in dB, whose level): the single-model targets, the published level of
#: DnCNN / FFDNet (denoising) and DnCNN-3 (de-JPEG)
PSNR_TARGETS = [("gray-BSD68-15", 31.73, "DnCNN"), ("gray-BSD68-25", 29.23, "DnCNN"),
                ("gray-BSD68-50", 26.29, "FFDNet"), ("gray-Set12-25", 30.44, "DnCNN"),
                ("color-CBSD68-25", 31.24, "CDnCNN"), ("jpeg-LIVE1-10", 29.19, "DnCNN-3"),
                ("jpeg-classic5-10", 29.40, "DnCNN-3")]
#: the gray denoiser's speed over the DnCNN-sized yardstick, same run
SPEED_MULTIPLE = 3.0
#: rows where the colour denoiser must beat CBM3D, with CBM3D on every image
CBM3D_ROWS = [f"color-{name}-{sigma}" for name in ("Kodak24", "McMaster") for sigma in (15, 25, 50)]

LIMITS = (
    "What limits the denoisers: training budget. They are small conditioned U-Nets trained on "
    "the 2-core CPU, one thread each, in stages that each start from the previous stage's "
    "export: a first stage from scratch (`configs/<name>-stage1.yaml`), then fine-tuning "
    "stages on larger patches at lower learning rates, the last one under the model's name "
    "(`configs/<name>.yaml`); "
    "the later stages of denoise-gray and denoise-color switch from L1 to an L2 loss, and "
    "their last stage draws low noise levels more often (`degradation.sigma_bias`), where "
    "they lagged the published CNNs most. The stages, sizes, steps and wall time of each "
    "model are in docs/MODELS.md. That is orders of magnitude less training than the "
    "published CNNs had. The recipes scale by configuration alone for a GPU. "
    "`restore --task denoise` defaults to denoise-gray / denoise-color (zoo/index.json): they "
    "run far faster than BM3D, which still wins on some rows above (`--method bm3d`), and stay "
    "below the published CNNs' figures, which are the targets above.")


def reference(report: dict) -> str:
    """"R (Mx)": the DnCNN-sized yardstick's MP/s and the model's multiple of it, or "-"."""
    rate = report["meta"].get("dncnn_megapixels_per_second")
    if rate is None:
        return "-"
    return f"{rate:.3f} ({report['results'][0]['median_megapixels_per_second'] / rate:.1f}x)"


def model_psnr_on_baseline_images(report: dict) -> float:
    """The model's mean PSNR over the images the baseline also ran on (the first N)."""
    count = report["meta"]["baseline_images"]
    return sum(r["psnr"] for r in report["results"][0]["per_image"][:count]) / count


def baseline_date(report: dict) -> str:
    """"; baseline DATE" when the baseline was measured by an earlier run, else ""."""
    date = report["meta"].get("baseline_date")
    return "" if date is None else f"; baseline {date[:10]}"


def load(report: dict) -> str:
    """", other jobs N cores" (cores other processes kept busy while the model ran), or for older
    reports ", load L" (the 1-minute load average when the row started), when recorded."""
    meta = report["meta"]
    if meta.get("other_cores") is not None:
        return f", other jobs {meta['other_cores']:.2f} cores"
    value = meta.get("load_average")
    return "" if value is None else f", load {value:.1f}"


def report_of(key: str) -> dict | None:
    path = RESULTS / f"{key}.json"
    return json.loads(path.read_text()) if path.exists() else None


def verdict(met: bool) -> str:
    return "**met**" if met else "**not met**"


def targets() -> list[str]:
    """One line per target, met or not, from the results on disk."""
    lines = ["Targets of the denoising and de-JPEG models (single model, no ensemble), from the "
             "results above:"]
    for key, threshold, whose in PSNR_TARGETS:
        report = report_of(key)
        if report is not None:
            value = report["results"][0]["psnr"]
            lines.append(f"- {key}, {report['results'][0]['method']}: {value:.2f} dB, target >= "
                         f"{threshold:.2f} ({whose}): {verdict(value >= threshold)}")
    multiples = {}
    for row in rows():
        report = report_of(row.key)
        rate = report and report["meta"].get("dncnn_megapixels_per_second")
        if row.key.startswith("gray-") and rate:
            multiples[row.key] = report["results"][0]["median_megapixels_per_second"] / rate
    if multiples:
        slowest = min(multiples, key=multiples.get)
        lines.append(f"- gray denoising speed, at least {SPEED_MULTIPLE:.0f}x the DnCNN-sized "
                     f"network on every row: slowest {slowest} at {multiples[slowest]:.1f}x: "
                     f"{verdict(multiples[slowest] >= SPEED_MULTIPLE)}")
    for key in CBM3D_ROWS:
        report = report_of(key)
        if report is None:
            continue
        count, images = report["meta"]["baseline_images"], report["meta"]["images"]
        ours, theirs = model_psnr_on_baseline_images(report), report["results"][1]["psnr"]
        coverage = "" if count == images else (f"; CBM3D ran on {count} of {images} images, "
                                               "the target needs all")
        lines.append(f"- {key}, beat CBM3D: {ours:.2f} vs {theirs:.2f} dB{coverage}: "
                     f"{verdict(ours > theirs and count == images)}")
    wins, total = 0, 0
    for row in rows():
        report = report_of(row.key)
        if row.baseline != "bm3d" or report is None:
            continue
        total += 1
        wins += model_psnr_on_baseline_images(report) > report["results"][1]["psnr"]
    lines.append(f"- beat BM3D on the images where BM3D ran: {wins} of {total} denoising rows")
    lines.append("- Speed comes from the same run as the row. The date column says how many "
                 "cores other jobs kept busy while the model ran (older rows: the 1-minute load "
                 "average when the row started); a row that shared the two cores reads slower "
                 "even as a median.")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="rows whose key starts with this")
    parser.add_argument("--baseline-limit", type=int, default=None,
                        help="run the baseline on the first N images only (BM3D is slow)")
    parser.add_argument("--reuse-baseline", action="store_true",
                        help="keep each row's baseline result from its last run, on the images "
                             "it ran on (with --baseline-limit N: where it covers the first N); "
                             "only the model runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for row in rows():
            if not row.key.startswith(args.only):
                continue
            folder = (kodak_crops(Path(tmp) / "kodak") if row.folder == "kodak-crops"
                      else dataset_path(row.folder))
            report = run(row, folder, args.baseline_limit, args.reuse_baseline)
            atomic_write_text(RESULTS / f"{row.key}.json", json.dumps(report, indent=2) + "\n")
            print(f"{row.key}: {row.model} {report['results'][0]['psnr']:.2f} dB, "
                  f"{row.baseline} {report['results'][1]['psnr']:.2f} dB", flush=True)
    replace_section(DOCS / "BENCHMARKS.md", "learned-denoise-dejpeg", section())
    return 0


if __name__ == "__main__":
    sys.exit(main())
