"""The web app's "explain" task: which shipped models ``pixelsmith explain`` supports, the
checked options of a request, and the job that builds the explanation panels.

Models are chosen by shipped name only (``pixelsmith explain`` also takes a model folder; the
web app never does). The panels are written by :class:`pixelsmith.explain.page.Page` into a
fixed sub-folder of the job's folder, under the names the page itself gives them; the job lists
them by number, so a client asks for ``/jobs/{id}/panels/3``, never for a file name.
"""

from __future__ import annotations

import io
import threading
import zipfile
from pathlib import Path

from pixelsmith.errors import PixelsmithError

#: zoo task of a shipped model -> the kind of subject ``pixelsmith explain`` makes of it
SUBJECT_KINDS = {"denoise": "restoration", "dejpeg": "restoration", "sr": "restoration",
                 "deblur": "restoration", "inpaint": "restoration", "features": "classifier",
                 "vae": "vae", "autoencoder": "autoencoder", "codec": "codec"}
DEFAULT_MODEL = "denoise-color"
#: gradients of a whole image take memory: the same default limit as ``pixelsmith explain``
EXPLAIN_MAX_PIXELS = 4_000_000
STEPS = 16  # integrated-gradients steps to start with (doubled until complete within 1%)
FOLDER, ZIP = "explain", "explain.zip"  # fixed names inside the job's folder
#: explanations seed torch's global generator (the re-initialised weights of the randomisation
#: check): one at a time, so that the figures are those ``pixelsmith explain`` gives
_GLOBAL_RNG = threading.Lock()


def explain_models() -> dict[str, dict]:
    """Shipped models that explain supports: name -> the kinds that fit it (all of them are the
    default, as in ``pixelsmith explain``), its subject kind, what it needs (sigma, quality,
    mask), its SR scale and channels."""
    from pixelsmith.explain.subject import KINDS
    from pixelsmith.zoo import read_config, resolve_model_dir, shipped_models

    models = {}
    for name, info in shipped_models().items():
        kind = SUBJECT_KINDS.get(info.get("task"))
        if kind is None:
            continue
        try:
            config = read_config(resolve_model_dir(name))
        except PixelsmithError:  # listed but not installed
            continue
        kinds = list(KINDS[kind])
        if kind == "codec" and "codec_tables" not in config:
            kinds.remove("codec")  # no entropy model (the zlib baseline): no bits per symbol
        models[name] = {"kind": kind, "kinds": kinds, "needs": list(config.get("needs", [])),
                        "scale": int(info.get("scale") or 1),
                        "channels": int(info.get("channels") or 3)}
    return models


def catalogue() -> dict:
    """What the page needs to offer the explain task."""
    models = explain_models()
    default = DEFAULT_MODEL if DEFAULT_MODEL in models else next(iter(models), None)
    return {"models": models, "default": default, "max_pixels": EXPLAIN_MAX_PIXELS}


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def check_options(form: dict) -> dict:
    """The options of an explain job from the form's text fields, checked (one-line errors)."""
    from pixelsmith.explain.attribution import parse_point
    from pixelsmith.explain.run import ALL_KINDS

    models = explain_models()
    name = _text(form.get("model")) or catalogue()["default"]
    if name not in models:
        raise PixelsmithError(f"model '{name}' cannot be explained here (choose from "
                              f"{', '.join(models)})")
    model = models[name]
    kinds = [k.strip() for k in _text(form.get("kind")).split(",") if k.strip()] \
        or model["kinds"]
    for kind in kinds:
        if kind not in ALL_KINDS:
            raise PixelsmithError(f"unknown kind '{kind}' (choose from {', '.join(ALL_KINDS)})")
        if kind not in model["kinds"]:
            raise PixelsmithError(f"kind '{kind}' does not fit model '{name}', a "
                                  f"{model['kind']} model (it can: {', '.join(model['kinds'])})")
    kinds = list(dict.fromkeys(kinds))
    at_text = _text(form.get("at"))
    at = None
    if at_text:
        if model["kind"] != "restoration":
            raise PixelsmithError(f"a point (at) picks an output pixel of a restoration model; "
                                  f"'{name}' is a {model['kind']} model")
        at = list(parse_point(at_text))
        if min(at) < 0:
            raise PixelsmithError(f"the point must have x, y >= 0, not '{at_text}'")
    options: dict = {"model": name, "kinds": kinds, "at": at}
    sigma = _text(form.get("sigma")).lower()
    if "sigma" in model["needs"]:
        options["sigma"] = None
        if sigma not in ("", "auto"):
            try:
                options["sigma"] = float(sigma)
            except ValueError:
                raise PixelsmithError(f"sigma must be a number or auto, not '{sigma}'") from None
            if not 0 <= options["sigma"] <= 255:
                raise PixelsmithError(f"sigma must be in 0-255, not {sigma}")
    quality = _text(form.get("quality")).lower()
    if "quality" in model["needs"]:
        options["quality"] = None
        if quality not in ("", "auto"):
            try:
                options["quality"] = int(quality)
            except ValueError:
                raise PixelsmithError(f"quality must be 1-100 or auto, not '{quality}'") from None
            if not 1 <= options["quality"] <= 100:
                raise PixelsmithError(f"quality must be in 1-100, not {quality}")
    return options


def needs_mask(options: dict) -> bool:
    """Whether the chosen model inpaints (and so needs the mask of the missing pixels)."""
    return "mask" in explain_models().get(options.get("model"), {}).get("needs", [])


def run(job, progress, max_pixels: int, input_name: str, mask_name: str) -> tuple[dict, dict]:
    """Build the explanation page of the job's input and write its panels; returns what the
    page shows (sections with numbered panels, captions, tables) and the job's files."""
    from pixelsmith.explain.run import build_page
    from pixelsmith.explain.subject import load_subject
    from pixelsmith.io import atomic_write_bytes

    opts = job.options
    folder: Path = job.folder
    mask = folder / mask_name if needs_mask(opts) else None
    subject = load_subject(opts["model"], folder / input_name, sigma=opts.get("sigma"),
                           quality=opts.get("quality"), mask=mask,
                           max_pixels=min(max_pixels, EXPLAIN_MAX_PIXELS))
    at = tuple(opts["at"]) if opts.get("at") else None
    with _GLOBAL_RNG:
        page = build_page(subject, opts["kinds"], at=at, steps=STEPS, progress=progress)
    page.write(folder / FOLDER)

    files: dict = {}
    sections = []
    for section in page.sections:
        panels = []
        for panel in section.panels:
            index = len(files)
            files[f"panels/{index}"] = (f"{FOLDER}/{panel.file}", "image/png", panel.file)
            image = page.images[panel.file]
            panels.append({"index": index, "caption": panel.caption,
                           "width": image.width, "height": image.height})
        table = None
        if section.table:
            headers, rows = section.table
            table = {"headers": list(headers), "rows": [[str(c) for c in row] for row in rows]}
        sections.append({"title": section.title, "text": section.text, "panels": panels,
                         "table": table})

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ["index.html", *page.images]:
            archive.write(folder / FOLDER / name, name)
    atomic_write_bytes(folder / ZIP, buffer.getvalue())
    stem = job.info.get("download", "image")
    files["result"] = (ZIP, "application/zip", f"{stem}-explain-{opts['model']}.zip")
    info = {"method": opts["model"], "kinds": opts["kinds"], "intro": page.intro,
            "sections": sections}
    if subject.extra:
        info["conditioning"] = {str(k): str(v) for k, v in subject.extra.items()}
    return info, files
