"""Part ``shake`` of benchmarks.photo: camera shake, real (the two GoPro pairs) and synthetic
(CBSD68 blurred by the deblur-gan recipe's camera-shake kernels, with noise and JPEG).

Does the blind ``photo`` model, trained on the realistic degradation model (whose blurs are
Gaussian-like and small), also undo camera shake? Compared with ``deblur-blind`` (trained on
camera-shake, Gaussian and disk kernels), the chains, and the input. The protocol is in
docs/PROTOCOLS.md, "Photos with unknown, mixed damage".
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch

from benchmarks.common import markdown_table, meta_lines
from benchmarks.photo_methods import (
    Method,
    chain_then_deblur,
    input_itself,
    model_label,
    timed,
    trained,
)
from pixelsmith.degrade.known import Known
from pixelsmith.metrics.pixel import psnr, ssim

ROOT = Path(__file__).resolve().parents[1]
SEED = 2026
SHAKE_SET = "test/CBSD68"
SHAKE_RECIPE = ROOT / "configs" / "deblur-gan.yaml"
SHAKE_QUALITY = (50, 95)  # JPEG quality, uniform integers, both ends included


def methods(photo: str, extras: list[tuple[str, str]]) -> list[Method]:
    """The rows of both tables: the blind photo models, deblur-blind, the chains, the input."""
    rows: list[Method] = [(model_label(photo), trained("photo", photo, Known()))]
    rows += [(name, trained("photo", folder, Known())) for name, folder in extras]
    rows += [("deblur-blind", trained("deblur", "deblur-blind", Known())),
             ("photo-chain", trained("photo", "photo-chain")),
             ("photo-chain, then deblur-blind", chain_then_deblur()),
             ("input", input_itself)]
    return rows


def gopro_cases() -> Iterator[tuple[str, torch.Tensor, torch.Tensor, Known]]:
    """(name, sharp frame, blurred frame, Known()) of each GoPro pair (PNG: no JPEG quality)."""
    from pixelsmith.io import read_image
    from pixelsmith.settings import dataset_path

    for blurred in sorted(dataset_path("deblur").glob("*_blur*.png")):
        sharp = blurred.with_name(blurred.name.replace("_blur", "_sharp"))
        yield (blurred.stem.replace("_blur", ""), read_image(sharp, gray=False),
               read_image(blurred, gray=False), Known())


def synthetic_cases(limit: int | None) -> Iterator[tuple[str, torch.Tensor, torch.Tensor, Known]]:
    """(name, clean, input, Known(quality)) per image: the deblur-gan recipe's degradation
    (a camera-shake kernel, 'valid' blur, Gaussian noise, 8 bits), then JPEG at a quality
    drawn in SHAKE_QUALITY, all from ``image_generator(SEED, index)``. The quality is known,
    as a JPEG file's tables tell it."""
    from pixelsmith.degrade.draws import degrade_patch
    from pixelsmith.degrade.jpeg import JPEG
    from pixelsmith.evaluate.protocol import image_generator
    from pixelsmith.io import list_images, read_image
    from pixelsmith.settings import dataset_path
    from pixelsmith.train.config import load_recipe
    from pixelsmith.train.families.restoration import degradation_spec

    spec = degradation_spec(load_recipe(SHAKE_RECIPE))
    for index, path in enumerate(list_images(dataset_path(SHAKE_SET))[:limit]):
        generator = image_generator(SEED, index)
        item = degrade_patch(spec, read_image(path, gray=False), generator)
        low, high = SHAKE_QUALITY
        quality = int(torch.randint(low, high + 1, (), generator=generator))
        degraded = JPEG(quality)(item["degraded"][None])
        yield path.stem, item["clean"][None], degraded, Known(quality=quality)


