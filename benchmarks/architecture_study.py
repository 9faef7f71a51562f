"""Which denoising network buys the most validation PSNR per CPU-hour of training, at about
the shipped U-Net's inference speed?

    python -m benchmarks.architecture_study --minutes 20             # train each, then the table
    python -m benchmarks.architecture_study --minutes 20 --only ffdnet --no-report
    python -m benchmarks.architecture_study --report-only            # the table from the runs

Each candidate trains from scratch with configs/architecture-study.yaml (gray denoising,
sigma 0-75 on BSD400, the shipped denoisers' later recipe) for the same CPU time on one thread:
a short probe of the candidate's own training steps per second sets ``train.steps`` so that the
cosine schedule ends after ``--minutes`` at that speed. The probe runs once per candidate and
is kept (``--probe-only`` probes them all, under the same load); runs live in ``--work-dir``
and resume where they stopped (rerun the same command). Candidates may train two at a time,
one per core (``--only`` in two shells). The report exports each run's last EMA weights and
scores them on all of CBSD432/val32 in gray at sigma 15, 25 and 50 (validation images, never a
test set), times each network's inference at 2 threads on a 512x512 image (fastest of
``--rounds`` interleaved calls) and counts its multiply-adds, then writes the section
"architecture-study" of docs/BENCHMARKS.md and a plot of validation PSNR against training
minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks.common import (
    load_line,
    load_now,
    markdown_table,
    meta_lines,
    replace_section,
    run_meta,
    write_json,
)

ROOT = Path(__file__).resolve().parents[1]
SECTION = "architecture-study"
BASE_RECIPE = ROOT / "configs" / "architecture-study.yaml"
SIGMAS = (15, 25, 50)
SIDE = 512

#: name -> (network, constructor arguments, what it is). Widths and depths chosen so that each
#: runs at about the U-Net's speed at 2 threads (the table measures it).
CANDIDATES: dict[str, tuple[str, dict, str]] = {
    "unet": ("unet", {"channels": 1, "features": [16, 32, 64, 128], "blocks": [1, 2, 2, 2],
                      "conditioning": "sigma"},
             "the shipped denoisers' residual U-Net, 4 scales"),
    "ffdnet": ("ffdnet", {"channels": 1, "features": 64, "depth": 11, "conditioning": "sigma"},
               "FFDNet-style: 11 plain 3x3 convs of 64 at quarter resolution"),
    "nafnet": ("nafnet", {"channels": 1, "width": 16, "encoder_blocks": [1, 1, 2],
                          "middle_blocks": 4, "decoder_blocks": [1, 1, 1],
                          "conditioning": "sigma"},
               "NAFNet-style U-Net of simple-gate blocks, 4 scales"),
}


def candidate_recipe(name: str, steps: int, work_dir: Path) -> dict:
    """The base recipe with ``name``'s network, its step count and its own run folder."""
    recipe = yaml.safe_load(BASE_RECIPE.read_text())
    network, args, _ = CANDIDATES[name]
    recipe["name"] = f"architecture-study-{name}"
    recipe["model"] = {"name": network, "args": args}
    recipe["train"]["steps"] = int(steps)
    recipe["val"]["every"] = max(50, steps // 8 // 50 * 50)  # about 8 points on the curve
    recipe["output"] = str(work_dir / name)
    return recipe


def probe_steps_per_second(name: str, work_dir: Path, warmup: int = 5, steps: int = 30) -> float:
    """Training steps per second of ``name`` on one thread, through the real Trainer."""
    import torch

    from benchmarks.train_throughput import StepClock
    from pixelsmith.train.config import recipe_from_dict
    from pixelsmith.train.trainer import Trainer

    torch.set_num_threads(1)
    data = candidate_recipe(name, warmup + steps, work_dir)
    data["val"]["every"] = data["train"]["checkpoint_every"] = 10_000
    with tempfile.TemporaryDirectory() as tmp:
        clock = StepClock()
        trainer = Trainer(recipe_from_dict(data, "probe"), Path(tmp), max_steps=warmup + steps,
                          progress=False, extra_callbacks=[clock])
        trainer.fit()
    marks = clock.marks[warmup:]
    return (len(marks) - 1) / (marks[-1] - marks[0])


def probed_rate(name: str, work_dir: Path) -> float:
    """``name``'s training steps per second, probed once and kept in the work folder, so that
    every candidate's step count comes from a probe under the same conditions even when the
    runs themselves share the machine differently."""
    path = work_dir / f"{name}.probe.json"
    if path.exists():
        return json.loads(path.read_text())["steps_per_second"]
    rate = probe_steps_per_second(name, work_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, {"steps_per_second": rate, "date": time.strftime("%Y-%m-%d %H:%M")})
    return rate


def train(name: str, minutes: float, work_dir: Path) -> None:
    """Train ``name`` for about ``minutes`` of one thread, resuming a run that stopped."""
    run = work_dir / name
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "pixelsmith"]
    if (run / "summary.json").exists():
        print(f"{name}: finished before, kept", flush=True)
        return
    if (run / "last.pt").exists():
        print(f"{name}: resuming {run}", flush=True)
        subprocess.run([*command, "train", "--resume", str(run)], env=env, check=True)
        return
    rate = probed_rate(name, work_dir)
    steps = max(100, int(rate * minutes * 60))
    recipe_file = work_dir / f"{name}.yaml"
    recipe_file.parent.mkdir(parents=True, exist_ok=True)
    recipe_file.write_text(yaml.safe_dump(candidate_recipe(name, steps, work_dir),
                                          sort_keys=False))
    print(f"{name}: {rate:.2f} steps/s on one thread -> {steps} steps", flush=True)
    subprocess.run([*command, "train", str(recipe_file)], env=env, check=True)


