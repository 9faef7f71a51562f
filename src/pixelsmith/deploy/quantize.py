"""Static int8 quantization of a restoration model with ONNX Runtime, into a model package.

The fp32 graph (:mod:`pixelsmith.runtime.onnx_export`) is calibrated on degraded crops of
*training* images (the task's own degradations at several levels, reproducibly from a seed) and
quantized in QDQ format: convolution weights int8 per output channel, activations uint8 with
ranges from the calibration. The first and last convolutions (they see the image and write the
residual added to it, where 8-bit activations cost the most quality) and the transposed
convolutions of the U-Net's upsampling (quantized too, they cost denoise-color 0.02 dB more on
CBSD68 for 5% more speed) compute in fp32 from weights stored as int8
(:mod:`pixelsmith.deploy.weight_only`), so every weight is int8 in the file; the additions,
concatenations, the input skip and an inpainting network's hole filling stay fp32. Activation
ranges are the 99.999th percentile of the calibration values by default (``percentile``), which
lost less than the plain min-max ranges on the colour denoiser; ``minmax`` and ``entropy`` are
there to compare.

The result is a model folder like any other: the source's ``config.json`` (with a ``quantized``
entry) and ``model.safetensors`` (the fp32 weights, byte for byte, so ``load_model`` and
``--backend torch`` still work), plus ``model.int8.onnx``. ``restore --method FOLDER`` runs the
int8 graph with ONNX Runtime (the default backend for such a package).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from pixelsmith.deploy.weight_only import WEIGHT_AXIS, int8_weights_only
from pixelsmith.errors import PixelsmithError

QUANTIZED_FILE = "model.int8.onnx"
QUANT_FORMAT = "onnx-qdq-int8"
CALIBRATION_METHODS = ("minmax", "entropy", "percentile")
QUANTIZED_OPS = ("Conv",)  # ONNX node types that compute in int8
STORED_INT8_OPS = tuple(WEIGHT_AXIS)  # node types whose weights are stored int8
#: levels cycled over the calibration images, inside the shipped models' training ranges
DENOISE_SIGMAS = (5.0, 15.0, 25.0, 35.0, 50.0)
DEJPEG_QUALITIES = (10, 20, 30, 50, 70)
DEBLUR_KERNELS = ("gaussian:1.6", "disk:3", "motion:15", "gaussian:3")


def check_calibration_folder(folder: Path) -> None:
    """Refuse a test set: calibrating on the images that measure the result would be cheating."""
    from pixelsmith.settings import data_root

    if not folder.is_dir():
        raise PixelsmithError(f"{folder}: no such folder")
    tests = (data_root() / "test").resolve()
    resolved = folder.resolve()
    if resolved == tests or tests in resolved.parents:
        raise PixelsmithError(f"{folder} is a test set: calibrate on training images "
                              "(e.g. train/CBSD432/train)")


def _params(task: str, index: int, scale: int | None):
    from pixelsmith.evaluate.protocol import EvalParams

    if task == "denoise":
        params = EvalParams(task, sigma=DENOISE_SIGMAS[index % len(DENOISE_SIGMAS)])
    elif task == "dejpeg":
        params = EvalParams(task, quality=DEJPEG_QUALITIES[index % len(DEJPEG_QUALITIES)])
    elif task == "sr":
        params = EvalParams(task, scale=scale)
    elif task == "deblur":
        params = EvalParams(task, sigma=2.55, kernel=DEBLUR_KERNELS[index % len(DEBLUR_KERNELS)])
    else:
        params = EvalParams(task, mask_kind="strokes")
    return params.resolved()


def calibration_inputs(net: torch.nn.Module, folder: Path, images: int = 32, crop: int = 128,
                       seed: int = 0) -> list[dict[str, np.ndarray]]:
    """Feeds for the fp32 graph: degraded ``crop``-pixel crops of up to ``images`` images of
    ``folder`` (evenly spread over the sorted files), one image per feed. For super-resolution
    the crop is the high-resolution one: the input is ``crop / scale`` pixels."""
    from pixelsmith.evaluate.protocol import image_generator, make_case
    from pixelsmith.io import list_images, read_image
    from pixelsmith.runtime.onnx_export import IMAGE, LEVEL, MASK

    config = net.pixelsmith_config
    task, scale = config["task"], int(net.scale)
    files = list_images(folder)
    if not files:
        raise PixelsmithError(f"{folder}: no images to calibrate on")
    chosen = [files[i] for i in np.linspace(0, len(files) - 1, min(images, len(files))).astype(int)]
    side = crop - crop % scale
    feeds = []
    for index, path in enumerate(chosen):
        generator = image_generator(seed, index)
        clean = read_image(path, gray=net.channels == 1)
        h, w = clean.shape[-2:]
        if min(h, w) < side:
            continue
        top = int(torch.randint(0, h - side + 1, (1,), generator=generator))
        left = int(torch.randint(0, w - side + 1, (1,), generator=generator))
        patch = clean[..., top:top + side, left:left + side]
        params = _params(task, index, scale)
        _, degraded, known = make_case(patch, params, generator)
        feed = {IMAGE: degraded.float().numpy()}
        if net.conditioning == "sigma":
            feed[LEVEL] = np.array([known.sigma], dtype=np.float32)
        elif net.conditioning == "quality":
            feed[LEVEL] = np.array([known.quality / 100.0], dtype=np.float32)
        elif net.conditioning == "mask":
            feed[MASK] = known.mask.float().reshape(1, 1, side, side).numpy()
        feeds.append(feed)
    if not feeds:
        raise PixelsmithError(f"{folder}: no image is at least {side} pixels on its smaller side")
    return feeds


@contextlib.contextmanager
def _quiet_quantizer():
    """onnxruntime's quantizer advises pre-processing on the root logger and prints its
    calibration progress: neither is for our users."""
    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        logger.setLevel(level)


def _convolutions(path: Path) -> tuple[list[str], list[str]]:
    """(nodes to quantize, nodes that compute in fp32 from int8-stored weights): the network's
    own convolutions (weights named after its parameters) are quantized but the first and the
    last; those two and the transposed convolutions (the U-Net's upsampling) keep fp32
    arithmetic. An inpainting network's hole filling (convolutions with a fixed averaging
    kernel) is not touched at all."""
    import onnx

    nodes = [node for node in onnx.load_model(str(path)).graph.node
             if node.op_type in STORED_INT8_OPS and len(node.input) > 1
             and node.input[1].startswith("net.")]
    convs = [node.name for node in nodes if node.op_type == "Conv"]
    kept = {convs[0], convs[-1]} if convs else set()
    kept |= {node.name for node in nodes if node.op_type not in QUANTIZED_OPS}
    return [name for name in convs if name not in kept], sorted(kept)


def _quantize_graph(net: torch.nn.Module, feeds: list[dict[str, np.ndarray]],
                    level_class: int, method: str, target: Path, work: Path) -> list[str]:
    """Export ``net`` and write its static int8 QDQ graph to ``target`` (atomically), calibrated
    on ``feeds``; returns the convolutions kept fp32."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.calibrate import CalibrationDataReader

    from pixelsmith.io import atomic_output
    from pixelsmith.runtime.onnx_export import export_network

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.feeds = iter(feeds)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.feeds, None)

    calibration = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
                   "percentile": CalibrationMethod.Percentile}[method]
    fp32 = export_network(net, work / f"{target.stem}.fp32.onnx", level_class)
    quantized_nodes, kept = _convolutions(fp32)
    with atomic_output(target) as tmp, _quiet_quantizer():
        quantize_static(
            str(fp32), str(tmp), Reader(), quant_format=QuantFormat.QDQ,
            op_types_to_quantize=list(QUANTIZED_OPS), per_channel=True,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            nodes_to_quantize=quantized_nodes, calibrate_method=calibration,
            calibration_providers=["CPUExecutionProvider"])
        proto = onnx.load_model(str(tmp))
        int8_weights_only(proto, kept)
        onnx.save_model(proto, str(tmp), save_as_external_data=False)
    return kept


