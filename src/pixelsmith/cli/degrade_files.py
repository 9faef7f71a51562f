"""Degrade one image file: the work behind ``pixelsmith degrade``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from pixelsmith.errors import PixelsmithError
from pixelsmith.io import atomic_output, atomic_write_text, load_image, save_image


def degrade_file(
    source: Path,
    target: Path,
    *,
    index: int,
    seed: int,
    blur: str | None = None,
    downsample: int | None = None,
    mask: str | None = None,
    noise: str | None = None,
    jpeg: int | None = None,
    save_mask: Path | None = None,
    save_kernel: Path | None = None,
    max_pixels: int,
    realistic: int | None = None,
    save_params: Path | None = None,
    shake: bool = False,
) -> None:
    """Apply blur -> downsample -> mask -> noise -> JPEG to ``source`` and write ``target``;
    or, with ``realistic`` (a scale, 1 or 4), a random realistic chain instead (its draw goes
    to ``save_params`` as JSON), started by camera shake with ``shake``.

    The random draws (motion kernel, mask, noise) come from a generator seeded by (seed, index),
    so re-running the same command gives the same files.
    """
    from pixelsmith import degrade as dg
    from pixelsmith.evaluate.protocol import image_generator
    from pixelsmith.io import output_format

    output_format(target)  # reject an unwritable suffix before doing any work
    image = load_image(source, max_pixels=max_pixels)
    generator = image_generator(seed, index)
    x = image.pixels
    alpha = image.alpha
    kernel = mask_tensor = params = None
    if realistic is not None:
        x, alpha, params = _realistic(x, alpha, realistic, generator, shake)
    if blur:
        operator, kernel = dg.parse_blur(blur, generator)
        x = operator(x)
    if downsample:
        x = dg.parse_downsample(downsample)(x)
        if alpha is not None:
            alpha = dg.parse_downsample(downsample)(alpha).clamp(0, 1)
    if mask:
        operator, mask_tensor = dg.parse_mask(mask, tuple(x.shape[-2:]), generator)
        x = operator(x)
    if noise:
        x = dg.parse_noise(noise)(x, generator)
    quality = 95
    if jpeg and output_format(target) == "JPEG":
        quality = jpeg  # the file itself is the JPEG at that quality, not a re-encoding of it
    elif jpeg:
        x = dg.parse_jpeg(jpeg)(x.clamp(0, 1))
    save_image(target, x, alpha=alpha, bit_depth=image.bit_depth, quality=quality)
    if save_mask is not None and mask_tensor is not None:
        save_image(save_mask, mask_tensor)
    if save_kernel is not None and kernel is not None:
        write_kernel(save_kernel, kernel)
    if save_params is not None and params is not None:
        atomic_write_text(save_params, json.dumps(params, indent=1) + "\n")


def realistic_scale_option(realistic: bool, scale: str | None, save_params: str | None,
                           others: tuple, shake: bool = False) -> int | None:
    """The realistic model's scale from ``degrade``'s options, None without ``--realistic``;
    one-line errors for a bad scale or options that do not go together."""
    from pixelsmith.degrade.realistic import parse_realistic_scale

    if not realistic:
        if scale is not None or save_params is not None or shake:
            raise PixelsmithError("--scale, --shake and --save-params need --realistic")
        return None
    if any(others):
        raise PixelsmithError("--realistic draws its own degradations: drop --blur, "
                              "--downsample, --mask, --noise and --jpeg")
    return parse_realistic_scale(scale)


def _realistic(x: torch.Tensor, alpha: torch.Tensor | None, scale: int,
               generator: torch.Generator, shake: bool = False
               ) -> tuple[torch.Tensor, torch.Tensor | None, dict]:
    """A realistic draw applied to the image (alpha resized to match), started by camera
    shake with ``shake``: (x, alpha, draw)."""
    from pixelsmith.degrade import imresize
    from pixelsmith.degrade.realistic import RealisticDegradation

    model = RealisticDegradation(scale, shake=1.0 if shake else 0.0)
    y, draws = model.apply_with_params(x, generator)
    if alpha is not None and scale > 1:
        alpha = imresize(alpha, size=model.output_size(*x.shape[-2:])).clamp(0, 1)
    return y, alpha, draws[0]


def write_kernel(path: Path, kernel: torch.Tensor) -> None:
    """Save a kernel exactly as .npy, or as a PNG scaled to its maximum (read back normalised)."""
    path = Path(path)
    k = kernel.detach().double().cpu().numpy()
    if path.suffix.lower() == ".npy":
        with atomic_output(path) as tmp, open(tmp, "wb") as handle:
            np.save(handle, k)
    elif path.suffix.lower() == ".png":
        save_image(path, torch.from_numpy(k / k.max()).float()[None, None], bit_depth=16)
    else:
        raise PixelsmithError(f"{path}: a kernel is saved as .npy or .png")
