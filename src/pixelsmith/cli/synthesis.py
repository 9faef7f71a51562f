"""``pixelsmith generate | reconstruct | interpolate | traverse``: latent-space synthesis with
autoencoders, VAEs and GAN generators (shipped zoo names or folders from ``export-model``).

Only click is imported here; torch and the models load when a command runs. Numbers are read
as text and checked here, so a bad value is a one-line error (exit code 2) like any other bad
input, and every image is written through a temporary file and a rename.
"""

from __future__ import annotations

import math
from pathlib import Path

import click

from pixelsmith.cli.options import quiet_option, skip_existing_option
from pixelsmith.errors import PixelsmithError

method_option = click.option(
    "--method", required=True, metavar="NAME|FOLDER",
    help="A shipped model (e.g. vae-mnist) or a model folder written by `pixelsmith export-model`.",
)
device_option = click.option(
    "--device", metavar="DEVICE", help="cpu, cuda or cuda:N (default: cuda when available).",
)
padding_option = click.option(
    "--padding", default="2", show_default=True, metavar="PX",
    help="Pixels of white between the images of the grid and around it.",
)


# -- checked values -----------------------------------------------------------------------------

def parse_int(option: str, text: str | int, minimum: int | None = None) -> int:
    """An integer option's value, or a one-line error naming the option."""
    try:
        value = int(str(text).strip())
    except ValueError:
        raise PixelsmithError(f"{option} must be an integer, not '{text}'") from None
    if minimum is not None and value < minimum:
        raise PixelsmithError(f"{option} must be at least {minimum}, not {value}")
    return value


def parse_float(option: str, text: str | float, positive: bool = False) -> float:
    """A finite number (>= 0, or > 0 when ``positive``), or a one-line error."""
    try:
        value = float(str(text).strip())
    except ValueError:
        raise PixelsmithError(f"{option} must be a number, not '{text}'") from None
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise PixelsmithError(f"{option} must be a finite number {bound}, not {text}")
    return value


def parse_dims(text: str) -> list[int]:
    """Latent dimensions from '0-9', '3' or '0,2,5-7' (ranges include both ends)."""
    dims: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        low, dash, high = part.partition("-")
        try:
            first = int(low)
            last = int(high) if dash else first
        except ValueError:
            raise PixelsmithError(f"--dims: '{part}' is not a dimension or a range like 0-9 "
                                  "(dimensions count from 0)") from None
        if last < first:
            raise PixelsmithError(f"--dims: the range '{part}' runs backwards")
        dims.extend(range(first, last + 1))
    return dims


def parse_seeds(text: str) -> tuple[int, int]:
    """Two seeds from 'A,B'."""
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != 2:
        raise PixelsmithError(f"--seeds takes two seeds as A,B, not '{text}'")
    first, second = (parse_int("--seeds", p, minimum=0) for p in parts)
    return first, second


def _check_image_output(path: str) -> None:
    from pixelsmith.io import output_format

    output_format(path)
    if Path(path).is_dir():
        raise PixelsmithError(f"{path}: is a folder; -o takes an image file such as grid.png")


def _load(method: str, device: str | None):
    from pixelsmith.runtime.device import resolve_device
    from pixelsmith.synthesis import model_kind
    from pixelsmith.zoo import load_model

    model = load_model(method, device=resolve_device(device))
    model_kind(model)  # a restoration or codec model is refused before any work
    return model


def _note(message: str) -> None:
    click.echo(f"pixelsmith: note: {message}", err=True)


def _save_grid(path: str, images, nrow: int, padding: int) -> None:
    from pixelsmith.io import save_image
    from pixelsmith.synthesis import image_grid

    save_image(path, image_grid(images, nrow=nrow, padding=padding))


# -- commands -----------------------------------------------------------------------------------

@click.command()
@method_option
@click.option("-n", "count", default="64", show_default=True, metavar="N",
              help="How many images.")
@click.option("--seed", default="0", show_default=True, metavar="S",
              help="Seed of the latents: the same seed and -n give the same images.")
@click.option("--temperature", default="1.0", show_default=True, metavar="T",
              help="Latents z ~ N(0, T^2 I): below 1 for typical images, above for variety.")
