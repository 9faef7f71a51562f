"""Rate-distortion of the learned codecs on Kodak24 at full size (768x512) against JPEG, WebP
and AVIF (Pillow), measured in the same run; writes the "codec-rd" section of
docs/BENCHMARKS.md, docs/results/codec-kodak24-<curve>.json and the plot docs/codec_rd.png.

    python -m benchmarks.codec_rd                                   # the shipped codec-q1..q4
    python -m benchmarks.codec_rd --models models/codec-q1 models/codec-q2 models/codec-q3
    python -m benchmarks.codec_rd --models /tmp/m --limit 2 --output-dir /tmp/rd   # smoke run
    python -m benchmarks.codec_rd --refine 0 100   # plain and refined encoding (two curves)

Protocol: every image is coded to bytes; bits per pixel = 8 * bytes / (width * height) of the
real file (container and headers included, for every codec); the decoded image is rounded to
8 bits and compared in RGB with the original: PSNR (mean of per-image PSNR, as CompressAI
reports) and MS-SSIM (5 scales, 11-tap window). Encode and decode seconds are wall-clock per
image, decode including the model's synthesis transform. ``--refine STEPS`` encodes with
encoder-side latent refinement (:mod:`pixelsmith.codec.refine`): same models and decoder, one
more curve per step count, encode seconds including the refinement. BD-rate (Bjontegaard,
piecewise cubic in log-rate, :func:`pixelsmith.codec.rd.bd_rate`) compares each learned curve
with JPEG and WebP (and AVIF when Pillow has it) over the PSNR range both cover.

Run time is dominated by MS-SSIM (float64, about 1-2 s per decoded image on 2 cores) and AVIF
encoding: roughly half an hour for 4 models and the three Pillow sweeps on all 24 images.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shlex
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from PIL import Image as PILImage
from PIL import features

from benchmarks.common import replace_section
from pixelsmith.codec.api import compress, decompress, load_codec
from pixelsmith.codec.rd import bd_rate
from pixelsmith.io import atomic_write_text, list_images, quantize, read_image
from pixelsmith.metrics.pixel import ms_ssim, psnr
from pixelsmith.settings import dataset_path
from pixelsmith.sysinfo import cpu_model, machine_summary

ROOT = Path(__file__).resolve().parents[1]
SECTION = "codec-rd"
SWEEPS = {
    "JPEG": ("JPEG", (5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90, 95)),
    "WebP": ("WEBP", (5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95)),
    "AVIF": ("AVIF", (10, 20, 30, 40, 50, 60, 70, 80, 90)),
}
ANCHORS = ("JPEG", "WebP", "AVIF")
#: the shipped hyperprior ladder: a newer learned ladder is also compared with it
OLD_LADDER = "codec-hyperprior N64 M96"
REFERENCES = (*ANCHORS, OLD_LADDER)
TARGET = ("without refinement, BD-rate against WebP <= -10% and against JPEG <= -45%; with "
          "refinement, against AVIF <= +10%; encoding a Kodak image (no refinement) in under "
          "1 s and decoding it in under 0.5 s, 2 threads")


def record_path(out: Path, curve: str) -> Path:
    """Where a curve's JSON record goes: results/codec-kodak24-<curve, lower case, dashed>.json."""
    return out / "results" / f"codec-kodak24-{curve.lower().replace(' ', '-')}.json"


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) in [0, 1] -> H x W x 3 uint8."""
    return (quantize(x)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def from_uint8(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(array.astype(np.float32) / 255).permute(2, 0, 1)[None]


def score(x: torch.Tensor, decoded: torch.Tensor, size: int, seconds: tuple[float, float]
          ) -> dict:
    """One image's figures; ``decoded`` is rounded to 8 bits first."""
    decoded = quantize(decoded)
    height, width = x.shape[-2:]
    return {"bpp": 8 * size / (height * width), "psnr": float(psnr(decoded, x)[0]),
            "ms_ssim": float(ms_ssim(decoded, x)[0]), "encode_s": seconds[0],
            "decode_s": seconds[1]}


