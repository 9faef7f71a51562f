"""Do the explanations of `pixelsmith explain` mean something, and how long do they take?
Writes the "explain-checks" section of docs/EXPLAIN.md.

    python -m benchmarks.explain                                  # every shipped model
    python -m benchmarks.explain --models denoise-color,codec-q3 --output /tmp/EXPLAIN.md
    python -m benchmarks.explain --speed --threads 1   # only the page timings ("explain-speed")
    python -m benchmarks.explain --update --models sr-x4,codec-cb-q2   # re-measure some models

Every measured row is kept in docs/results/explain-checks.json with its machine and date;
``--update`` re-measures only the models named and rebuilds the section from all kept rows
(each group of rows says when and where it was measured), so a retrained model's row is
refreshed without re-running the others.

Per shipped model, on the bundled 256 x 256 sample landscape.png (degraded for the model's
task: Gaussian noise sigma 25, JPEG quality 20, Gaussian blur 1.6, a 64 x 40 hole, or bicubic
downscaling so that the super-resolved output is 256 x 256):

- integrated-gradients completeness: |sum of attributions - (f(x) - f(black))| / |f(x) -
  f(black)|, and the steps the 1% tolerance needed (start 16, doubled up to 256);
- LRP conservation: |relevance on the input - relevance at the output| / |output| for the
  epsilon rule (bias shared) and the z+ rule, and the largest leak of one layer (epsilon);
- model randomisation (Adebayo et al. 2018): Spearman rank correlation of the IG maps of the
  trained network and of the network re-initialised at random, signed and of |IG| (the paper
  reports both); for one-pixel targets also |IG| with the fall-off with distance taken out
  (sanity.radial_normalized); and of Grad-CAM maps for classifiers; plus the correlation of
  the trained map with a Sobel edge map;
- restoration models, with their learned correction (output minus the weight-free skip path)
  as target: the same correlations of gradient x input, signed and |.|, the signed one under
  cascading randomisation (sanity.cascading: layers re-initialised from the output down, after
  a third, two thirds and all of them), and IG completeness and LRP epsilon conservation for
  that target;
- the effective receptive field of the centre output pixel (restoration models): half-sides of
  the centred squares holding 50% and 90% of |gradient|;
- codecs: the bit map's sum against the file's payload and header;
- seconds (wall and CPU) for the whole default explanation page of that model.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image as PILImage

from benchmarks.common import load_line, load_now, replace_section
from pixelsmith.explain import attribution as at
from pixelsmith.explain.lrp import lrp
from pixelsmith.explain.run import explain
from pixelsmith.explain.sanity import (
    cascading,
    distances,
    edge_map,
    radial_normalized,
    randomized,
    rank_correlation,
)
from pixelsmith.explain.subject import load_subject, rebind
from pixelsmith.io import read_image
from pixelsmith.sysinfo import machine_summary

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "src" / "pixelsmith" / "samples" / "landscape.png"
SECTION = "explain-checks"
SPEED_SECTION = "explain-speed"
RESTORATION = ("denoise-gray", "denoise-color", "dejpeg-gray", "dejpeg-color", "deblur-blind",
               "deblur-gan", "inpaint", "inpaint-faces-l2", "inpaint-faces-gan", "sr-x2",
               "sr-x4")
CLASSIFIERS = ("features-mnist", "features-cifar10", "features-faces")
CODECS = ("codec-q1", "codec-q2", "codec-q3", "codec-q4", "codec-cb-q1", "codec-cb-q2",
          "codec-cb-q3", "codec-cb-q4", "codec-cb-q5", "codec-cb-q6")
ROWS = ROOT / "docs" / "results" / "explain-checks.json"
OUTPUT = ROOT / "docs" / "EXPLAIN.md"


def degraded(name: str, x: torch.Tensor) -> dict:
    """The model's input and conditioning for the 256 x 256 sample."""
    generator = torch.Generator().manual_seed(0)
    if name.startswith("denoise"):
        noisy = x + 25 / 255 * torch.randn(x.shape, generator=generator)
        return {"image": noisy.clamp(0, 1), "sigma": 25.0}
    if name.startswith("dejpeg"):
        from pixelsmith.io import to_array

        buffer = io.BytesIO()
        PILImage.fromarray(to_array(x)).save(buffer, format="JPEG", quality=20)
        array = np.asarray(PILImage.open(io.BytesIO(buffer.getvalue())), dtype=np.float32)
        return {"image": torch.from_numpy(array / 255).permute(2, 0, 1)[None], "quality": 20}
    if name.startswith("deblur"):
        from scipy.ndimage import gaussian_filter

        blurred = gaussian_filter(x.numpy(), sigma=(0, 0, 1.6, 1.6), mode="reflect")
        return {"image": torch.from_numpy(blurred)}
    if name.startswith("inpaint"):
        mask = torch.zeros(1, 1, *x.shape[-2:])
        mask[..., 104:144, 96:160] = 1.0
        return {"image": x, "mask": mask}
    if name.startswith("sr-x"):
        scale = int(name[-1])
        small = torch.nn.functional.interpolate(x, scale_factor=1 / scale, mode="bicubic",
                                                antialias=True, align_corners=False)
        return {"image": small.clamp(0, 1)}
    return {"image": x}


