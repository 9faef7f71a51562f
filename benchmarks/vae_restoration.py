"""VAE "error correction": restore noisy and masked digits and faces through a VAE's latent
space, against the shipped restoration models and classical baselines on the same inputs.

    python -m benchmarks.vae_restoration                        # both parts, default sizes
    python -m benchmarks.vae_restoration --only digits --limit 5 --vae-mnist models/tiny-vae \\
        --results /tmp/vae.json --docs /tmp/BENCHMARKS.md      # a smoke run

Inputs (seed 0; noise and masks drawn per image from ``image_generator(seed, index)``, the
protocol of ``pixelsmith evaluate``; noise is not clipped):

- digits: the first ``--digits`` (200) MNIST test digits (t10k, never seen in training),
  through ``--vae-mnist`` (default the shipped ``vae-mnist``): Gaussian noise sigma 50/255
  and 25/255; a random 12x12 box and 50% random pixels missing.
- faces: the first ``--faces`` (100) held-out UTKFace faces at the VAE's size (64x64): the
  validation split of the VAE's own training recipe (read from its config.json, or from
  ``--faces-recipe``), i.e. ``synthesis_datasets``, through ``--vae-faces`` (default
  ``vae-faces``): the same noise levels; a random 24x24 box and 50% random pixels.

Methods: the VAE (denoising: posterior mean, noise level not used; inpainting: masked-ELBO
posterior fit, mean of ``--samples`` samples; ``pixelsmith.restoration.vae``), the shipped
``denoise-gray`` / ``denoise-color`` with the known sigma and ``inpaint``, biharmonic
inpainting, BM3D with the known sigma when asked (``--bm3d``: about 5 s per digit and 14 s per
face on the 2-core CPU), and the degraded input itself.
Scores: PSNR / SSIM of the 8-bit quantised output (``pixelsmith.evaluate.protocol.score``), and for
masks the PSNR over the missing pixels (of their squared error pooled over all images); the
mean over the images. For the VAE's inpainting the uncertainty is summarised by the mean
posterior standard deviation over the missing pixels and its correlation with the absolute
error there.

Results: docs/results/vae-restoration.json and the section "vae-restoration" of
docs/BENCHMARKS.md (``--results`` / ``--docs`` write elsewhere). Without a VAE model the
script stops with a message (exit code 2) before any work.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import torch

from benchmarks.common import replace_section
from pixelsmith.degrade.known import Known
from pixelsmith.errors import PixelsmithError
from pixelsmith.evaluate.protocol import EvalParams, image_generator, missing_psnr, score
from pixelsmith.io import atomic_write_text
from pixelsmith.sysinfo import machine_summary

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
RESULTS = DOCS / "results" / "vae-restoration.json"
SECTION = "vae-restoration"
CHUNK = 50  # images per call of the restoration models and baselines

PARTS = {
    "digits": {"cases": ("noise:50", "noise:25", "mask:box:12x12", "mask:pixels:0.5"),
               "denoiser": "denoise-gray", "title": "MNIST test digits (28x28 gray)"},
    "faces": {"cases": ("noise:50", "noise:25", "mask:box:24x24", "mask:pixels:0.5"),
              "denoiser": "denoise-color", "title": "held-out UTKFace faces (64x64 RGB)"},
}


def fail(message: str) -> None:
    print(f"vae_restoration.py: {message}", file=sys.stderr)
    sys.exit(2)


def resolve_vae(source: str, option: str) -> dict:
    """The model's config.json, or a clear stop when it is missing or not a conv-vae."""
    from pixelsmith.restoration.vae import is_vae_config
    from pixelsmith.zoo import read_config, resolve_model_dir

    try:
        config = read_config(resolve_model_dir(source))
    except PixelsmithError as exc:
        fail(f"VAE model '{source}' is not available ({exc}). Ship it (scripts/ship_model.py) "
             f"or pass an exported model folder with {option} PATH, or leave this part out "
             "with --only.")
    if not is_vae_config(config):
        fail(f"'{source}' is a {config['network']['name']} model, not a conv-vae ({option})")
    return config


