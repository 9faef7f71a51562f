"""The demo: degrade natural photographs in several ways, restore them with every available
method (but the VAEs, which know only digits or faces), and write an HTML page comparing them,
with a before/after slider per image (the first thing a new user runs).

The photographs are public-domain / CC0 images that scikit-image bundles (astronaut, Chelsea
the cat, the camera man), cropped and written into the output folder at run time; the project
ships none of them. The synthetic bundled samples (``samples=SAMPLES``) favour BM3D by design.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch

from pixelsmith.degrade.known import Known
from pixelsmith.evaluate.protocol import (
    EvalParams,
    image_generator,
    make_case,
    run_and_score,
    score,
)
from pixelsmith.evaluate.report import Cell, Row, Section, write_page
from pixelsmith.io import list_images, output_folder, read_image, save_image
from pixelsmith.restoration.registry import default_choice, general_methods
from pixelsmith.restoration.restorer import Restorer
from pixelsmith.zoo import shipped_models

SAMPLES = Path(__file__).parent / "samples"

#: One degradation per task, strong enough that the differences between methods show.
DEMO_CASES = (
    EvalParams(task="denoise", sigma=25.0),
    EvalParams(task="deblur", sigma=2.55, kernel="motion:17"),
    EvalParams(task="inpaint", mask_kind="strokes"),
    EvalParams(task="sr", scale=4),
    EvalParams(task="dejpeg", quality=10),
)


#: scikit-image's photographs (name, top, left): 256x256 crops, two colour and one gray.
PHOTOS = (("astronaut", 20, 130), ("chelsea", 22, 120), ("camera", 60, 150))
CROP = 256


def natural_photos(folder: Path) -> Path:
    """Write the :data:`PHOTOS` crops as PNG files into ``folder`` and return it."""
    from skimage import data

    output_folder(folder)
    for name, top, left in PHOTOS:
        pixels = getattr(data, name)()[top:top + CROP, left:left + CROP]
        array = pixels.astype("float32") / 255.0
        tensor = torch.from_numpy(array if array.ndim == 3 else array[:, :, None])
        save_image(folder / f"{name}.png", tensor.permute(2, 0, 1)[None])
    return folder


def run_demo(output: Path, seed: int = 0, samples: Path | None = None) -> Path:
    """Run every demo case on ``samples`` (default: scikit-image's photographs, see
    :func:`natural_photos`); write images and ``index.html`` under ``output``."""
    from tqdm import tqdm

    files = list_images(samples if samples is not None else natural_photos(output / "photos"))
    images_dir = output / "images"
    sections: list[Section] = []
    cases = [EvalParams(**{**case.__dict__, "seed": seed}).resolved() for case in DEMO_CASES]
    plan = [(case, [m for m in general_methods(case.task).values()
                    if m.available() and m.fits(Known(scale=case.scale))])
            for case in cases]
    total = sum(len(methods) for _, methods in plan) * len(files)
    bar = tqdm(total=total, desc="demo", unit="restore", dynamic_ncols=True)
    for case, methods in plan:
        restorers = {m.name: Restorer(case.task, m.name) for m in methods}
        section = Section(title=case.task, params=case.public(), rows=[], footnote=DEFAULT_NOTE)
        for index, path in enumerate(files):
            clean = read_image(path)
            reference, degraded, known = make_case(clean, case, image_generator(seed, index))
            stem = f"{case.task}-{path.stem}"
            row = Row(name=path.stem, cells=[
                Cell("clean", _save(images_dir / f"{stem}-clean.png", reference, output)),
                Cell("degraded", _save(images_dir / f"{stem}-degraded.png", degraded, output),
                     *_maybe_score(degraded, reference, case)),
            ])
            channels = int(degraded.shape[1])
            results = {}
            for name, restorer in restorers.items():
                bar.set_postfix_str(f"{case.task}/{name}/{path.stem}")
                restored, seconds, (value_psnr, value_ssim) = run_and_score(
                    restorer, degraded, known, reference, case)
                results[name] = Cell(
                    name, _save(images_dir / f"{stem}-{name}.png", restored, output),
                    value_psnr, value_ssim, seconds, note=_kind_mismatch(name, channels))
                bar.update(1)
            default = _default_cell(case.task, channels, known, results)
            row.cells.extend([default] if default is not None else [])
            row.cells.extend(results.values())
            section.rows.append(row)
        sections.append(section)
    bar.close()
    return write_page(output / "index.html", "pixelsmith demo", sections, slider=True)


DEFAULT_NOTE = ("default: the method `pixelsmith restore` picks for each image when none is "
                "given (the gray model for gray images, the colour model for colour ones). A "
                "model run on an image of the other kind is marked under its image.")


def _default_cell(task: str, channels: int, known: Known,
                  results: dict[str, Cell]) -> Cell | None:
    """The result a user gets without choosing a method: that method's cell, labelled (None
    where the default did not run here, e.g. an optional package is missing)."""
    name = default_choice(task, channels, known)[0]
    chosen = results.get(name)
    if chosen is None:
        return None
    return Cell("default", chosen.src, chosen.psnr, chosen.ssim, chosen.seconds, note=f"= {name}")


@functools.cache
def _shipped_channels() -> dict[str, int]:
    """Each shipped model's channel count, read from the zoo index once (not per cell)."""
    return {name: int(info["channels"]) for name, info in shipped_models().items()
            if "channels" in info}


def _kind_mismatch(name: str, channels: int) -> str | None:
    """A remark when a shipped model of one channel count runs on an image of another."""
    expected = _shipped_channels().get(name)
    if expected is None or expected == channels:
        return None
    return "colour model on a gray image" if channels == 1 else "gray model, channel by channel"


def _save(path: Path, pixels, root: Path) -> str:
    save_image(path, pixels)
    return str(path.relative_to(root))


def _maybe_score(degraded, reference, case: EvalParams) -> tuple[float | None, float | None]:
    """Scores of the degraded input itself, where it has the reference's size."""
    if degraded.shape != reference.shape:
        return None, None
    return score(degraded, reference, case)