def timed(work):
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def measure(name: str, x: torch.Tensor) -> dict:
    inputs = degraded(name, x)
    image = inputs.pop("image")
    subject = load_subject(name, image, **inputs)
    row: dict = {"model": name, "kind": subject.kind}
    with tempfile.TemporaryDirectory() as folder:
        _, row["wall"], row["cpu"] = timed(lambda: explain(subject, folder))
    if subject.kind == "codec":
        from pixelsmith.explain.codec_bits import bit_map

        bits = bit_map(subject)
        row.update(map_bits=bits.map_bits, payload=bits.payload_bits,
                   header=8 * bits.header_bytes, file=8 * bits.file_bytes)
        return row
    target = at.default_target(subject)
    ig = at.integrated_gradients(subject, target)
    row.update(ig_error=ig.completeness_error, ig_steps=ig.steps)
    eps, zplus = lrp(subject, target), lrp(subject, target, rule="zplus")
    row.update(lrp_eps=eps.conservation_error, lrp_layer=eps.worst_layer_error,
               lrp_zplus=zplus.conservation_error)
    shuffled = rebind(subject, randomized(subject.model, seed=0))
    trained_map = at.pixel_map(ig.attribution)
    random_map = at.pixel_map(at.integrated_gradients(shuffled, target).attribution)
    row["rand_ig"] = rank_correlation(trained_map, random_map)
    row["rand_ig_signed"] = rank_correlation(trained_map, random_map, absolute=False)
    if subject.kind == "restoration":  # the learned correction, and cascading randomisation
        fix = at.default_target(subject, output="correction")
        mine = at.pixel_map(at.gradient_x_input(subject, fix))
        theirs = at.pixel_map(at.gradient_x_input(shuffled, fix))
        row["corr_signed"] = rank_correlation(mine, theirs, absolute=False)
        row["corr_abs"] = rank_correlation(mine, theirs)
        row["corr_ig"] = at.integrated_gradients(subject, fix).completeness_error
        row["corr_lrp"] = lrp(subject, fix).conservation_error
        row["cascade"] = [rank_correlation(mine, at.pixel_map(at.gradient_x_input(s, fix)),
                                           absolute=False)
                          for _, _, s in cascading(subject, stops=3)]
        centre = pixel_centre(subject, fix)
        if centre is not None:
            row["locality"] = [locality(mine, centre), locality(theirs, centre)]
    row["edge"] = rank_correlation(trained_map, edge_map(subject.x), support=False)
    if subject.kind == "restoration":
        field = at.effective_receptive_field(subject)
        row["erf"] = f"{field.r50} / {field.r90}"
    centre = pixel_centre(subject, target)
    if centre is not None:
        row["rand_radial"] = rank_correlation(radial_normalized(trained_map, centre),
                                              radial_normalized(random_map, centre))
    if subject.kind == "classifier":
        from pixelsmith.explain.gradcam import grad_cam

        row["rand_cam"] = rank_correlation(grad_cam(subject, target.label).heat.numpy(),
                                           grad_cam(shuffled, target.label).heat.numpy(),
                                           support=False)
    return row


