"""Deployment backends per shipped restoration model: writes the "deploy-backends" section of
docs/DEPLOY.md (size on disk, parameters, MP/s and PSNR per backend and precision).

    python -m benchmarks.deploy                         # default models, 8 images each
    python -m benchmarks.deploy --models denoise-color --limit 2 --repeats 1 --output-dir /tmp/d

Each model runs on its standard test set with the evaluation protocol of
``pixelsmith evaluate`` (same degradations, same 8-bit PSNR). For every image the backends
run in turn (interleaved, the first backend alternating from image to image), each ``--repeats``
times after one warm-up call; an image's time is its fastest run, and the table gives the
median over the images of megapixels (output) per second. Backends: "eager" is today's
torch path (fp32, channels_last, 512-pixel tiles), "onnxruntime" the ONNX Runtime backend
(`restore --backend onnxruntime`), and with ``--quantize`` "onnxruntime int8": a package made
by ``pixelsmith quantize`` with its defaults, calibrated on the model's training set
(:data:`CALIBRATION`), on CPUs with native bf16 (AVX512-BF16 or AMX) "eager bf16" (the torch
path with ``--precision bf16``), and with ``--prune STEPS``
"pruned eager fp32": the model with 30% of its channels removed by ``pixelsmith prune``,
fine-tuned for STEPS steps of its recipe (0: not fine-tuned, so its PSNR is not the target's).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import cpu_label, load_line, load_now, replace_section, wants_bf16
from pixelsmith.evaluate.protocol import EvalParams, image_generator, load_clean, make_case, score
from pixelsmith.io import list_images
from pixelsmith.restoration.restorer import Restorer
from pixelsmith.runtime.timing import fastest_interleaved
from pixelsmith.settings import dataset_path
from pixelsmith.sysinfo import machine_summary

ROOT = Path(__file__).resolve().parents[1]
SECTION = "deploy-backends"
#: model -> (test set, evaluation protocol): the sets of docs/MODELS.md
CASES = {
    "denoise-gray": ("test/BSD68", EvalParams("denoise", sigma=25, color="gray")),
    "denoise-color": ("test/CBSD68", EvalParams("denoise", sigma=25, color="rgb")),
    "dejpeg-gray": ("test/LIVE1/gray", EvalParams("dejpeg", quality=10, color="gray")),
    "dejpeg-color": ("test/LIVE1/color", EvalParams("dejpeg", quality=10, color="rgb")),
    "sr-x2": ("test/Set5/HR", EvalParams("sr", scale=2, color="rgb")),
    "sr-x4": ("test/Set5/HR", EvalParams("sr", scale=4, color="rgb")),
    "deblur-blind": ("test/CBSD68", EvalParams("deblur", sigma=2.55, kernel="gaussian:1.6",
                                               color="rgb")),
    "inpaint": ("test/CBSD68", EvalParams("inpaint", mask_kind="strokes", color="rgb")),
}
#: model -> training images to calibrate its int8 package on (never a test set)
CALIBRATION = {
    "denoise-gray": "train/BSD400",
    "denoise-color": "train/CBSD432/train",
    "dejpeg-gray": "train/BSD400",
    "dejpeg-color": "train/CBSD432/train",
    "sr-x2": "train/CBSD432/train",
    "sr-x4": "train/CBSD432/train",
    "deblur-blind": "train/CBSD432/train",
    "inpaint": "train/CBSD432/train",
}


def quantized_packages(models: list[str], work_dir: str | None) -> dict[str, str]:
    """Quantize the models that have a calibration set: model -> package folder."""
    import tempfile

    from pixelsmith.deploy.quantize import quantize_model

    folder = Path(work_dir or tempfile.mkdtemp(prefix="pixelsmith-int8-"))
    packages = {}
    for model in models:
        if model in CALIBRATION:
            start = time.perf_counter()
            packages[model] = str(quantize_model(model, dataset_path(CALIBRATION[model]),
                                                 folder / f"{model}-int8"))
            print(f"quantized {model} in {time.perf_counter() - start:.0f} s", flush=True)
    return packages


def pruned_packages(models: list[str], work_dir: str | None, steps: int) -> dict[str, str]:
    """Prune 30% of the channels of each model (fine-tuned ``steps``): model -> folder."""
    import tempfile

    from pixelsmith.deploy.prune import prune_model

    folder = Path(work_dir or tempfile.mkdtemp(prefix="pixelsmith-pruned-"))
    return {model: str(prune_model(model, folder / f"{model}-pruned", 0.3, finetune=steps))
            for model in models}


def restorers(model: str, task: str, int8: str | None,
              pruned: str | None = None, bf16: bool = False) -> dict[str, Restorer]:
    """The backends to compare for one model, by column name."""
    runs = {"eager fp32": Restorer(task, model, device="cpu", backend="torch"),
            "onnxruntime fp32": Restorer(task, model, device="cpu", backend="onnxruntime")}
    if bf16:
        runs["eager bf16"] = Restorer(task, model, device="cpu", backend="torch",
                                      precision="bf16")
    if int8:
        runs["onnxruntime int8"] = Restorer(task, int8, device="cpu", backend="onnxruntime")
    if pruned:
        runs["pruned eager fp32"] = Restorer(task, pruned, device="cpu", backend="torch")
    return runs


def timed(restorer: Restorer, y: torch.Tensor, known, repeats: int) -> tuple[torch.Tensor, float]:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        out = restorer(y, known)
        best = min(best, time.perf_counter() - start)
    return out, best


def measure(model: str, limit: int, repeats: int, int8: str | None,
            pruned: str | None = None, bf16: bool = False) -> dict:
    folder, params = CASES[model]
    params = params.resolved()
    files = list_images(dataset_path(folder))[:limit]
    runs = restorers(model, params.task, int8, pruned, bf16)
    speeds = {name: [] for name in runs}
    psnrs = {name: [] for name in runs}
    for index, path in enumerate(files):
        reference, degraded, known = make_case(load_clean(path, params), params,
                                               image_generator(params.seed, index))
        names = list(runs)
        order = names[index % len(names):] + names[:index % len(names)]
        for name in order:
            if index == 0:
                runs[name](degraded, known)  # warm-up: sessions, caches, first allocations
            out, seconds = timed(runs[name], degraded, known, repeats)
            speeds[name].append(out.shape[-1] * out.shape[-2] / 1e6 / seconds)
            psnrs[name].append(score(out, reference, params)[0])
    return {"model": model, "set": folder, "params": params.public(), "images": len(files),
            "mps": {n: float(np.median(v)) for n, v in speeds.items()},
            "psnr": {n: float(np.mean(v)) for n, v in psnrs.items()},
            **sizes(model, runs, int8, pruned)}


def conv_flops_per_pixel(module: torch.nn.Module) -> float:
    """Floating-point operations of the network's convolutions per output pixel (2 per
    multiply-add), counted with hooks on a 64x64 input; the inpainting pre-fill's small
    functional convolutions are not counted."""
    macs = []

    def count(layer, inputs, output):
        kh, kw = layer.kernel_size
        macs.append(output.numel() * layer.in_channels // layer.groups * kh * kw)

    hooks = [m.register_forward_hook(count) for m in module.modules()
             if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    y = torch.rand(1, module.channels, 64, 64)
    args = {None: (), "mask": (torch.zeros(1, 1, 64, 64),)}.get(module.conditioning,
                                                                   (torch.tensor([0.1]),))
    with torch.inference_mode():
        out = module(y.contiguous(), *args)
    for hook in hooks:
        hook.remove()
    return 2 * sum(macs) / (out.shape[-1] * out.shape[-2])


def peak_gflops(threads: int, repeats: int = 7, bf16: bool = False) -> dict[str, float]:
    """This CPU's measured convolution throughput (GFLOP/s): a 3x3, 64 -> 64 channel
    convolution on a 256x256 map, in torch (channels_last) and in ONNX Runtime, fp32, int8
    as ONNX Runtime's QLinearConv runs it (the op of int8 packages), and with ``bf16`` torch
    under bf16 autocast. The three take turns,
    ``repeats`` rounds, and each keeps its fastest run, so that moments when the machine is
    slower (a shared virtual machine) do not favour one of them; a pause before each run lets
    the threads of the library that ran last stop spinning."""
    from onnx import TensorProto, helper, numpy_helper

    x = torch.rand(1, 64, 256, 256)
    weight = torch.rand(64, 64, 3, 3) / 24
    flops = 2 * 64 * 64 * 9 * 256 * 256
    xl = x.contiguous(memory_format=torch.channels_last)
    wl = weight.contiguous(memory_format=torch.channels_last)

    def eager() -> None:
        with torch.inference_mode():
            torch.nn.functional.conv2d(xl, wl, padding=1)

    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])], "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64, 256, 256])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(weight.numpy(), "w")])
    def eager_bf16() -> None:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            torch.nn.functional.conv2d(xl, wl, padding=1)

    runs = {"torch": eager, "onnxruntime": ort_run(graph, threads, {"x": x.numpy()}),
            "onnxruntime int8": qlinear_conv(threads)}
    if bf16:
        runs["torch bf16"] = eager_bf16
    fastest = fastest_interleaved(runs, repeats, settle=0.3)
    return {name: flops / seconds / 1e9 for name, seconds in fastest.items()}


def qlinear_conv(threads: int):
    """A run of the peak's convolution as int8 QLinearConv in ONNX Runtime: uint8 activations,
    int8 weights with a scale per output channel, as ``pixelsmith quantize`` writes them."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    constants = {"w": rng.integers(-127, 128, (64, 64, 3, 3), dtype=np.int8),
                 "x_scale": np.array(0.02, np.float32), "x_zero": np.array(128, np.uint8),
                 "w_scale": np.full(64, 1e-3, np.float32), "w_zero": np.zeros(64, np.int8),
                 "y_scale": np.array(0.05, np.float32), "y_zero": np.array(128, np.uint8)}
    node = helper.make_node("QLinearConv", ["x", "x_scale", "x_zero", "w", "w_scale", "w_zero",
                                            "y_scale", "y_zero"], ["y"], pads=[1, 1, 1, 1])
    graph = helper.make_graph(
        [node], "qconv", [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, 64, 256, 256])],
        [helper.make_tensor_value_info("y", TensorProto.UINT8, None)],
        [numpy_helper.from_array(value, name) for name, value in constants.items()])
    return ort_run(graph, threads, {"x": rng.integers(0, 256, (1, 64, 256, 256), dtype=np.uint8)})


