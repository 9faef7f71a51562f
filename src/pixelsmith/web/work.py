"""What the web app can do, and doing it: checked options per task, and the job runner.

Restoration goes through :func:`pixelsmith.restoration.files.restore_file`, the same code as
``pixelsmith restore``, so a result downloaded from the page is byte for byte the file the
command writes. Methods and generators are chosen from pixelsmith's registries by name only (a
model folder path from a client is never accepted). Loaded restorers and models are cached.
"""

from __future__ import annotations

import math
import re
import threading
import time
from pathlib import Path

from pixelsmith.degrade.known import TASKS
from pixelsmith.errors import PixelsmithError
from pixelsmith.web import explaining
from pixelsmith.zoo.config import config_of

#: Tasks of the page: the restoration tasks, then the codec, the generators and explanations.
EXTRA_TASKS = ("compress", "decompress", "generate", "explain")
ALL_TASKS = (*TASKS, *EXTRA_TASKS)
GENERATOR_FAMILIES = ("vae", "gan")
MAX_SAMPLES = 64
SR_SCALES = (2, 3, 4)
DEFAULT_SR_SCALE = 4
KERNEL_FORMS = "blind (empty), gaussian:SIGMA (0.3-10) or disk:RADIUS (0.5-15)"

# file names inside a job's folder: fixed here, never taken from a client
INPUT, MASK, PREVIEW_IN = "input", "mask", "input.png"
RESULT_PNG, RESULT_PXS, DECODED = "result.png", "result.pxs", "decoded.png"
RESULT_STEM, PREVIEW_OUT = "result", "after.png"

#: Download formats of a restored image: ``input`` keeps the input's format where pixelsmith's
#: writer has it (TIFF, WebP); a JPEG input gives PNG unless JPEG is asked for by name, since
#: encoding the result as JPEG again loses quality; other inputs (PNG, BMP, ...) give PNG.
OUTPUT_FORMATS = ("png", "input", "jpeg", "tiff", "webp")
MEDIA_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "TIFF": "image/tiff",
               "WEBP": "image/webp"}


# -- what there is ----------------------------------------------------------------------------

def catalogue() -> dict:
    """Tasks, their methods (default first marked) and parameters, generators, codec levels:
    everything the page needs to build its choices, from pixelsmith's registries."""
    from pixelsmith.codec.api import DEFAULT_QUALITY, QUALITIES, _installed, shipped_name
    from pixelsmith.restoration.registry import default_method, task_methods

    tasks = {}
    for task in TASKS:
        methods = [{"name": m.name, "kind": m.kind, "summary": m.summary, "needs": list(m.needs),
                    "scale": m.scale}
                   for m in task_methods(task).values() if m.available()]
        tasks[task] = {"default": default_method(task), "methods": methods}
    return {
        "tasks": tasks,
        "generators": generators(),
        "codec": {"qualities": [q for q in QUALITIES if _installed(shipped_name(q))],
                  "default": DEFAULT_QUALITY, "models": codec_models(),
                  "default_model": shipped_name(DEFAULT_QUALITY)},
        "sr_scales": list(SR_SCALES),
        "default_sr_scale": DEFAULT_SR_SCALE,
        "kernel_forms": KERNEL_FORMS,
        "max_samples": MAX_SAMPLES,
        "output_formats": list(OUTPUT_FORMATS),
        "explain": explaining.catalogue(),
    }


#: How the page names each codec architecture next to a model's name.
CODEC_KINDS = {"codec-hyperprior": "hyperprior", "codec-checkerboard": "context model",
               "codec-ae": "fixed-rate baseline"}


def codec_models() -> list[dict]:
    """Installed shipped codec models with a label each: the hyperprior ladder, the
    checkerboard context ladder (fewer bits at the same quality, a wider range of rates), then
    the others, each ladder from the smallest files up."""
    from pixelsmith.codec.api import _installed
    from pixelsmith.zoo import ZOO, read_config, shipped_models

    found = []
    for name, info in shipped_models().items():
        if info.get("task") != "codec" or not _installed(name):
            continue
        network = read_config(ZOO / name).get("network", {})
        architecture = str(network.get("name", "codec"))
        kind = CODEC_KINDS.get(architecture, architecture)
        quality = int(network.get("args", {}).get("quality", 0))
        label = f"{name} ({kind}, quality {quality})" if quality else f"{name} ({kind})"
        order = list(CODEC_KINDS).index(architecture) if architecture in CODEC_KINDS else 99
        found.append((order, quality, {"name": name, "label": label}))
    return [entry for *_, entry in sorted(found, key=lambda item: item[:2])]