# -- data -------------------------------------------------------------------------------------

def mnist_test(n: int) -> torch.Tensor:
    from pixelsmith.data import MNIST

    test = MNIST(train=False)
    return torch.stack([test[i][0] for i in range(min(n, len(test)))])


def held_out_faces(config: dict, recipe_path: Path | None, n: int) -> tuple[torch.Tensor, str]:
    """The first ``n`` validation images of the VAE's training recipe (or of ``recipe_path``)."""
    from pixelsmith.train.config import load_recipe, recipe_from_dict
    from pixelsmith.train.datasets import synthesis_datasets

    if recipe_path is not None:
        recipe, where = load_recipe(recipe_path), str(recipe_path)
    else:
        stored = config.get("training", {}).get("recipe")
        if stored is None:
            fail("the faces VAE's config.json has no training recipe: give --faces-recipe")
        recipe, where = recipe_from_dict(stored, "config.json"), "the VAE's training recipe"
    args = config["network"].get("args", {})
    _, val = synthesis_datasets(recipe, int(args.get("channels", 3)),
                                int(args.get("image_size", 64)))
    count = min(n, len(val))
    images = torch.stack([val[i]["image"] for i in range(count)])
    return images, (f"the first {count} of the {len(val)} held-out images "
                    f"(validation split of {where}: data {recipe.data.train}, "
                    f"seed {recipe.train.seed})")


def degrade(x: torch.Tensor, case: str, seed: int) -> tuple[torch.Tensor, Known, EvalParams]:
    """Degrade each image with its own generator: (inputs, known, scoring params)."""
    from pixelsmith import degrade as dg

    kind, spec = case.split(":", 1)
    outputs, masks = [], []
    for index in range(x.shape[0]):
        generator = image_generator(seed, index)
        clean = x[index:index + 1]
        if kind == "noise":
            outputs.append(dg.GaussianNoise(float(spec) / 255.0)(clean, generator))
        else:
            _, mask = dg.parse_mask(spec, tuple(clean.shape[-2:]), generator)
            masks.append(mask)
            outputs.append(dg.Mask(mask)(clean))
    y = torch.cat(outputs)
    if kind == "noise":
        return y, Known(sigma=float(spec) / 255.0), EvalParams("denoise", sigma=float(spec))
    return y, Known(mask=torch.cat(masks)), EvalParams("inpaint", mask_kind=spec)


# -- running and scoring ----------------------------------------------------------------------

def scores(out: torch.Tensor, x: torch.Tensor, known: Known, params: EvalParams) -> dict:
    """Mean PSNR / SSIM over the images and, for masks, the PSNR of the squared error pooled
    over all missing pixels of all images: a per-image mean would be infinite as soon as one
    hole falls on flat background that a method fills exactly (common on digits)."""
    rows = []
    for i in range(x.shape[0]):
        value_psnr, value_ssim = score(out[i:i + 1], x[i:i + 1], params)
        rows.append({"psnr": value_psnr, "ssim": value_ssim})
    result = {key: sum(r[key] for r in rows) / len(rows) for key in rows[0]}
    if known.mask is not None:
        result["psnr_missing"] = missing_psnr(out, x, known.mask)
    return result


def chunked(restorer, y: torch.Tensor, known: Known) -> torch.Tensor:
    parts = []
    for i in range(0, y.shape[0], CHUNK):
        mask = None if known.mask is None else known.mask[i:i + CHUNK]
        parts.append(restorer(y[i:i + CHUNK], known.with_(mask=mask)))
    return torch.cat(parts)


