"""Model packages: ``config.json`` + ``model.safetensors``, checked by sha256, never unpickled.

Shipped models live in folders beside this file (``zoo/<name>/``) and are listed in
``zoo/index.json``; a user's exported model is any folder with the same two files.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from pixelsmith.errors import PixelsmithError

ZOO = Path(__file__).parent
FORMAT = "pixelsmith-model"
FORMAT_VERSION = 1
WEIGHTS = "model.safetensors"
CONFIG = "config.json"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def shipped_models() -> dict[str, dict]:
    """Name -> summary (task, family, ...) of the models shipped inside the package."""
    index = ZOO / "index.json"
    return json.loads(index.read_text()) if index.exists() else {}


def resolve_model_dir(name_or_path: str | Path) -> Path:
    """The folder of a shipped model name or of a local model path (one-line error if neither)."""
    path = Path(name_or_path)
    if path.is_dir():
        return path
    if str(name_or_path) in shipped_models() and (ZOO / str(name_or_path)).is_dir():
        return ZOO / str(name_or_path)
    names = ", ".join(shipped_models()) or "none yet"
    raise PixelsmithError(
        f"'{name_or_path}' is neither a model folder nor a shipped model (shipped: {names})"
    )


def read_config(model_dir: str | Path) -> dict:
    """The config.json of model folder ``model_dir``, checked for format and version."""
    model_dir = Path(model_dir)
    path = model_dir / CONFIG
    if not path.is_file():
        raise PixelsmithError(f"{model_dir}: not a pixelsmith model (no {CONFIG})")
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PixelsmithError(f"{path}: not valid JSON ({getattr(exc, 'msg', exc)})") from None
    from pixelsmith.zoo.config import validate_config

    if not isinstance(config, dict):
        validate_config(config, str(path))  # says what it is instead of an object
    if config.get("format") != FORMAT or config.get("format_version") != FORMAT_VERSION:
        raise PixelsmithError(f"{path}: not a {FORMAT} v{FORMAT_VERSION} config")
    validate_config(config, str(path))
    return config


def load_model(name_or_path: str | Path, device: str | torch.device = "cpu") -> torch.nn.Module:
    """Load a shipped or local model in eval mode; its config is on ``model.pixelsmith_config``.

    The weights file's sha256 must equal the one in ``config.json``: a damaged or swapped file
    is refused before any tensor is read. Only safetensors are read, so no code is executed.
    """
    from safetensors.torch import load_file

    from pixelsmith.nets import build_network

    model_dir = resolve_model_dir(name_or_path)
    config = read_config(model_dir)
    weights = model_dir / WEIGHTS
    if not weights.is_file():
        raise PixelsmithError(f"{model_dir}: missing {WEIGHTS}")
    actual = sha256_file(weights)
    if actual != config.get("sha256"):
        raise PixelsmithError(
            f"{weights}: checksum mismatch (expected {config.get('sha256')}, got {actual})"
        )
    name = config["network"]["name"]
    network = build_network(name, config["network"].get("args", {}))
    try:
        state = load_file(str(weights), device=str(device))
    except Exception as exc:  # safetensors raises its own error types for a bad header
        raise PixelsmithError(f"{weights}: not a readable safetensors file ({exc})") from None
    bad = [key for key, tensor in state.items()
           if tensor.is_floating_point() and not torch.isfinite(tensor).all()]
    if bad:
        raise PixelsmithError(f"{weights}: {len(bad)} tensor(s) hold NaN or infinite values "
                              f"(first: {bad[0]}); the model is broken")
    try:
        missing, unexpected = network.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # a tensor of the wrong shape
        first = next((line.strip() for line in str(exc).splitlines()[1:] if line.strip()),
                     str(exc))
        raise PixelsmithError(f"{weights}: weights do not fit network '{name}' ({first})"
                              ) from None
    if missing or unexpected:
        raise PixelsmithError(
            f"{weights}: weights do not fit network '{name}' "
            f"(missing {len(missing)}, unexpected {len(unexpected)} tensors)"
        )
    network.to(device).eval()
    network.pixelsmith_config = config
    network.pixelsmith_dir = model_dir  # a package's other files (a quantized ONNX graph)
    return network


def save_model(model_dir: Path, network: torch.nn.Module, config: dict,
               storage_dtype: torch.dtype | None = None) -> Path:
    """Write ``model.safetensors`` and ``config.json`` (with the weights' sha256) atomically.

    ``storage_dtype`` (e.g. ``torch.float16``) stores the floating-point parameters and
    buffers in that type to halve a package's size; :func:`load_model` casts them back into the
    network's float32 tensors, so only the stored values are rounded. Other state (a codec's
    entropy tables, medians and scale table) keeps its own type.
    """
    from safetensors.torch import save_file

    from pixelsmith.io import atomic_output, atomic_write_text, output_folder

    model_dir = output_folder(model_dir)
    state = {k: v.detach().cpu().contiguous() for k, v in network.state_dict().items()}
    if storage_dtype is not None:
        weights = {name for name, _ in network.named_parameters()}
        weights |= {name for name, _ in network.named_buffers()}
        state = {k: v.to(storage_dtype) if v.is_floating_point() and k in weights else v
                 for k, v in state.items()}
        config = {**config, "storage_dtype": str(storage_dtype).removeprefix("torch.")}
    with atomic_output(model_dir / WEIGHTS) as tmp:
        save_file(state, str(tmp))
    full = {"format": FORMAT, "format_version": FORMAT_VERSION, **config,
            "sha256": sha256_file(model_dir / WEIGHTS)}
    atomic_write_text(model_dir / CONFIG, json.dumps(full, indent=2) + "\n")
    return model_dir
