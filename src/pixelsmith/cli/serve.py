"""``pixelsmith serve``: start the local web app. Only click is imported until it runs."""

from __future__ import annotations

import click

from pixelsmith.errors import PixelsmithError

WEB_PACKAGES = ("fastapi", "uvicorn", "multipart")


def _require_web_extra() -> None:
    import importlib.util

    missing = [name for name in WEB_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise PixelsmithError(f"the web app needs {', '.join(missing)}: "
                              "pip install 'pixelsmith[web]'")


def _checked_precision(precision: str) -> str:
    """What the models will run in, e.g. 'bf16 (auto)'; a one-line error (fp16 without CUDA)
    or warning (bf16 on a CPU that emulates it) before the server starts."""
    from pixelsmith.restoration.trained import RunOptions
    from pixelsmith.runtime.precision import slow_precision_message

    options = RunOptions(precision=precision).checked()
    message = slow_precision_message(options.device.type, options.precision)
    if message:
        click.echo(f"pixelsmith: warning: {message}", err=True)
    return options.precision + (" (auto)" if precision == "auto" else "")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but a loopback address exposes the page "
                   "and its API to the network (a warning is printed).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--workers", type=click.IntRange(min=1),
              help="Jobs run at once (default: one per CPU); others wait in line.")
@click.option("--queue", "max_waiting", type=click.IntRange(min=0), default=16,
              show_default=True, help="Jobs that may wait in line; beyond that, HTTP 429.")
@click.option("--max-upload-mb", type=click.FloatRange(min=0.001), default=50.0,
              show_default=True, help="Largest upload accepted, in megabytes.")
@click.option("--max-pixels", type=click.IntRange(min=1), default=100_000_000,
              show_default=True, help="Refuse images larger than this many pixels.")
@click.option("--result-ttl", type=click.FloatRange(min=1), default=3600.0, show_default=True,
              metavar="SECONDS", help="Delete each job's files this long after it ends.")
@click.option("--allow-host", "extra_hosts", multiple=True, metavar="NAME",
              help="Also answer requests for this Host header (e.g. a LAN name); repeatable.")
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16", "auto"]),
              default="fp32", show_default=True,
              help="Trained restoration models, as in `restore`: bf16 is faster on GPUs and "
                   "CPUs with AMX/AVX512-BF16, auto takes it only there.")
def serve(host, port, workers, max_waiting, max_upload_mb, max_pixels, result_ttl,
          extra_hosts, precision) -> None:
    """Serve a local web page: drop an image, restore / compress / generate, compare, download.

    \b
    Examples:
      pixelsmith serve                       # http://127.0.0.1:8000 (API docs at /docs)
      pixelsmith serve --port 8080 --workers 1 --queue 4
    """
    import os

    from pixelsmith.web.security import allowed_hosts, is_loopback

    _require_web_extra()
    chosen = _checked_precision(precision)
    if not is_loopback(host):
        click.echo(f"pixelsmith: warning: listening on {host}: anyone who can reach this "
                   "machine can upload images and use its CPU/GPU (no authentication)", err=True)
    import torch
    import uvicorn

    from pixelsmith.web.app import create_app

    workers = workers or os.cpu_count() or 1
    # each job's torch ops get an equal share of the cores instead of all of them
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))
    app = create_app(workers=workers, max_waiting=max_waiting,
                     max_upload_bytes=int(max_upload_mb * 1024 * 1024), max_pixels=max_pixels,
                     ttl=result_ttl, hosts=allowed_hosts(host, extra_hosts), precision=precision)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"pixelsmith: serving on http://{shown}:{port}  (API docs: /docs; models in "
               f"{chosen}; Ctrl-C stops)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