def uncertainty(mean: torch.Tensor, std: torch.Tensor, x: torch.Tensor,
                mask: torch.Tensor) -> dict:
    missing = mask.expand_as(x).bool()
    s = std[missing].double()
    e = (mean - x)[missing].abs().double()
    corr = float(torch.corrcoef(torch.stack([s, e]))[0, 1]) if s.numel() > 1 else float("nan")
    return {"mean_std_missing": float(s.mean()), "mean_abs_error_missing": float(e.mean()),
            "corr_std_abs_error": corr}


def run_part(name: str, x: torch.Tensor, vae_source: str, args) -> list[dict]:
    from pixelsmith.restoration.registry import task_methods
    from pixelsmith.restoration.restorer import Restorer
    from pixelsmith.restoration.vae import vae_denoise, vae_inpaint
    from pixelsmith.zoo import load_model

    vae = load_model(vae_source)
    part = PARTS[name]
    rows = []
    for case in part["cases"]:
        y, known, params = degrade(x, case, args.seed)
        results, extra = [], {}

        def record(method: str, out: torch.Tensor, seconds: float, known=known,
                   params=params, results=results) -> None:
            results.append({"method": method, **scores(out, x, known, params),
                            "seconds_per_image": seconds / x.shape[0]})

        start = time.perf_counter()
        if known.mask is None:
            out = vae_denoise(vae, y)
        else:
            out, std = vae_inpaint(vae, y, known.mask, samples=args.samples, steps=args.steps,
                                   seed=args.seed)
            extra = uncertainty(out, std, x, known.mask)
        record(vae_source, out, time.perf_counter() - start)
        if known.mask is None:
            names = [part["denoiser"]]
            if args.bm3d:
                if not task_methods("denoise")["bm3d"].available():
                    fail("--bm3d needs the bm3d package: pip install 'pixelsmith[classical]'")
                names.append("bm3d")
        else:
            names = ["inpaint", "biharmonic"]
        for method in names:
            restorer = Restorer(params.task, method, device="cpu")
            start = time.perf_counter()
            out = chunked(restorer, y, known)
            record(method, out, time.perf_counter() - start)
        record("input", y.clamp(0.0, 1.0), 0.0)
        label = (f"noise sigma {case.split(':')[1]}/255" if known.mask is None
                 else f"mask {case.split(':', 1)[1]}")
        rows.append({"case": case, "label": label, "params": params.public(),
                     "results": results, "vae_uncertainty": extra})
        summary = ", ".join(f"{r['method']} {r['psnr']:.2f}" for r in results)
        print(f"{name} {label}: {summary}", flush=True)
    return rows


# -- the docs section ---------------------------------------------------------------------------

