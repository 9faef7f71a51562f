"""Benchmark blind restoration of photos with unknown, mixed damage (the ``photo`` task).

    python -m benchmarks.photo                                  # every set, 1x and 4x
    python -m benchmarks.photo --photo runs/photo --photo-x4 runs/photo-x4   # trained runs
    python -m benchmarks.photo --limit 4 --docs /tmp/B.md --results /tmp/r   # a smoke run
    python -m benchmarks.photo --parts heldout --extra photo-gan=models/photo-gan  # one more row

Parts: ``heldout`` (the seeded held-out set, full-reference scores plus a perceptual side:
feature-space FID / KID proxies and sharpness), ``shake`` (real and synthetic camera shake,
benchmarks/photo_shake.py) and ``real`` (real photos without ground truth, no-reference
statistics and a figure, benchmarks/photo_real.py); each writes its own docs section.
``--extra NAME=MODEL_FOLDER`` (repeatable) adds a photo model as one more row wherever its
scale is compared. The protocol (held-out set, methods, scores, targets) is in
docs/PROTOCOLS.md, section "Photos with unknown, mixed damage".
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.common import markdown_table, meta_lines, replace_section, run_meta, write_json
from benchmarks.photo_methods import enlarged_input, fail, parse_extra, photo_model_scale
from pixelsmith.degrade.realistic import RealisticDegradation, realistic_case
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
PARTS = ("heldout", "shake", "real")
BASELINES = ("photo-chain", "photo-classical")


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
    if not path.is_dir():
        fail(f"{value}: not a shipped model, a model folder or a training run")
    from pixelsmith.train.export import export_run

    return str(export_run(path, workdir / path.name))


def run_method(restorer, cases: list[dict], extractor=None) -> dict:
    """Mean PSNR/SSIM, sharpness, seconds per image and output MP/s of one method over the
    cases; with ``extractor``, the features of the outputs' 32x32 tiles (key ``feats``)."""
    from benchmarks.gan.deblur import tiles
    from pixelsmith.metrics.features import extract_features
    from pixelsmith.metrics.noref import sharpness

    psnrs, ssims, sharp, feats, seconds, pixels = [], [], [], [], 0.0, 0
    for case in cases:
        start = time.perf_counter()
        out = restorer(case["degraded"], case["known"])
        seconds += time.perf_counter() - start
        out = quantize(out)
        psnrs.append(float(psnr(out, case["reference"])))
        ssims.append(float(ssim(out, case["reference"])))
        sharp.append(float(sharpness(out)[0]))
        if extractor is not None:
            feats.append(extract_features(tiles(out), extractor)[0])
        pixels += out.shape[-1] * out.shape[-2]
    n = len(cases)
    return {"psnr": sum(psnrs) / n, "ssim": sum(ssims) / n, "sharpness": sum(sharp) / n,
            "seconds": seconds / n, "mp_per_s": pixels / 1e6 / seconds if seconds else None,
            "per_image": psnrs, "feats": torch.cat(feats) if feats else None}


def reference_side(cases: list[dict], extractor=None) -> dict:
    """Sharpness of the clean references and the features of their 32x32 tiles."""
    from benchmarks.gan.deblur import tiles
    from pixelsmith.metrics.features import extract_features
    from pixelsmith.metrics.noref import sharpness

    sharp = [float(sharpness(case["reference"])[0]) for case in cases]
    feats = None
    if extractor is not None:
        feats = torch.cat([extract_features(tiles(case["reference"]), extractor)[0]
                           for case in cases])
    return {"sharpness": sum(sharp) / len(sharp), "feats": feats}


def perceptual(result: dict, reference: dict) -> dict:
    """FID / KID (x 1000) proxies of a method's tiles against the clean tiles (None without
    features); the features themselves are dropped."""
    from benchmarks.gan.common import scores_against

    feats = result.pop("feats")
    if feats is None or reference["feats"] is None:
        return {**result, "fid": None, "kid": None}
    scores = scores_against(reference["feats"], feats)
    kid = scores["kid"]
    return {**result, "fid": scores["fid"], "kid": None if kid is None else 1000 * kid}


def methods_for(scale: int, models: dict[int, str | None], extras: list[tuple[str, str]] = (),
                baselines: tuple[str, ...] = BASELINES) -> list[tuple[str, object]]:
    """(label, restorer) of every method compared at ``scale``: the photo model, the extras of
    that scale, the baselines and the input."""
    rows = []
    if models.get(scale):
        rows.append((Path(models[scale]).name,
                     Restorer("photo", models[scale])))
    rows += [(name, Restorer("photo", folder)) for name, folder in extras
             if photo_model_scale(folder) == scale]
    if "photo-chain" in baselines:
        rows.append(("photo-chain", Restorer("photo", "photo-chain")))
    if "photo-classical" in baselines:
        rows.append(("photo-classical (CBM3D + bicubic)", Restorer("photo", "photo-classical")))
    rows.append(("input" + (" (bicubic)" if scale > 1 else ""), enlarged_input))
    return rows