def pillow_point(images: dict[str, torch.Tensor], fmt: str, quality: int) -> list[dict]:
    rows = []
    for name, x in images.items():
        source = PILImage.fromarray(to_uint8(x))
        buffer = io.BytesIO()
        start = time.perf_counter()
        source.save(buffer, format=fmt, quality=quality)
        encoded = time.perf_counter()
        data = buffer.getvalue()
        with PILImage.open(io.BytesIO(data)) as img:
            decoded = np.asarray(img.convert("RGB"))
        done = time.perf_counter()
        rows.append({"image": name, **score(x, from_uint8(decoded), len(data),
                                            (encoded - start, done - encoded))})
    return rows


class RowLog:
    """The learned codecs' per-image rows, appended to a JSON-lines file as they are measured,
    so that a long run (refinement: half a minute per image and model) that dies is resumed
    by running the same command again, losing one image at most. A row is reused only for
    the same weights (sha256), refinement steps, image file, CPU and thread count."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.machine = f"{cpu_model()}|threads={torch.get_num_threads()}"
        self.rows: dict[str, dict] = {}
        if path is not None and path.is_file():
            for line in path.read_text().splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:  # the line a killed run was writing
                    continue
                self.rows[entry["key"]] = entry["row"]

    def key(self, sha256: str, refine_steps: int, image: Path) -> str:
        return f"{sha256}|refine={refine_steps}|{image.resolve()}|{self.machine}"

    def put(self, key: str, row: dict) -> None:
        self.rows[key] = row
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as handle:
            handle.write(json.dumps({"key": key, "row": row}) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def model_point(images: dict[str, torch.Tensor], folder: str, refine_steps: int = 0,
                log: RowLog | None = None, files: dict[str, Path] | None = None
                ) -> tuple[list[dict], dict]:
    """Per-image rows of one learned codec (rows already in ``log`` are reused) and its
    provenance."""
    codec = load_codec(folder)
    config = codec.pixelsmith_config
    rows = []
    for name, x in images.items():
        key = None
        if log is not None and files is not None and config.get("sha256"):
            key = log.key(config["sha256"], refine_steps, files[name])
            if key in log.rows:
                rows.append(log.rows[key])
                continue
        start = time.perf_counter()
        data = compress(x, model=codec, refine_steps=refine_steps)
        encoded = time.perf_counter()
        decoded = decompress(data, model=codec)
        done = time.perf_counter()
        rows.append({"image": name, **score(x, decoded, len(data),
                                            (encoded - start, done - encoded))})
        if key is not None:
            log.put(key, rows[-1])
    summary = config.get("training", {}).get("summary", {})
    meta = {"model": config.get("name"), "network": config["network"],
            "trained_steps": config.get("training", {}).get("step"),
            "trained_on": summary.get("device", "?"), "train_machine": summary.get("machine"),
            "init": config.get("training", {}).get("recipe", {}).get("init"),
            "refine_steps": refine_steps}
    return rows, meta


def mean_point(rows: list[dict], setting: str) -> dict:
    keys = ("bpp", "psnr", "ms_ssim", "encode_s", "decode_s")
    return {"setting": setting, **{k: float(np.mean([r[k] for r in rows])) for k in keys},
            "per_image": rows}


def curve_name(meta: dict) -> str:
    args = meta["network"].get("args", {})
    name = f"{meta['network']['name']} N{args.get('N')} M{args.get('M')}"
    if meta.get("refine_steps"):
        name += f" refine {meta['refine_steps']}"
    return name


def in_order(curves: dict[str, dict]) -> dict[str, dict]:
    """Learned curves by name, then the classical ones in the anchors' order: the same order
    whether a run measured, reused or rewrote them."""
    def key(item: tuple[str, dict]) -> tuple:
        name, curve = item
        if curve["kind"] == "learned":
            return (0, 0, name)
        return (1, ANCHORS.index(name) if name in ANCHORS else len(ANCHORS), name)

    return dict(sorted(curves.items(), key=key))


def bd_table(curves: dict[str, dict]) -> list[dict]:
    """BD-rate of each curve against each anchor (None where undefined). The classical rows
    check the protocol: WebP against JPEG should come out near CompressAI's -37%."""
    out = []
    for name, curve in curves.items():
        if name == ANCHORS[0] or len(curve["points"]) < 2:  # a fixed-rate point has no BD-rate
            continue
        row = {"curve": name}
        for anchor in REFERENCES:
            if anchor not in curves or anchor == name or (
                    anchor == OLD_LADDER and curve["kind"] != "learned"):
                continue
            a, b = curves[anchor]["points"], curve["points"]
            try:
                row[anchor] = bd_rate([p["bpp"] for p in a], [p["psnr"] for p in a],
                                      [p["bpp"] for p in b], [p["psnr"] for p in b])
            except ValueError as exc:
                row[anchor] = None
                row.setdefault("notes", []).append(f"{name} vs {anchor}: {exc}")
        out.append(row)
    return out