def generators() -> list[str]:
    """Shipped VAEs and GAN generators (zoo index family "vae" or "gan")."""
    from pixelsmith.zoo import shipped_models

    return [name for name, info in shipped_models().items()
            if info.get("task") in GENERATOR_FAMILIES]


# -- checking a request's options ------------------------------------------------------------

def _text(value) -> str:
    return "" if value is None else str(value).strip()


def _int(name: str, value, low: int, high: int, default: int) -> int:
    text = _text(value)
    if not text:
        return default
    try:
        number = int(text)
    except ValueError:
        raise PixelsmithError(f"{name} must be a whole number, not '{text}'") from None
    if not low <= number <= high:
        raise PixelsmithError(f"{name} must be in {low}-{high}, not {number}")
    return number


def _strength(value) -> float:
    text = _text(value)
    if not text:
        return 1.0
    try:
        number = float(text)
    except ValueError:
        raise PixelsmithError(f"strength must be a number in 0-1, not '{text}'") from None
    if not 0.0 <= number <= 1.0:  # also refuses nan
        raise PixelsmithError(f"strength must be in 0-1, not {text}")
    return number


def parse_kernel(text: str) -> list | None:
    """A blur kernel from ``gaussian:SIGMA`` or ``disk:RADIUS`` (None for blind deblurring),
    as nested lists so that the options stay JSON."""
    text = _text(text).lower()
    if text in ("", "blind", "none"):
        return None
    match = re.fullmatch(r"(gaussian|disk):([0-9]*\.?[0-9]+)", text)
    if not match:
        raise PixelsmithError(f"kernel must be {KERNEL_FORMS}, not '{text}'")
    kind, value = match.group(1), float(match.group(2))
    if kind == "gaussian" and not 0.3 <= value <= 10:
        raise PixelsmithError(f"gaussian kernel sigma must be in 0.3-10, not {value:g}")
    if kind == "disk" and not 0.5 <= value <= 15:
        raise PixelsmithError(f"disk kernel radius must be in 0.5-15, not {value:g}")
    return [kind, value]


def build_kernel(spec: list | None):
    from pixelsmith.degrade.kernels import disk_kernel, gaussian_kernel

    if spec is None:
        return None
    kind, value = spec
    return gaussian_kernel(value) if kind == "gaussian" else disk_kernel(value)


def check_options(task: str, form: dict) -> dict:
    """The options of a job from the form's text fields, checked; one-line errors."""
    from pixelsmith.restoration.restorer import parse_quality, parse_sigma

    if task not in ALL_TASKS:
        raise PixelsmithError(f"unknown task '{task}' (choose from {', '.join(ALL_TASKS)})")
    if task == "compress":
        from pixelsmith.codec.api import DEFAULT_QUALITY, QUALITIES

        model = _text(form.get("model"))
        if model:
            names = [entry["name"] for entry in codec_models()]
            if model not in names:
                raise PixelsmithError(f"unknown codec model '{model}' (choose from "
                                      f"{', '.join(names)})")
            if _text(form.get("codec_quality")):
                raise PixelsmithError("give a codec model or a codec quality, not both")
            return {"codec_model": model, "codec_quality": None}
        return {"codec_model": None,
                "codec_quality": _int("codec quality", form.get("codec_quality"),
                                      min(QUALITIES), max(QUALITIES), DEFAULT_QUALITY)}
    if task == "decompress":
        return {}
    if task == "explain":
        return explaining.check_options(form)
    if task == "generate":
        model = _text(form.get("model"))
        names = generators()
        if model not in names:
            raise PixelsmithError(f"unknown generator '{model}' (choose from {', '.join(names)})")
        temperature = _text(form.get("temperature")) or "1.0"
        try:
            temp = float(temperature)
        except ValueError:
            raise PixelsmithError(f"temperature must be a number, not '{temperature}'") from None
        if not (math.isfinite(temp) and 0 <= temp <= 4):
            raise PixelsmithError(f"temperature must be in 0-4, not {temperature}")
        return {"model": model, "seed": _int("seed", form.get("seed"), 0, 2**31 - 1, 0),
                "count": _int("count", form.get("count"), 1, MAX_SAMPLES, 16),
                "temperature": temp}
    return _restore_options(task, form, parse_sigma, parse_quality)


