"""Restore one image file (read, restore, write with its metadata): the work behind
``pixelsmith restore`` and the web app's restore jobs, so both give the same bytes."""

from __future__ import annotations

from pathlib import Path

from pixelsmith.degrade.known import Known
from pixelsmith.io import image_metadata, load_image, output_format, save_image
from pixelsmith.restoration.restorer import (
    Restorer,
    kernel_input,
    mask_input,
    resolve_quality,
    resolve_sigma,
)

#: The standard-deviation map is written as a 16-bit PNG of 2 x std: a pixel's standard
#: deviation is value / 2 (white = 0.5, the largest a value in [0, 1] can have), so the map is
#: never clipped and reads back to 1e-5; std 0.1 shows as 20% grey.
STD_SCALE = 2.0
STD_SUFFIX = "_std.png"


def std_target(target: Path) -> Path:
    """Where the standard-deviation map of ``target`` goes: its stem + ``_std.png``."""
    return target.with_name(target.stem + STD_SUFFIX)


def restore_file(restorer: Restorer, source: Path, target: Path, options: dict,
                 max_pixels: int, std_path: Path | None = None, progress=None) -> Known:
    """Read ``source``, restore it with ``restorer`` and write ``target`` atomically.

    ``options`` holds the CLI values: ``sigma`` (0-255 or "auto": estimated from this image),
    ``quality`` (1-100 or "auto": read from this JPEG's tables), ``kernel``, ``mask``, ``scale``,
    ``strip_metadata`` (True: no ICC profile or EXIF copied from the input).
    Alpha is set aside and put back (resized with the image for super-resolution); the output
    keeps the input's bit depth where the output format allows it. Returns what was known, with
    any estimated sigma (in [0, 1] units) or quality filled in.

    With ``std_path`` (VAE methods), the output is the mean over the latent samples and their
    per-pixel standard deviation is written there too (:data:`STD_SCALE`). ``progress(done,
    total)`` is passed to the restorer (per tile of a trained model, per step and sample of a
    VAE); ``restorer.last_method`` then names the method that ran.
    """
    output_format(target)
    image = load_image(source, max_pixels=max_pixels)
    quality = options.get("quality")
    wants_quality = "quality" in restorer.method.needs or restorer.task == "photo"
    if quality is None and wants_quality and "quantization" in image.info:
        quality = "auto"  # a JPEG input tells its own quality
    known = Known(
        sigma=resolve_sigma(options.get("sigma"), image.pixels),
        kernel=kernel_input(options.get("kernel")),
        mask=mask_input(options.get("mask"), image.pixels.shape[-2:]),
        scale=options.get("scale"),
        quality=resolve_quality(quality, image.info, str(source)),
    )
    std = None
    if std_path is not None:
        restored, std = restorer.restore_with_std(image.pixels, known, progress)
    else:
        restored = restorer(image.pixels, known, progress)
    alpha = image.alpha
    if alpha is not None and alpha.shape[-2:] != restored.shape[-2:]:
        from pixelsmith.degrade.resize import imresize

        alpha = imresize(alpha, restored.shape[-1] / alpha.shape[-1]).clamp(0, 1)
    metadata = {} if options.get("strip_metadata") else image_metadata(image)
    save_image(target, restored, alpha=alpha, bit_depth=image.bit_depth, **metadata)
    if std is not None:
        save_image(std_path, (STD_SCALE * std).clamp(0.0, 1.0), bit_depth=16)
    return known
