"""The pruning and quantization-aware-training sections of docs/DEPLOY.md, run by
``python -m benchmarks.deploy --only-prune`` and ``--only-qat STEPS`` (see benchmarks/deploy.py).

Pruning ("deploy-pruning"): per model, the unpruned network, the network pruned to exactly
30% fewer channels (odd widths such as 11 or 89) and the one pruned to the nearest multiple of
:data:`pixelsmith.deploy.prune.ROUND_TO` (what ``pixelsmith prune`` makes), timed with the
eager torch path on 256x256 and 512x512 outputs (a test image tiled to size, degraded the
protocol's way), interleaved, best of the repeats; then the PSNR of the unpruned and the
rounded pruned model on the test set. QAT ("deploy-qat"): the PSNR on the test set of the fp32
model, its post-training int8 package and its quantization-aware fine-tuned int8 package.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np

from pixelsmith.evaluate.protocol import image_generator, load_clean, make_case, score
from pixelsmith.io import list_images
from pixelsmith.restoration.restorer import Restorer
from pixelsmith.settings import dataset_path
from pixelsmith.sysinfo import machine_summary

PRUNE_SECTION = "deploy-pruning"
QAT_SECTION = "deploy-qat"
SIDES = (256, 512)


def _data_relative(folder: str) -> str:
    """A data set folder as $PIXELSMITH_DATA/..., others as they are."""
    root = str(dataset_path("."))
    return f"$PIXELSMITH_DATA/{Path(folder).relative_to(root)}" if folder.startswith(root) \
        else folder


def tiled(image, side: int):
    """``image`` (N, C, H, W) repeated in both directions and cut to side x side."""
    reps = (side // image.shape[-2] + 1, side // image.shape[-1] + 1)
    return image.repeat(1, 1, *reps)[..., :side, :side]


def tiled_case(path: Path, params, side: int, seed: int):
    """A degraded input whose output is side x side: the test image tiled, then degraded."""
    clean = tiled(load_clean(path, params), side)
    _, degraded, known = make_case(clean, params, image_generator(seed, side))
    return degraded, known


def time_models(models: dict[str, Restorer], path: Path, params, repeats: int
                ) -> dict[int, dict[str, float]]:
    """Output MP/s per side per model: interleaved (the first model rotating), best of runs."""
    result = {}
    for side in SIDES:
        degraded, known = tiled_case(path, params, side, params.seed)
        best = {name: float("inf") for name in models}
        for restorer in models.values():
            restorer(degraded, known)  # warm-up
        names = list(models)
        for repeat in range(repeats):
            for name in names[repeat % len(names):] + names[:repeat % len(names)]:
                start = time.perf_counter()
                out = models[name](degraded, known)
                best[name] = min(best[name], time.perf_counter() - start)
        pixels = out.shape[-1] * out.shape[-2] / 1e6
        result[side] = {name: pixels / seconds for name, seconds in best.items()}
    return result


def test_psnr(restorers: dict[str, Restorer], folder: str, params, limit: int | None
              ) -> dict[str, float]:
    """Mean PSNR (dB, evaluate protocol) on the test set, per restorer."""
    files = list_images(dataset_path(folder))[:limit]
    values = {name: [] for name in restorers}
    for index, path in enumerate(files):
        reference, degraded, known = make_case(load_clean(path, params), params,
                                               image_generator(params.seed, index))
        for name, restorer in restorers.items():
            values[name].append(score(restorer(degraded, known), reference, params)[0])
    return {name: float(np.mean(v)) for name, v in values.items()} | {"images": len(files)}


def pruning_rows(models: list[str], cases: dict, steps: int, given: dict[str, str],
                 limit: int | None, repeats: int, work_dir: str | None) -> list[dict]:
    from pixelsmith.deploy.prune import ROUND_TO, prune_model
    from pixelsmith.zoo import read_config

    folder = Path(work_dir or tempfile.mkdtemp(prefix="pixelsmith-pruning-"))
    rows = []
    for model in models:
        test_set, params = cases[model]
        params = params.resolved()
        exact = prune_model(model, folder / f"{model}-exact", 0.3, round_to=1)
        rounded = Path(given[model]) if model in given else prune_model(
            model, folder / f"{model}-pruned", 0.3, finetune=steps)
        config = read_config(rounded)
        runs = {"unpruned": Restorer(params.task, model, device="cpu", backend="torch"),
                "exact 30%": Restorer(params.task, str(exact), device="cpu", backend="torch"),
                f"rounded to {config['pruned'].get('round_to', ROUND_TO)}":
                    Restorer(params.task, str(rounded), device="cpu", backend="torch")}
        first = list_images(dataset_path(test_set))[0]
        speeds = time_models(runs, first, params, repeats)
        names = list(runs)
        quality = test_psnr({names[0]: runs[names[0]], names[2]: runs[names[2]]}, test_set,
                            params, limit)
        rows.append({"model": model, "set": test_set, "params": params.public(),
                     "widths": {names[1]: read_config(exact)["network"]["args"]["features"],
                                names[2]: config["network"]["args"]["features"]},
                     "parameters": config["pruned"]["parameters"],
                     "finetune_steps": config["pruned"].get("finetune_steps", 0),
                     "made": _prune_command(model, config["pruned"]),
                     "mps": speeds, "psnr": quality, "names": names})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def _prune_command(model: str, pruned: dict) -> str:
    """The ``pixelsmith prune`` command that made a pruned package, from its config."""
    command = f"pixelsmith prune {model} --channels {pruned['ratio']:g} --round-to " \
              f"{pruned.get('round_to', 1)}"
    if pruned.get("finetune_steps"):
        command += f" --finetune {pruned['finetune_steps']}"
    if pruned.get("finetune_lr"):
        command += f" --lr {pruned['finetune_lr']:g}"
    return command


def pruning_section(rows: list[dict], command: str, threads: int, repeats: int,
                    load: str) -> str:
    names = rows[0]["names"]
    lines = [
        "## Pruned networks: speed and quality (CPU)",
        "",
        f"Command: `{command}`. 30% of the channels removed by `pixelsmith prune`: \"exact "
        "30%\" keeps exactly 70% of every width (`--round-to 1`), \"rounded\" the nearest "
        "multiple (the default). MP/s: output megapixels per second of the eager torch path "
        f"(fp32, channels_last, as `restore --backend torch`) on a test image tiled to "
        f"{SIDES[0]}x{SIDES[0]} and {SIDES[1]}x{SIDES[1]} outputs and degraded the protocol's "
        f"way, the models interleaved, best of {repeats} runs. PSNR: mean over the test set "
        "(`pixelsmith evaluate` protocol) of the unpruned and the rounded pruned model, "
        "fine-tuned the given steps of the model's recipe (0: not fine-tuned, so its PSNR "
        "is not the target's).",
        "",
        f"- machine: {machine_summary()}",
        f"- threads: {threads}",
        f"- date: {time.strftime('%Y-%m-%d %H:%M')}",
        load,
        *[f"- pruned {r['model']}: `{r['made']}`" for r in rows],
        "",
        "| model | widths | parameters | "
        + " | ".join(f"MP/s {n} ({s}px)" for s in SIDES for n in names)
        + " | speed-up rounded (256px, 512px) | fine-tuning steps | test set | images | "
        f"PSNR {names[0]} | PSNR {names[2]} |",
        "|---|---|---|" + "---|" * (len(SIDES) * len(names)) + "---|---|---|---|---|---|",
    ]
    for r in rows:
        widths = "; ".join(f"{n}: {w}" for n, w in r["widths"].items())
        speeds = " | ".join(f"{r['mps'][s][n]:.3f}" for s in SIDES for n in names)
        gain = ", ".join(f"{r['mps'][s][names[2]] / r['mps'][s][names[0]]:.2f}x" for s in SIDES)
        params = ", ".join(f"{k} {v}" for k, v in r["params"].items()
                           if k not in ("seed", "color"))
        counts = f"{r['parameters']['before']:,} -> {r['parameters']['after']:,}"
        lines.append(f"| {r['model']} | {widths} | {counts} | {speeds} | {gain} | "
                     f"{r['finetune_steps']} | {r['set']} ({params}) | {r['psnr']['images']} | "
                     f"{r['psnr'][names[0]]:.2f} | {r['psnr'][names[2]]:.2f} |")
    return "\n".join(lines)


def qat_rows(models: list[str], cases: dict, calibration: dict, steps: int,
             given: dict[str, str], limit: int | None, work_dir: str | None) -> list[dict]:
    """PTQ and QAT packages per model (made here unless given as MODEL=PTQ_DIR,QAT_DIR)."""
    from pixelsmith.deploy.quantize import quantize_model
    from pixelsmith.zoo import read_config

    folder = Path(work_dir or tempfile.mkdtemp(prefix="pixelsmith-qat-"))
    rows = []
    for model in models:
        test_set, params = cases[model]
        params = params.resolved()
        if model in given:
            ptq, qat = (Path(p) for p in given[model].split(","))
        else:
            data = dataset_path(calibration[model])
            ptq = quantize_model(model, data, folder / f"{model}-int8")
            qat = quantize_model(model, data, folder / f"{model}-int8-qat{steps}", qat=steps)
        runs = {"fp32": Restorer(params.task, model, device="cpu", backend="torch"),
                "int8 PTQ": Restorer(params.task, str(ptq), device="cpu"),
                "int8 QAT": Restorer(params.task, str(qat), device="cpu"),
                "fp32 QAT weights": Restorer(params.task, str(qat), device="cpu",
                                             backend="torch")}
        qat_config = read_config(qat)
        calib = qat_config["quantized"]["calibration"]
        rows.append({"model": model, "set": test_set, "params": params.public(),
                     "made": f"pixelsmith quantize {model} --calibrate "
                             f"{_data_relative(calib['folder'])} "
                             f"--images {calib['images']} --crop {calib['crop']} --method "
                             f"{calib['method']} --seed {calib['seed']} "
                             f"[--qat {qat_config['qat']['steps']}]",
                     "steps": qat_config["qat"]["steps"],
                     "calibration": qat_config["quantized"]["calibration"],
                     "psnr": test_psnr(runs, test_set, params, limit)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def qat_section(rows: list[dict], command: str, threads: int) -> str:
    lines = [
        "## Quantization-aware fine-tuning (CPU)",
        "",
        f"Command: `{command}`. PSNR (dB, mean over the test set, `pixelsmith evaluate` "
        "protocol) of the fp32 model (eager torch), its int8 package made by `pixelsmith "
        "quantize` (post-training, PTQ) and the one made by `pixelsmith quantize --qat STEPS` "
        "(QAT: STEPS steps of the model's recipe with fake quantization, then the same static "
        "quantization), both calibrated on the same training images and run by ONNX Runtime; "
        "\"fp32 QAT weights\" runs the QAT package's fine-tuned fp32 weights in torch.",
        "",
        f"- machine: {machine_summary()}",
        f"- threads: {threads}",
        f"- date: {time.strftime('%Y-%m-%d %H:%M')}",
        *[f"- packages of {r['model']}: `{r['made']}`" for r in rows],
        "",
        "| model | test set | images | QAT steps | calibration | PSNR fp32 | PSNR int8 PTQ | "
        "PSNR int8 QAT | int8 loss PTQ | int8 loss QAT | PSNR fp32 QAT weights |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        p = r["psnr"]
        params = ", ".join(f"{k} {v}" for k, v in r["params"].items()
                           if k not in ("seed", "color"))
        calib = r["calibration"]
        where = _data_relative(str(calib["folder"]))
        lines.append(f"| {r['model']} | {r['set']} ({params}) | {p['images']} | {r['steps']} | "
                     f"{where}, {calib['images']} images, {calib['method']} | {p['fp32']:.2f} | "
                     f"{p['int8 PTQ']:.2f} | {p['int8 QAT']:.2f} | "
                     f"{p['int8 PTQ'] - p['fp32']:+.2f} | {p['int8 QAT'] - p['fp32']:+.2f} | "
                     f"{p['fp32 QAT weights']:.2f} |")
    return "\n".join(lines)