def _qat_finetune(source: Path, config: dict, net: torch.nn.Module,
                  feeds: list[dict[str, np.ndarray]], level_class: int, method: str,
                  steps: int, work: Path, device: str | None) -> tuple[torch.nn.Module, dict]:
    """Quantization-aware fine-tuning (:mod:`pixelsmith.deploy.qat`): the source's int8 graph
    gives the activation ranges, then ``steps`` steps of the recipe with fake quantization.
    Returns the fine-tuned fp32 network and the ``qat`` entry of the package's config."""
    from pixelsmith.deploy.finetune import finetune_package
    from pixelsmith.deploy.qat import graph_activations, install_fake_quantization
    from pixelsmith.zoo import load_model, read_config

    first = work / "ptq.int8.onnx"
    _quantize_graph(net, feeds, level_class, method, first, work)
    activations = graph_activations(first)
    if not activations:
        raise PixelsmithError(f"{config.get('name')}: no quantized convolution to fine-tune")
    def prepare(module: torch.nn.Module) -> None:
        where = next(module.parameters()).device
        example = tuple(torch.from_numpy(value).to(where) for value in feeds[0].values())
        install_fake_quantization(module, activations, example)

    tuned = finetune_package(source, config, steps, work, device, hint="use --qat 0",
                             prepare=prepare)
    entry = {"steps": int(steps),
             "fake_quantized": len(activations),
             "weights": "int8 per output channel, symmetric, scale max|w| / 127",
             "activations": "uint8 at the quantized convolutions' inputs and outputs (for "
                            "all their readers), ranges of the source weights' calibration",
             "gradients": "straight-through inside the range",
             "source_sha256": config.get("sha256"),
             "finetune": read_config(tuned).get("training", {})}
    return load_model(tuned), entry