def read_run(run: Path) -> dict:
    """Steps, wall minutes and the validation curve (step, PSNR) of a finished run."""
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()
               if line.strip()]
    curve = [(r["step"], r["psnr"]) for r in records if r.get("kind") == "val"]
    summary = json.loads((run / "summary.json").read_text())
    return {"steps": summary["steps"], "minutes": summary["wall_seconds"] / 60,
            "curve": curve}


def network_facts(network) -> dict:
    """Parameters and multiply-adds per output pixel (torch's FLOP counter, halved)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.rand(1, 1, 256, 256)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        network(x, torch.tensor([25 / 255]))
    return {"parameters": sum(p.numel() for p in network.parameters()),
            "macs_per_pixel": counter.get_total_flops() / 2 / x.numel()}


def inference_speeds(networks: dict, rounds: int) -> dict[str, float]:
    """Megapixels per second of each network at 2 threads on a SIDE x SIDE gray image."""
    import functools

    import torch

    from pixelsmith.runtime.timing import fastest_interleaved

    torch.set_num_threads(2)
    x, level = torch.rand(1, 1, SIDE, SIDE), torch.tensor([25 / 255])

    def call(network):
        with torch.inference_mode():
            network(x, level)

    fastest = fastest_interleaved({name: functools.partial(call, net)
                                   for name, net in networks.items()}, rounds, settle=0.2)
    return {name: SIDE * SIDE / 1e6 / seconds for name, seconds in fastest.items()}


def report(names: list[str], work_dir: Path, rounds: int, docs: Path, results: Path) -> None:
    """Score, time and plot the finished runs; write the docs section."""
    import torch

    from pixelsmith.evaluate.protocol import EvalParams, evaluate
    from pixelsmith.train.export import export_run
    from pixelsmith.zoo import load_model

    torch.set_num_threads(2)  # the training probe may have set one
    meta, before = run_meta(), load_now()
    finished = [n for n in names if (work_dir / n / "summary.json").exists()]
    if not finished:
        raise SystemExit(f"architecture_study: no finished run in {work_dir}")
    rows, facts, networks = {}, {}, {}
    for name in finished:
        export = export_run(work_dir / name, work_dir / f"{name}-export", checkpoint="last")
        networks[name] = load_model(export).eval()
        facts[name] = {**read_run(work_dir / name), **network_facts(networks[name]),
                       "probe_steps_per_second": probed_rate(name, work_dir)}
        for sigma in SIGMAS:
            result = evaluate("train/CBSD432/val32", "denoise", [str(export)],
                              EvalParams(task="denoise", sigma=sigma, color="gray"),
                              progress=False)
            facts[name][f"psnr_{sigma}"] = result["results"][0]["psnr"]
    speeds = inference_speeds(networks, rounds)
    for name in finished:
        f = facts[name]
        rows[name] = [name, CANDIDATES[name][2], f"{f['parameters']:,}",
                      f"{f['macs_per_pixel'] / 1e3:.1f}k", f"{speeds[name]:.2f}",
                      f"{f['probe_steps_per_second']:.2f}", f"{f['steps']:,}",
                      f"{f['steps'] / f['probe_steps_per_second'] / 60:.1f}",
                      f"{f['minutes']:.1f}",
                      *(f"{f[f'psnr_{s}']:.3f}" for s in SIGMAS)]
        f["mp_per_s"] = speeds[name]
    plot = plot_curves(facts, docs.parent / "images" / "architecture-study.png")
    verdict = ranking(facts)
    header = ["network", "what", "parameters", "multiply-adds / pixel", "MP/s (2 threads)",
              "training steps/s (probe)", "steps", "minutes at the probe's speed",
              "wall minutes", *(f"val32 sigma {s}" for s in SIGMAS)]
    body = "\n\n".join([
        "## Architecture per CPU-hour of training (gray denoising)",
        meta_lines(meta),
        "Each network trained from scratch with configs/architecture-study.yaml (gray, sigma "
        "0-75 on BSD400, 128-pixel patches, L2, bf16 autocast) on one thread for the same "
        "CPU time: a probe of its own training speed (30 steps through the Trainer, one "
        "thread, the probes under the same load) set its step count, so each cosine schedule "
        "ends after the same minutes at that speed; the wall minutes also count whatever "
        "shared the machine during the run. PSNR of the last EMA weights on all 32 images of "
        "train/CBSD432/val32 in gray (validation images, never a test set). MP/s: inference on "
        f"a {SIDE}x{SIDE} image at 2 threads, fastest of {rounds} interleaved calls, this run. "
        "Multiply-adds by torch's FLOP counter.",
        markdown_table(header, list(rows.values())),
        verdict,
        f"![validation PSNR against training minutes]({plot.relative_to(docs.parent)})",
        load_line(before, load_now(), 2),
    ])
    replace_section(docs, SECTION, body)
    write_json(results / "architecture_study.json", {"meta": meta, "runs": facts})
    print(markdown_table(header, list(rows.values())))


def ranking(facts: dict) -> str:
    """Which network ends highest at sigma 25, against the shipped U-Net, with its speed."""
    order = sorted(facts, key=lambda n: facts[n]["psnr_25"], reverse=True)
    best = facts[order[0]]
    line = (f"Highest at sigma 25 after the same training time: **{order[0]}** "
            f"({best['psnr_25']:.3f} dB, {best['mp_per_s']:.2f} MP/s)")
    if "unet" in facts and order[0] != "unet":
        unet = facts["unet"]
        line += (f", {best['psnr_25'] - unet['psnr_25']:+.3f} dB over the U-Net at "
                 f"{best['mp_per_s'] / unet['mp_per_s']:.2f}x its inference speed")
    return line + "; in order: " + ", ".join(
        f"{n} {facts[n]['psnr_25']:.3f}" for n in order) + "."


def plot_curves(facts: dict, path: Path) -> Path:
    """Validation PSNR (sigma 25, 8 images) against training minutes (steps at the probed
    speed), one line per network."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4))
    for name, f in facts.items():
        steps, psnr = zip(*f["curve"], strict=True) if f["curve"] else ((), ())
        minutes = [step / f["probe_steps_per_second"] / 60 for step in steps]
        axis.plot(minutes, psnr, marker="o", label=name)
    axis.set_xlabel("training minutes at the probed speed, one thread")
    axis.set_ylabel("PSNR at sigma 25, 8 val32 images (dB)")
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    figure.savefig(tmp, dpi=100)
    plt.close(figure)
    tmp.replace(path)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20.0,
                        help="training minutes per candidate on one thread (default 20)")
    parser.add_argument("--only", default=",".join(CANDIDATES),
                        help=f"comma-separated candidates (default all: {', '.join(CANDIDATES)})")
    parser.add_argument("--work-dir", type=Path, default=ROOT / "runs" / "architecture-study")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-report", action="store_true", help="train only")
    parser.add_argument("--probe-only", action="store_true",
                        help="probe each candidate's training speed (kept for its run), no more")
    parser.add_argument("--report-only", action="store_true", help="no training")
    parser.add_argument("--docs", type=Path, default=ROOT / "docs" / "BENCHMARKS.md")
    parser.add_argument("--results", type=Path, default=ROOT / "docs" / "results")
    args = parser.parse_args()
    names = args.only.split(",")
    unknown = [n for n in names if n not in CANDIDATES]
    if unknown:
        raise SystemExit(f"unknown candidate(s) {', '.join(unknown)}; "
                         f"choose from {', '.join(CANDIDATES)}")
    started = time.time()
    if args.probe_only:
        for name in names:
            print(f"{name}: {probed_rate(name, args.work_dir):.2f} steps/s on one thread")
        return 0
    if not args.report_only:
        for name in names:
            train(name, args.minutes, args.work_dir)
    if not args.no_report:
        report(list(CANDIDATES), args.work_dir, args.rounds, args.docs, args.results)
    print(f"architecture_study: {len(names)} candidate(s), {(time.time() - started) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
