"""Compress and decompress files: the work behind ``pixelsmith compress`` and ``decompress``.

Outputs are written through a temporary file and a rename, so a failure never leaves a
partial file; in a batch one bad file is reported on one line and the others go on
(:func:`pixelsmith.cli.batch.run_jobs`).
"""

from __future__ import annotations

from pathlib import Path

from pixelsmith.cli.batch import Job, plan_outputs
from pixelsmith.codec.api import compress, decompress
from pixelsmith.codec.models import Codec
from pixelsmith.errors import PixelsmithError
from pixelsmith.io import atomic_write_bytes, load_image, output_format, save_image

SUFFIX = ".pxs"
MAX_FILE_BYTES = 1 << 30  # a .pxs of a 100-megapixel image is far below this


def plan_compress(inputs: list[str], output: str) -> list[Job]:
    """Images -> .pxs paths (one file: ``output`` itself; else files in the ``output`` folder)."""
    jobs = plan_outputs(inputs, output, suffix=SUFFIX)
    if len(jobs) == 1 and jobs[0].target.suffix.lower() != SUFFIX:
        raise PixelsmithError(f"{jobs[0].target}: compressed files end in {SUFFIX}")
    return jobs


def plan_decompress(inputs: list[str], output: str, suffix: str = ".png") -> list[Job]:
    """.pxs files (or folders of them) -> image paths, as :func:`plan_outputs` pairs images."""
    if not inputs:
        raise PixelsmithError("no input given")
    if len(inputs) == 1 and Path(inputs[0]).is_file():
        source, target = Path(inputs[0]), Path(output)
        if target.is_dir():
            target = target / (source.stem + suffix)
        output_format(target)
        return [Job(source, target)]
    out_dir = Path(output)
    if out_dir.exists() and not out_dir.is_dir():
        raise PixelsmithError(f"{out_dir}: several inputs need -o to be a folder, not a file")
    jobs = []
    for item in inputs:
        root = Path(item)
        if root.is_dir():
            found = sorted(p for p in root.rglob(f"*{SUFFIX}") if p.is_file())
            jobs += [Job(p, out_dir / p.relative_to(root).parent / (p.stem + suffix))
                     for p in found]
        elif root.is_file():
            jobs.append(Job(root, out_dir / (root.stem + suffix)))
        else:
            raise PixelsmithError(f"{root}: no such file or folder")
    if not jobs:
        raise PixelsmithError(f"no {SUFFIX} files found in {', '.join(inputs)}")
    if len({job.target for job in jobs}) != len(jobs):
        raise PixelsmithError("two inputs would be written to the same output name")
    return jobs


def compress_file(codec: Codec, source: Path, target: Path, max_pixels: int,
                  refine_steps: int = 0, progress: bool = False) -> tuple[int, int]:
    """Compress one image file to ``target``; returns (bytes written, pixels)."""
    image = load_image(source, max_pixels=max_pixels)
    try:
        data = compress(image.pixels, model=codec, max_pixels=max_pixels,
                        refine_steps=refine_steps, progress=progress)
    except PixelsmithError as exc:
        raise PixelsmithError(f"{source}: {exc}") from None
    atomic_write_bytes(target, data)
    height, width = image.size
    return len(data), height * width


def read_pxs(source: Path) -> bytes:
    """The bytes of a .pxs file (one-line errors for missing, empty or absurdly large files)."""
    if not source.is_file():
        raise PixelsmithError(f"{source}: no such file")
    size = source.stat().st_size
    if size == 0:
        raise PixelsmithError(f"{source}: file is empty")
    if size > MAX_FILE_BYTES:
        raise PixelsmithError(f"{source}: {size} bytes is too large for a .pxs file")
    return source.read_bytes()


def decompress_file(source: Path, target: Path, model: Codec | str | None,
                    max_pixels: int) -> str:
    """Decode one .pxs file to the image file ``target`` (format from its suffix); returns the
    name of the model written in the file."""
    from pixelsmith.codec.format import unpack

    output_format(target)
    data = read_pxs(source)  # its errors name the file already
    try:
        pixels = decompress(data, model=model, max_pixels=max_pixels)
    except PixelsmithError as exc:
        raise PixelsmithError(f"{source}: {exc}") from None
    save_image(target, pixels)
    return unpack(data, max_pixels)[0].model_name