def _restore_options(task: str, form: dict, parse_sigma, parse_quality) -> dict:
    from pixelsmith.restoration.registry import task_methods
    from pixelsmith.restoration.restorer import BLENDABLE_TASKS

    method = _text(form.get("method")) or None
    if method is not None:
        methods = task_methods(task)
        if method not in methods or not methods[method].available():
            usable = ", ".join(n for n, m in methods.items() if m.available())
            raise PixelsmithError(f"unknown method '{method}' for task '{task}' "
                                  f"(choose from {usable})")
    options: dict = {"method": method}
    if task in ("denoise", "deblur"):
        options["sigma"] = parse_sigma(_text(form.get("sigma")) or None, task)
    if task == "dejpeg":
        # empty: read it from a JPEG input's tables when the method needs it (as the CLI does)
        options["quality"] = parse_quality(_text(form.get("quality")) or None)
    if task == "sr":
        options["scale"] = _int("scale", form.get("scale"), 2, 8, DEFAULT_SR_SCALE)
    if task == "photo":
        options["scale"] = _int("scale", form.get("scale"), 1, 4, 1)
    if task == "deblur":
        options["kernel"] = parse_kernel(form.get("kernel"))
    if task in BLENDABLE_TASKS:
        options["strength"] = _strength(form.get("strength"))
    options["format"] = check_format(form.get("format"))
    return options


def check_format(value) -> str:
    """The requested download format of a restored image (see :data:`OUTPUT_FORMATS`)."""
    text = _text(value).lower() or "png"
    text = {"jpg": "jpeg", "tif": "tiff", "same": "input"}.get(text, text)
    if text not in OUTPUT_FORMATS:
        raise PixelsmithError(f"format must be one of {', '.join(OUTPUT_FORMATS)}, not '{text}'")
    return text


def output_format(requested: str, source_format: str) -> tuple[str, str]:
    """(Pillow format name, why) of a restored image's file: ``requested`` is a checked
    :data:`OUTPUT_FORMATS` value, ``source_format`` the input's format as pixelsmith's reader
    found it (from the content, not the file name). ``input`` follows pixelsmith's writer
    (:data:`pixelsmith.io.WRITE_FORMATS`): a format it writes is kept, except JPEG."""
    from pixelsmith.io import WRITE_FORMATS

    if requested != "input":
        return requested.upper(), "as asked"
    source = (source_format or "").upper()
    if source == "JPEG":
        return "PNG", "a JPEG input gives PNG: encoding it as JPEG again would lose quality"
    if source in set(WRITE_FORMATS.values()):
        return source, "the input's format"
    return "PNG", f"pixelsmith does not write {source or 'the input format'}: PNG"


def suffix(fmt: str) -> str:
    """The file suffix pixelsmith's writer uses for the Pillow format ``fmt`` (".png")."""
    from pixelsmith.io import WRITE_FORMATS

    return next(s for s, f in WRITE_FORMATS.items() if f == fmt)


# -- doing it ---------------------------------------------------------------------------------

class Models:
    """Restorers, generators and codecs loaded once and shared by the worker threads."""

    def __init__(self, precision: str = "fp32") -> None:
        self._lock = threading.Lock()
        self._restorers: dict = {}
        self._generators: dict = {}
        self.precision = precision  # of the trained restoration models (``restore --precision``)

    def restorer(self, task: str, method: str | None, strength: float = 1.0):
        from pixelsmith.restoration.restorer import Restorer

        with self._lock:
            key = (task, method, strength)
            if key not in self._restorers:
                self._restorers[key] = Restorer(task, method, strength=strength,
                                                precision=self.precision)
            return self._restorers[key]

    def generator(self, name: str):
        from pixelsmith.runtime.device import resolve_device
        from pixelsmith.zoo import load_model

        with self._lock:
            if name not in self._generators:
                self._generators[name] = load_model(name, device=resolve_device(None)).eval()
            return self._generators[name]