def ort_run(graph, threads: int, feed: dict):
    """A call of the one-graph model ``graph`` on ``feed`` in an ONNX Runtime CPU session."""
    import onnxruntime
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(model.SerializeToString(), options,
                                           providers=["CPUExecutionProvider"])
    return lambda: session.run(None, feed)


def sizes(model: str, runs: dict[str, Restorer], int8: str | None,
          pruned: str | None = None) -> dict:
    """Files on disk (MB) and parameter count of a model and its exports."""
    from pixelsmith.runtime.cache import cached_export
    from pixelsmith.runtime.onnx_export import size_class
    from pixelsmith.zoo import WEIGHTS, resolve_model_dir

    module = runs["eager fp32"]._fn.module
    onnx_file = cached_export(module, size_class(module, 512, 512))
    result = {"parameters": sum(p.numel() for p in module.parameters()),
              "gflop_per_mp": conv_flops_per_pixel(module) * 1e6 / 1e9,
              "gflop": {name: conv_flops_per_pixel(run._fn.module) * 1e6 / 1e9
                        for name, run in runs.items()},
              "mb": {"safetensors": (resolve_model_dir(model) / WEIGHTS).stat().st_size / 1e6,
                     "onnx fp32": onnx_file.stat().st_size / 1e6}}
    if int8:
        from pixelsmith.deploy.quantize import QUANTIZED_FILE

        result["mb"]["onnx int8"] = (Path(int8) / QUANTIZED_FILE).stat().st_size / 1e6
    if pruned:
        result["mb"]["pruned safetensors"] = (Path(pruned) / WEIGHTS).stat().st_size / 1e6
    return result


