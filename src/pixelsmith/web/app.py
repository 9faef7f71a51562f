"""The FastAPI app behind ``pixelsmith serve``: one static page and a small job API.

``POST /jobs`` takes an image (multipart) and options and answers at once with the job;
``GET /jobs/{id}`` tells its status, progress and place in line, ``GET /jobs/{id}/events``
streams the same as server-sent events, and ``GET /jobs/{id}/result`` gives the file. The
OpenAPI description is at ``/docs`` and ``/openapi.json``.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.middleware.trustedhost import TrustedHostMiddleware

from pixelsmith._version import __version__
from pixelsmith.degrade.known import TASKS
from pixelsmith.errors import PixelsmithError
from pixelsmith.io import DEFAULT_MAX_PIXELS
from pixelsmith.web import explaining, work
from pixelsmith.web.jobs import DONE, FAILED, JobManager, QueueFull
from pixelsmith.web.security import (
    DEFAULT_MAX_UPLOAD_BYTES,
    FORM_OVERHEAD_BYTES,
    LOOPBACK_NAMES,
    BodyLimit,
    UploadTooLarge,
    clean_stem,
    decode_upload,
    read_upload,
)

STATIC = Path(__file__).parent / "static"
JOB_ID = PathParam(pattern=r"^[0-9a-f]{24}$", description="The job's id, as POST /jobs gave it.")
#: Content-Security-Policy of the page: everything from this server, images also from blob:
PAGE_CSP = ("default-src 'self'; img-src 'self' blob: data:; style-src 'self'; "
            "script-src 'self'; connect-src 'self'; object-src 'none'; frame-ancestors 'none'")


def create_app(*, workers: int | None = None, max_waiting: int = 16,
               max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
               max_pixels: int = DEFAULT_MAX_PIXELS, ttl: float = 3600.0,
               hosts: list[str] | None = None, runner=None,
               precision: str = "fp32") -> FastAPI:
    """The app. ``workers`` jobs run at once (default: one per CPU), ``max_waiting`` more wait
    (beyond: 429); uploads above ``max_upload_bytes`` (413) or ``max_pixels`` (400) are refused;
    results are deleted ``ttl`` seconds after their job ends, and all of them at shutdown. Only
    requests whose Host header is in ``hosts`` (default: the loopback names) are answered.
    Trained restoration models run in ``precision`` (as ``restore --precision``).
    ``runner`` replaces the job runner (tests)."""
    workers = workers or os.cpu_count() or 1
    decoding = threading.BoundedSemaphore(workers)  # decoded uploads held in memory at once
    limits = {"max_upload_bytes": max_upload_bytes, "max_pixels": max_pixels,
              "workers": workers, "max_waiting": max_waiting, "result_ttl_s": ttl}

    @asynccontextmanager
    async def lifespan(app):
        # the workers and the temporary folder live as long as the server runs
        runs = runner or work.Runner(max_pixels, work.Models(precision))
        app.state.manager = JobManager(runs, workers=workers, max_waiting=max_waiting, ttl=ttl)
        try:
            yield
        finally:
            app.state.manager.close()

    swagger = _swagger_assets()  # /docs from the package, not from a CDN, when installed
    app = FastAPI(title="pixelsmith", version=__version__, lifespan=lifespan,
                  docs_url=None if swagger else "/docs", redoc_url=None,
                  description="Restore, compress and generate images with pixelsmith. Jobs run "
                              "in a bounded queue; results are kept for a limited time.")
    if swagger:
        _serve_local_docs(app, swagger)
    app.state.limits = limits
    app.add_middleware(BodyLimit, max_bytes=2 * max_upload_bytes + FORM_OVERHEAD_BYTES)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(hosts or LOOPBACK_NAMES))

    @app.exception_handler(PixelsmithError)
    async def _bad_input(_request, exc: PixelsmithError):
        status = 413 if isinstance(exc, UploadTooLarge) else 400
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.exception_handler(QueueFull)
    async def _busy(_request, exc: QueueFull):
        return JSONResponse({"detail": str(exc)}, status_code=429, headers={"Retry-After": "5"})

    @app.middleware("http")
    async def _headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if request.url.path == "/" or request.url.path.startswith("/static/"):
            response.headers.setdefault("Content-Security-Policy", PAGE_CSP)
        return response

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/catalogue", summary="Tasks, methods (with defaults), generators and limits")
    async def catalogue() -> dict:
        return {**await run_in_threadpool(work.catalogue), "limits": limits,
                "version": __version__}

    @app.get("/api/status", summary="Workers, running and waiting jobs")
    async def status() -> dict:
        return app.state.manager.counts()

    @app.post("/jobs", status_code=202, summary="Start a job",
              description="Multipart form: `task` (denoise, dejpeg, sr, deblur, inpaint, "
                          "compress, decompress, generate, explain), `image` (every task but "
                          "generate; a .pxs file for decompress), `mask` (inpaint, and explain "
                          "with an inpainting model: white = missing, the image's size) and the "
                          "task's options. Answers 202 with the job; 400 "
                          "for bad input, 413 over the byte limit, 429 when the queue is full.")
    async def submit(
        task: Annotated[str, Form(description="What to do.")],
        image: Annotated[UploadFile | None, File(description="The image (or .pxs file).")] = None,
        mask: Annotated[UploadFile | None, File(description="inpaint: white = missing.")] = None,
        method: Annotated[str, Form(description="A method of the task; empty: the default.")] = "",
        sigma: Annotated[str, Form(description="denoise/deblur (and explain with a denoising "
                                               "model): noise sigma 0-255, or auto.")] = "",
        quality: Annotated[str, Form(description="dejpeg (and explain with a de-JPEG model): "
                                                 "JPEG quality 1-100, or auto.")] = "",
        scale: Annotated[str, Form(description="sr: factor (default 4).")] = "",
        strength: Annotated[str, Form(description="denoise/dejpeg/sr/deblur/photo: 0 (the input) "
                                      "to 1 (full restoration, the default).")] = "",
        kernel: Annotated[str, Form(description="deblur: " + work.KERNEL_FORMS)] = "",
        codec_quality: Annotated[str, Form(description="compress: 1 (smallest) to 4 (best) "
                                                       "on the hyperprior ladder.")] = "",
        model: Annotated[str, Form(description="generate: a shipped VAE or GAN; explain: a "
                                               "shipped model that explain supports; compress: a "
                                               "shipped codec model (instead of "
                                               "codec_quality).")] = "",
        seed: Annotated[str, Form(description="generate: seed of the latents.")] = "",
        count: Annotated[str, Form(description="generate: how many images (1-64).")] = "",
        temperature: Annotated[str, Form(description="generate: latent temperature (0-4).")] = "",
        kind: Annotated[str, Form(description="explain: activations, attribution, lrp, gradcam, "
                                              "codec or vae, comma-separated (empty: all that "
                                              "fit the model).")] = "",
        at: Annotated[str, Form(description="explain: the output pixel x,y of a restoration "
                                            "model (empty: the centre).")] = "",
        output_format: Annotated[str, Form(
            alias="format", description="restoration tasks: the result's file format: png "
            "(default), input (the input's format where pixelsmith writes it; a JPEG input "
            "gives PNG), jpeg, tiff or webp.")] = "",
    ) -> dict:
        form = {"method": method, "sigma": sigma, "quality": quality, "scale": scale,
                "strength": strength,
                "kernel": kernel, "codec_quality": codec_quality, "model": model, "seed": seed,
                "count": count, "temperature": temperature, "kind": kind, "at": at,
                "format": output_format}
        options = await run_in_threadpool(work.check_options, task.strip(), form)
        task = task.strip()
        if task != "generate" and image is None:
            raise PixelsmithError(f"task '{task}' needs an image")
        wants_mask = task == "inpaint" or (task == "explain"
                                           and explaining.needs_mask(options))
        if wants_mask and mask is None:
            what = "inpaint" if task == "inpaint" else f"model '{options['model']}' inpaints: it"
            raise PixelsmithError(f"{what} needs a mask (white = missing), drawn on the image")
        data = None if task == "generate" else await read_upload(image, max_upload_bytes,
                                                                 "the upload")
        mask_data = None if not wants_mask else await read_upload(mask, max_upload_bytes,
                                                                  "the mask")
        job = app.state.manager.new_job(task, options)
        try:
            info = await run_in_threadpool(_prepare, job.folder, task, data, mask_data,
                                           max_pixels, decoding)
            info["download"] = clean_stem(image.filename if image else None)
            if task == "sr" and info["width"] * info["height"] * options["scale"] ** 2 \
                    > max_pixels:
                raise PixelsmithError(
                    f"x{options['scale']} of {info['width']}x{info['height']} is above the limit "
                    f"of {max_pixels / 1e6:.1f} megapixels for the result")
            if task == "explain" and info["width"] * info["height"] \
                    > explaining.EXPLAIN_MAX_PIXELS:
                raise PixelsmithError(
                    f"{info['width']}x{info['height']} is above the limit of "
                    f"{explaining.EXPLAIN_MAX_PIXELS / 1e6:.0f} megapixels for explanations "
                    "(their gradients take memory)")
            job.info = info
            if task in TASKS or task == "compress":
                job.files["before"] = (work.PREVIEW_IN, "image/png", "input.png")
            app.state.manager.enqueue(job)
        except BaseException:
            app.state.manager.discard(job)
            raise
        return app.state.manager.snapshot(job.id)

    def _job(job_id: str):
        job = app.state.manager.get(job_id)
        if job is None:
            raise HTTPException(404, "no such job (unknown, or its results have expired)")
        return job

    @app.get("/jobs/{job_id}", summary="A job's status, progress and place in line")
    async def job_status(job_id: str = JOB_ID) -> dict:
        _job(job_id)
        snapshot = app.state.manager.snapshot(job_id)
        if snapshot is None:
            raise HTTPException(404, "no such job (unknown, or its results have expired)")
        return snapshot

    @app.get("/jobs/{job_id}/events", summary="Server-sent events with the job's status",
             description="Each event's data is the JSON of GET /jobs/{id}; the stream ends "
                         "after the job is done or failed.")
    async def job_events(request: Request, job_id: str = JOB_ID):
        _job(job_id)

        async def stream():
            last, quiet = None, 0
            while True:
                snapshot = app.state.manager.snapshot(job_id)
                if snapshot is None:
                    yield "event: gone\ndata: {}\n\n"
                    return
                key = (snapshot["status"], snapshot["position"], snapshot["done"],
                       snapshot["total"])
                if key != last:
                    last, quiet = key, 0
                    yield f"data: {json.dumps(snapshot)}\n\n"
                    if snapshot["status"] in (DONE, FAILED):
                        return
                else:
                    quiet += 1
                    if quiet % 150 == 0:  # every 15 s: keep proxies and the browser patient
                        yield ": waiting\n\n"
                if await request.is_disconnected():
                    return
                await asyncio.sleep(0.1)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    def _file(job_id: str, role: str, download: bool):
        job = _job(job_id)
        entry = app.state.manager.file(job, role)
        if entry is None or not entry[0].is_file():
            state = "is not finished" if job.status not in (DONE, FAILED) else "has no such file"
            raise HTTPException(404 if job.status in (DONE, FAILED) else 409,
                                f"the job {state}")
        path, media_type, name = entry
        return FileResponse(path, media_type=media_type, filename=name,
                            content_disposition_type="attachment" if download else "inline")

    @app.get("/jobs/{job_id}/result",
             summary="Download the result (the image, .pxs for compress, .zip for explain)")
    async def job_result(job_id: str = JOB_ID):
        return _file(job_id, "result", True)

    @app.get("/jobs/{job_id}/panels/{index}", summary="One explanation panel (PNG)",
             description="explain jobs: the panel numbered `index` in the job's `info.sections`.")
    async def job_panel(job_id: str = JOB_ID,
                        index: int = PathParam(ge=0, le=9999, description="The panel's number.")):
        return _file(job_id, f"panels/{index}", False)

    @app.get("/jobs/{job_id}/before", summary="The input as PNG (for the comparison)")
    async def job_before(job_id: str = JOB_ID):
        return _file(job_id, "before", False)

    @app.get("/jobs/{job_id}/after", summary="The result as PNG (for the comparison)")
    async def job_after(job_id: str = JOB_ID):
        return _file(job_id, "after", False)

    return app


def _prepare(folder: Path, task: str, data: bytes | None, mask: bytes | None, max_pixels: int,
             decoding: threading.BoundedSemaphore) -> dict:
    """Write the uploads into the job's folder under fixed names and check them by decoding
    (images) or reading the header (.pxs); returns what the page shows of the input."""
    from pixelsmith.io import save_image

    if task == "generate":
        return {}
    (folder / work.INPUT).write_bytes(data)
    if task == "decompress":
        from pixelsmith.codec.api import read_header

        header = read_header(data, max_pixels)
        return {"width": header.width, "height": header.height, "model": header.model_name}
    with decoding:
        image = decode_upload(folder / work.INPUT, max_pixels, "the upload")
        height, width = image.size
        info = {"width": width, "height": height, "channels": int(image.pixels.shape[1]),
                "format": image.source_format, "bit_depth": image.bit_depth}
        save_image(folder / work.PREVIEW_IN, image.pixels)
        del image
        if mask is not None:
            (folder / work.MASK).write_bytes(mask)
            drawn = decode_upload(folder / work.MASK, max_pixels, "the mask")
            if drawn.size != (height, width):
                raise PixelsmithError(f"the mask is {drawn.size[1]}x{drawn.size[0]} but the "
                                      f"image is {width}x{height}")
    return info


def _swagger_assets() -> Path | None:
    """The folder of Swagger UI's files from the ``swagger-ui-bundle`` package, if installed."""
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        return None
    folder = Path(swagger_ui_path)
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


def _serve_local_docs(app: FastAPI, folder: Path) -> None:
    """The API page at /docs with Swagger UI's script and style served by this server."""
    from fastapi.openapi.docs import get_swagger_ui_html

    app.mount("/docs-assets", StaticFiles(directory=folder), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return get_swagger_ui_html(openapi_url="/openapi.json", title="pixelsmith API",
                                   swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs-assets/swagger-ui.css",
                                   swagger_favicon_url="/docs-assets/favicon-32x32.png")
