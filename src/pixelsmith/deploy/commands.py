"""The deployment commands of ``pixelsmith``: export-onnx, quantize, prune.

Only click is imported here; torch, onnx and onnxruntime load when a command runs, so
``pixelsmith --help`` stays fast.
"""

from __future__ import annotations

import click


@click.command("export-onnx")
@click.argument("model")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The .onnx file to write (weights inside, metadata set).")
@click.option("--max-side", type=click.IntRange(min=9), default=512, show_default=True,
              metavar="PX",
              help="Inpainting models only: export for inputs whose smaller side is up to PX "
                   "(their hole filling depends on it; the restore tile). Others take any size.")
def export_onnx_command(model, output, max_side) -> None:
    """Export a restoration model or a codec's synthesis transform to one ONNX file.

    \b
    The graph takes float32 NCHW images in [0, 1] of any batch, height and width
    (opset 18): `image`, plus `level` (N,) = sigma/255 or JPEG quality/100 for level-
    conditioned models, or `mask` (N, 1, H, W) (1 = missing) for inpainting models. The
    file's metadata says which, with the task, scale, size multiple and weights sha256.
    \b
    Examples:
      pixelsmith export-onnx denoise-color -o denoise-color.onnx
      pixelsmith export-onnx models/my-run -o my-run.onnx
      pixelsmith export-onnx codec-q2 -o synth.onnx   # latent -> image (x16), N x M x h x w
    """
    from pixelsmith.errors import PixelsmithError
    from pixelsmith.runtime.ort_backend import INSTALL_HINT, onnxruntime_available

    if not onnxruntime_available():
        raise PixelsmithError(f"export-onnx needs onnx, onnxscript and onnxruntime: "
                              f"{INSTALL_HINT}")
    from pixelsmith.runtime.codec_export import export_codec, is_codec
    from pixelsmith.runtime.onnx_export import describe, export_onnx

    if is_codec(model):  # its synthesis transform: decoded latent -> image
        path = export_codec(model, output)
    else:
        path = export_onnx(model, output, max_side=max_side)
    click.echo(describe(path))


@click.command("quantize")
@click.argument("model")
@click.option("--calibrate", required=True, type=click.Path(file_okay=False),
              help="Folder of TRAINING images to calibrate on (never a test set).")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="Model folder to write (config.json, model.safetensors, model.int8.onnx).")
@click.option("--images", type=click.IntRange(min=1), default=32, show_default=True,
              help="Calibration images (spread over the folder's sorted files).")
@click.option("--crop", type=click.IntRange(min=16), default=128, show_default=True,
              metavar="PX", help="Side of the crop taken from each image (super-resolution: "
                                 "of the high-resolution crop).")
@click.option("--method", type=click.Choice(["minmax", "entropy", "percentile"]),
              default="percentile", show_default=True,
              help="How activation ranges are calibrated (percentile: 99.999th).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the crops and degradations.")
@click.option("--max-side", type=click.IntRange(min=9), default=512, show_default=True,
              metavar="PX", help="Inpainting models only: quantize the graph of inputs whose "
                                 "smaller side is up to PX (others run fp32).")
@click.option("--qat", type=click.IntRange(min=0), default=0, show_default=True,
              metavar="STEPS", help="First fine-tune the weights for STEPS steps of the model's "
                                    "recipe with fake int8 quantization (its training data "
                                    "must be on this machine).")
@click.option("--device", help="Fine-tuning device for --qat: cpu, cuda or cuda:N.")
def quantize_command(model, calibrate, output, images, crop, method, seed, max_side, qat,
                     device) -> None:
    """Quantize a restoration model to int8 (ONNX Runtime, static, per-channel weights).

    \b
    The calibration crops are degraded the model's way (its task, at several levels). The
    output is a model folder that `restore --method FOLDER` runs with ONNX Runtime.
    \b
    Example:
      pixelsmith quantize denoise-gray --calibrate ../shared/data/train/BSD400 -o dn-int8
      pixelsmith quantize denoise-gray --calibrate ../shared/data/train/BSD400 --qat 500 \\
          -o dn-int8-qat
    """
    from pixelsmith.errors import PixelsmithError
    from pixelsmith.runtime.ort_backend import INSTALL_HINT, onnxruntime_available

    if not onnxruntime_available():
        raise PixelsmithError(f"quantize needs onnx, onnxscript and onnxruntime: {INSTALL_HINT}")
    from pixelsmith.deploy.quantize import QUANTIZED_FILE, quantize_model
    from pixelsmith.io import check_output_folder

    check_output_folder(output)
    path = quantize_model(model, calibrate, output, images=images, crop=crop, method=method,
                          seed=seed, max_side=max_side, qat=qat, device=device)
    size = (path / QUANTIZED_FILE).stat().st_size / 1e6
    click.echo(f"{path} ({QUANTIZED_FILE}: {size:.1f} MB)")


@click.command("prune")
@click.argument("model")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="Model folder to write (config.json + model.safetensors).")
@click.option("--channels", type=click.FloatRange(0, 1, min_open=True, max_open=True),
              default=0.3, show_default=True,
              help="Share of the channels to remove from every layer group.")
@click.option("--finetune", type=click.IntRange(min=0), default=0, show_default=True,
              metavar="STEPS", help="Fine-tune for this many steps of the model's own recipe "
                                    "(its training data must be on this machine).")
@click.option("--round-to", type=click.IntRange(min=1), default=8, show_default=True,
              metavar="N", help="Keep a multiple of N channels in every group (the nearest to "
                                "the share; 1: exactly the share). Odd widths run slower.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Peak learning rate of the fine-tuning (default: the recipe's).")
@click.option("--device", help="Fine-tuning device: cpu, cuda or cuda:N.")
def prune_command(model, output, channels, finetune, round_to, lr, device) -> None:
    """Remove whole channels of a restoration model: a smaller dense network (torch-pruning).

    \b
    Example:
      pixelsmith prune denoise-gray --channels 0.3 --finetune 2000 -o models/dn-pruned
    """
    from pixelsmith.deploy.prune import prune_model
    from pixelsmith.io import check_output_folder

    check_output_folder(output)  # before the pruning and its fine-tuning
    path = prune_model(model, output, ratio=channels, finetune=finetune, device=device,
                       round_to=round_to, lr=lr)
    from pixelsmith.zoo import read_config

    counts = read_config(path)["pruned"]["parameters"]
    click.echo(f"{path}: {counts['after']:,} parameters (from {counts['before']:,})")


def register_deploy(cli: click.Group) -> None:
    """Add the deployment commands to the ``pixelsmith`` group."""
    cli.add_command(export_onnx_command)
    cli.add_command(quantize_command)
    cli.add_command(prune_command)