def quantize_model(model: str | Path, calibrate: str | Path, output: str | Path,
                   images: int = 32, crop: int = 128, method: str = "percentile",
                   seed: int = 0, max_side: int = 512, qat: int = 0,
                   device: str | None = None) -> Path:
    """Quantize ``model`` (shipped name or folder) into the package folder ``output``.

    Inpainting networks are quantized for one size class (:mod:`pixelsmith.runtime.onnx_export`):
    the inputs whose smaller side is ``max_side`` (the restore tile); their calibration crops
    are made to fit that class, and inputs of other classes run the fp32 graph. ``qat`` > 0
    first fine-tunes the weights for that many steps of the model's recipe with fake
    quantization (:mod:`pixelsmith.deploy.qat`, on ``device``); the package then holds the
    fine-tuned fp32 weights."""
    from pixelsmith.io import atomic_output, atomic_write_text
    from pixelsmith.runtime.onnx_export import check_exportable, class_sides, size_class
    from pixelsmith.zoo import (
        CONFIG,
        WEIGHTS,
        load_model,
        read_config,
        resolve_model_dir,
        save_model,
    )
    from pixelsmith.zoo import sha256_file as file_sha256

    source = resolve_model_dir(model)
    config = read_config(source)
    check_exportable(config)
    if config.get("quantized"):
        raise PixelsmithError(f"{model} is already quantized")
    if method not in CALIBRATION_METHODS:
        raise PixelsmithError(f"calibration method must be {', '.join(CALIBRATION_METHODS)}")
    if qat < 0:
        raise PixelsmithError(f"--qat takes a number of steps, 0 or more, not {qat}")
    folder = Path(calibrate)
    check_calibration_folder(folder)
    output = Path(output)
    if output.resolve() == source.resolve():
        raise PixelsmithError("the output folder must differ from the model's folder")
    net = load_model(source)
    level_class = size_class(net, max_side, max_side)
    if level_class:  # an inpainting network: crops of the class's sizes
        low, high = class_sides(level_class)
        crop = max(crop, low) if high is None else min(max(crop, low), high)
    feeds = calibration_inputs(net, folder, images=images, crop=crop, seed=seed)
    qat_entry = None
    with tempfile.TemporaryDirectory(prefix="pixelsmith-quantize-") as work:
        if qat:
            net, qat_entry = _qat_finetune(source, config, net, feeds, level_class, method,
                                           qat, Path(work), device)
            net = net.to("cpu")
        kept = _quantize_graph(net, feeds, level_class, method, output / QUANTIZED_FILE,
                               Path(work))
    quantized = {
        "format": QUANT_FORMAT,
        "file": QUANTIZED_FILE,
        "sha256": file_sha256(output / QUANTIZED_FILE),
        "weights": "int8 per output channel (Conv; the first and last Conv and every "
                   "ConvTranspose compute in fp32 from int8-stored weights), activations "
                   "uint8, QDQ",
        "kept_fp32": kept,
        "size_class": level_class,
        "calibration": {"folder": str(folder), "images": len(feeds), "crop": crop,
                        "method": method, "seed": seed},
        "source": {"name": config.get("name"), "sha256": config.get("sha256")},
    }
    name = output.name
    package = {**config, "name": name, "summary": f"{config.get('summary', name)}, int8 "
               "(ONNX Runtime)", "quantized": quantized}
    if qat_entry is not None:  # the fine-tuned fp32 weights, with their own sha256
        package["summary"] += f", quantization-aware fine-tuned {qat} steps"
        package["qat"] = qat_entry
        package.pop("sha256", None)
        save_model(output, net, {k: v for k, v in package.items()
                                 if k not in ("format", "format_version")})
        return output
    with atomic_output(output / WEIGHTS) as tmp:
        shutil.copyfile(source / WEIGHTS, tmp)
    atomic_write_text(output / CONFIG, json.dumps(package, indent=2) + "\n")
    return output