def _number(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def section(report: dict, meta: dict, extractor: str | None = None) -> str:
    lines = ["## Photos with unknown, mixed damage (task photo)", "", meta_lines(meta), "",
             "Held-out realistic degradations (seed 2026; docs/PROTOCOLS.md has the protocol); "
             "PSNR / SSIM in RGB of the 8-bit output, seconds per image on this machine. "
             "The perceptual side: FID and KID (x 1000) of the outputs' non-overlapping 32x32 "
             f"tiles against the clean images' tiles in the `{extractor}` feature space, "
             "**a proxy** (that extractor was trained on CIFAR-10 objects, never on photo "
             "tiles; lower is closer to the clean images' texture statistics), and sharpness, "
             "the mean variance of the luma's Laplacian (no reference; noise raises it too), "
             "to compare with the clean images' value under each table.", ""]
    for key, block in report.items():
        rows = block["rows"]
        lines += [f"### {key}", ""]
        lines.append(markdown_table(
            ["method", "PSNR", "SSIM", "FID (proxy)", "KID x1000 (proxy)", "sharpness",
             "s / image", "MP/s"],
            [[r["method"], f"{r['psnr']:.2f}", f"{r['ssim']:.4f}", _number(r.get("fid"), 2),
              _number(r.get("kid"), 2), _number(r.get("sharpness"), 1), f"{r['seconds']:.2f}",
              f"{r['mp_per_s']:.3f}" if r["mp_per_s"] else "-"] for r in rows]))
        lines += ["", f"Sharpness of the clean images: {block['clean_sharpness']:.1f}.", ""]
    return "\n".join(lines)


def heldout(args: argparse.Namespace, models: dict, extras: list, meta: dict) -> None:
    """Part heldout: every set at every scale, full-reference and perceptual scores."""
    from pixelsmith.metrics.features import load_extractor

    extractor = load_extractor(args.extractor) if args.extractor else None
    baselines = tuple(b for b in args.baselines.split(",") if b)
    unknown = set(baselines) - set(BASELINES)
    if unknown:
        fail(f"--baselines: unknown {', '.join(sorted(unknown))} (choose from "
             f"{', '.join(BASELINES)})")
    report = {}
    for scale in (int(s) for s in args.scales.split(",")):
        for name in args.sets.split(","):
            cases = held_out(name, scale, args.limit, args.inputs)
            write_json(args.results / f"photo-heldout-{name}-x{scale}.json",
                       {"seed": SEED, "draws": {c["stem"]: c["draw"] for c in cases}})
            reference = reference_side(cases, extractor)
            rows = []
            for label, restorer in methods_for(scale, models, extras, baselines):
                result = perceptual(run_method(restorer, cases, extractor), reference)
                rows.append({"method": label, **result})
                print(f"{name} x{scale} {label}: {result['psnr']:.2f} dB, "
                      f"{result['seconds']:.2f} s/image", flush=True)
            report[f"{name} x{scale} ({len(cases)} images)"] = {
                "rows": rows, "clean_sharpness": reference["sharpness"]}
    write_json(args.results / "photo.json", {"meta": meta, "report": report})
    replace_section(args.docs, "photo", section(report, meta, args.extractor))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default=",".join(PARTS), help="comma-separated: "
                        + ", ".join(PARTS))
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated set names")
    parser.add_argument("--scales", default="1,4", help="1, 4 or both")
    parser.add_argument("--photo", default="photo",
                        help="the 1x photo model: shipped name, folder or run")
    parser.add_argument("--photo-x4", default="photo-x4",
                        help="the 4x photo model: shipped name, folder or run")
    parser.add_argument("--extra", action="append", metavar="NAME=MODEL_FOLDER",
                        help="one more photo model (folder or run) as a row; repeatable")
    parser.add_argument("--baselines", default=",".join(BASELINES),
                        help="held-out baselines, comma-separated (empty: none)")
    parser.add_argument("--extractor", default="features-cifar10",
                        help="feature extractor of the FID/KID proxies ('' to skip them)")
    parser.add_argument("--limit", type=int, help="first N images of every set (smoke runs)")
    parser.add_argument("--inputs", type=Path, default=ROOT / "runs" / "photo-heldout")
    parser.add_argument("--results", type=Path, default=ROOT / "docs" / "results")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "BENCHMARKS.md")
    parser.add_argument("--figure", type=Path, default=ROOT / "docs" / "images" /
                        "photo-real.png", help="where part real draws its side-by-side figure")
    args = parser.parse_args()
    parts = [p for p in args.parts.split(",") if p]
    if not parts or set(parts) - set(PARTS):
        fail(f"--parts {args.parts!r}: choose from {', '.join(PARTS)}")
    meta = run_meta()
    with tempfile.TemporaryDirectory() as tmp:
        models = {1: model_source(args.photo, Path(tmp)),
                  4: model_source(args.photo_x4, Path(tmp))}
        extras = [(name, model_source(folder, Path(tmp) / "extra"))
                  for name, folder in parse_extra(args.extra)]
        for _, folder in extras:
            photo_model_scale(folder)  # a model of another task stops the run here
        if "heldout" in parts:
            heldout(args, models, extras, meta)
        if "shake" in parts:
            from benchmarks import photo_shake

            result = photo_shake.measure(models[1], [e for e in extras
                                                     if photo_model_scale(e[1]) == 1],
                                         args.limit)
            write_json(args.results / "photo-shake.json", {"meta": meta, **result})
            replace_section(args.docs, "photo-shake", photo_shake.section(result, meta))
        if "real" in parts:
            from benchmarks import photo_real

            result = photo_real.measure(models[1], models[4], extras, args.limit, args.figure)
            write_json(args.results / "photo-real.json", {"meta": meta, **result})
            replace_section(args.docs, "photo-real", photo_real.section(result, meta))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
