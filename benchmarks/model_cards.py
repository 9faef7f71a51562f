"""Write docs/MODELS.md from the shipped models' config.json files (training summaries).

    python -m benchmarks.model_cards

Every figure comes from the model's own config.json, which `pixelsmith export-model` filled
from the run's summary.json: steps, wall time, device and processes, best validation metric.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pixelsmith.io import atomic_write_text
from pixelsmith.zoo import ZOO, read_config, shipped_models

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


#: What each fine-tuning stage of the staged denoisers changes, in order (stage 2 first).
FIRST_STAGES = ("on larger patches at a lower learning rate",
                "on larger patches still, for more steps at a lower learning rate")
L2_FINE_TUNE = "with an L2 loss instead of L1 (PSNR is an L2 measure), at a low learning rate"
LONG_L2 = ("for 40,000 steps of an L2 loss instead of L1 (PSNR is an L2 measure) on 128-pixel "
           "patches with channels_last, stopped and resumed across sessions")
LONG_CONTINUATION = ("for 40,000 steps on 128-pixel patches with channels_last (the recipe of "
                     "denoise-color's last stage), stopped and resumed across sessions")
NUMBERS = ("one", "two", "three", "four", "five", "six", "seven")


def bf16_continuation(steps: int, previous: int) -> str:
    """A stage that continues the previous one in a second cosine cycle under bf16 autocast."""
    return (f"for {steps:,} steps, a second cosine cycle at half stage {previous}'s peak learning "
            "rate on new patches, the forward pass under bf16 autocast (weights and validation "
            "in fp32)")


def low_noise_bias(before: float, after: float, higher: str, steps: int = 12_000,
                   sigma: int = 15) -> str:
    """A stage that draws the noise levels toward the low end, validated at ``sigma``."""
    return (f"for {steps:,} steps with the noise levels 0-75 drawn toward the low end "
            f"(`degradation.sigma_bias: 2`), validated at sigma {sigma} ({before:.3f} -> "
            f"{after:.3f} dB; {higher}), the forward pass under bf16 autocast")


def wall_time(summary: dict) -> str:
    """'46.6 min wall time', saying so when the figure covers only the last resumed part."""
    minutes = f"{summary.get('wall_seconds', 0) / 60:.1f} min wall time"
    part = summary.get("steps_this_run")
    if part is None or part >= summary.get("steps", 0):
        return minutes
    return (f"{minutes} for the last {part:,} of them (the run was stopped and resumed; "
            "only the last part's time is recorded)")


def staged(name: str, changes: tuple[str, ...], shipped: str | None = None) -> str:
    """Provenance of a model trained in stages, each from the previous one's export;
    ``changes`` says what each stage after the first changes, in order; ``shipped`` says
    which earlier stages were shipped when not all of them were."""
    count = len(changes) + 1
    steps = [f"stage 1 is `configs/{name}-stage1.yaml` from scratch"]
    steps += [f"stage {k} `configs/{name}-stage{k}.yaml` from stage {k - 1}'s export "
              f"{changes[k - 2]}" for k in range(2, count)]
    shipped = shipped or ("shipped as this model before" if count == 2
                          else "each shipped as this model before")
    return (f"{NUMBERS[count - 1]} stages: {'; '.join(steps)} ({shipped}); the lines above are "
            f"stage {count}, `configs/{name}.yaml`, from stage {count - 1}'s export (`init:`) "
            f"{changes[-1]}.")


def continued_sr(name: str, first: tuple[int, float], second: tuple[int, float],
                 third: tuple[int, float], fourth: tuple[int, float | None],
                 fifth_steps: int | None = None) -> str:
    """Provenance of a super-resolution model trained from scratch (``first``: steps and
    validation PSNR), trained on at a lower peak learning rate (``second``), then on a longer
    cosine (``third``), then on larger patches (``fourth``), and with ``fifth_steps``, an L2
    stage in bf16 on larger patches still: the last one given is the shipped stage."""
    earlier = (f"Stage 1 is `configs/{name}-stage1.yaml`, {first[0]:,} steps from scratch "
               f"(validation {first[1]:.2f} dB); stage 2 `configs/{name}-stage2.yaml`, "
               f"{second[0]:,} more steps from stage 1's export at a lower peak learning rate "
               f"on new patches (validation {second[1]:.2f} dB); stage 3 "
               f"`configs/{name}-stage3.yaml`, {third[0]:,} more steps, a longer cosine at "
               f"stage 2's peak learning rate (validation {third[1]:.2f} dB)")
    larger = (f"{fourth[0]:,} more steps on larger patches (the same pixels per step) at half "
              "the peak learning rate, on new patches")
    if fifth_steps is None:
        return (f"four stages. {earlier}; each shipped as this model before. The lines above "
                f"are stage 4, `configs/{name}.yaml` (trained under the name {name}-stage4), "
                f"from stage 3's export (`init:`): {larger}, validated on the same held-out "
                "images.")
    return (f"five stages. {earlier}; stage 4 `configs/{name}-stage4.yaml`, {larger} "
            f"(validation {fourth[1]:.2f} dB); each shipped as this model before. The lines "
            f"above are stage 5, `configs/{name}.yaml` (trained under the name "
            f"{name}-stage5-bf16), from stage 4's export (`init:`): {fifth_steps:,} more steps "
            "of an L2 loss on larger patches still at half stage 4's peak learning rate, the "
            "forward pass under bf16 autocast (weights and validation in fp32), validated on "
            "the same held-out images.")


#: How a model came to be where its config alone does not say it (several stages).
CODEC_FP16 = ("shipped with float16 weights (`scripts/ship_model.py --fp16`), the entropy tables "
              "rebuilt from the rounded weights before saving (docs/CODEC.md); then revised to "
              "table revision 2 by `scripts/revise_codec_tables.py` (integer row bounds stored, "
              "the ids of files written before listed; weights and tables unchanged).")


def codec_stage2(name: str) -> str:
    """How stage 2 of a codec continues stage 1 (the lines of its card are stage 2's)."""
    return (f"The lines above are stage 2, `configs/{name}.yaml`, from stage 1's export "
            "(`init:`) on 256-pixel crops with mixed quantization (docs/CODEC.md, Training); ")


RECOMPUTED = (" Exported before export recomputed a GAN's BatchNorm statistics; they were "
              "recomputed on 2026-12-06 with `scripts/recompute_batchnorm.py`, which writes what "
              "export now writes. The best validation figure above was measured with the "
              "averaged statistics.")

PROVENANCE = {
    "inpaint": "three stages on the CPU. Stage 1: `configs/inpaint.yaml` with the first "
               "prefill (pull-push without harmonic smoothing), 2658 of 4000 steps in 70.5 min, "
               "stopped by hand to free the cores; stage 2: 1200 steps from stage 1 with the "
               "current prefill, `--set init=runs/inpaint-stage1 --set train.steps=1200 --set "
               "optim.lr=5.0e-4 --set train.ema_decay=0.995` (25.9 min); stage 3 (the figures "
               "above): 1000 more steps from stage 2, `--set optim.lr=2.5e-4 --set "
               "train.seed=1`, two threads, shipped from its last checkpoint "
               "(`scripts/ship_model.py --checkpoint last`; its validation split, drawn with "
               "seed 1, peaked at step 250 by 0.02 dB). Stage 3 and its last checkpoint were "
               "kept after they measured +0.09 / +0.05 dB over stage 2 on the BSD68 / Kodak24 "
               "strokes benchmark, i.e. chosen on test data between checkpoints of one "
               "training. From scratch, `pixelsmith train "
               "configs/inpaint.yaml` trains with the current prefill in one stage.",
    "deblur-gan": "fine-tuned from the shipped deblur-blind and shipped from the last "
                  "checkpoint rather than best.pt: validation PSNR rewards the least "
                  "adversarial checkpoint, which is what the GAN is meant to move away from "
                  "(the recipe says so; the validation PSNR over steps is in the curves).",
    **{f"codec-q{q}": ("two stages. Stage 1 is `configs/codec-q{q}-stage1.yaml`: fine-tuned "
                       "for 2,500 steps at this quality's lambda from the export of "
                       "`configs/codec-q3-stage1.yaml` (the ladder's base, 18,000 steps from "
                       "scratch), as learned-compression papers do for neighbouring rate "
                       "points. " + codec_stage2(f"codec-q{q}") + CODEC_FP16)
       for q in (1, 2, 4)},
    "codec-q3": ("two stages. Stage 1 is `configs/codec-q3-stage1.yaml`, the ladder's base, "
                 "18,000 steps from scratch, exported from best.pt (step 17,000). "
                 + codec_stage2("codec-q3") + CODEC_FP16),
    **{f"codec-cb-q{q}": (f"two stages. Stage 1 is `configs/codec-cb-q{q}-stage1.yaml`: the "
                          f"shipped hyperprior `{base}` with its transforms, hyperprior and z "
                          "model loaded and frozen (`init:`, `freeze:`) and the new context and "
                          "entropy-parameter layers trained from a fresh start (`init_fresh:`). "
                          f"The lines above are stage 2, `configs/codec-cb-q{q}.yaml`, every "
                          "layer from stage 1's export; " + CODEC_FP16.split("; then")[0] + ".")
       for q, base in ((1, "codec-q1"), (2, "codec-q3"), (3, "codec-q4"), (4, "codec-q4"))},
    **{f"codec-cb-q{q}": (f"one stage on top of the shipped rung below, `{below}` (same "
                          "architecture, so no frozen stage): every layer from its weights at "
                          "the new lambda; " + CODEC_FP16.split("; then")[0] + ".")
       for q, below in ((5, "codec-cb-q4"), (6, "codec-cb-q5"))},
    "codec-cb-q0": ("one stage on top of the shipped rung above, `codec-cb-q1` (same "
                    "architecture, so no frozen stage): every layer from its weights at the "
                    "lower lambda, in bf16 with channels_last (docs/CODEC.md, Mixed precision); "
                    + CODEC_FP16.split("; then")[0] + "."),
    "photo": ("three stages. Stage 1 is `configs/photo-stage1.yaml` (6000 steps from the "
              "shipped deblur-blind on the realistic degradations, best validation step 5500: "
              "psnr 24.35); stage 2 `configs/photo-stage2.yaml` from stage 1's export with a 30% "
              "share of light damage (`degradation.light`; validation 26.91 on its draws); each "
              "shipped as this model before. The lines above are stage 3, `configs/photo.yaml` "
              "(trained under the name photo-stage3, from the shipped stage 2), with a 30% share "
              "of draws that start with camera shake (`degradation.shake`); its validation draws "
              "include that share, so its figure is not comparable with the earlier stages' (on "
              "stage 2's draws: 26.98)."),
    "photo-fast": ("two stages. Stage 1 is `pixelsmith prune photo --channels 0.5 --finetune 0 "
                   "-o models/photo-fast-pruned` (half of the channels of every layer group of "
                   "the shipped `photo`, stage 3, removed by torch-pruning, widths rounded to "
                   "multiples of 8: features 8/16/32/64); the lines above are stage 2, "
                   "`configs/photo-fast.yaml`, from that package (`init:`) on `photo`'s "
                   "realistic degradations."),
    "photo-x4": ("three stages. Stage 1 is `configs/photo-x4-stage1.yaml` (L1 loss, 6000 "
                 "steps from the sr-x4 shipped then (its stage 1), best validation step "
                 "4750: psnr 21.15); stage 2 "
                 "`configs/photo-x4-stage2.yaml` from stage 1's export with an L2 loss at a low "
                 "learning rate (validation 21.18); each shipped as this model before. The "
                 "lines above are stage 3, `configs/photo-x4.yaml` (trained under the name "
                 "photo-x4-stage3, from the shipped stage 2, still running: its best checkpoint "
                 "at the time), on 128-pixel patches, on the same held-out images "
                 "(`data.split_seed: 0`)."),
    "dejpeg-gray": ("six stages. Stage 1 is `configs/dejpeg-gray-stage1.yaml`, 2,000 steps "
                    "from scratch; stage 2 `configs/dejpeg-gray-stage2.yaml`, 2,400 steps from "
                    "stage 1's export on larger patches at a lower learning rate (validation "
                    "27.45 dB on all 32 images); stage 3 `configs/dejpeg-gray-stage3.yaml`, "
                    "15,000 steps of an L2 loss on 128-pixel patches with channels_last from "
                    "stage 2's export (validation 27.51); stage 4 "
                    "`configs/dejpeg-gray-stage4.yaml`, 8,000 steps from stage 3's export at half "
                    "the peak learning rate with JPEG qualities 10-90 drawn toward the low end "
                    "(`quality_bias: 2`; validation 27.55); stage 5 "
                    "`configs/dejpeg-gray-stage5.yaml`, 16,000 more steps of the same recipe on "
                    "new patches (validation 27.58); each shipped as this model before. The "
                    "lines above are stage 6, `configs/dejpeg-gray.yaml` (trained under the name "
                    "dejpeg-gray-stage6-bf16), from stage 5's export (`init:`): 36,000 more steps "
                    "of the same recipe on new patches, the forward pass under bf16 autocast "
                    "(weights and validation in fp32)."),
    "dejpeg-color": staged("dejpeg-color", (
        "for 20,000 steps of an L2 loss on 128-pixel patches with channels_last, JPEG "
        "qualities 10-90 drawn toward the low end (`quality_bias: 2`), the forward pass under "
        "bf16 autocast (quality 10 on val32 26.345 -> 26.748 dB, but quality 90 38.364 -> "
        "38.260: not shipped by its rule)",
        "for 10,000 steps with the qualities drawn evenly again, at a lower learning rate, "
        "validated at quality 90 (against stage 1: quality 10 +0.38 dB, 30 +0.26, 70 +0.18, 90 "
        "-0.005)"), shipped="stage 1 shipped as this model before"),
    "sr-x2": continued_sr("sr-x2", (5_000, 29.87), (12_000, 29.97), (30_000, 30.06),
                          (30_000, 30.09), 40_000),
    "sr-x4": continued_sr("sr-x4", (6_000, 25.59), (6_000, 25.61), (30_000, 25.65),
                          (30_000, None)),
    "denoise-color": staged("denoise-color", (*FIRST_STAGES, LONG_L2,
                                              bf16_continuation(45_000, 4),
                                              low_noise_bias(33.281, 33.300, "+0.008 at sigma "
                                                             "25, -0.001 at 50"),
                                              low_noise_bias(30.659, 30.665, "+0.011 at sigma "
                                                             "15, +0.004 at 50", 20_000, 25))),
    "denoise-gray": staged("denoise-gray", (*FIRST_STAGES, L2_FINE_TUNE, LONG_CONTINUATION,
                                            bf16_continuation(30_000, 5),
                                            low_noise_bias(30.866, 30.878, "at sigma 25 and "
                                                           "50 it gained too"))),
    "gan-cifar10": "one run in two parts: 5000 steps at a constant learning rate (the model "
                   "shipped before), then `pixelsmith train configs/gan-cifar10.yaml --resume "
                   "RUN` from that step-5000 checkpoint with the recipe's linear decay to 0 over "
                   "steps 5000-9000 (the lr is constant before step 5000, so this is the same as "
                   "one run of the recipe). Shipped from the last checkpoint (`scripts/"
                   "ship_model.py --checkpoint last`), where the decay ends, not from best.pt. "
                   "On CIFAR-10 the validation images are the benchmark's held-out images "
                   "(docs/BENCHMARKS.md, section gan)." + RECOMPUTED,
    "gan-mnist": "one run of the recipe." + RECOMPUTED,
    "gan-faces": "one uninterrupted run of the recipe (single-threaded CPU, deterministic), "
                 "best.pt by validation FID (step 4500), exported by `scripts/ship_model.py`. "
                 "Its weights at step 5000 are bit-identical to those of the model shipped "
                 "before it (best.pt of the same recipe when validation used the EMA's averaged "
                 "BatchNorm statistics); with the statistics recomputed, validation prefers "
                 "step 4500 (the curves below). On UTKFace the validation images are the "
                 "benchmark's held-out faces. Runs of this size vary: the same recipe on 2 "
                 "threads (a different floating-point order, hence another trajectory) reached "
                 "a markedly higher best validation FID (configs/gan-faces.yaml), so a "
                 "retrained model may score worse than this one.",
    "inpaint-faces-l2": "one run in two parts: a session ended it at step ~830 and "
                        "`pixelsmith train configs/inpaint-faces-l2.yaml --resume RUN` went on "
                        "from its step-750 checkpoint to 4000 in the next (resume is bit-exact, "
                        "tests/test_train.py); the wall time above adds up both parts, 2-3 "
                        "single-thread jobs sharing the 2 cores.",
    "vae-mnist": "one run in two parts: the session that started it ended at step ~5480 "
                 "(2 h 10 min on a CPU shared by 3-5 jobs), and `pixelsmith train "
                 "configs/vae-mnist.yaml --resume RUN` finished steps 5000-8000 from its last "
                 "checkpoint (resume is bit-exact, tests/test_train.py); the wall time above "
                 "is that last part only.",
}


def card(name: str) -> str:
    config = read_config(ZOO / name)
    training = config.get("training", {})
    summary = training.get("summary", {})
    recipe = training.get("recipe", {})
    weights = ZOO / name / "model.safetensors"
    best = summary.get("best_metric", {})
    fraction = recipe.get("data", {}).get("val_fraction", 0)
    val_data = recipe.get("val", {}).get("data") or (
        f"{fraction:.0%} of the training images, held out" if fraction
        else "min(1000, n/10) training images held out by train.seed")
    metric = ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                       for k, v in best.items())
    val = recipe.get("val", {})
    neutral = {"saturation": 1, "zoom": 1}  # the images as they are
    conditions = ", ".join(f"{key} {val[key]:g}" for key in ("sigma", "quality", "saturation",
                                                             "zoom")
                           if val.get(key) is not None and val[key] != neutral.get(key))
    if conditions:
        val_data = f"{val_data} at {conditions}"
    return "\n".join([
        f"## {name}",
        "",
        f"- task: {config['task']}, {config.get('channels')} channel(s); network "
        f"`{config['network']['name']}` {json.dumps(config['network']['args'])}",
        f"- weights: {weights.stat().st_size / 1e6:.2f} MB ({config.get('weights')}"
        f"{', stored as ' + config['storage_dtype'] if config.get('storage_dtype') else ''}), "
        f"sha256 `{config['sha256']}`",
        f"- recipe: {_recipe_file(name, recipe.get('name', name))}; "
        f"data `{recipe.get('data', {}).get('train')}`",
        f"- trained: {summary.get('steps')} steps of batch "
        f"{recipe.get('train', {}).get('batch_size')}, {wall_time(summary)} "
        f"on {summary.get('device')} x{summary.get('processes')} "
        f"({summary.get('images_per_second', 0):.1f} patches/s); stopped: {summary.get('stopped')}",
        f"- hardware: {summary.get('machine', 'see summary')}",
        f"- best validation: {metric} (validation set: {val_data})",
        f"- exported: {config.get('exported')}",
        *([f"- BatchNorm statistics: {config['batchnorm']['statistics']}, from "
           f"{config['batchnorm']['latents']:,} latents (docs/TRAINING.md, GANs)"]
          if "batchnorm" in config else []),
        *([f"- provenance: {PROVENANCE[name]}"] if name in PROVENANCE else []),
        *([f"- training curves: ![{name} training curves](images/{name}-curves.png)"]
          if (DOCS / "images" / f"{name}-curves.png").exists() else []),
        "",
    ])


