"""How encoder-side latent refinement's settings were chosen: a sweep of steps and learning rate
on validation images (CBSD432/val32, never Kodak), written to the "codec-refine" section of
docs/BENCHMARKS.md. The Kodak24 figures of the chosen setting are in section "codec-rd"
(``benchmarks/codec_rd.py --refine 0 100``).

    python -m benchmarks.codec_refine                      # the default sweep, about 15 min
    python -m benchmarks.codec_refine --limit 2 --output-dir /tmp/r --sweep-model codec-q1 \\
        --steps 10 --lrs 0.04 --models                     # smoke run

For each model and setting, every image is coded plainly and with refinement; both files are
decoded and measured: bits per pixel from the real streams, RGB PSNR of the 8-bit decoded
image, and the coded loss bpp + lmbda * 255^2 * MSE that refinement lowers. Seconds are
wall-clock refinement time per image.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import replace_section
from pixelsmith.codec.api import load_codec
from pixelsmith.codec.models import RD_SCALE, pad_image
from pixelsmith.codec.refine import RefineSettings, refine_compress
from pixelsmith.io import list_images, read_image
from pixelsmith.settings import dataset_path
from pixelsmith.sysinfo import machine_summary

ROOT = Path(__file__).resolve().parents[1]
SECTION = "codec-refine"


def code(codec, x: torch.Tensor, settings: RefineSettings | None) -> dict:
    """bpp, PSNR and coded loss of one image, plain (settings None) or refined."""
    padded, _ = pad_image(x, codec.pad_multiple)
    valid = tuple(x.shape[-2:])
    start = time.perf_counter()
    if settings is None:
        with torch.no_grad():
            streams = codec.compress_padded(padded)
    else:
        streams = refine_compress(codec, padded, valid, settings)
    seconds = time.perf_counter() - start
    x_hat = codec.decompress_padded(streams, *padded.shape[-2:]).clamp(0, 1)
    x_hat = torch.round(x_hat[..., : valid[0], : valid[1]] * 255) / 255
    mse = float(torch.mean((x_hat - x) ** 2))
    bpp = 8 * sum(map(len, streams)) / (valid[0] * valid[1])
    return {"bpp": bpp, "psnr": -10 * np.log10(max(mse, 1e-12)),
            "loss": bpp + codec.lmbda * RD_SCALE * mse, "seconds": seconds}


def measure(name: str, images: list[torch.Tensor], steps: int, lr: float) -> dict:
    codec = load_codec(name)
    plain = [code(codec, x, None) for x in images]
    refined = [code(codec, x, RefineSettings(steps=steps, lr=lr)) for x in images]

    def mean(rows: list[dict], key: str) -> float:
        return float(np.mean([r[key] for r in rows]))

    return {"model": name, "steps": steps, "lr": lr,
            **{f"plain_{k}": mean(plain, k) for k in ("bpp", "psnr", "loss")},
            **{f"refined_{k}": mean(refined, k) for k in ("bpp", "psnr", "loss", "seconds")}}


def section(rows: list[dict], meta: dict) -> str:
    lines = [
        "## Learned codec: encoder-side refinement, choice of settings (CBSD432/val32)",
        "",
        f"Command: `{meta['command']}`. {meta['images']} validation images of "
        "train/CBSD432/val32 at full size (481x321 or 321x481), never Kodak; each coded plainly "
        "and with refinement (docs/CODEC.md, Encoder-side refinement), both decoded to 8 bits. "
        "bpp from the real streams; loss = bpp + lambda * 255^2 * MSE (what refinement "
        "lowers); seconds of refinement per image. The default "
        f"(`RefineSettings`) is {meta['default_steps']} steps at lr {meta['default_lr']:g}; "
        "its Kodak24 curve is in section codec-rd.",
        "",
        f"- machine: {meta['machine']}",
        f"- date: {meta['date']}",
        "",
        "| model | steps | lr | bpp plain -> refined | PSNR plain -> refined (dB) | "
        "loss change | seconds per image |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        change = 100 * (r["refined_loss"] / r["plain_loss"] - 1)
        lines.append(f"| {r['model']} | {r['steps']} | {r['lr']:g} | {r['plain_bpp']:.4f} -> "
                     f"{r['refined_bpp']:.4f} | {r['plain_psnr']:.2f} -> "
                     f"{r['refined_psnr']:.2f} | {change:+.1f}% | "
                     f"{r['refined_seconds']:.1f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(dataset_path("train/CBSD432/val32")))
    parser.add_argument("--limit", type=int, default=8, help="the first N images (default 8)")
    parser.add_argument("--sweep-model", default="codec-q3",
                        help="the model the steps and lr are swept on")
    parser.add_argument("--steps", type=int, nargs="+", default=[25, 50, 100, 200])
    parser.add_argument("--lrs", type=float, nargs="+",
                        default=[0.01, 0.02, 0.04, 0.08, 0.16])
    parser.add_argument("--models", nargs="*",
                        default=["codec-q1", "codec-q2", "codec-q4"],
                        help="other models, measured at the default setting only")
    parser.add_argument("--output-dir", default=str(ROOT / "docs"),
                        help="where BENCHMARKS.md goes (default docs/)")
    args = parser.parse_args()
    default = RefineSettings()
    images = [read_image(p, gray=False) for p in list_images(args.data)[: args.limit]]
    settings = sorted({(s, default.lr) for s in args.steps}
                      | {(default.steps, lr) for lr in args.lrs})
    plan = [(args.sweep_model, s, lr) for s, lr in settings]
    plan += [(name, default.steps, default.lr) for name in args.models]
    rows = []
    for name, steps, lr in plan:
        rows.append(measure(name, images, steps, lr))
        print({k: round(v, 4) if isinstance(v, float) else v for k, v in rows[-1].items()},
              flush=True)
    meta = {"command": "python -m benchmarks.codec_refine " + " ".join(sys.argv[1:]),
            "images": len(images), "machine": machine_summary(),
            "date": time.strftime("%Y-%m-%d %H:%M"), "default_steps": default.steps,
            "default_lr": default.lr}
    out = Path(args.output_dir) / "BENCHMARKS.md"
    replace_section(out, SECTION, section(rows, {**meta, "command": meta["command"].strip()}))
    print(f"wrote {out} (section {SECTION})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
