"""Reading a quantized model package (written by ``pixelsmith quantize``): its checked int8
ONNX graph, apart from the calibration code so that running a package needs nothing of it."""

from __future__ import annotations

from pathlib import Path

import torch

from pixelsmith.errors import PixelsmithError
from pixelsmith.zoo.config import config_of, package_dir


def quantized_graph(net: torch.nn.Module, level_class: int = 0) -> Path | None:
    """The checked int8 ONNX file of a quantized package for inputs of ``level_class`` (None
    for other models, and for an inpainting package's other size classes)."""
    from pixelsmith.zoo import sha256_file

    entry = config_of(net).quantized
    if not entry or int(entry.get("size_class", 0)) != level_class:
        return None
    folder = package_dir(net)
    if folder is None:
        raise PixelsmithError("a quantized model must be loaded with load_model")
    path = Path(folder) / entry["file"]
    if not path.is_file():
        raise PixelsmithError(f"{folder}: missing {entry['file']}")
    if sha256_file(path) != entry.get("sha256"):
        raise PixelsmithError(f"{path}: checksum mismatch")
    return path
