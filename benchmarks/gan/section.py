"""The "gan" section of docs/BENCHMARKS.md, from the parts' results."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from benchmarks.gan.common import PSNR_SLACK, TARGET_RATIO

# -- the docs section ---------------------------------------------------------------------------

def _f(value, digits: int = 2, scale: float = 1.0) -> str:
    return "-" if value is None else f"{scale * value + 0.0:.{digits}f}"  # no "-0.00"


def _features_cells(r: dict) -> str:
    return (f"{_f(r.get('fid'))} | {_f(r.get('kid'), 2, 1000)} | {_f(r.get('precision'), 3)} | "
            f"{_f(r.get('recall'), 3)}")


def _draws_cell(r: dict) -> str:
    if r.get("fid_std") is None:
        return ""
    return f"{r['fid_mean']:.2f} +- {r['fid_std']:.2f}"


def _meta_line(meta: dict, machines: dict, commands: dict) -> str:
    machine = machines.setdefault(meta["machine"], f"M{len(machines) + 1}")
    command = commands.setdefault(meta["command"], f"C{len(commands) + 1}")
    limit = f" (smoke run: first {meta['limit']} images)" if meta.get("limit") else ""
    return f"Measured on {machine} by {command}, {meta['date'][:10]}{limit}."


def merge_curves(kept: list[dict], plotted: list[dict]) -> list[dict]:
    """The curves listed before, each replaced by a fresh plot of the same PNG, with new PNGs
    last: ``--runs`` redraws the runs it names and keeps the others' plots."""
    fresh = {entry["png"]: entry for entry in plotted}
    merged = [fresh.pop(entry["png"], entry) for entry in kept]
    return merged + list(fresh.values())


def _close_calls(rows: list[dict]) -> list[str]:
    """A sentence for each GAN whose mean lies within two standard errors of its bound: the
    verdict then rests on the draws, and the first draw shares half its latents with the
    training validation's samples (both start from seed 0), which chose best.pt."""
    out = []
    for r in rows:
        t, draws = r.get("target"), r.get("fid_draws") or []
        if not t or len(draws) < 3:
            continue
        se = r["fid_std"] / math.sqrt(len(draws))
        gap = t["bound"] - r["fid_mean"]
        if abs(gap) < 2 * se:
            out.append(f"{Path(r['model']).name} {'meets' if t['met'] else 'misses'} its "
                       f"bound by {abs(gap):.2f}, {abs(gap) / se:.1f} standard errors: a close "
                       f"call. Without the first draw, whose latents half overlap those of the "
                       f"validation that chose its checkpoint, its mean is "
                       f"{float(np.mean(draws[1:])):.2f}.")
    return out