def section(report: dict) -> str:
    lines = [
        "## VAE restoration (\"error correction\") against restoration models and baselines",
        "",
        "A VAE trained on one kind of image restores it through its latent space "
        "(`pixelsmith.restoration.vae`): denoising decodes the encoder's posterior mean (the noise "
        "level is not used); inpainting fits a Gaussian posterior to the known pixels by "
        "maximising the masked ELBO and averages decoded samples, which also gives a per-pixel "
        "standard deviation. Compared on the same inputs with the shipped restoration models "
        "(denoisers given the true sigma; `inpaint`), biharmonic inpainting, BM3D (true "
        "sigma; rows only with `--bm3d`) and the degraded input. PSNR / SSIM of the 8-bit "
        "output (PSNR over the missing pixels third for masks, from their squared error "
            "pooled over all images), mean over the images; "
        "seconds per image on the machine below. Noise is not clipped.",
        "",
    ]
    machines: dict[str, str] = {}
    for name in PARTS:
        part = report.get(name)
        if part is None:
            continue
        machine = machines.setdefault(part["meta"]["machine"], f"M{len(machines) + 1}")
        lines += [
            f"### {PARTS[name]['title']}: {part['model']}",
            "",
            f"Images: {part['images_note']}. VAE: `{part['model']}` (sha256 "
            f"{part['sha256'][:12]}), {part['meta']['samples']} samples, "
            f"{part['meta']['steps']} Adam steps. Command: `{part['meta']['command']}`; "
            f"measured on {machine}, {part['meta']['date'][:10]}.",
            "",
            "| degradation | method | PSNR | SSIM | PSNR missing | s / image |",
            "|---|---|---|---|---|---|",
        ]
        for row in part["rows"]:
            for result in row["results"]:
                missing = (f"{result['psnr_missing']:.2f}" if "psnr_missing" in result else "")
                lines.append(f"| {row['label']} | {result['method']} | {result['psnr']:.2f} | "
                             f"{result['ssim']:.4f} | {missing} | "
                             f"{result['seconds_per_image']:.3f} |")
        uncertain = [row for row in part["rows"] if row["vae_uncertainty"]]
        if uncertain:
            lines += ["", "VAE inpainting uncertainty over the missing pixels:", "",
                      "| degradation | mean std | mean abs error | corr(std, abs error) |",
                      "|---|---|---|---|"]
            for row in uncertain:
                u = row["vae_uncertainty"]
                lines.append(f"| {row['label']} | {u['mean_std_missing']:.4f} | "
                             f"{u['mean_abs_error_missing']:.4f} | "
                             f"{u['corr_std_abs_error']:.3f} |")
        lines.append("")
    lines += [f"- {label}: {name}" for name, label in machines.items()]
    return "\n".join(lines)


def main() -> int:
    from pixelsmith.restoration.vae import DEFAULT_SAMPLES, DEFAULT_STEPS
    from pixelsmith.zoo import resolve_model_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(PARTS), help="run one part only")
    parser.add_argument("--vae-mnist", default="vae-mnist", help="shipped name or model folder")
    parser.add_argument("--vae-faces", default="vae-faces", help="shipped name or model folder")
    parser.add_argument("--faces-recipe", type=Path,
                        help="recipe whose held-out split gives the faces (default: the one "
                             "stored in the faces VAE's config.json)")
    parser.add_argument("--digits", type=int, default=200, help="number of test digits")
    parser.add_argument("--faces", type=int, default=100, help="number of held-out faces")
    parser.add_argument("--limit", type=int, help="at most N images in each part (smoke runs)")
    parser.add_argument("--samples", type=int, default=DEFAULT_SAMPLES)
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bm3d", action="store_true", help="also run BM3D on the noisy rows")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--docs", type=Path, default=DOCS / "BENCHMARKS.md")
    args = parser.parse_args()

    parts = [args.only] if args.only else list(PARTS)
    sources = {"digits": args.vae_mnist, "faces": args.vae_faces}
    options = {"digits": "--vae-mnist", "faces": "--vae-faces"}
    configs = {name: resolve_vae(sources[name], options[name]) for name in parts}
    report = json.loads(args.results.read_text()) if args.results.exists() else {}
    command = "python -m benchmarks.vae_restoration " + shlex.join(sys.argv[1:])
    for name in parts:
        count = args.digits if name == "digits" else args.faces
        count = min(count, args.limit) if args.limit else count
        if name == "digits":
            x = mnist_test(count)
            note = f"the first {x.shape[0]} MNIST test digits (t10k)"
        else:
            x, note = held_out_faces(configs[name], args.faces_recipe, count)
        rows = run_part(name, x, sources[name], args)
        report[name] = {
            "model": sources[name], "sha256": configs[name].get("sha256", ""),
            "model_dir": str(resolve_model_dir(sources[name])), "images": int(x.shape[0]),
            "images_note": note, "rows": rows,
            "meta": {"machine": machine_summary(), "torch": torch.__version__,
                     "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "command": command,
                     "seed": args.seed, "samples": args.samples, "steps": args.steps},
        }
    atomic_write_text(args.results, json.dumps(report, indent=2) + "\n")
    replace_section(args.docs, SECTION, section(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
