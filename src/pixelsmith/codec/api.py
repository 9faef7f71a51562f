"""``compress(image) -> bytes`` and ``decompress(bytes) -> image``: the Python face of the codec.

Models are chosen by ``quality`` (the shipped ladder ``codec-q1`` .. ``codec-q4``) or given as
``model``: a model folder written by ``pixelsmith export-model``, a shipped name, or a codec
module already in memory. Images are padded (replicated edges) to the model's multiple, and
the padding is recorded in the file so the decoder crops it off again.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import torch

from pixelsmith.codec.format import Header, clean_name, pack, unpack
from pixelsmith.codec.models import Codec, pad_image
from pixelsmith.errors import PixelsmithError
from pixelsmith.io import DEFAULT_MAX_PIXELS, Image
from pixelsmith.zoo.config import config_of

QUALITIES = (1, 2, 3, 4)
DEFAULT_QUALITY = 3
_LOADED: dict[tuple[str, float], Codec] = {}


def shipped_name(quality: int) -> str:
    """The shipped model of a quality level, e.g. ``codec-q3``."""
    return f"codec-q{quality}"


def model_id(codec: Codec) -> bytes:
    """8 bytes identifying the model's exact state (weights and entropy tables).

    Every entry of the state is read from the model file as it is (tables, medians) or
    widened exactly (float16 weights to float32); loading computes none of them, so the id is
    a function of the stored bytes alone and the same on every machine.
    """
    digest = hashlib.sha256()
    for name, tensor in sorted(codec.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.numpy().tobytes())
    return digest.digest()[:8]


def finalize(codec: Codec, source: str = "the model") -> Codec:
    """Build the entropy tables if they are missing or stale (eval mode either way)."""
    codec.eval()
    if not codec.finalized():
        warnings.warn(f"{source}: entropy tables missing or stale; built now. Files made with "
                      "them decode on this machine; for files that decode anywhere, use a model "
                      "whose tables are saved in its folder (docs/CODEC.md)", stacklevel=3)
        codec.update()
    return codec


def load_codec(name_or_path: str | Path, device: str | torch.device = "cpu") -> Codec:
    """A codec model from a folder or a shipped name, finalized, in eval mode (cached)."""
    from pixelsmith.zoo import WEIGHTS, load_model, resolve_model_dir

    folder = resolve_model_dir(name_or_path)
    weights = folder / WEIGHTS
    key = (str(folder.resolve()), weights.stat().st_mtime if weights.exists() else 0.0)
    if key not in _LOADED:
        model = load_model(folder, device=device)
        config = config_of(model)
        if not isinstance(model, Codec) or config.family != "codec":
            raise PixelsmithError(f"{folder}: not a codec model (it is a "
                                  f"{config.task or 'other'} model)")
        finalize(model, str(folder))
        model.pixelsmith_id = model_id(model)
        model.version1_ids = version1_ids(model.pixelsmith_config, folder)
        _LOADED[key] = model
    return _LOADED[key].to(device)


def version1_ids(config: dict, source: str | Path = "model") -> dict[bytes, dict]:
    """Ids that version 1 files of this model may carry besides its own, from ``config.json``
    (``codec_tables.version1_ids``: hex id -> {"scale_table": {index: value}}, the entries of
    the float64 scale table that the writing model had otherwise). A revised package lists its
    earlier ids here, so files written before the revision still decode."""
    tables = config.get("codec_tables") or {}
    found = {}
    try:
        for ident, overrides in (tables.get("version1_ids") or {}).items():
            table = {int(k): float(v) for k, v in (overrides.get("scale_table") or {}).items()}
            found[bytes.fromhex(ident)] = {"scale_table": table}
    except (AttributeError, TypeError, ValueError):
        raise PixelsmithError(f"{source}: bad codec_tables in config.json") from None
    return found


def _installed(name: str) -> bool:
    from pixelsmith.zoo import ZOO, shipped_models

    return name in shipped_models() and (ZOO / name).is_dir()


def resolve_codec(model: str | Path | Codec | None = None, quality: int | None = None) -> Codec:
    """The codec to use: ``model`` if given (its quality must match ``quality`` when both are
    given), else the shipped model of ``quality`` (default 3)."""
    if isinstance(model, Codec):
        codec = finalize(model, "model")
    elif model is not None:
        codec = load_codec(model)
    else:
        quality = DEFAULT_QUALITY if quality is None else quality
        if quality not in QUALITIES:
            raise PixelsmithError(f"quality must be one of {', '.join(map(str, QUALITIES))}")
        name = shipped_name(quality)
        if not _installed(name):
            raise PixelsmithError(
                f"no codec model is installed for quality {quality} ('{name}' is missing from "
                "this installation); train one (docs/CODEC.md) and pass --model FOLDER")
        codec = load_codec(name)
    if quality is not None and model is not None and codec.quality not in (0, quality):
        raise PixelsmithError(f"the model is quality {codec.quality}, not {quality} "
                              "(give --model or --quality, not both)")
    return codec


def _pixels(image, max_pixels: int) -> torch.Tensor:
    """(1, C, H, W) float pixels from a tensor, a pixelsmith Image or an image file path."""
    from pixelsmith.io import load_image

    if isinstance(image, (str, Path)):
        image = load_image(image, max_pixels=max_pixels)
    if isinstance(image, Image):
        image = image.pixels
    if not isinstance(image, torch.Tensor):
        raise PixelsmithError("compress takes an image tensor, a pixelsmith Image or a path")
    x = image[None] if image.ndim == 3 else image
    if x.ndim != 4 or x.shape[0] != 1 or x.shape[1] not in (1, 3):
        raise PixelsmithError(f"compress takes one (1, C, H, W) image with C = 1 or 3, "
                              f"not {tuple(image.shape)}")
    if x.shape[-2] * x.shape[-1] > max_pixels:
        raise PixelsmithError(f"{x.shape[-1]}x{x.shape[-2]} image is above the limit of "
                              f"{max_pixels / 1e6:.1f} megapixels")
    return torch.nan_to_num(x.detach().float()).clamp(0.0, 1.0)


def compress(image, quality: int | None = None, model: str | Path | Codec | None = None, *,
             refine_steps: int = 0, max_pixels: int = DEFAULT_MAX_PIXELS,
             progress: bool = False) -> bytes:
    """Compress one image (tensor in [0, 1], pixelsmith Image, or file path) to .pxs bytes.

    A gray image coded by an RGB model is coded as three equal channels and decodes gray; an
    RGB image needs an RGB model. Alpha, if any, is not kept. ``refine_steps`` > 0 tunes the
    latents to this image first (:mod:`pixelsmith.codec.refine`; 100 is a good choice):
    smaller files at the same quality, slower encoding, the same decoder. ``progress`` shows
    a progress bar over the refinement steps.
    """
    from pixelsmith.codec.refine import RefineSettings, refine_compress

    settings = RefineSettings(steps=int(refine_steps))
    codec = resolve_codec(model, quality)
    x = _pixels(image, max_pixels)
    channels = x.shape[1]
    if channels == 3 and codec.channels == 1:
        raise PixelsmithError("this codec model codes gray images; the image is RGB")
    device = next(codec.parameters()).device
    padded, (bottom, right) = pad_image(x.expand(-1, codec.channels, -1, -1).to(device),
                                        codec.pad_multiple)
    if settings.steps:
        streams = refine_compress(codec, padded, tuple(x.shape[-2:]), settings, progress)
    else:
        streams = codec.compress_padded(padded)
    name = config_of(codec).display_name(codec)
    ident = codec.pixelsmith_id or model_id(codec)
    header = Header(codec.kind, channels, codec.quality, x.shape[-1], x.shape[-2], bottom, right,
                    ident, clean_name(name))
    return pack(header, streams)


def read_header(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> Header:
    """The checked header of .pxs bytes (the CRC is verified too)."""
    return unpack(data, max_pixels)[0]


def decompress(data: bytes, model: str | Path | Codec | None = None, *,
               max_pixels: int = DEFAULT_MAX_PIXELS) -> torch.Tensor:
    """Decode .pxs bytes to a (1, C, H, W) float32 tensor in [0, 1] (C as in the header).

    The model is the one named in the file (a shipped name) unless ``model`` is given; it must
    be the very model that coded the file (same weights and tables), else a one-line error.
    """
    from pixelsmith.codec.memory import check_decode_memory

    header, streams = unpack(data, max_pixels)
    if model is None:
        if not _installed(header.model_name):
            raise PixelsmithError(f"the file was made with model '{header.model_name}', which "
                                  "is not installed here; pass --model FOLDER")
        model = header.model_name
    codec = resolve_codec(model)
    ident = codec.pixelsmith_id or model_id(codec)
    earlier = codec.version1_ids if header.version == 1 else {}
    if header.model_id != ident and header.model_id not in earlier:
        raise PixelsmithError(f"the file was made with a different model ('{header.model_name}',"
                              f" id {header.model_id.hex()}; this one is {ident.hex()})")
    if (header.kind != codec.kind or len(streams) != codec.streams
            or header.channels > codec.channels):
        raise PixelsmithError("the .pxs header does not fit the model")
    multiple = codec.pad_multiple
    if (header.pad_bottom, header.pad_right) != ((-header.height) % multiple,
                                                 (-header.width) % multiple):
        raise PixelsmithError("bad padding in .pxs header (does not fit the model)")
    check_decode_memory(codec, header.height, header.width, header.pad_bottom, header.pad_right)
    height, width = header.padded_size
    options = {"version": header.version, "crop": (header.height, header.width)}
    overrides = earlier.get(header.model_id, {}).get("scale_table")
    if overrides:
        table = codec.gaussian.final["scale_table"].clone()
        for index, value in overrides.items():
            table[index] = value
        options["scale_table"] = table
    with torch.no_grad():
        x_hat = codec.decompress_padded(streams, height, width, **options)
    x_hat = x_hat.float().cpu().nan_to_num_().clamp_(0.0, 1.0)
    if header.channels == 1 and codec.channels == 3:
        x_hat = x_hat.mean(dim=1, keepdim=True)
    return x_hat