def psnr_at_rate(curve: dict, bpp: float) -> float | None:
    """PSNR of ``curve`` at ``bpp``, linear in log-rate between its points (None outside)."""
    points = sorted(curve["points"], key=lambda p: p["bpp"])
    rates = np.log([p["bpp"] for p in points])
    if len(points) < 2 or not rates[0] <= np.log(bpp) <= rates[-1]:
        return None
    return float(np.interp(np.log(bpp), rates, [p["psnr"] for p in points]))


def fixed_rate_lines(curves: dict[str, dict]) -> list[str]:
    """For each one-point (fixed-rate) curve, the PSNR the other curves reach at its rate."""
    lines = []
    for name, curve in curves.items():
        if len(curve["points"]) != 1:
            continue
        point = curve["points"][0]
        others = [(other, psnr_at_rate(c, point["bpp"])) for other, c in curves.items()
                  if other != name]
        at_rate = ", ".join(f"{other} {value:.2f} dB" for other, value in others
                            if value is not None)
        lines += ["", f"{name} codes at one fixed rate, so it has no BD-rate: "
                      f"{point['bpp']:.3f} bpp at {point['psnr']:.2f} dB. At that rate "
                      f"(interpolated in log-rate): {at_rate or 'no curve covers it'}."]
    return lines


def plot(curves: dict[str, dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    learned = [p["bpp"] for c in curves.values() if c["kind"] == "learned" for p in c["points"]]
    right = max([2.0, *(1.1 * b for b in learned)])
    for name, curve in curves.items():
        points = sorted(curve["points"], key=lambda p: p["bpp"])
        bpp = [p["bpp"] for p in points]
        style = "-o" if curve["kind"] == "learned" else "--."
        axes[0].plot(bpp, [p["psnr"] for p in points], style, label=name, markersize=4)
        axes[1].plot(bpp, [-10 * np.log10(max(1 - p["ms_ssim"], 1e-10)) for p in points],
                     style, label=name, markersize=4)
    for axis, label in zip(axes, ("RGB PSNR (dB)", "MS-SSIM (dB: -10 log10(1 - MS-SSIM))"),
                           strict=True):
        axis.set_xlabel("bits per pixel (real file size)")
        axis.set_ylabel(label)
        axis.set_xlim(0, right)
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="upper left")  # the curves start low and rise rightwards
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}%"


def anchor_provenance(curves: dict[str, dict]) -> str:
    """Where the classical curves come from: this run, or an earlier --anchors-only run."""
    runs = sorted({(c["measured"], c.get("machine") or "machine not recorded")
                   for c in curves.values() if c.get("measured") and c["kind"] == "classical"})
    if not runs:
        return "in the same run"
    return ("measured by an `--anchors-only` run on the same images "
            f"({'; '.join(f'{date}, {machine}' for date, machine in runs)}) and reused with "
            "`--reuse-anchors` (their seconds are that run's, on its machine)")


