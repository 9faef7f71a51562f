"""A per-user cache of ONNX exports, so a model is traced once, not on every run.

Folder: ``$PIXELSMITH_CACHE/onnx``, else ``$XDG_CACHE_HOME/pixelsmith/onnx``, else
``~/.cache/pixelsmith/onnx``. A file's name is the sha256 of the source weights, the export
format and the size class (see :func:`pixelsmith.runtime.onnx_export.size_class`), so new
weights or a new exporter never reuse a stale file. Files are written to a temporary name and
renamed: a process that dies mid-export leaves no half file, and two processes exporting the
same model at once both end with a complete one.
"""

from __future__ import annotations

import os
from pathlib import Path

from torch import nn

from pixelsmith.errors import PixelsmithError
from pixelsmith.zoo.config import config_of

CACHE_ENV = "PIXELSMITH_CACHE"


def cache_dir() -> Path:
    """The folder of cached ONNX exports (not created here)."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser() / "onnx"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "pixelsmith" / "onnx"


def cache_key(net: nn.Module, level_class: int) -> str:
    """File name of ``net``'s export for ``level_class``: weights sha256, format, class."""
    from pixelsmith.runtime.onnx_export import EXPORT_FORMAT, OPSET

    sha = config_of(net).sha256
    if not sha:
        raise PixelsmithError("only a model loaded from a package (load_model) can be cached: "
                              "its config has no weights sha256")
    return f"{sha}-f{EXPORT_FORMAT}-o{OPSET}-c{level_class}.onnx"


def cached_export(net: nn.Module, level_class: int) -> Path:
    """The cached ONNX file of ``net`` for ``level_class``, exported first if missing."""
    from pixelsmith.runtime.onnx_export import export_network

    path = cache_dir() / cache_key(net, level_class)
    if path.is_file():
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PixelsmithError(f"cannot create the ONNX cache folder {path.parent}: "
                              f"{exc.strerror} (set {CACHE_ENV} to another folder)") from None
    return export_network(net, path, level_class)
