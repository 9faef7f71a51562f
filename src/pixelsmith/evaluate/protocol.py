"""Benchmark methods on a folder of clean images with the protocols of the literature.

For every image: make a degraded input reproducibly (its own generator, seeded from the run's
seed and the image's index), restore it with each method, quantise the output to 8 bits, and
measure PSNR and SSIM against the clean image. The result is a plain dict with a stable schema
(see docs/EVALUATION.md), written as JSON and as a Markdown table.

Protocols:
- denoise: x + sigma * N(0, 1) in [0, 1] floats, noisy input NOT clipped; full-image metrics.
- deblur: circular convolution with the kernel, then Gaussian noise (default sigma 2.55/255).
- inpaint: a mask drawn per image (box, random pixels or strokes); missing pixels set to 0.
- sr: HR cropped to a multiple of the scale, downscaled as MATLAB's imresize does on uint8 images;
  metrics on the Y channel (MATLAB rgb2ycbcr) with ``scale`` pixels cropped at the border.
- dejpeg: Pillow JPEG at the given quality; full-image metrics.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from pixelsmith.degrade.known import TASKS, Known
from pixelsmith.errors import PixelsmithError
from pixelsmith.io import list_images, quantize, read_image
from pixelsmith.sysinfo import machine_summary

SCHEMA_VERSION = 1
MASK_KINDS = ("box", "pixels", "strokes")
#: the evaluation masks a bare kind stands for (``pixelsmith degrade --mask`` spec syntax)
MASK_DEFAULTS = {"box": "box:0.25", "pixels": "pixels:0.5", "strokes": "strokes:0.1-0.3"}


@dataclass(frozen=True)
class EvalParams:
    """The degradation protocol of one evaluation run (sigma in 0-255 units)."""

    task: str
    sigma: float | None = None
    scale: int | None = None
    quality: int | None = None
    kernel: str | None = None
    mask_kind: str | None = None
    seed: int = 0
    color: str = "auto"  # "auto" keeps each image as read, "gray" or "rgb" converts

    def resolved(self) -> EvalParams:
        """Fill in the task's defaults and validate, with one-line errors for bad values."""
        if self.task not in TASKS:
            raise PixelsmithError(f"unknown task '{self.task}' (choose from {', '.join(TASKS)})")
        if self.task == "photo":
            raise PixelsmithError("evaluate has no protocol for task photo (unknown, mixed "
                                  "damage): python -m benchmarks.photo measures it")
        if self.color not in ("auto", "gray", "rgb"):
            raise PixelsmithError(f"--color must be auto, gray or rgb, not '{self.color}'")
        defaults = {
            "denoise": {"sigma": 25.0},
            "deblur": {"sigma": 2.55, "kernel": "gaussian:1.6"},
            "inpaint": {"mask_kind": "strokes"},
            "sr": {"scale": 4},
            "dejpeg": {"quality": 10},
        }[self.task]
        filled = {k: v for k, v in defaults.items() if getattr(self, k) is None}
        params = EvalParams(**{**asdict(self), **filled})
        if params.sigma is not None and not 0 <= params.sigma <= 255:
            raise PixelsmithError(f"--sigma must be within 0-255, not {params.sigma:g}")
        if params.scale is not None and params.scale < 2:
            raise PixelsmithError(f"--scale must be 2 or more, not {params.scale}")
        if params.quality is not None and not 1 <= params.quality <= 100:
            raise PixelsmithError(f"--quality must be within 1-100, not {params.quality}")
        if params.mask_kind is not None and params.mask_kind.split(":")[0] not in MASK_KINDS:
            raise PixelsmithError(
                f"--mask-kind must be one of {', '.join(MASK_KINDS)}, optionally with a size as "
                f"in `pixelsmith degrade --mask` (box:64x64, pixels:0.8, strokes:0.1-0.3), "
                f"not '{params.mask_kind}'"
            )
        return params

    def public(self) -> dict:
        """The parameters that matter for this task, for reports."""
        keys = {"denoise": ("sigma",), "deblur": ("sigma", "kernel"), "inpaint": ("mask_kind",),
                "sr": ("scale",), "dejpeg": ("quality",)}[self.task]
        return {**{k: getattr(self, k) for k in keys}, "seed": self.seed, "color": self.color}


