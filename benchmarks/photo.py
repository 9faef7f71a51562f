"""Benchmark blind restoration of photos with unknown, mixed damage (the ``photo`` task).

    python -m benchmarks.photo                                  # every set, 1x and 4x
    python -m benchmarks.photo --photo runs/photo --photo-x4 runs/photo-x4   # trained runs
    python -m benchmarks.photo --limit 4 --docs /tmp/B.md --results /tmp/r   # a smoke run

The protocol (held-out set, methods, scores, targets) is in docs/PROTOCOLS.md, section
"Photos with unknown, mixed damage".
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.common import markdown_table, meta_lines, replace_section, run_meta, write_json
from pixelsmith.degrade.realistic import RealisticDegradation, realistic_case
from pixelsmith.degrade.resize import imresize
from pixelsmith.evaluate.protocol import image_generator
from pixelsmith.io import list_images, quantize, read_image, save_image
from pixelsmith.metrics.pixel import psnr, ssim
from pixelsmith.restoration.restorer import Restorer
from pixelsmith.settings import dataset_path

ROOT = Path(__file__).resolve().parents[1]
SEED = 2026
SETS = {"CBSD68": "test/CBSD68", "Kodak24": "test/Kodak24"}
PORTRAIT = ("kodim04", "kodim09", "kodim10", "kodim17", "kodim18", "kodim19")
TARGET_DB = {1: 1.0, 4: 0.5}


def clean_images(name: str, limit: int | None) -> list[tuple[str, torch.Tensor]]:
    """(stem, clean RGB image) of a set; Kodak24 as the papers' 500x500 centre crops."""
    files = list_images(dataset_path(SETS[name]))[:limit]
    images = []
    for path in files:
        image = read_image(path, gray=False)
        if name == "Kodak24":
            x, y = (6, 134) if path.stem in PORTRAIT else (134, 6)
            image = image[..., y:y + 500, x:x + 500]
        images.append((path.stem, image))
    return images


def held_out(name: str, scale: int, limit: int | None, inputs: Path) -> list[dict]:
    """The degraded cases of one set at one scale, saved as PNG with their draws."""
    model = RealisticDegradation(scale)
    cases = []
    for index, (stem, clean) in enumerate(clean_images(name, limit)):
        generator = image_generator(SEED, index)
        reference, _, known = realistic_case(clean, model, None)
        degraded, draws = model.apply_with_params(reference, generator)
        degraded = quantize(degraded)
        path = inputs / f"{name}-x{scale}" / f"{stem}.png"
        save_image(path, degraded)
        cases.append({"stem": stem, "reference": reference, "degraded": degraded,
                      "known": known, "draw": draws[0]})
    return cases


def model_source(value: str | None, workdir: Path) -> str | None:
    """A shipped model's name or a model folder as given, or a training run's best checkpoint
    exported to ``workdir``."""
    from pixelsmith.zoo import shipped_models

    if value is None or value in shipped_models():
        return value
    path = Path(value)
    if (path / "config.json").exists():
        return str(path)
    from pixelsmith.train.export import export_run

    return str(export_run(path, workdir / path.name))


def run_method(restorer, cases: list[dict]) -> dict:
    """Mean PSNR/SSIM, seconds per image and output MP/s of one method over the cases."""
    psnrs, ssims, seconds, pixels = [], [], 0.0, 0
    for case in cases:
        start = time.perf_counter()
        out = restorer(case["degraded"], case["known"])
        seconds += time.perf_counter() - start
        out = quantize(out)
        psnrs.append(float(psnr(out, case["reference"])))
        ssims.append(float(ssim(out, case["reference"])))
        pixels += out.shape[-1] * out.shape[-2]
    n = len(cases)
    return {"psnr": sum(psnrs) / n, "ssim": sum(ssims) / n, "seconds": seconds / n,
            "mp_per_s": pixels / 1e6 / seconds if seconds else None, "per_image": psnrs}


def methods_for(scale: int, models: dict[int, str | None]) -> list[tuple[str, object]]:
    """(label, restorer) of every method compared at ``scale``."""
    rows = []
    if models.get(scale):
        rows.append((Path(models[scale]).name,
                     Restorer("photo", models[scale])))
    rows.append(("photo-chain", Restorer("photo", "photo-chain")))
    rows.append(("photo-classical (CBM3D + bicubic)", Restorer("photo", "photo-classical")))
    rows.append(("input" + (" (bicubic)" if scale > 1 else ""), enlarged_input))
    return rows


def enlarged_input(y: torch.Tensor, known) -> torch.Tensor:
    """The degraded input itself, MATLAB-bicubic enlarged to the output size."""
    scale = known.scale or 1
    return imresize(y, float(scale)).clamp(0.0, 1.0) if scale > 1 else y


def section(report: dict, meta: dict) -> str:
    lines = ["## Photos with unknown, mixed damage (task photo)", "", meta_lines(meta), "",
             "Held-out realistic degradations (seed 2026; docs/PROTOCOLS.md has the protocol); "
             "PSNR / SSIM in RGB of the 8-bit output, seconds per image on this machine.", ""]
    for key, rows in report.items():
        lines += [f"### {key}", ""]
        lines.append(markdown_table(
            ["method", "PSNR", "SSIM", "s / image", "MP/s"],
            [[r["method"], f"{r['psnr']:.2f}", f"{r['ssim']:.4f}", f"{r['seconds']:.2f}",
              f"{r['mp_per_s']:.3f}" if r["mp_per_s"] else "-"] for r in rows]))
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated set names")
    parser.add_argument("--scales", default="1,4", help="1, 4 or both")
    parser.add_argument("--photo", help="the 1x photo model: shipped name, folder or run")
    parser.add_argument("--photo-x4", help="the 4x photo model: shipped name, folder or run")
    parser.add_argument("--limit", type=int, help="first N images of every set (smoke runs)")
    parser.add_argument("--inputs", type=Path, default=ROOT / "runs" / "photo-heldout")
    parser.add_argument("--results", type=Path, default=ROOT / "docs" / "results")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "BENCHMARKS.md")
    args = parser.parse_args()
    meta = run_meta()
    report = {}
    with tempfile.TemporaryDirectory() as tmp:
        models = {1: model_source(args.photo, Path(tmp)),
                  4: model_source(args.photo_x4, Path(tmp))}
        for scale in (int(s) for s in args.scales.split(",")):
            for name in args.sets.split(","):
                cases = held_out(name, scale, args.limit, args.inputs)
                write_json(args.results / f"photo-heldout-{name}-x{scale}.json",
                           {"seed": SEED, "draws": {c["stem"]: c["draw"] for c in cases}})
                rows = []
                for label, restorer in methods_for(scale, models):
                    result = run_method(restorer, cases)
                    rows.append({"method": label, **result})
                    print(f"{name} x{scale} {label}: {result['psnr']:.2f} dB, "
                          f"{result['seconds']:.2f} s/image", flush=True)
                report[f"{name} x{scale} ({len(cases)} images)"] = rows
    write_json(args.results / "photo.json", {"meta": meta, "report": report})
    replace_section(args.docs, "photo", section(report, meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