def section(rows: list[dict], command: str, threads: int, peak: dict[str, float],
            load: str) -> str:
    backends = list(dict.fromkeys(b for r in rows for b in r["mps"]))
    best = max(peak["torch"], peak["onnxruntime"])
    lines = [
        f"## Backends per model (CPU: {cpu_label()})",
        "",
        f"Command: `{command}`. Each model on its test set with the `pixelsmith evaluate` "
        "protocol; MP/s is the median over the images of output megapixels per second (each "
        "image's fastest of the repeats, backends interleaved), PSNR the mean in dB of the "
        "8-bit outputs. \"eager fp32\" is the torch path (`--backend torch`), \"onnxruntime "
        "fp32\" is `--backend onnxruntime`, \"onnxruntime int8\" (with `--quantize`) a "
        "package made by `pixelsmith quantize` with its defaults, calibrated on the model's "
        "training set (never on the test set), \"eager bf16\" (on CPUs with native bf16) "
        "the torch path with `--precision bf16`. Speed-up: "
        "MP/s of each other backend over eager fp32, in column order. Size: the package's "
        "safetensors, the exported ONNX file (weights inside) and the int8 ONNX file. "
        "\"pruned eager fp32\" (with `--prune STEPS`): 30% of the channels removed by "
        "`pixelsmith prune` and fine-tuned STEPS steps of the model's recipe (with 0, the "
        "PSNR is before any fine-tuning). "
        "GFLOP/MP: the network's convolution work per output megapixel (the pruned one's "
        "is less, and counted so); % of peak: the "
        "convolution throughput end-to-end inference reaches (GFLOP/MP x MP/s) as a share of "
        "this CPU's measured fp32 peak below (int8 and bf16 against the same fp32 peak).",
        "",
        f"- machine: {machine_summary()}",
        f"- threads: {threads} (torch and ONNX Runtime intra-op)",
        f"- measured fp32 convolution peak (3x3, 64 -> 64 channels, 256x256, best of 7 "
        "interleaved runs): "
        f"torch {peak['torch']:.1f} GFLOP/s, ONNX Runtime {peak['onnxruntime']:.1f} GFLOP/s "
        "(effective: direct-convolution FLOPs over time, so a library's fast algorithms such "
        "as Winograd can put it above the arithmetic peak of the cores)",
        f"- measured int8 convolution peak (the same convolution as ONNX Runtime's QLinearConv, "
        f"uint8 activations, int8 weights per output channel): {peak['onnxruntime int8']:.1f} "
        f"GFLOP/s, {peak['onnxruntime int8'] / best:.2f}x the fp32 peak: the most an int8 "
        "network can gain over an fp32 one that runs at the fp32 peak",
        *([f"- measured bf16 convolution peak (the same convolution in torch under bf16 "
           f"autocast): {peak['torch bf16']:.1f} GFLOP/s, {peak['torch bf16'] / best:.2f}x the "
           "fp32 peak"] if "torch bf16" in peak else []),
        f"- date: {time.strftime('%Y-%m-%d %H:%M')}",
        load,
        "",
        "| model | test set | images | parameters | size (MB) | GFLOP/MP | "
        + " | ".join(f"MP/s {b}" for b in backends) + " | speed-up | % of peak | "
        + " | ".join(f"PSNR {b}" for b in backends) + " |",
        "|---|---|---|---|---|---|" + "---|" * (2 * len(backends) + 2),
    ]
    for r in rows:
        size = ", ".join(f"{k} {v:.1f}" for k, v in r["mb"].items())
        speed = " | ".join(f"{r['mps'][b]:.3f}" if b in r["mps"] else "-" for b in backends)
        gain = ", ".join(f"{r['mps'][b] / r['mps'][backends[0]]:.2f}x" if b in r["mps"]
                         else "-" for b in backends[1:])
        quality = " | ".join(f"{r['psnr'][b]:.2f}" if b in r["psnr"] else "-" for b in backends)
        share = ", ".join(f"{100 * r['gflop'][b] * r['mps'][b] / best:.0f}%" if b in r["mps"]
                          else "-" for b in backends)
        params = ", ".join(f"{k} {v}" for k, v in r["params"].items()
                           if k not in ("seed", "color"))
        lines.append(f"| {r['model']} | {r['set']} ({params}) | {r['images']} | "
                     f"{r['parameters']:,} | {size} | {r['gflop_per_mp']:.1f} | {speed} | "
                     f"{gain} | {share} | {quality} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("--limit", type=int, default=8, help="images per test set")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per image")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quantize", action="store_true",
                        help="also quantize each model (pixelsmith quantize defaults) and time "
                             "its int8 package")
    parser.add_argument("--prune", type=int, default=None, metavar="STEPS",
                        help="also time each model with 30%% of its channels pruned, "
                             "fine-tuned STEPS steps (0: not fine-tuned)")
    parser.add_argument("--only-prune", action="store_true",
                        help="only the pruning section: unpruned vs pruned (exact share and "
                             "rounded widths) timed at 256 and 512 px, and PSNR (--prune STEPS "
                             "fine-tunes; --pruned MODEL=DIR takes a package made already)")
    parser.add_argument("--pruned", action="append", default=[], metavar="MODEL=DIR",
                        help="with --only-prune: a pruned package of MODEL made by "
                             "`pixelsmith prune` (its config says its steps)")
    parser.add_argument("--only-qat", type=int, default=None, metavar="STEPS",
                        help="only the QAT section: PSNR of fp32, int8 PTQ and int8 QAT "
                             "(STEPS steps) per model")
    parser.add_argument("--qat-packages", action="append", default=[],
                        metavar="MODEL=PTQ_DIR,QAT_DIR",
                        help="with --only-qat: packages made already by `pixelsmith quantize` "
                             "without and with --qat")
    parser.add_argument("--test-limit", type=int, default=None,
                        help="with --only-prune / --only-qat: images of the test set scored "
                             "(default all)")
    parser.add_argument("--work-dir", default=None,
                        help="where the int8 packages go (default: a temporary folder)")
    parser.add_argument("--output-dir", default=str(ROOT / "docs"),
                        help="where DEPLOY.md goes (default docs/)")
    parser.add_argument("--bf16", choices=("auto", "yes", "no"), default="auto",
                        help="add an \"eager bf16\" column (auto: when the CPU has native "
                             "bf16, AVX512-BF16 or AMX; emulated bf16 is ~50x slower)")
    parser.add_argument("--section", default=SECTION,
                        help="the marked section of DEPLOY.md to write, so that the tables "
                             f"of several machines can stand side by side (default {SECTION})")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    command = "python -m benchmarks.deploy " + " ".join(sys.argv[1:])
    out = Path(args.output_dir) / "DEPLOY.md"
    if args.only_prune or args.only_qat is not None:
        return only_extras(args, command.strip(), out)
    load_before = load_now()
    bf16 = wants_bf16(args.bf16)
    peak = peak_gflops(args.threads, bf16=bf16)
    print(f"peak {peak}", flush=True)
    int8 = quantized_packages(args.models, args.work_dir) if args.quantize else {}
    pruned = {} if args.prune is None else pruned_packages(args.models, args.work_dir,
                                                           args.prune)
    rows = []
    for model in args.models:
        rows.append(measure(model, args.limit, args.repeats, int8.get(model),
                            pruned.get(model), bf16))
        print(rows[-1], flush=True)
    load = load_line(load_before, load_now(), args.threads)
    replace_section(out, args.section,
                    section(rows, command.strip(), args.threads, peak, load),
                    title="# Deployment")
    print(f"wrote {out} (section {args.section})")
    return 0


def only_extras(args, command: str, out: Path) -> int:
    """--only-prune / --only-qat: regenerate just that section (benchmarks/deploy_extras.py)."""
    from benchmarks import deploy_extras as extras

    if args.only_prune:
        given = dict(item.split("=", 1) for item in args.pruned)
        before = load_now()
        rows = extras.pruning_rows(args.models, CASES, args.prune or 0, given,
                                   args.test_limit, args.repeats, args.work_dir)
        replace_section(out, extras.PRUNE_SECTION,
                        extras.pruning_section(rows, command, args.threads, args.repeats,
                                               load_line(before, load_now(), args.threads)),
                        title="# Deployment")
        print(f"wrote {out} (section {extras.PRUNE_SECTION})")
    if args.only_qat is not None:
        given = dict(item.split("=", 1) for item in args.qat_packages)
        rows = extras.qat_rows(args.models, CASES, CALIBRATION, args.only_qat, given,
                               args.test_limit, args.work_dir)
        replace_section(out, extras.QAT_SECTION, extras.qat_section(rows, command, args.threads),
                        title="# Deployment")
        print(f"wrote {out} (section {extras.QAT_SECTION})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
