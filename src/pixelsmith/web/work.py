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

#: Tasks of the page: the restoration tasks, then the codec and the generators.
EXTRA_TASKS = ("compress", "decompress", "generate")
ALL_TASKS = (*TASKS, *EXTRA_TASKS)
GENERATOR_FAMILIES = ("vae", "gan")
MAX_SAMPLES = 64
SR_SCALES = (2, 3, 4)
DEFAULT_SR_SCALE = 4
KERNEL_FORMS = "blind (empty), gaussian:SIGMA (0.3-10) or disk:RADIUS (0.5-15)"

# file names inside a job's folder: fixed here, never taken from a client
INPUT, MASK, PREVIEW_IN = "input", "mask", "input.png"
RESULT_PNG, RESULT_PXS, DECODED = "result.png", "result.pxs", "decoded.png"


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
                  "default": DEFAULT_QUALITY},
        "sr_scales": list(SR_SCALES),
        "default_sr_scale": DEFAULT_SR_SCALE,
        "kernel_forms": KERNEL_FORMS,
        "max_samples": MAX_SAMPLES,
    }


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

        return {"codec_quality": _int("codec quality", form.get("codec_quality"),
                                      min(QUALITIES), max(QUALITIES), DEFAULT_QUALITY)}
    if task == "decompress":
        return {}
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
    return options


# -- doing it ---------------------------------------------------------------------------------

class Models:
    """Restorers, generators and codecs loaded once and shared by the worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._restorers: dict = {}
        self._generators: dict = {}

    def restorer(self, task: str, method: str | None):
        from pixelsmith.restoration.restorer import Restorer

        with self._lock:
            key = (task, method)
            if key not in self._restorers:
                self._restorers[key] = Restorer(task, method)
            return self._restorers[key]

    def generator(self, name: str):
        from pixelsmith.restoration.trained import resolve_device
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
        restorer = self.models.restorer(job.task, opts.get("method"))
        options = {"sigma": opts.get("sigma"), "quality": opts.get("quality"),
                   "scale": opts.get("scale"), "kernel": build_kernel(opts.get("kernel")),
                   "mask": folder / MASK if job.task == "inpaint" else None}
        known = restore_file(restorer, folder / INPUT, folder / RESULT_PNG, options,
                             self.max_pixels, progress=progress)
        channels = int(job.info.get("channels", 3))
        used = restorer.for_input(torch.empty(1, channels, 1, 1), known)
        info = {"method": used.name, "method_kind": used.method.kind}
        if isinstance(known.sigma, float):
            info["sigma"] = round(known.sigma * 255, 2)
        if known.quality is not None:
            info["quality"] = known.quality
        if known.scale is not None:
            info["scale"] = known.scale
        name = job.info.get("download", "image")
        return info, {"result": (RESULT_PNG, "image/png", f"{name}-{job.task}.png"),
                      "after": (RESULT_PNG, "image/png", f"{name}-{job.task}.png")}

    def compress(self, job, progress) -> tuple[dict, dict]:
        from pixelsmith.codec.api import compress, decompress, resolve_codec
        from pixelsmith.io import atomic_write_bytes, load_image, save_image
        from pixelsmith.metrics.pixel import psnr

        folder: Path = job.folder
        image = load_image(folder / INPUT, max_pixels=self.max_pixels)
        codec = resolve_codec(None, job.options["codec_quality"])
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
        info = {"method": getattr(codec, "pixelsmith_config", {}).get("name", "codec"),
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