def image_generator(seed: int, index: int) -> torch.Generator:
    """Per-image generator: independent streams for every (run seed, image index) pair."""
    state = np.random.SeedSequence([int(seed), int(index)]).generate_state(2, dtype=np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


def load_clean(path: Path, params: EvalParams) -> torch.Tensor:
    """Read a clean image and convert it to the colour the protocol asks for."""
    gray = {"auto": None, "gray": True, "rgb": False}[params.color]
    return read_image(path, gray=gray)


def make_case(clean: torch.Tensor, params: EvalParams, generator: torch.Generator
              ) -> tuple[torch.Tensor, torch.Tensor, Known]:
    """Degrade ``clean`` by the task's protocol: returns (reference, degraded input, known)."""
    from pixelsmith import degrade as dg

    task = params.task
    if task == "denoise":
        sigma = params.sigma / 255.0
        return clean, dg.GaussianNoise(sigma)(clean, generator), Known(sigma=sigma)
    if task == "deblur":
        blur, kernel = dg.parse_blur(params.kernel, generator)
        blur = dg.Blur(kernel, boundary="circular")
        sigma = params.sigma / 255.0
        noisy = dg.GaussianNoise(sigma)(blur(clean), generator)
        return clean, noisy, Known(sigma=sigma, kernel=kernel)
    if task == "inpaint":
        spec = MASK_DEFAULTS.get(params.mask_kind, params.mask_kind)
        _, mask = dg.parse_mask(spec, tuple(clean.shape[-2:]), generator)
        return clean, dg.Mask(mask)(clean), Known(mask=mask)
    if task == "sr":
        s = params.scale
        h, w = clean.shape[-2:]
        reference = clean[..., : h - h % s, : w - w % s]
        # MATLAB's uint8 imresize (rounding after each axis): the published LR inputs, exactly
        low = dg.imresize(reference.double(), 1 / s, uint8=True).to(reference.dtype)
        return reference, low, Known(scale=s)
    jpeg = dg.JPEG(params.quality)
    return clean, jpeg(clean), Known(quality=params.quality)


def score(restored: torch.Tensor, reference: torch.Tensor, params: EvalParams
          ) -> tuple[float, float]:
    """PSNR and SSIM of the 8-bit quantised output, with the task's channel and border rules."""
    from pixelsmith.metrics.pixel import psnr, ssim

    is_sr = params.task == "sr"
    crop = params.scale if is_sr else 0
    out = quantize(restored.double())
    ref = reference.double()
    value_psnr = float(psnr(out, ref, crop=crop, y_channel=is_sr)[0])
    value_ssim = float(ssim(out, ref, crop=crop, y_channel=is_sr)[0])
    return value_psnr, value_ssim


def missing_psnr(restored: torch.Tensor, reference: torch.Tensor, mask: torch.Tensor) -> float:
    """PSNR (dB) of the 8-bit quantised output over the missing pixels only (inpainting)."""
    missing = mask.expand_as(reference).bool()
    error = (quantize(restored.double()) - reference.double())[missing]
    mse = float((error**2).mean()) if error.numel() else 0.0
    return float("inf") if mse == 0 else 10 * math.log10(1.0 / mse)


def run_and_score(restorer, degraded: torch.Tensor, known: Known, reference: torch.Tensor,
                  params: EvalParams) -> tuple[torch.Tensor, float, tuple[float, float]]:
    """Restore one case: (output, seconds of the method call alone, (PSNR, SSIM))."""
    start = time.perf_counter()
    restored = restorer(degraded, known)
    seconds = time.perf_counter() - start
    return restored, seconds, score(restored, reference, params)


def resolve_data(data: str | Path) -> Path:
    """The folder ``data`` names: as given when it exists, else the same relative path below
    the data root (``$PIXELSMITH_DATA``, :func:`pixelsmith.settings.data_root`), so
    ``--data test/Set12`` works from any directory. A one-line error names both places."""
    from pixelsmith.settings import data_root

    given = Path(data).expanduser()
    if given.is_dir():
        return given
    below = data_root() / given
    if not given.is_absolute() and below.is_dir():
        return below
    if given.exists():
        raise PixelsmithError(f"{data}: not a folder (give a folder of clean images)")
    where = "" if given.is_absolute() else f" here or in the data root {data_root()}"
    raise PixelsmithError(f"{data}: no such folder{where}")


def evaluate(
    data: str | Path,
    task: str,
    methods: list[str],
    params: EvalParams | None = None,
    *,
    limit: int | None = None,
    progress: bool = True,
    backend: str | None = None,
    precision: str = "fp32",
) -> dict:
    """Evaluate ``methods`` on the images of ``data`` (a folder, found as
    :func:`resolve_data` says); returns the documented result dict.

    ``backend`` runs trained models with torch, onnxruntime or auto; each result records the
    backend that ran (None for classical methods); ``precision`` (fp32, bf16, fp16 or auto)
    is theirs too, and each result records the one that ran."""
    from tqdm import tqdm

    from pixelsmith.restoration.restorer import Restorer

    data = resolve_data(data)
    params = (params or EvalParams(task=task)).resolved()
    files = list_images(data)
    if limit is not None:
        files = files[:limit]
    if not files:
        raise PixelsmithError(f"{data}: no images found")
    restorers = [Restorer(task, name, backend=backend, precision=precision) for name in methods]
    backends = {r.name: r.backend for r in restorers}
    precisions = {r.name: r.precision if r.backend else None for r in restorers}
    per_method: dict[str, list[dict]] = {r.name: [] for r in restorers}
    pixels_done = {r.name: 0 for r in restorers}
    channels = {"gray": 0, "rgb": 0}

    bar = tqdm(total=len(files) * len(restorers), desc=f"evaluate {task}", unit="run",
               disable=True if not progress else None,  # None: only on a terminal
               dynamic_ncols=True)
    for index, path in enumerate(files):
        clean = load_clean(path, params)
        channels["gray" if clean.shape[1] == 1 else "rgb"] += 1
        reference, degraded, known = make_case(clean, params, image_generator(params.seed, index))
        for restorer in restorers:
            bar.set_postfix_str(f"{restorer.name} {path.name}")
            restored, seconds, (value_psnr, value_ssim) = run_and_score(
                restorer, degraded, known, reference, params)
            pixels = restored.shape[-1] * restored.shape[-2]
            row = {"name": path.name, "psnr": value_psnr, "ssim": value_ssim, "seconds": seconds,
                   "megapixels_per_second": pixels / 1e6 / max(seconds, 1e-12)}
            if task == "inpaint":
                row["psnr_missing"] = missing_psnr(restored, reference, known.mask)
            per_method[restorer.name].append(row)
            pixels_done[restorer.name] += pixels
            bar.update(1)
    bar.close()

    results = []
    for name, rows in per_method.items():
        total_seconds = sum(r["seconds"] for r in rows)
        results.append({
            "method": name,
            "backend": backends[name],
            "precision": precisions[name],
            "psnr": float(np.mean([r["psnr"] for r in rows])),
            "ssim": float(np.mean([r["ssim"] for r in rows])),
            **({"psnr_missing": float(np.mean([r["psnr_missing"] for r in rows]))}
               if task == "inpaint" else {}),
            "seconds_per_image": total_seconds / len(rows),
            "megapixels_per_second": pixels_done[name] / 1e6 / max(total_seconds, 1e-12),
            # robust to the first call's warm-up and to other jobs stealing the cores for a moment
            "median_megapixels_per_second": float(np.median(
                [r["megapixels_per_second"] for r in rows])),
            "per_image": rows,
        })
    return {
        "task": task,
        "params": params.public(),
        "dataset": str(data),
        "results": results,
        "meta": {
            "schema_version": SCHEMA_VERSION,
            "images": len(files),
            "channels": channels,
            "machine": machine_summary(),
            "torch": torch.__version__,
            "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        },
    }


def mixed_channels_warning(report: dict) -> str | None:
    """A one-line warning when the evaluated images mixed gray and colour ones (as read,
    ``--color auto``): their scores average two different problems, e.g. a folder holding a
    data set's gray copies beside its colour originals."""
    counts = report["meta"].get("channels", {})
    if report["params"].get("color") != "auto" or not (counts.get("gray") and counts.get("rgb")):
        return None
    return (f"warning: {report['dataset']} mixes {counts['gray']} gray and {counts['rgb']} "
            "colour images, scored as read and averaged together; use --color gray or "
            "--color rgb, or a folder of one kind")


def to_markdown(report: dict, per_image: bool = False) -> str:
    """A Markdown table of a result dict (mean PSNR / SSIM / speed per method)."""
    params = ", ".join(f"{k}={v}" for k, v in report["params"].items())
    lines = [
        f"**{report['task']}** on `{Path(report['dataset']).name}` "
        f"({report['meta']['images']} images; {params})",
        "",
        "| method | PSNR (dB) | SSIM | s / image | MP / s (median) |",
        "|---|---|---|---|---|",
    ]
    for r in report["results"]:
        lines.append(f"| {r['method']} | {r['psnr']:.2f} | {r['ssim']:.4f} | "
                     f"{r['seconds_per_image']:.3f} | {r['median_megapixels_per_second']:.3f} |")
    if per_image:
        names = [row["name"] for row in report["results"][0]["per_image"]]
        header = "| image | " + " | ".join(r["method"] for r in report["results"]) + " |"
        lines += ["", header, "|---" * (len(report["results"]) + 1) + "|"]
        for i, name in enumerate(names):
            cells = " | ".join(
                f"{r['per_image'][i]['psnr']:.2f} / {r['per_image'][i]['ssim']:.4f}"
                for r in report["results"]
            )
            lines.append(f"| {name} | {cells} |")
    return "\n".join(lines) + "\n"