def run(rows: list[Method], cases) -> list[dict]:
    """PSNR / SSIM (RGB, 8-bit output) per case and their means, seconds per image."""
    scores: list[list[tuple[float, float, float]]] = [[] for _ in rows]
    names = []
    for name, clean, y, known in cases:
        names.append(name)
        for column, (_, fn) in enumerate(rows):
            out, seconds = timed(fn, y, known)
            scores[column].append((float(psnr(out, clean)), float(ssim(out, clean)), seconds))
    out = []
    for (label, _), values in zip(rows, scores, strict=True):
        n = len(values)
        out.append({"method": label, "psnr": sum(v[0] for v in values) / n,
                    "ssim": sum(v[1] for v in values) / n,
                    "seconds": sum(v[2] for v in values) / n,
                    "per_image": {name: {"psnr": v[0], "ssim": v[1]}
                                  for name, v in zip(names, values, strict=True)}})
    return out


def measure(photo: str, extras: list[tuple[str, str]], limit: int | None) -> dict:
    """Both tables: {"gopro": rows, "synthetic": rows, "images": n}."""
    rows = methods(photo, extras)
    gopro = run(rows, gopro_cases())
    synthetic = run(rows, synthetic_cases(limit))
    return {"gopro": gopro, "synthetic": synthetic,
            "images": len(synthetic[0]["per_image"]) if synthetic else 0}


def verdict(rows: list[dict]) -> str:
    """Where the first row (the photo model) stands against the input and the best other row."""
    photo, others = rows[0], [r for r in rows[1:] if r["method"] != "input"]
    best = max(others, key=lambda r: r["psnr"])
    base = next(r for r in rows if r["method"] == "input")
    return (f"{photo['method']}: {photo['psnr'] - base['psnr']:+.2f} dB over the input, "
            f"{photo['psnr'] - best['psnr']:+.2f} dB against the best other method "
            f"({best['method']}, {best['psnr']:.2f} dB).")


def section(result: dict, meta: dict) -> str:
    """The docs section ``photo-shake``."""
    gopro, synthetic = result["gopro"], result["synthetic"]
    pairs = list(gopro[0]["per_image"])
    lines = ["## Photos with camera shake (task photo against deblur-blind)", "",
             meta_lines(meta), "",
             "Real camera shake: the two GoPro blurry/sharp pairs of `deblur/` (1280x720, Nah "
             "et al. 2017; a smoke test, two images, not a benchmark). PSNR / SSIM in RGB of the "
             "8-bit output against the sharp frame; every method is blind.", ""]
    lines.append(markdown_table(
        ["method", *(f"{p} PSNR / SSIM" for p in pairs), "mean PSNR", "s / image"],
        [[r["method"], *(f"{r['per_image'][p]['psnr']:.2f} / {r['per_image'][p]['ssim']:.4f}"
                         for p in pairs), f"{r['psnr']:.2f}", f"{r['seconds']:.2f}"]
         for r in gopro]))
    lines += ["", verdict(gopro), "",
              f"Synthetic camera shake: {result['images']} images of `{SHAKE_SET}`, each blurred "
              "by its own camera-shake kernel of the deblur-gan recipe's generator (paths of 5-25 "
              "pixels on a 25x25 canvas, 'valid' blur: no wrapped border), Gaussian noise of "
              "sigma 0-10/255, 8 bits, then JPEG at a quality drawn in "
              f"{SHAKE_QUALITY[0]}-{SHAKE_QUALITY[1]} (4:2:0), all from `image_generator("
              f"{SEED}, index)`. The chains are told the JPEG quality (a JPEG file's tables tell "
              "it); the models are blind. PSNR / SSIM in RGB of the 8-bit output.", ""]
    lines.append(markdown_table(
        ["method", "PSNR", "SSIM", "s / image"],
        [[r["method"], f"{r['psnr']:.2f}", f"{r['ssim']:.4f}", f"{r['seconds']:.2f}"]
         for r in synthetic]))
    lines += ["", verdict(synthetic)]
    return "\n".join(lines)