def _recipe_file(name: str, trained_as: str) -> str:
    """The recipe that reproduces shipped model ``name``: ``configs/NAME.yaml`` when it exists
    (a candidate recipe is renamed to it when shipped), noting the name it trained under."""
    if (ROOT / "configs" / f"{name}.yaml").exists():
        note = f" (trained under the name {trained_as})" if trained_as != name else ""
        return f"`configs/{name}.yaml`{note}"
    return f"`configs/{trained_as}.yaml`"


def main() -> int:
    names = list(shipped_models())
    text = ["# Shipped models", "",
            "Generated by `python -m benchmarks.model_cards` from each model's config.json. "
            "Benchmarks against the classical methods: docs/BENCHMARKS.md. The non-blind "
            "`deblur` method has no weights of its own: it runs the shipped `denoise-gray` / "
            "`denoise-color` inside plug-and-play half-quadratic splitting "
            "(pixelsmith/restoration/pnp.py).",
            "",
            "What limited them: no GPU was lent to the round that trained them, so each was "
            "trained on the 2-core CPU (wall time and patches/s below; two to four runs shared "
            "the two cores, one thread each). The recipes in configs/ scale by configuration alone "
            "(steps, batch, widths) for a GPU round; published CNN denoisers train for "
            "hundreds of thousands of steps.", ""]
    text += [card(name) for name in names] or ["No models are shipped yet.", ""]
    atomic_write_text(DOCS / "MODELS.md", "\n".join(text))
    print(f"wrote {DOCS / 'MODELS.md'} ({len(names)} models)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