@click.option("-o", "--output", metavar="FILE", help="One grid image with every sample.")
@click.option("--out-dir", metavar="DIR", help="One PNG per sample instead: DIR/0000.png ...")
@click.option("--nrow", metavar="N", help="Images per grid row (default: a square grid).")
@padding_option
@device_option
@quiet_option
def generate(method, count, seed, temperature, output, out_dir, nrow, padding, device,
             quiet) -> None:
    """Sample images from a VAE or a GAN generator, as a grid or one file each.

    Images are decoded in chunks (with a progress bar for many), and with --out-dir each chunk
    is written as it comes, so memory does not grow with -n.

    \b
    Examples:
      pixelsmith generate --method vae-mnist -n 64 --seed 0 -o samples.png
      pixelsmith generate --method models/my-gan -n 1000 --out-dir fakes/ --temperature 0.8
    """
    import time

    import torch

    from pixelsmith.cli.report import Reporter
    from pixelsmith.io import check_output_folder
    from pixelsmith.synthesis import CHUNK, decode, draw_latents, require_kind

    count = parse_int("-n", count, minimum=1)
    seed = parse_int("--seed", seed, minimum=0)
    temperature = parse_float("--temperature", temperature)
    padding = parse_int("--padding", padding, minimum=0)
    nrow = math.ceil(math.sqrt(count)) if nrow is None else parse_int("--nrow", nrow, minimum=1)
    if (output is None) == (out_dir is None):
        raise PixelsmithError("give either -o FILE (one grid) or --out-dir DIR (one file each)")
    if output is not None:
        _check_image_output(output)
    else:
        check_output_folder(out_dir)
    start = time.perf_counter()
    model = _load(method, device)
    require_kind(model, "generate")
    reporter = Reporter(quiet)
    # the latents of all n images are drawn at once, as synthesis.generate does: the same
    # seed and -n give the same images, decoded here chunk by chunk
    latents = draw_latents(count, model.latent_dim, seed, temperature)
    progress = reporter.progress("generate", "image", minimum=2 if out_dir else CHUNK + 1)
    what = f"{count} sample{'s' * (count > 1)} of {Path(method).name}, seed {seed}" + (
        f", temperature {temperature:g}" if temperature != 1.0 else "")
    chunks = []
    try:
        if output is None:
            from pixelsmith.io import save_image

            width = max(4, len(str(count - 1)))
        for first in range(0, count, CHUNK):
            images = decode(model, latents[first:first + CHUNK])
            if output is None:
                for offset in range(len(images)):
                    save_image(Path(out_dir) / f"{first + offset:0{width}d}.png",
                               images[offset:offset + 1])
                    progress(first + offset + 1, count)
            else:
                chunks.append(images)
                progress(first + len(images), count)
    finally:
        progress.close()
    if output is not None:
        _save_grid(output, torch.cat(chunks), nrow, padding)
    reporter.output(output or out_dir, what, time.perf_counter() - start)


@click.command()
@method_option
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--output", required=True, help="Output file, or folder for several inputs.")
@device_option
@click.option("--max-pixels", default="100000000", show_default=True, metavar="N",
              help="Refuse images larger than this many pixels.")
@skip_existing_option
@quiet_option
def reconstruct(method, inputs, output, device, max_pixels, skip_existing, quiet) -> None:
    """Encode and decode images with an autoencoder or VAE (one file, several, or folders).

    Inputs are converted to the model's channels and resized (aspect kept, center crop) to its
    size; the reconstruction has the model's size.

    \b
    Examples:
      pixelsmith reconstruct --method vae-mnist digit.png -o digit-rec.png
      pixelsmith reconstruct --method ae-cifar10 photos/ -o reconstructed/
      pixelsmith reconstruct --method ae-cifar10 photos/ -o reconstructed/ --skip-existing
    """
    from pixelsmith.cli.batch import finish, plan_outputs, run_jobs
    from pixelsmith.cli.report import Reporter
    from pixelsmith.io import output_format, read_image, save_image
    from pixelsmith.synthesis import fit_image, require_kind
    from pixelsmith.synthesis import reconstruct as reconstruct_images

    max_pixels = parse_int("--max-pixels", max_pixels, minimum=1)
    jobs = plan_outputs(list(inputs), output)
    for job in jobs:
        output_format(job.target)
    model = _load(method, device)
    require_kind(model, "encode")
    several = len(jobs) > 1
    notes: list[str] = []

    def work(job) -> str:
        pixels = fit_image(model, read_image(job.source, max_pixels=max_pixels),
                           note=notes.append if several else _note, name=str(job.source))
        save_image(job.target, reconstruct_images(model, pixels))
        return f"reconstructed by {Path(method).name}"

    reporter = Reporter(quiet)
    outcome = run_jobs(jobs, work, f"reconstruct ({Path(method).name})", reporter=reporter,
                       skip_existing=skip_existing)
    if several and notes:
        _note(f"{len(notes)} of {len(jobs)} inputs were converted or resized to fit the "
              f"{model.channels}-channel {model.image_size}x{model.image_size} model")
    finish(outcome, output, reporter)


@click.command()
@method_option
@click.argument("images", nargs=-1)
@click.option("--seeds", metavar="A,B", help="Interpolate between the latents of two seeds "
              "(VAE or GAN generator) instead of two images.")
@click.option("--steps", default="8", show_default=True, metavar="N",
              help="Images along the path, both ends included.")
@click.option("--temperature", default="1.0", show_default=True, metavar="T",
              help="With --seeds: latents z ~ N(0, T^2 I).")