def section(report: dict) -> str:
    """The Markdown of the "gan" section from the parts' results (images linked relative to
    the page's folder)."""
    machines: dict[str, str] = {}
    commands: dict[str, str] = {}
    lines = ["## GANs against VAEs, L2-trained models and classical methods", "",
             "Written by `python -m benchmarks.gan` (protocols in its docstring). FID / KID / "
             "precision / recall are computed in the feature space of pixelsmith's own "
             "classifiers (docs/FEATURE_METRICS.md): comparable only among pixelsmith models "
             "scored the same way, never with Inception FIDs. KID is shown x1000.", ""]
    synth = report.get("synthesis")
    if synth:
        lines += ["### Synthesis: each GAN against the VAE trained on the same data", "",
                  "Samples against the held-out images (MNIST t10k, the CIFAR-10 1,000, the "
                  "609 UTKFace faces), as many as there are. Mode collapse shows as low recall "
                  "and as low class coverage / entropy of the extractor's predicted classes "
                  "(the floor row's are those of real images). FID / KID / precision / recall "
                  "are those of the first draw of samples; \"FID, draws\" is the mean +- "
                  f"standard deviation over {synth['meta'].get('draws', 1)} independent draws "
                  "(the first included); the target column gives the GAN's mean +- its "
                  "standard error. Target: the GAN's mean FID over the draws <= "
                  f"{TARGET_RATIO} x the VAE's.", "",
                  "| data | model | n | FID | KID | precision | recall | FID, draws | "
                  "class coverage | class entropy | target |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in synth["rows"]:
            target = ""
            if r.get("target"):
                t = r["target"]
                error = (f" +- {r['fid_std'] / math.sqrt(len(r['fid_draws'])):.2f}"
                         if r.get("fid_std") is not None else "")
                target = (f"{'met' if t['met'] else 'not met'} ({r['fid_mean']:.2f}{error} vs "
                          f"{t['bound']:.2f} = {TARGET_RATIO} x {t['vae_fid']:.2f})")
            elif r["role"] == "gan":
                target = "no VAE"
            name = r["model"] if r["role"] == "floor" else f"{r['model']} ({r['role'].upper()})"
            lines.append(f"| {r['data']} | {name} | {r['n']} | {_features_cells(r)} | "
                         f"{_draws_cell(r)} | {_f(r.get('coverage'))} | "
                         f"{_f(r.get('class_entropy'), 3)} | {target} |")
        lines += ["", "The GAN generators sample with BatchNorm statistics recomputed for "
                  "their EMA weights (docs/TRAINING.md, GANs).", *_close_calls(synth["rows"]),
                  "", "CIFAR-10 and faces GANs validated by FID against these same held-out "
                  "images (no other held-out images exist here), so a best.pt chosen by it "
                  "carries a small selection bias; gan-mnist validated on 1,000 held-out "
                  "training digits. Read FID beside recall and the grids: in features-cifar10 "
                  "space, gan-cifar10's grey-texture checkpoints at a constant learning rate "
                  "scored a lower FID than later, more varied ones; the shipped model is the "
                  "last checkpoint, where its learning-rate decay ends (docs/MODELS.md).", "",
                  _meta_line(synth["meta"], machines, commands), ""]
        if synth.get("grids"):
            lines += ["Samples: the GANs' `model.sample(64, seed=0)` (`pixelsmith generate "
                      "--method NAME -n 64 --seed 0`), beside the VAEs' grids of "
                      "benchmarks/vae.py where they exist:", ""]
            lines += [f"![{name} samples](images/{png})" for name, png in synth["grids"].items()]
            lines.append("")
    inpaint = report.get("inpaint")
    if inpaint:
        lines += ["### Face inpainting: GAN against the L2 model, general model, VAE and "
                  "biharmonic", "",
                  f"{inpaint['images_note']}; one mask per face (box or strokes, mean "
                  f"coverage {100 * inpaint['mask_coverage']:.1f}%), the same for every method. "
                  "PSNR / SSIM over the whole 8-bit face, PSNR over the hole; FID etc. of the "
                  "restored faces against the originals (features-faces).", "",
                  "| method | PSNR | SSIM | PSNR hole | FID | KID | precision | recall "
                  "| s / face |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in inpaint["rows"]:
            name = "masked input" if r["role"] == "input" else f"{r['method']} ({r['role']})"
            lines.append(f"| {name} | {r['psnr']:.2f} | {r['ssim']:.4f} | "
                         f"{r['psnr_hole']:.2f} | {_features_cells(r)} | "
                         f"{r['seconds_per_image']:.3f} |")
        t = inpaint.get("target")
        if t:
            lines += ["", f"Target (GAN FID below the L2 model's, PSNR within {PSNR_SLACK} dB "
                      f"of it): **{'met' if t['met'] else 'not met'}** (FID "
                      f"{'lower' if t['fid_lower'] else 'not lower'}; PSNR "
                      f"{-t['psnr_gap']:+.2f} dB against the L2 model's)."]
        lines += ["", _meta_line(inpaint["meta"], machines, commands), ""]
    deblur = report.get("deblur")
    if deblur:
        boundary = ("circular blur (the evaluation protocol)" if deblur["boundary"] == "circular"
                    else "valid blur (as in training; scored without a 12-pixel margin)")
        lines += ["### Motion deblurring on CBSD68: GAN against the L1 model and non-blind "
                  "baselines", "",
                  f"{deblur['images']} images of `{deblur['data']}`, each with its own "
                  "camera-shake kernel from the deblur-gan recipe's generator and noise of "
                  f"sigma 0-10 (mean {deblur['mean_sigma']:.2f}/255), 8-bit input, "
                  f"{boundary}. The GAN and the L1 model are blind; the baselines are given "
                  "the true kernel and noise level. FID etc. over "
                  f"{deblur['tiles']} non-overlapping 32x32 tiles of outputs against the "
                  "clean tiles in the features-cifar10 space: a proxy, that extractor never "
                  "saw photo tiles.", "",
                  "| method | PSNR | SSIM | FID | KID | precision | recall | s / image |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in deblur["rows"]:
            name = "blurred input" if r["method"] == "identity" else f"{r['method']} ({r['role']})"
            lines.append(f"| {name} | {r['psnr']:.2f} | {r['ssim']:.4f} | "
                         f"{_features_cells(r)} | {r['seconds_per_image']:.3f} |")
        lines += ["", _meta_line(deblur["meta"], machines, commands), ""]
    figure = report.get("figure")
    if figure:
        lines += ["### Side by side", "",
                  "Input | each method | ground truth: the first evaluated faces (whole, "
                  "64x64) and central 96x96 crops of the first CBSD68 images.", "",
                  f"![GAN restoration crops](images/{figure['png']})", ""]
    curves = report.get("curves")
    if curves and curves.get("runs"):
        lines += ["### Training curves", "",
                  "Losses per logged step and the validation metrics (FID over steps for the "
                  "runs validated with an extractor), from each run's metrics.jsonl "
                  "(benchmarks/training_curves.py).", ""]
        lines += [f"![{Path(run['run']).name} curves](images/{run['png']})"
                  for run in curves["runs"]]
        lines.append("")
    lines += [f"- {label}: {machine}" for machine, label in machines.items()]
    lines += [f"- {label}: `{command}`" for command, label in commands.items()]
    return "\n".join(lines)