def speed_section(names: list[str], x: torch.Tensor, command: str, threads: int) -> str:
    """Seconds for the whole default page of each model, nothing else running in this
    process: with one thread no OpenMP worker spins waiting for a core another job holds, so
    CPU seconds are the work and wall seconds what a shared machine gave."""
    date, before = time.strftime('%Y-%m-%d %H:%M'), load_now()
    rows = []
    for name in names:
        inputs = degraded(name, x)
        subject = load_subject(name, inputs.pop("image"), **inputs)
        with tempfile.TemporaryDirectory() as folder:
            _, wall, cpu = timed(lambda: explain(subject, folder))  # noqa: B023
        print(name, f"{wall:.1f} s wall, {cpu:.1f} s CPU", file=sys.stderr, flush=True)
        rows.append(f"| {name} | {wall:.1f} | {cpu:.1f} |")
    lines = ["## Page timings (generated)", "",
             f"Command: `{command}`, the same inputs as above; the whole default page "
             "(`explain(subject, folder)`) per model.", "",
             f"- machine: {machine_summary()}", f"- threads: {threads}", f"- date: {date}",
             load_line(before, load_now(), threads), "",
             "| model | page: wall s | page: CPU s |", "|---|---|---|", *rows]
    return "\n".join(lines) + "\n"


def pixel_centre(subject, target) -> tuple[float, float] | None:
    """Where in the input a one-pixel ``target`` lies (x, y); None for any other target."""
    if target.box is None or target.box[2] - target.box[0] != 1:
        return None
    scale = subject.output().shape[-1] / subject.x.shape[-1]
    return target.box[0] / scale, target.box[1] / scale


def locality(values: np.ndarray, centre: tuple[float, float]) -> float:
    """Rank correlation of |values| with closeness to ``centre`` (x, y), minus the distance,
    over the pixels where ``values`` is non-zero (its receptive field): near 1 when the map
    falls off with distance, whatever the weights."""
    closeness = -distances(values.shape, centre)
    keep = values != 0
    return rank_correlation(np.abs(values[keep]), closeness[keep], support=False,
                            absolute=False)


def _f(value, spec: str = ".2f") -> str:
    return "-" if value is None else format(value, spec)