def reused_learned(curves: dict[str, dict]) -> str:
    """A sentence naming the learned curves taken from an earlier run, or nothing."""
    reused = [f"{name} ({curve['measured']}, {curve.get('machine', 'machine not recorded')})"
              for name, curve in curves.items()
              if curve["kind"] == "learned" and curve.get("measured")]
    if not reused:
        return ""
    return (" Learned curves measured by an earlier run of this benchmark on the same images "
            "and reused with `--reuse-curves` (their seconds are that run's, on its machine): "
            + "; ".join(reused) + ".")


def section(curves: dict[str, dict], bd: list[dict], meta: dict) -> str:
    skipped = "" if meta["avif"] else " (AVIF: not available in this Pillow, skipped)"
    lines = [
        "## Learned image codec: rate-distortion on Kodak24 (full size)",
        "",
        f"Command: `{meta['command']}`. {meta['images']} Kodak24 images at 768x512; bits per "
        "pixel from the real file size; RGB PSNR (mean of per-image values) and MS-SSIM of the "
        "8-bit decoded image; JPEG, WebP and AVIF by Pillow "
        f"{meta['pillow']} {anchor_provenance(curves)}{skipped}. "
        "Seconds are wall-clock per image. Curves: docs/codec_rd.png; per-image figures: "
        "docs/results/codec-kodak24-*.json."
        + reused_learned(curves),
        "",
        f"- machine: {meta['machine']}",
        f"- date: {meta['date']}",
        f"- targets of the codec: {TARGET}",
        "",
        "| codec | setting | bpp | PSNR (dB) | MS-SSIM | encode s | decode s | trained |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, curve in curves.items():
        for point in sorted(curve["points"], key=lambda p: p["bpp"]):
            trained = "-"
            if curve["kind"] == "learned":
                model = point["meta"]
                trained = f"{model['trained_steps']} steps on {model['trained_on']}"
                if model.get("init"):
                    trained += f", fine-tuned from {Path(model['init']).name}"
            setting = "fixed rate" if point["setting"] == "q?" else point["setting"]
            lines.append(f"| {name} | {setting} | {point['bpp']:.3f} | "
                         f"{point['psnr']:.2f} | {point['ms_ssim']:.4f} | "
                         f"{point['encode_s']:.3f} | {point['decode_s']:.3f} | {trained} |")
    anchors = [a for a in REFERENCES if a in curves]
    lines += ["", "BD-rate (negative: fewer bits for the same PSNR):", "",
              "| curve | " + " | ".join(f"vs {a}" for a in anchors) + " |",
              "|---|" + "---|" * len(anchors)]
    for row in bd:
        lines.append(f"| {row['curve']} | " + " | ".join(fmt(row.get(a)) for a in anchors) + " |")
    lines += fixed_rate_lines(curves)
    notes = [note for row in bd for note in row.get("notes", [])]
    if notes:
        lines += ["", "Not computed: " + "; ".join(notes) + "."]
    return "\n".join(lines)


def sweep_anchors(images: dict[str, torch.Tensor], avif: bool, skip: set[str] = frozenset()
                  ) -> dict[str, dict]:
    """JPEG, WebP and AVIF (when Pillow has it) curves over their quality sweeps."""
    curves = {}
    for name, (fmt_name, qualities) in SWEEPS.items():
        if name in skip or (name == "AVIF" and not avif):
            continue
        curves[name] = {"kind": "classical",
                        "points": [mean_point(pillow_point(images, fmt_name, q), f"q{q}")
                                   for q in qualities]}
        print(f"{name}: {len(qualities)} qualities done", flush=True)
    return curves


def reusable_anchors(out: Path, n_images: int) -> dict[str, dict]:
    """Anchor curves of an earlier run with the same image count, Pillow and sweep."""
    import PIL

    curves = {}
    for name, (_, qualities) in SWEEPS.items():
        path = record_path(out, name)
        if not path.exists():
            continue
        record = json.loads(path.read_text())
        meta = record.get("meta", {})
        if (meta.get("images") == n_images and meta.get("pillow") == PIL.__version__
                and [p["setting"] for p in record["points"]] == [f"q{q}" for q in qualities]):
            curves[name] = {"kind": "classical", "points": record["points"],
                            "measured": record.get("measured", meta.get("date")),
                            "machine": record.get("machine")}
            print(f"{name}: reused from {path} ({curves[name]['measured']})", flush=True)
    return curves


def reusable_curves(out: Path, names: list[str], n_images: int) -> dict[str, dict]:
    """Learned curves ``names`` as an earlier run on as many images recorded them (their
    points keep that run's seconds; ``measured`` says when)."""
    curves = {}
    for name in names:
        path = record_path(out, name)
        record = json.loads(path.read_text()) if path.exists() else None
        if record is None or record["kind"] != "learned" or record["meta"]["images"] != n_images:
            raise SystemExit(f"--reuse-curves: no learned curve '{name}' on {n_images} images "
                             f"in {path}")
        curves[name] = {"kind": "learned", "points": record["points"],
                        "measured": record.get("measured", record["meta"]["date"]),
                        "machine": record.get("machine", record["meta"]["machine"])}
        print(f"{name}: reused from {path} ({curves[name]['measured']})", flush=True)
    return curves


def sweep_anchors_only(args) -> int:
    """Sweep only the classical codecs and write their JSON (for --reuse-anchors later)."""
    import PIL

    paths = list_images(args.data)[: args.limit]
    images = {p.stem: read_image(p, gray=False) for p in paths}
    out = Path(args.output_dir)
    curves = sweep_anchors(images, bool(features.check("avif")))
    meta = {"command": "python -m benchmarks.codec_rd " + shlex.join(sys.argv[1:]),
            "images": len(images), "machine": machine_summary(), "pillow": PIL.__version__,
            "date": time.strftime("%Y-%m-%d %H:%M")}
    for name, curve in curves.items():
        record = {"curve": name, **curve, "measured": meta["date"], "machine": meta["machine"],
                  "meta": meta}
        atomic_write_text(record_path(out, name), json.dumps(record, indent=2) + "\n")
    return 0


def rewrite_from_results(out: Path) -> int:
    """Rebuild the section and the plot from the JSON records of the last full run."""
    records = [json.loads(p.read_text()) for p in sorted((out / "results").glob(
        "codec-kodak24-*.json"))]
    learned = [r for r in records if r["kind"] == "learned"]
    if not learned:
        print("no learned-codec results to rewrite from", file=sys.stderr)
        return 2
    meta = learned[0]["meta"]
    curves = {r["curve"]: {k: v for k, v in r.items() if k not in ("curve", "meta", "bd_rate")}
              for r in learned}
    reused = reusable_anchors(out, meta["images"])
    curves.update(reused)
    curves = in_order(curves)
    bd = bd_table(curves)
    plot(curves, out / "codec_rd.png", f"Kodak24 ({meta['images']} images, 768x512), "
         f"{meta['date']}")
    replace_section(out / "BENCHMARKS.md", SECTION, section(curves, bd, meta))
    print(f"rewrote {out / 'BENCHMARKS.md'} (section {SECTION}) from {len(records)} records")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=None,
                        help="codec model folders or shipped names (default: codec-q1..q4)")
    parser.add_argument("--data", default=str(dataset_path("test/Kodak24")))
    parser.add_argument("--limit", type=int, default=None, help="only the first N images")
    parser.add_argument("--output-dir", default=str(ROOT / "docs"),
                        help="where BENCHMARKS.md, results/ and codec_rd.png go (default docs/)")
    parser.add_argument("--anchors-only", action="store_true",
                        help="only sweep JPEG/WebP/AVIF and write their results/*.json")
    parser.add_argument("--reuse-anchors", action="store_true",
                        help="take JPEG/WebP/AVIF from results/*.json of an earlier run on the "
                             "same images with the same Pillow, instead of sweeping them again")
    parser.add_argument("--refine", type=int, nargs="+", default=[0], metavar="STEPS",
                        help="encoder-side refinement steps; one curve per value (0: plain "
                             "encoding; e.g. --refine 0 100 gives both)")
    parser.add_argument("--reuse-curves", nargs="+", default=[], metavar="CURVE",
                        help="learned curves to take from results/*.json of an earlier run on "
                             "the same images (e.g. 'codec-hyperprior N64 M96 refine 100')")
    parser.add_argument("--row-log", type=Path, default=ROOT / "runs" / "codec-rd-rows.jsonl",
                        help="the learned codecs' per-image rows are appended here as they are "
                             "measured; rerunning the same command after a crash reuses them "
                             "(same weights, steps, image, CPU and threads); 'none' to keep "
                             "nothing")
    parser.add_argument("--from-results", action="store_true",
                        help="rewrite the docs section and plot from results/*.json only")
    args = parser.parse_args()
    if args.from_results:
        return rewrite_from_results(Path(args.output_dir))
    if args.anchors_only:
        return sweep_anchors_only(args)
    from pixelsmith.zoo import shipped_models

    models = args.models or [f"codec-q{q}" for q in (1, 2, 3, 4)
                             if f"codec-q{q}" in shipped_models()]
    if not models:
        print("no codec models given and none shipped: pass --models FOLDER...", file=sys.stderr)
        return 2
    paths = list_images(args.data)[: args.limit]
    images = {p.stem: read_image(p, gray=False) for p in paths}
    files = {p.stem: p for p in paths}
    log = RowLog(None if str(args.row_log) == "none" else args.row_log)
    out = Path(args.output_dir)
    curves: dict[str, dict] = defaultdict(lambda: {"kind": "learned", "points": []})
    for steps in args.refine:
        for folder in models:
            codec = load_codec(folder)
            if steps and not hasattr(codec, "relaxed"):
                continue  # a fixed-rate codec has nothing to refine
            rows, model_meta = model_point(images, folder, steps, log, files)
            point = mean_point(rows, f"q{model_meta['network']['args'].get('quality', '?')}")
            point["meta"] = model_meta
            curves[curve_name(model_meta)]["points"].append(point)
            print(f"{folder} refine {steps}: {point['bpp']:.3f} bpp, {point['psnr']:.2f} dB, "
                  f"encode {point['encode_s']:.2f} s, decode {point['decode_s']:.2f} s",
                  flush=True)
    avif = bool(features.check("avif"))
    if not avif:
        print("Pillow has no AVIF support here: AVIF skipped", flush=True)
    curves.update(reusable_curves(out, args.reuse_curves, len(images)))
    reused = reusable_anchors(out, len(images)) if args.reuse_anchors else {}
    curves.update(reused)
    curves.update(sweep_anchors(images, avif, skip=set(reused)))
    curves = in_order(curves)
    bd = bd_table(curves)
    for row in bd:
        print("BD-rate", row["curve"], {a: fmt(row.get(a)) for a in REFERENCES if a in row})
    import PIL

    meta = {"command": "python -m benchmarks.codec_rd " + shlex.join(sys.argv[1:]),
            "images": len(images), "machine": machine_summary(), "pillow": PIL.__version__,
            "avif": avif, "date": time.strftime("%Y-%m-%d %H:%M")}
    for name, curve in curves.items():
        record = {"curve": name, **curve, "meta": meta,
                  "bd_rate": next((r for r in bd if r["curve"] == name), None)}
        atomic_write_text(record_path(out, name),
                          json.dumps(record, indent=2) + "\n")
    plot(curves, out / "codec_rd.png", f"Kodak24 ({len(images)} images, 768x512), "
         f"{meta['date']}")
    replace_section(out / "BENCHMARKS.md", SECTION, section(curves, bd, meta))
    print(f"wrote {out / 'BENCHMARKS.md'} (section {SECTION}), {out / 'codec_rd.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
