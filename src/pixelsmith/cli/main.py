"""The ``pixelsmith`` command: only click loads at start-up; each command imports what it uses.

User errors (bad files, bad options) print one line and exit with code 2, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pixelsmith._version import __version__
from pixelsmith.cli.explain import explain as explain_command
from pixelsmith.cli.options import quiet_option, skip_existing_option
from pixelsmith.cli.serve import serve
from pixelsmith.cli.synthesis import register_synthesis
from pixelsmith.deploy.commands import register_deploy
from pixelsmith.errors import PixelsmithError

TASK_CHOICES = ("denoise", "deblur", "inpaint", "sr", "dejpeg", "photo")
EVALUATED_TASKS = TASK_CHOICES[:-1]  # photo has its own benchmark (benchmarks.photo)


max_pixels_option = click.option(
    "--max-pixels", type=click.IntRange(min=1), default=100_000_000, show_default=True,
    help="Refuse images larger than this many pixels (guards against decompression bombs).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", "-V", prog_name="pixelsmith")
def cli() -> None:
    """Image restoration, synthesis and compression with deep learning and classical baselines.

    \b
    Examples (bundled sample images are in the package folder pixelsmith/samples):
      pixelsmith degrade photo.png -o noisy.png --noise gaussian:25 --seed 0
      pixelsmith restore noisy.png -o clean.png --task denoise --sigma 25 --method bm3d
      pixelsmith methods
      pixelsmith evaluate --task denoise --data test/Set12 --methods bm3d,tv
      pixelsmith demo

    \b
    Exit codes: 0 done; 1 some files of a batch failed (each is named, the others were
    written); 2 a bad command line or input, or every file of a batch failed; 130 interrupted.
    """


@cli.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--output", required=True, help="Output file, or folder for several inputs.")
@click.option("--blur", "blur_spec", metavar="SPEC",
              help="gaussian:SIGMA | disk:RADIUS | motion:SIZE | file:PATH [,reflect|,circular]")
@click.option("--downsample", type=click.IntRange(min=2), help="MATLAB bicubic downscaling factor.")
@click.option("--mask", "mask_spec", metavar="SPEC",
              help="box:SIZE | box:FRACTION | pixels:FRACTION | strokes[:LO-HI] | file:PATH")
@click.option("--noise", "noise_spec", metavar="SPEC",
              help="gaussian:SIGMA (0-255) | gaussian:LO-HI | poisson:PEAK | "
                   "poisson-gaussian:PEAK,SIGMA | saltpepper:AMOUNT")
@click.option("--jpeg", type=click.IntRange(1, 100), help="JPEG quality, applied last.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Random seed; image i of a batch uses its own stream derived from it.")
@click.option("--save-mask", type=click.Path(), help="Write the mask (white = missing).")
@click.option("--save-kernel", type=click.Path(), help="Write the kernel (.npy or .png).")
@click.option("--realistic", is_flag=True,
              help="Instead: a random realistic chain (blurs, resizes, noise, camera noise, "
                   "JPEG twice; BSRGAN or Real-ESRGAN order), see docs/REALISTIC.md.")
@click.option("--scale", "realistic_scale", metavar="1|4",
              help="With --realistic: 1 keeps the size (default), 4 makes it 4x smaller.")
@click.option("--shake", is_flag=True,
              help="With --realistic: start the chain with camera shake (a random hand-held "
                   "path of 5-25 pixels).")
@click.option("--save-params", type=click.Path(),
              help="With --realistic: write the parameters of the draw (JSON).")
@max_pixels_option
@skip_existing_option
@quiet_option
def degrade(inputs, output, blur_spec, downsample, mask_spec, noise_spec, jpeg, seed, save_mask,
            save_kernel, realistic, realistic_scale, shake, save_params, max_pixels,
            skip_existing, quiet) -> None:
    """Degrade images: blur -> downsample -> mask -> noise -> JPEG, reproducibly from --seed.

    \b
    Example: pixelsmith degrade in.png -o out.png --blur gaussian:1.6 --noise gaussian:25
             pixelsmith degrade in.png -o out.png --realistic --scale 4 --save-params p.json
    """
    from pixelsmith.cli.batch import finish, plan_outputs, run_jobs
    from pixelsmith.cli.degrade_files import degrade_file, realistic_scale_option
    from pixelsmith.cli.report import Reporter

    scale = realistic_scale_option(realistic, realistic_scale, save_params,
                                   (blur_spec, downsample, mask_spec, noise_spec, jpeg), shake)
    if not realistic and not any((blur_spec, downsample, mask_spec, noise_spec, jpeg)):
        raise PixelsmithError("give at least one of --blur, --downsample, --mask, --noise, --jpeg")
    jobs = plan_outputs(list(inputs), output)
    several = len(jobs) > 1
    if (save_mask and not mask_spec) or (save_kernel and not blur_spec):
        raise PixelsmithError("--save-mask needs --mask and --save-kernel needs --blur")

    order = {job.target: i for i, job in enumerate(jobs)}
    chain = ", ".join(f"{name} {value}" for name, value in (
        ("blur", blur_spec), ("downsample", downsample), ("mask", mask_spec),
        ("noise", noise_spec), ("jpeg", jpeg)) if value) if not realistic \
        else f"realistic chain, scale {scale}{', camera shake' if shake else ''}"

    def side_outputs(job) -> list[Path]:
        paths = (_side_output(option, job.source, suffix, several) for option, suffix in (
            (save_mask, "_mask.png"), (save_kernel, "_kernel.npy"),
            (save_params, "_params.json")))
        return [p for p in paths if p is not None]

    def work(job) -> str:
        degrade_file(
            job.source, job.target, index=order[job.target], seed=seed, blur=blur_spec,
            downsample=downsample, mask=mask_spec, noise=noise_spec, jpeg=jpeg,
            save_mask=_side_output(save_mask, job.source, "_mask.png", several),
            save_kernel=_side_output(save_kernel, job.source, "_kernel.npy", several),
            max_pixels=max_pixels, realistic=scale,
            save_params=_side_output(save_params, job.source, "_params.json", several),
            shake=shake,
        )
        return f"{chain}, seed {seed} (image {order[job.target]})"

    reporter = Reporter(quiet)
    outcome = run_jobs(jobs, work, "degrade", reporter=reporter, skip_existing=skip_existing,
                       side_outputs=side_outputs)
    finish(outcome, output, reporter)


def _side_output(option: str | None, source: Path, suffix: str, several: bool) -> Path | None:
    """Where a mask/kernel goes: the given file, or a file per input inside the given folder."""
    if option is None:
        return None
    path = Path(option)
    if several or path.is_dir():
        return path / (source.stem + suffix)
    return path


@cli.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--output", required=True, help="Output file, or folder for several inputs.")
@click.option("--task", type=click.Choice(TASK_CHOICES), required=True)
@click.option("--method", help="Method name (see `pixelsmith methods`); default: the best one.")
@click.option("--sigma", metavar="SIGMA|auto",
              help="Noise level in 0-255 units, or 'auto' to estimate it from each image "
                   "(the default for --task denoise).")
@click.option("--kernel", type=click.Path(), help="Blur kernel file (PNG, NPY, MAT) for deblur.")
@click.option("--mask", type=click.Path(), help="Mask image for inpaint: white = missing.")
@click.option("--scale", type=click.IntRange(min=2),
              help="Super-resolution factor; needed for --task sr (never guessed), except with "
                   "a model method of one fixed factor, which then runs at its factor. For "
                   "--task photo: the upscaling (default 1, the same size).")
@click.option("--quality", metavar="Q|auto",
              help="JPEG quality of the input (1-100), or 'auto' to read it from a JPEG file.")
@click.option("--device", metavar="DEVICE",
              help="cpu, cuda or cuda:N for trained models (default: cuda when available).")
@click.option("--tile", default="512", show_default=True, metavar="N",
              help="Trained models run in N-pixel tiles (bounded memory); 0 = whole image.")
@click.option("--overlap", default="32", show_default=True, metavar="N",
              help="Pixels shared by neighbouring tiles, blended smoothly.")
@click.option("--precision", default="fp32", show_default=True, metavar="fp32|bf16|fp16|auto",
              help="Trained models: bf16 is faster on GPUs and CPUs with AMX/AVX512-BF16, "
                   "slower elsewhere; fp16 needs a CUDA device; auto takes bf16 where the "
                   "device has it natively, else fp32.")
@click.option("--backend", type=click.Choice(["torch", "onnxruntime", "auto"]),
              help="Trained models: run with torch (default; a quantized package: onnxruntime), "
                   "with ONNX Runtime (pixelsmith[fast]; faster on some CPUs, slower on others, "
                   "see docs/DEPLOY.md; exported once into a user cache), or auto (where ONNX "
                   "Runtime is installed and fits, CPU and fp32: whichever of the two ran the "
                   "model faster on this machine, measured once and cached).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes restoring the images of a folder in parallel (they share the CPU "
                   "threads; results as with one process).")
@click.option("--samples", type=click.IntRange(min=2), metavar="N",
              help="VAE methods only (--task denoise|inpaint with a conv-vae model): the output "
                   "is the mean of N latent posterior samples, and OUT_std.png beside it their "
                   "per-pixel standard deviation, a 16-bit PNG of 2 x std (std = value / 2; "
                   "white = 0.5, the largest possible). VAE inpainting uses 16 samples without "
                   "it.")
@click.option("--ensemble", is_flag=True,
              help="Average the method over the 8 flips and quarter turns of each image "
                   "(8x slower; a small quality gain for trained models).")
@click.option("--strength", type=click.FloatRange(0.0, 1.0), default=1.0, show_default=True,
              help="Mix the input back in: 0 = the input (bicubic-enlarged for sr/photo), "
                   "1 = the full restoration; keeps grain and texture in between.")
@click.option("--strip-metadata", is_flag=True,
              help="Leave out the input's ICC colour profile and EXIF (kept by default).")
@click.option("--format", "out_format", type=click.Choice(["png", "jpg", "tif", "webp"]),
              help="Output format for outputs in a folder (default: the input's; PNG for "
                   "--task dejpeg). A named output file keeps its own suffix.")
@max_pixels_option
@skip_existing_option
@quiet_option
def restore(inputs, output, task, method, sigma, kernel, mask, scale, quality, device, tile,
            overlap, precision, backend, workers, samples, ensemble, strength, strip_metadata,
            out_format, max_pixels, skip_existing, quiet) -> None:
    """Restore images (one file, several, or folders) with a classical or learned method.

    \b
    Examples:
      pixelsmith restore noisy.png -o out.png --task denoise     # shipped model, sigma estimated
      pixelsmith restore noisy.png -o out.png --task denoise --sigma 25 --method bm3d
      pixelsmith restore blurred.png -o out.png --task deblur --kernel k.npy --sigma 2.55
      pixelsmith restore holes.png -o out.png --task inpaint --mask mask.png
      pixelsmith restore small.png -o big.png --task sr --scale 4
      pixelsmith restore photo.jpg -o out.png --task photo --scale 4 --strength 0.8
      pixelsmith restore photos/ -o restored/ --task dejpeg --quality auto
      pixelsmith restore huge.jpg -o out.png --task dejpeg --quality auto --device cuda
      pixelsmith restore photos/ -o restored/ --task denoise --workers 2 --backend auto
      pixelsmith restore face.png -o out.png --task inpaint --method vae-faces --mask m.png \\
          --samples 16                      # also writes out_std.png

    Each output gets a line on stderr: the method that ran (a default chosen per image), the
    sigma or JPEG quality it used (estimated or read from the file, or given), the time.
    """
    from pixelsmith.cli.batch import finish, plan_outputs, run_jobs
    from pixelsmith.cli.ranks import RankShare
    from pixelsmith.cli.report import Reporter
    from pixelsmith.restoration.files import restore_file, std_target
    from pixelsmith.restoration.restorer import Restorer, parse_quality, parse_sigma

    options = {"sigma": parse_sigma(sigma, task), "kernel": kernel, "mask": mask, "scale": scale,
               "quality": parse_quality(quality), "strip_metadata": strip_metadata}
    suffix = f".{out_format}" if out_format else (".png" if task == "dejpeg" else None)
    jobs = plan_outputs(list(inputs), output, suffix)
    share = RankShare.from_env()  # under torchrun: this rank's share of the files
    jobs = share.take(jobs) if share else jobs
    restorer_args = {"task": task, "method": method, "device": device, "tile": tile,
                     "overlap": overlap, "precision": precision, "samples": samples,
                     "strength": strength, "ensemble": ensemble, "backend": backend}
    restorer = Restorer(**restorer_args)
    reporter = Reporter(quiet)
    if workers > 1 and len(jobs) > 1:  # pixelsmith.deploy.workers: one restorer per process
        outcome = _restore_in_processes(jobs, restorer_args, options, max_pixels, workers,
                                        skip_existing, reporter)
        finish(share.gather(outcome, output, reporter) if share else outcome, output, reporter)
        return

    def std_of(job) -> list[Path]:
        return [] if samples is None else [std_target(job.target)]

    def work(job) -> str:
        progress = reporter.progress(job.source.name, "tile" if samples is None else "step")
        try:
            known = restore_file(restorer, job.source, job.target, options, max_pixels,
                                 std_path=(std_of(job) or [None])[0], progress=progress)
        finally:
            progress.close()
        return _restore_line(restorer, known, options, samples)

    outcome = run_jobs(jobs, work, f"restore ({restorer.name})", reporter=reporter,
                       skip_existing=skip_existing, side_outputs=std_of,
                       keep_going=share is not None)
    finish(share.gather(outcome, output, reporter) if share else outcome, output, reporter)


def _restore_in_processes(jobs, restorer_args: dict, options: dict, max_pixels: int,
                          workers: int, skip_existing: bool, reporter):
    """``restore --workers N``: the jobs in N processes, as an :class:`Outcome`."""
    from pixelsmith.cli.batch import Outcome
    from pixelsmith.deploy.workers import restore_in_processes
    from pixelsmith.restoration.files import std_target

    with_std = restorer_args["samples"] is not None
    outcome = Outcome(total=len(jobs))
    todo = [job for job in jobs
            if not (skip_existing and job.target.exists()
                    and (not with_std or std_target(job.target).exists()))]
    outcome.skipped = len(jobs) - len(todo)
    outcome.failed = restore_in_processes(todo, restorer_args, options, max_pixels, workers,
                                          with_std=with_std, error=reporter.error)
    outcome.written = len(todo) - len(outcome.failed)
    return outcome


def _restore_line(restorer, known, options: dict, samples: int | None) -> str:
    """What ``restore`` says about one output: method and the parameters it used."""
    method = restorer.last_run  # the Method itself: no registry look-up per output
    parts = [method.name]
    # sigma when the method used it or the user gave it (a VAE ignores the estimate)
    if known.sigma is not None and ("sigma" in method.needs or options["sigma"] != "auto"):
        parts.append(f"sigma {float(known.sigma) * 255:.3g}"
                     + (" (estimated)" if options["sigma"] == "auto" else ""))
    if known.quality is not None:
        parts.append(f"JPEG quality {known.quality}"
                     + ("" if isinstance(options["quality"], int)
                        else " (from the quantisation tables)"))
    if known.scale is not None:
        parts.append(f"x{known.scale}")
    elif method.scale is not None:
        parts.append(f"x{method.scale} (the model's factor)")
    if samples is not None:
        parts.append(f"mean of {samples} samples, std map beside it")
    elif method.kind == "vae" and restorer.task == "inpaint":
        from pixelsmith.restoration.vae import DEFAULT_SAMPLES

        parts.append(f"mean of {DEFAULT_SAMPLES} samples")
    if restorer.ensemble:
        parts.append("self-ensemble of 8")
    if method.source is not None and (restorer.last_precision != "fp32"
                                      or restorer.precision_auto):
        parts.append(restorer.last_precision + (" (auto)" if restorer.precision_auto else ""))
    if restorer.strength != 1.0:
        parts.append(f"strength {restorer.strength:g}")
    return ", ".join(parts)


@cli.command()
@click.option("--task", type=click.Choice(TASK_CHOICES), help="Only this task.")
def methods(task) -> None:
    """List the restoration methods per task, and whether each can run here."""
    from pixelsmith.restoration.registry import default_method, default_models, task_methods

    for name in [task] if task else TASK_CHOICES:
        click.echo(f"{name}:")
        best = {default_method(name), *default_models(name)}
        for method in task_methods(name).values():
            state = "" if method.available() else "  [needs: " + ", ".join(method.requires) + "]"
            star = " (default)" if method.name in best else ""
            click.echo(f"  {method.name:<18} {method.kind:<10} {method.summary}{star}{state}")


@cli.command()
@click.option("--task", type=click.Choice(EVALUATED_TASKS), required=True)
@click.option("--data", required=True, type=click.Path(),
              help="Folder of clean images; a relative path not found here is looked up in "
                   "$PIXELSMITH_DATA (e.g. test/Set12).")
@click.option("--methods", "method_list",
              help="Comma-separated methods; default: all available ones but the VAEs.")
@click.option("--sigma", type=float, help="Noise sigma, 0-255 (denoise default 25, deblur 2.55).")
@click.option("--scale", type=int, help="SR factor (default 4).")
@click.option("--quality", type=int, help="JPEG quality (default 10).")
@click.option("--kernel", help="Deblur kernel: file or spec (default gaussian:1.6).")
@click.option("--mask-kind", metavar="KIND[:SIZE]",
              help="Inpainting masks: box, pixels, strokes (default), or with a size as in "
                   "degrade --mask: box:64x64, pixels:0.8, strokes:0.1-0.3.")
@click.option("--color", type=click.Choice(["auto", "gray", "rgb"]), default="auto",
              show_default=True, help="Convert images before degrading them.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N images.")
@click.option("--json", "json_path", type=click.Path(), help="Write the full results as JSON.")
@click.option("--markdown", "markdown_path", type=click.Path(), help="Write a Markdown table.")
@click.option("--per-image", is_flag=True, help="Also print per-image figures.")
@click.option("--backend", type=click.Choice(["torch", "onnxruntime", "auto"]),
              help="How trained models run (default torch; onnxruntime for a quantized "
                   "package); recorded in the JSON report.")
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16", "auto"]), default="fp32",
              show_default=True, help="Trained models' precision, as in `restore`; recorded "
                                      "in the JSON report.")
def evaluate(task, data, method_list, sigma, scale, quality, kernel, mask_kind, color, seed, limit,
             json_path, markdown_path, per_image, backend, precision) -> None:
    """Degrade every image of a folder reproducibly, restore it with each method, measure.

    \b
    Example: pixelsmith evaluate --task denoise --data test/Set12 --methods bm3d,tv --sigma 25
    """
    import json

    from pixelsmith.evaluate.protocol import (
        EvalParams,
        evaluate,
        mixed_channels_warning,
        resolve_data,
        to_markdown,
    )
    from pixelsmith.io import atomic_write_text
    from pixelsmith.restoration.registry import general_methods

    data = resolve_data(data)
    if method_list:
        names = [m.strip() for m in method_list.split(",") if m.strip()]
    else:  # VAEs know one kind of image: name them with --methods
        names = [n for n, m in general_methods(task).items() if m.available()]
    params = EvalParams(task=task, sigma=sigma, scale=scale, quality=quality, kernel=kernel,
                        mask_kind=mask_kind, seed=seed, color=color)
    report = evaluate(data, task, names, params, limit=limit, backend=backend,
                      precision=precision)
    table = to_markdown(report, per_image=per_image)
    click.echo(table)
    warning = mixed_channels_warning(report)
    if warning:
        click.echo(warning, err=True)
    if json_path:
        atomic_write_text(json_path, json.dumps(report, indent=2) + "\n")
    if markdown_path:
        atomic_write_text(markdown_path, table)


@cli.command()
@click.option("-o", "--output", default="demo-output", show_default=True, type=click.Path(),
              help="Folder for the page and its images.")
@click.option("--seed", type=int, default=0, show_default=True)
def demo(output, seed) -> None:
    """Degrade three photographs several ways, restore them with every method, write a page."""
    from pixelsmith.evaluate.demo import run_demo
    from pixelsmith.io import check_output_folder

    page = run_demo(check_output_folder(output), seed=seed)
    click.echo(str(page.resolve()))


@cli.command()
@click.argument("recipe", required=False, type=click.Path())
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a recipe field, e.g. --set optim.lr=1e-4 (repeatable).")
@click.option("--output", type=click.Path(), help="Run folder (default: the recipe's output).")
@click.option("--resume", "resume_dir", type=click.Path(),
              help="Continue the run in this folder from its last checkpoint.")
@click.option("--max-steps", type=click.IntRange(min=1), help="Stop after N steps (smoke runs).")
@click.option("--device", help="cpu, cuda or cuda:N (default: cuda when available).")
@click.option("--nproc", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes on this machine (DDP through torchrun).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--validate-only", is_flag=True,
              help="Validate the recipe's init model with the recipe's validation and print "
                   "the figures; trains and writes nothing.")
def train(recipe, overrides, output, resume_dir, max_steps, device, nproc, quiet,
          validate_only) -> None:
    """Train a model from a YAML recipe; Ctrl-C saves a checkpoint to resume from.

    \b
    Examples:
      pixelsmith train configs/denoise-gray.yaml --set optim.lr=1e-4 --output runs/x
      pixelsmith train configs/denoise-gray.yaml --max-steps 20      # quick smoke run
      pixelsmith train --resume runs/x                                # continue after a kill
      pixelsmith train configs/denoise-gray.yaml --nproc 2            # DDP on 2 processes
      pixelsmith train configs/denoise-gray.yaml --validate-only --set init=models/mine
    """
    from pixelsmith.train.run import launch_processes, train_command, validate_command

    if validate_only:
        validate_command(recipe, list(overrides), device)
        return

    options = {"recipe": recipe, "overrides": list(overrides), "output": output,
               "resume_dir": resume_dir, "max_steps": max_steps, "device": device, "quiet": quiet}
    if nproc > 1:
        sys.exit(launch_processes(nproc, **options))
    train_command(**options)


@cli.command("export-model")
@click.argument("run_dir", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(),
              help="Model folder to write (config.json + model.safetensors).")
@click.option("--checkpoint", default="best", show_default=True,
              help="Which checkpoint of the run: best, last, or the step of a snapshot "
                   "kept by train.keep_every (e.g. 5000).")
@click.option("--raw", is_flag=True, help="Export the raw weights even when EMA weights exist.")
def export_model(run_dir, output, checkpoint, raw) -> None:
    """Turn a training run into a model folder that `restore --method PATH` and load_model use."""
    from pixelsmith.io import check_output_folder
    from pixelsmith.train.export import export_run

    check_output_folder(output)
    path = export_run(Path(run_dir), Path(output), checkpoint=checkpoint, use_ema=not raw)
    click.echo(str(path))


@cli.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--output", required=True,
              help="Output .pxs file, or folder for several inputs.")
@click.option("--quality", type=click.IntRange(1, 4),
              help="1 (smallest files) to 4 (best images): the shipped model codec-qQ "
                   "(default 3).")
@click.option("--model", metavar="NAME|FOLDER",
              help="A codec model folder (from export-model) or shipped name, instead of "
                   "--quality: e.g. codec-cb-q1 .. codec-cb-q6, the checkerboard context "
                   "models (fewer bits for the same quality, 0.18-1.05 bits per pixel on "
                   "Kodak24).")
@click.option("--refine", "refine_steps", type=click.IntRange(0, 100000), default=0,
              show_default=True, metavar="STEPS",
              help="Tune the latents to each image with this many gradient steps before "
                   "coding (100 is a good choice): typically 5-10% fewer bits for the same PSNR, "
                   "about 0.2 s per step for a 768x512 photo on 2 CPU cores. Decoding is "
                   "unchanged.")
@max_pixels_option
@skip_existing_option
@quiet_option
def compress(inputs, output, quality, model, refine_steps, max_pixels, skip_existing,
             quiet) -> None:
    """Compress images to .pxs files with a learned codec (one file, several, or folders).

    \b
    Examples:
      pixelsmith compress photo.png -o photo.pxs --quality 2
      pixelsmith compress photo.png -o photo.pxs --quality 2 --refine 100
      pixelsmith compress photo.png -o photo.pxs --model codec-cb-q2
      pixelsmith compress photos/ -o packed/ --model models/codec-q3
    """
    from pixelsmith.cli.batch import finish, run_jobs
    from pixelsmith.cli.codec_files import compress_file, plan_compress
    from pixelsmith.cli.ranks import RankShare
    from pixelsmith.cli.report import Reporter
    from pixelsmith.codec.api import resolve_codec
    from pixelsmith.zoo.config import config_of

    jobs = plan_compress(list(inputs), output)
    share = RankShare.from_env()  # under torchrun: this rank's share of the files
    jobs = share.take(jobs) if share else jobs
    codec = resolve_codec(model, quality)
    name = config_of(codec).name or str(model)
    reporter = Reporter(quiet)
    refined = f", {refine_steps} refinement steps" if refine_steps else ""

    def work(job) -> str:
        size, pixels = compress_file(codec, job.source, job.target, max_pixels, refine_steps,
                                     progress=len(jobs) == 1 and reporter.bars)
        return f"{name}{refined}, {size} bytes, {8 * size / pixels:.3f} bits per pixel"

    outcome = run_jobs(jobs, work, "compress", reporter=reporter, skip_existing=skip_existing,
                       keep_going=share is not None)
    if share:
        outcome = share.gather(outcome, output, reporter, unit="files")
    finish(outcome, output, reporter, unit="files")


@cli.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--output", required=True,
              help="Output image (.png, .tif, ...), or folder for several inputs.")
@click.option("--model", metavar="NAME|FOLDER",
              help="The codec model folder the files were made with (default: the shipped "
                   "model named in each file).")
@max_pixels_option
@skip_existing_option
@quiet_option
def decompress(inputs, output, model, max_pixels, skip_existing, quiet) -> None:
    """Decode .pxs files to images (one file, several, or folders of .pxs files).

    \b
    Examples:
      pixelsmith decompress photo.pxs -o photo.png
      pixelsmith decompress packed/ -o unpacked/ --model models/codec-q3
    """
    from pixelsmith.cli.batch import finish, run_jobs
    from pixelsmith.cli.codec_files import decompress_file, plan_decompress
    from pixelsmith.cli.ranks import RankShare
    from pixelsmith.cli.report import Reporter
    from pixelsmith.codec.api import load_codec

    jobs = plan_decompress(list(inputs), output)
    share = RankShare.from_env()  # under torchrun: this rank's share of the files
    jobs = share.take(jobs) if share else jobs
    codec = load_codec(model) if model else None
    reporter = Reporter(quiet)

    def work(job) -> str:
        used = decompress_file(job.source, job.target, codec, max_pixels)
        return f"decoded with {model or used}" + ("" if model else " (named in the file)")

    outcome = run_jobs(jobs, work, "decompress", reporter=reporter, skip_existing=skip_existing,
                       keep_going=share is not None)
    finish(share.gather(outcome, output, reporter) if share else outcome, output, reporter)


register_synthesis(cli)  # generate, reconstruct, interpolate, traverse (pixelsmith.cli.synthesis)
cli.add_command(serve)  # the local web app (pixelsmith.cli.serve; FastAPI loads when it runs)
cli.add_command(explain_command, "explain")  # pixelsmith.cli.explain (imports only click)
register_deploy(cli)  # export-onnx, quantize, prune (pixelsmith.deploy.commands)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning user errors into one line on stderr and exit code 2."""
    from pixelsmith.cli.report import warnings_as_lines

    try:
        with warnings_as_lines():
            cli.main(args=argv, prog_name="pixelsmith", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("pixelsmith: interrupted", err=True)
        sys.exit(130)
    except PixelsmithError as exc:
        click.echo(f"pixelsmith: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("pixelsmith: interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