def kept_rows(rows: list[dict], path: Path = ROWS) -> list[dict]:
    """``rows`` merged into the rows kept at ``path`` (a model measured again replaces its
    old row), in the benchmark's model order, written back."""
    old = json.loads(path.read_text()) if path.exists() else []
    fresh = {r["model"] for r in rows}
    merged = [r for r in old if r["model"] not in fresh] + rows
    order = {name: i for i, name in enumerate((*RESTORATION, *CLASSIFIERS, *CODECS))}
    merged.sort(key=lambda r: order.get(r["model"], len(order)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(merged, indent=1) + "\n")
    return merged


def measured_lines(rows: list[dict]) -> list[str]:
    """One line per (machine, threads, date) the rows were measured with, naming them."""
    groups: dict[tuple, list[str]] = {}
    for r in rows:
        groups.setdefault((r["machine"], r["threads"], r["date"]), []).append(r["model"])
    return [f"- {date}, {machine}: {', '.join(models)}"
            for (machine, _, date), models in sorted(groups.items(), key=lambda item: item[0][2])]


def section(rows: list[dict], command: str) -> str:
    lines = [
        "## Checks and timings (generated)",
        "",
        f"Command: `{command}`, on the bundled 256 x 256 sample `landscape.png` degraded for "
        "each task (one image: the figures show what the checks give, not a distribution). "
        "benchmarks/explain.py says how each figure is computed. The machine's 2 cores were "
        "shared with other jobs (a training run among them) while the rows were measured, so "
        "wall-clock seconds are inflated, and so are CPU seconds (OpenMP workers spin while "
        "they wait for a core another job holds); the page timings with one thread are the "
        "work done. Measured:",
        "",
        *measured_lines(rows),
        "",
        "| model | target | IG completeness error (steps) | LRP epsilon: conservation / worst "
        "layer | LRP z+ conservation | rank corr. trained vs random: IG signed; IG abs "
        "(fall-off removed) | Grad-CAM | IG vs edge map | receptive field r50 / r90 (px) | "
        "page: wall s / CPU s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["kind"] == "codec":
            continue
        target = "class logit" if r["kind"] == "classifier" else (
            "filled region" if r["model"].startswith("inpaint") else "centre pixel")
        radial = f" ({r['rand_radial']:.2f})" if "rand_radial" in r else ""
        lines.append(
            f"| {r['model']} | {target} | {r['ig_error']:.2%} ({r['ig_steps']}) | "
            f"{r['lrp_eps']:.2%} / {r['lrp_layer']:.2%} | {r['lrp_zplus']:.2%} | "
            f"{r['rand_ig_signed']:.2f}; {r['rand_ig']:.2f}{radial} | "
            f"{_f(r.get('rand_cam'))} | {r['edge']:.2f} | "
            f"{r.get('erf', '-')} | {r['wall']:.1f} / {r['cpu']:.1f} |")
    corrections = [r for r in rows if "corr_signed" in r]
    if corrections:
        lines += ["", "Restoration models, the learned correction (output minus the weight-free "
                  "skip path) as target, gradient x input: rank correlation of trained and "
                  "re-initialised maps, signed and of |map|; and the signed correlation under "
                  "cascading randomisation (layers re-initialised from the output down: after "
                  "a third, two thirds and all of them); locality: rank correlation of the "
                  "trained and the re-initialised |map| of the centre pixel's correction with "
                  "closeness to that pixel (minus the distance), over each map's non-zero "
                  "pixels.", "",
                  "| model | correction: signed | correction: abs | cascading: 1/3, 2/3, all | "
                  "locality: trained, random | IG completeness error (256 steps at most) | "
                  "LRP epsilon conservation |",
                  "|---|---|---|---|---|---|---|"]
        for r in corrections:
            cascade = ", ".join(f"{v:.2f}" for v in r["cascade"])
            near = ", ".join(f"{v:.2f}" for v in r["locality"]) if "locality" in r else "-"
            lines.append(f"| {r['model']} | {r['corr_signed']:.2f} | {r['corr_abs']:.2f} | "
                         f"{cascade} | {near} | {r['corr_ig']:.2%} | {r['corr_lrp']:.2%} |")
    codecs = [r for r in rows if r["kind"] == "codec"]
    if codecs:
        lines += ["", "| codec | sum of the bit map (bits) | payload: coded streams (bits) | "
                  "payload - map | header (bits) | file (bits) | page: wall s / CPU s |",
                  "|---|---|---|---|---|---|---|"]
        for r in codecs:
            lines.append(f"| {r['model']} | {r['map_bits']:.1f} | {r['payload']} | "
                         f"{r['payload'] - r['map_bits']:.1f} | {r['header']} | {r['file']} | "
                         f"{r['wall']:.1f} / {r['cpu']:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated (default: every shipped restoration "
                        "model, feature classifier and codec)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--speed", action="store_true",
                        help="only time each model's page (the explain-speed section)")
    parser.add_argument("--update", action="store_true",
                        help="re-measure only --models and rebuild the section from every "
                             "row kept in docs/results/explain-checks.json")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    if args.update and not args.models:
        parser.error("--update needs --models")
    torch.set_num_threads(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    names = args.models.split(",") if args.models else [*RESTORATION, *CLASSIFIERS, *CODECS]
    x = read_image(SAMPLE)
    if args.speed:
        command = "python -m benchmarks.explain --speed" + (
            f" --models {args.models}" if args.models else "") + (
            f" --threads {args.threads}" if args.threads != 2 else "")
        replace_section(args.output, SPEED_SECTION,
                        speed_section(names, x, command, args.threads),
                        title="# Explaining models")
        return
    rows = []
    stamp = {"machine": machine_summary(), "threads": args.threads,
             "date": time.strftime("%Y-%m-%d %H:%M")}
    for name in names:
        rows.append({**measure(name, x), **stamp})
        print(rows[-1], file=sys.stderr, flush=True)
    command = "python -m benchmarks.explain"
    if args.update:
        rows = kept_rows(rows)
        command = ("python -m benchmarks.explain` for every model, then `python -m "
                   "benchmarks.explain --update --models ...")
    else:
        if not args.models and args.output == OUTPUT:  # a full run replaces every kept row
            ROWS.write_text(json.dumps(rows, indent=1) + "\n")
        command += f" --models {args.models}" if args.models else ""
        command += f" --threads {args.threads}" if args.threads != 2 else ""
    replace_section(args.output, SECTION, section(rows, command), title="# Explaining models")


if __name__ == "__main__":
    main()