class Runner:
    """The job runner of :class:`pixelsmith.web.jobs.JobManager`: one method per task."""

    def __init__(self, max_pixels: int, models: Models | None = None) -> None:
        self.max_pixels = int(max_pixels)
        self.models = models or Models()

    def __call__(self, job, progress) -> tuple[dict, dict]:
        start = time.perf_counter()
        if job.task in TASKS:
            info, files = self.restore(job, progress)
        else:
            info, files = getattr(self, job.task)(job, progress)
        info["seconds"] = round(time.perf_counter() - start, 3)
        return info, files

    def restore(self, job, progress) -> tuple[dict, dict]:
        import torch

        from pixelsmith.restoration.files import restore_file

        opts = job.options
        folder: Path = job.folder
        restorer = self.models.restorer(job.task, opts.get("method"), opts.get("strength", 1.0))
        options = {"sigma": opts.get("sigma"), "quality": opts.get("quality"),
                   "scale": opts.get("scale"), "kernel": build_kernel(opts.get("kernel")),
                   "mask": folder / MASK if job.task == "inpaint" else None}
        fmt, why = output_format(opts.get("format", "png"), job.info.get("format", ""))
        result = RESULT_STEM + suffix(fmt)
        known = restore_file(restorer, folder / INPUT, folder / result, options,
                             self.max_pixels, progress=progress)
        after = result
        if fmt != "PNG":  # browsers show PNG (not TIFF): a preview of the written file
            from pixelsmith.io import load_image, save_image

            written = load_image(folder / result, max_pixels=self.max_pixels)
            save_image(folder / PREVIEW_OUT, written.pixels, alpha=written.alpha,
                       bit_depth=written.bit_depth)
            after = PREVIEW_OUT
        channels = int(job.info.get("channels", 3))
        used = restorer.for_input(torch.empty(1, channels, 1, 1), known)
        info = {"method": used.name, "method_kind": used.method.kind, "output_format": fmt,
                "output_format_why": why}
        if used.method.source is not None:  # a trained model: the precision it ran in
            info["precision"] = used.precision
        if isinstance(known.sigma, float):
            info["sigma"] = round(known.sigma * 255, 2)
        if known.quality is not None:
            info["quality"] = known.quality
        if known.scale is not None:
            info["scale"] = known.scale
        if restorer.strength != 1.0:
            info["strength"] = restorer.strength
        name = job.info.get("download", "image")
        download = f"{name}-{job.task}{suffix(fmt)}"
        return info, {"result": (result, MEDIA_TYPES[fmt], download),
                      "after": (after, "image/png", f"{name}-{job.task}.png")}

    def explain(self, job, progress) -> tuple[dict, dict]:
        return explaining.run(job, progress, self.max_pixels, INPUT, MASK)

    def compress(self, job, progress) -> tuple[dict, dict]:
        from pixelsmith.codec.api import compress, decompress, resolve_codec
        from pixelsmith.io import atomic_write_bytes, load_image, save_image
        from pixelsmith.metrics.pixel import psnr

        folder: Path = job.folder
        image = load_image(folder / INPUT, max_pixels=self.max_pixels)
        codec = resolve_codec(job.options["codec_model"], job.options["codec_quality"])
        progress(0, 2)
        data = compress(image.pixels, model=codec, max_pixels=self.max_pixels)
        atomic_write_bytes(folder / RESULT_PXS, data)
        progress(1, 2)
        decoded = decompress(data, model=codec, max_pixels=self.max_pixels)
        save_image(folder / DECODED, decoded)
        progress(2, 2)
        height, width = image.size
        value = float(psnr(decoded, image.pixels)[0])
        name = job.info.get("download", "image")
        info = {"method": config_of(codec).name or "codec",
                "bytes": len(data), "bpp": round(8 * len(data) / (height * width), 4),
                "psnr": round(value, 2) if math.isfinite(value) else None}
        return info, {"result": (RESULT_PXS, "application/octet-stream", f"{name}.pxs"),
                      "after": (DECODED, "image/png", f"{name}-decoded.png")}

    def decompress(self, job, progress) -> tuple[dict, dict]:
        from pixelsmith.codec.api import decompress, read_header
        from pixelsmith.io import save_image

        data = (job.folder / INPUT).read_bytes()
        header = read_header(data, self.max_pixels)
        progress(0, 1)
        pixels = decompress(data, max_pixels=self.max_pixels)
        save_image(job.folder / RESULT_PNG, pixels)
        progress(1, 1)
        name = job.info.get("download", "image")
        info = {"method": header.model_name, "width": header.width, "height": header.height}
        return info, {"result": (RESULT_PNG, "image/png", f"{name}.png"),
                      "after": (RESULT_PNG, "image/png", f"{name}.png")}

    def generate(self, job, progress) -> tuple[dict, dict]:
        from pixelsmith.io import save_image
        from pixelsmith.synthesis import generate, image_grid

        opts = job.options
        model = self.models.generator(opts["model"])
        progress(0, 1)
        images = generate(model, opts["count"], seed=opts["seed"],
                          temperature=opts["temperature"])
        grid = image_grid(images, nrow=math.ceil(math.sqrt(opts["count"])), padding=2)
        save_image(job.folder / RESULT_PNG, grid)
        progress(1, 1)
        name = f"{opts['model']}-seed{opts['seed']}.png"
        return {"method": opts["model"]}, {"result": (RESULT_PNG, "image/png", name),
                                           "after": (RESULT_PNG, "image/png", name)}