@click.option("-o", "--output", required=True, metavar="FILE", help="The strip (or grid) image.")
@click.option("--nrow", metavar="N", help="Images per row (default: all in one row).")
@padding_option
@device_option
@quiet_option
def interpolate(method, images, seeds, steps, temperature, output, nrow, padding,
                device, quiet) -> None:
    """Walk the latent space between two images (autoencoder, VAE) or two seeds (VAE, GAN).

    Autoencoders interpolate linearly; VAEs and GANs along the arc between the codes (slerp),
    which keeps every step as typical of the prior as the ends.

    \b
    Examples:
      pixelsmith interpolate --method vae-mnist three.png seven.png --steps 8 -o strip.png
      pixelsmith interpolate --method models/my-gan --seeds 3,7 --steps 10 -o strip.png
    """
    import time

    from pixelsmith.cli.report import Reporter
    from pixelsmith.synthesis import interpolate as interpolate_images
    from pixelsmith.synthesis import interpolate_seeds, require_kind

    if seeds is not None and images:
        raise PixelsmithError("give two images or --seeds A,B, not both")
    if seeds is None and len(images) != 2:
        raise PixelsmithError(f"give two images to interpolate between (got {len(images)}), "
                              "or --seeds A,B")
    steps = parse_int("--steps", steps, minimum=2)
    padding = parse_int("--padding", padding, minimum=0)
    nrow = steps if nrow is None else parse_int("--nrow", nrow, minimum=1)
    temperature = parse_float("--temperature", temperature)
    pair = parse_seeds(seeds) if seeds is not None else None
    for image in images:
        if not Path(image).is_file():
            raise PixelsmithError(f"{image}: no such file")
    _check_image_output(output)
    start = time.perf_counter()
    model = _load(method, device)
    if pair is not None:
        require_kind(model, "generate")
        strip = interpolate_seeds(model, *pair, steps=steps, temperature=temperature)
    else:
        require_kind(model, "encode")
        strip = interpolate_images(model, images[0], images[1], steps=steps, note=_note)
    _save_grid(output, strip, nrow, padding)
    ends = f"seeds {pair[0]} and {pair[1]}" if pair is not None else " and ".join(images)
    Reporter(quiet).output(output, f"{steps} steps between {ends} with {Path(method).name}",
                           time.perf_counter() - start)


@click.command()
@method_option
@click.option("--dims", metavar="LIST", help="Latent dimensions, one row each: 0-9, 3 or "
              "0,2,5-7 (default: the first 10).")
@click.option("--range", "extent", default="3", show_default=True, metavar="R",
              help="Each row sweeps its dimension from -R to R (prior standard deviations).")
@click.option("--steps", default="9", show_default=True, metavar="N",
              help="Columns: values from -R to R.")
@click.option("--seed", metavar="S", help="Start from this seed's latent (VAE, GAN).")
@click.option("--image", metavar="FILE", help="Start from this image's code (autoencoder, VAE).")
@click.option("--temperature", default="1.0", show_default=True, metavar="T",
              help="With --seed: the latent is z ~ N(0, T^2 I).")
@click.option("-o", "--output", required=True, metavar="FILE", help="The grid image.")
@padding_option
@device_option
@quiet_option
def traverse(method, dims, extent, steps, seed, image, temperature, output, padding,
             device, quiet) -> None:
    """Latent traversal: one row per dimension, set from -R to R, the others held at a base code.

    The base is the prior mean (the default), a seed's latent (--seed) or an image's code
    (--image; needed for a plain autoencoder, whose code has no prior scale).

    \b
    Examples:
      pixelsmith traverse --method vae-mnist --dims 0-9 -o traversal.png
      pixelsmith traverse --method vae-mnist --dims 0,3 --image digit.png --range 2 -o t.png
    """
    import time

    import torch

    from pixelsmith.cli.report import Reporter
    from pixelsmith.synthesis import traverse as traverse_grid

    if seed is not None and image is not None:
        raise PixelsmithError("give --seed or --image as the base, not both")
    extent = parse_float("--range", extent, positive=True)
    steps = parse_int("--steps", steps, minimum=2)
    padding = parse_int("--padding", padding, minimum=0)
    temperature = parse_float("--temperature", temperature)
    base = parse_int("--seed", seed, minimum=0) if seed is not None else image
    chosen = parse_dims(dims) if dims is not None else None
    if image is not None and not Path(image).is_file():
        raise PixelsmithError(f"{image}: no such file")
    _check_image_output(output)
    start = time.perf_counter()
    model = _load(method, device)
    if chosen is None:
        chosen = list(range(min(10, int(model.latent_dim))))
    values = torch.linspace(-extent, extent, steps)
    grid = traverse_grid(model, chosen, values, base, temperature=temperature, padding=padding,
                         note=_note)
    from pixelsmith.io import save_image

    save_image(output, grid)
    Reporter(quiet).output(output, f"{len(chosen)} dimensions of {Path(method).name}, "
                           f"-{extent:g} to {extent:g}", time.perf_counter() - start)


COMMANDS = (generate, reconstruct, interpolate, traverse)


def register_synthesis(group: click.Group) -> None:
    """Add the synthesis commands to the ``pixelsmith`` group."""
    for command in COMMANDS:
        group.add_command(command)
