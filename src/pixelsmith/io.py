"""Read and write image files as float tensors in [0, 1], NCHW, with clear errors and atomic writes.

Pillow decodes most formats. Two gaps are filled by dedicated libraries: Pillow reduces 16-bit
RGB PNG to 8 bits (OpenCV reads and writes those when installed, else ``pypng``; see
:mod:`pixelsmith.io_png`), and 16-bit RGB TIFF (``tifffile``). Damaged files of every kind are
one-line errors. ICC profiles and EXIF are kept in ``Image.info`` for outputs.
Alpha is set aside on reading and can be put back on writing, so restoration never sees it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from pixelsmith.errors import PixelsmithError

DEFAULT_MAX_PIXELS = 100_000_000
READ_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
WRITE_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class Image:
    """A decoded image: ``pixels`` is float32 (1, C, H, W) in [0, 1] with C = 1 (gray) or 3 (RGB).

    ``alpha`` (1, 1, H, W) is kept apart when the file had transparency; ``bit_depth`` (8 or 16)
    is the depth of the source samples, so that outputs can keep it.
    """

    pixels: torch.Tensor
    alpha: torch.Tensor | None = None
    bit_depth: int = 8
    source_mode: str = ""
    source_format: str = ""
    info: dict = field(default_factory=dict)

    @property
    def is_gray(self) -> bool:
        return self.pixels.shape[1] == 1

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        return int(self.pixels.shape[-2]), int(self.pixels.shape[-1])


def list_images(inputs: list[str | Path] | str | Path, recursive: bool = True) -> list[Path]:
    """Expand files and folders into a sorted list of image files; a missing path is an error."""
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            pattern = "**/*" if recursive else "*"
            found.extend(
                p for p in sorted(path.glob(pattern))
                if p.is_file() and p.suffix.lower() in READ_SUFFIXES
            )
        elif path.is_file():
            found.append(path)
        else:
            raise PixelsmithError(f"{path}: no such file or folder")
    return found


def _to_float(array: np.ndarray) -> tuple[torch.Tensor, int]:
    """HxW or HxWxC integer array -> (1, C, H, W) float32 in [0, 1], and its bit depth."""
    if array.dtype == np.uint8:
        depth, scale = 8, 255.0
    elif array.dtype in (np.uint16, np.int32, np.int16, np.uint32):
        depth, scale = 16, 65535.0
    elif array.dtype == np.bool_:
        depth, scale = 8, 1.0
    elif np.issubdtype(array.dtype, np.floating):
        depth, scale = 16, 1.0
    else:
        raise PixelsmithError(f"unsupported sample type {array.dtype}")
    data = np.asarray(array, dtype=np.float32) / scale
    if data.ndim == 2:
        data = data[:, :, None]
    tensor = torch.from_numpy(np.ascontiguousarray(data.transpose(2, 0, 1)))[None]
    return tensor.clamp_(0.0, 1.0), depth


def _png_header(path: Path) -> tuple[int, int] | None:
    """(bit depth, colour type) from a PNG's IHDR, or None for other files."""
    with open(path, "rb") as handle:
        head = handle.read(33)
    if len(head) < 29 or not head.startswith(_PNG_SIGNATURE):
        return None
    return head[24], head[25]


def _split_channels(array: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Separate colour from alpha in an HxW[xC] array with C in 1..4."""
    if array.ndim == 2:
        return array, None
    channels = array.shape[2]
    if channels == 1:
        return array[:, :, 0], None
    if channels == 2:
        return array[:, :, 0], array[:, :, 1]
    if channels == 3:
        return array, None
    return array[:, :, :3], array[:, :, 3]


def _orient(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) to an HxW[xC] array, as Pillow's exif_transpose does."""
    if orientation in (5, 6, 7, 8):
        array = np.swapaxes(array, 0, 1)  # transpose first, then flip as orientations 2-4
        orientation = {5: 1, 6: 2, 7: 3, 8: 4}[orientation]
    if orientation in (2, 3):
        array = array[:, ::-1]
    if orientation in (3, 4):
        array = array[::-1]
    return np.ascontiguousarray(array)


@contextlib.contextmanager
def _quiet_decoders(path: Path) -> Iterator[None]:
    """Decoder exceptions on damaged files -> one PixelsmithError; their warnings and log lines
    (Pillow's UserWarnings on bad tags, tifffile's logger) are silenced.

    Decoders of untrusted bytes raise whatever their parser meets (ValueError, IndexError,
    struct.error, zlib.error, their own types), so everything but our own errors is caught here.
    """
    import logging

    tiff_log = logging.getLogger("tifffile")
    was_disabled, tiff_log.disabled = tiff_log.disabled, True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    except PixelsmithError:
        raise
    except MemoryError:
        raise PixelsmithError(f"{path}: not enough memory to decode this image") from None
    except Exception as exc:
        raise PixelsmithError(f"{path}: damaged or truncated image ({_short(exc)})") from None
    finally:
        tiff_log.disabled = was_disabled


def _short(exc: Exception) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def _open_with_pillow(path: Path, max_pixels: int):
    """Open (not decode) ``path`` with Pillow and check its size against ``max_pixels``."""
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            previous = PILImage.MAX_IMAGE_PIXELS
            PILImage.MAX_IMAGE_PIXELS = None  # our own limit below replaces Pillow's
            try:
                img = PILImage.open(path)
            finally:
                PILImage.MAX_IMAGE_PIXELS = previous
    except UnidentifiedImageError:
        raise PixelsmithError(
            f"{path}: not an image file (or a format pixelsmith cannot read)"
        ) from None
    except Exception as exc:  # a damaged header: any parser error
        raise PixelsmithError(f"{path}: cannot read image ({_short(exc)})") from None
    width, height = img.size
    if width <= 0 or height <= 0:
        raise PixelsmithError(f"{path}: image has zero size ({width}x{height})")
    if width * height > max_pixels:
        raise PixelsmithError(
            f"{path}: {width}x{height} = {width * height / 1e6:.1f} megapixels is above the "
            f"limit of {max_pixels / 1e6:.1f} (raise it with --max-pixels)"
        )
    return img


def _metadata(img, path: Path) -> dict:
    """What the file says besides its pixels: format, JPEG tables, TIFF sample size, EXIF
    orientation, and the ICC profile and EXIF block to copy into outputs (orientation reset to
    1, since the pixels are turned upright on reading)."""
    from PIL import Image as PILImage

    meta = {"format": img.format or path.suffix.lstrip(".").upper()}
    if img.format == "JPEG" and getattr(img, "quantization", None):
        meta["quantization"] = {k: list(v) for k, v in img.quantization.items()}
    if img.format == "TIFF":
        meta["bits_per_sample"] = img.tag_v2.get(258, (8,))
    if img.format == "PNG":  # Pillow's getexif() would decode a PNG just to look for eXIf
        exif = PILImage.Exif()
        if img.info.get("exif"):
            exif.load(img.info["exif"])
    else:
        exif = img.getexif()
    orientation = exif.get(0x0112, 1)
    meta["orientation"] = orientation if orientation in range(1, 9) else 1
    if len(exif):  # Pillow's exif_transpose reads the image's own Exif: restore it after
        if 0x0112 in exif:
            exif[0x0112] = 1
        meta["exif"] = exif.tobytes()
        if 0x0112 in exif:
            exif[0x0112] = orientation
    if img.info.get("icc_profile"):
        meta["icc_profile"] = bytes(img.info["icc_profile"])
    return meta


def _check_jpeg_fill(img, path: Path) -> None:
    """Refuse a JPEG whose last rows are the flat grey (128) that libjpeg puts where it ran out
    of valid data (a damaged or cut entropy-coded segment), unless the whole image is that grey.

    libjpeg only warns in that case and Pillow drops the warning, so the pixels are the one
    sign left. A genuine photo never ends in 8 rows of exactly (128, 128, 128).
    """
    if img.mode not in ("L", "RGB") or img.height < 16:
        return
    width, height = img.size
    tail = np.asarray(img.crop((0, height - 8, width, height)))
    if not (tail == 128).all():
        return
    grey = (np.asarray(img) == 128).reshape(height, -1).all(axis=1)  # rows of exactly 128
    if grey.all():
        return
    first = height - int(np.argmin(grey[::-1]))
    raise PixelsmithError(
        f"{path}: damaged JPEG: its image data ends early (rows {first}-{height - 1} decode as "
        "flat grey)")


def load_image(path: str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image:
    """Decode an image file into an :class:`Image` (gray or RGB pixels, alpha set aside).

    Raises :class:`PixelsmithError` with a one-line message for missing, unreadable, truncated,
    damaged, empty or over-large files, so callers never need to catch decoder-specific
    exceptions. ``info`` holds the format, JPEG tables, and the ICC profile and EXIF block
    (``icc_profile``, ``exif``) that :func:`save_image` can copy into an output.
    """
    path = Path(path)
    if not path.is_file():
        raise PixelsmithError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise PixelsmithError(f"{path}: file is empty")
    img = _open_with_pillow(path, max_pixels)
    try:
        with _quiet_decoders(path):
            info = _metadata(img, path)
            mode, fmt = img.mode, info["format"]
            array = _decode(img, path, info)
    finally:
        img.close()
    color, alpha = _split_channels(np.asarray(array))
    pixels, depth = _to_float(color)
    alpha_tensor = _to_float(alpha)[0] if alpha is not None else None
    return Image(pixels, alpha_tensor, depth, mode, fmt, info)


def _decode(img, path: Path, info: dict) -> np.ndarray:
    """The pixels of the opened ``img`` as an upright HxW[xC] array (EXIF orientation applied)."""
    from PIL import ImageOps

    mode, fmt = img.mode, info["format"]
    width, height = img.size
    header = _png_header(path) if fmt == "PNG" else None
    if header is not None and header[0] == 16 and header[1] in (2, 6):
        # Pillow would drop to 8 bits: OpenCV (fast) or pypng decode it, after a chunk check
        from pixelsmith import io_png

        data = path.read_bytes()
        chunks = io_png.check_chunks(data, str(path))
        if io_png.fast_path(chunks):
            array = io_png.decode_16bit(data, str(path), height, width)
        else:
            array = io_png.read_pypng(data, str(path))
        return _orient(array, info["orientation"])
    img.load()
    if fmt == "JPEG":
        _check_jpeg_fill(img, path)
    if fmt == "TIFF" and mode.startswith("RGB") and info["bits_per_sample"][0] == 16:
        import tifffile

        array = tifffile.imread(path, key=0)
        if array.shape[:2] != (height, width) or array.ndim != 3 or array.shape[2] < 3:
            raise PixelsmithError(f"{path}: damaged TIFF (its pixel data has shape "
                                  f"{array.shape}, its header says {width}x{height} RGB)")
        return _orient(array, info["orientation"])
    img = ImageOps.exif_transpose(img)
    if mode == "P" or mode == "PA":
        has_alpha = "transparency" in img.info or mode == "PA"
        return np.asarray(img.convert("RGBA" if has_alpha else "RGB"))
    if mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        return np.asarray(img.convert("RGB"))
    if mode == "1":
        return np.asarray(img.convert("L"))
    if mode in ("L", "LA", "RGB", "RGBA", "I;16", "I;16B", "I;16L", "I;16N"):
        array = np.asarray(img)
        return array.astype(np.uint16) if mode.startswith("I;16") else array
    if mode == "RGBa" or mode == "La":
        return np.asarray(img.convert("RGBA" if mode == "RGBa" else "LA"))
    if mode == "I":
        return np.clip(np.asarray(img), 0, 65535).astype(np.uint16)
    if mode == "F":
        return np.clip(np.nan_to_num(np.asarray(img, dtype=np.float32)), 0.0, 1.0)
    return np.asarray(img.convert("RGB"))


def read_image(
    path: str | Path, *, gray: bool | None = None, max_pixels: int = DEFAULT_MAX_PIXELS
) -> torch.Tensor:
    """Pixels of an image file as (1, C, H, W) float32; ``gray`` forces 1 (True) or 3 (False) C."""
    pixels = load_image(path, max_pixels=max_pixels).pixels
    if gray is True and pixels.shape[1] == 3:
        from pixelsmith.color import rgb_to_gray

        pixels = rgb_to_gray(pixels)
    elif gray is False and pixels.shape[1] == 1:
        pixels = pixels.expand(-1, 3, -1, -1).contiguous()
    return pixels


def quantize(x: torch.Tensor, bit_depth: int = 8) -> torch.Tensor:
    """Round to the nearest representable level of an unsigned ``bit_depth`` image, in [0, 1]."""
    levels = float(2**bit_depth - 1)
    return torch.round(x.clamp(0.0, 1.0) * levels) / levels


def to_array(x: torch.Tensor, bit_depth: int = 8) -> np.ndarray:
    """(1, C, H, W) or (C, H, W) float tensor -> HxW or HxWxC unsigned integer array."""
    if x.ndim == 4:
        if x.shape[0] != 1:
            raise ValueError("to_array takes one image, not a batch")
        x = x[0]
    levels = 2**bit_depth - 1
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    data = torch.round(x.detach().float().clamp(0, 1) * levels).cpu().numpy().astype(dtype)
    data = data.transpose(1, 2, 0)
    return data[:, :, 0] if data.shape[2] == 1 else data


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; renamed onto ``path`` if the block succeeds.

    A folder that cannot be made or written (no permission, a file in the way, a full disk)
    is a one-line PixelsmithError, also when the writer in the block meets it.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                        dir=target.parent)
        os.close(fd)
    except OSError as exc:
        reason = _blocked(target.parent, exc)
        raise PixelsmithError(f"{target}: cannot write here ({reason})") from None
    tmp = Path(tmp_name)
    try:
        try:
            yield tmp
            # mkstemp makes 0600 files, and some writers (safetensors) replace the file we
            # made: give the finished output normal rights just before it takes the target's
            # name.
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, target)
        except OSError as exc:
            raise PixelsmithError(f"{target}: cannot write ({_os_reason(exc)})") from None
    finally:
        with contextlib.suppress(OSError):
            if tmp.exists():
                tmp.unlink()


def output_folder(path: str | Path) -> Path:
    """Make the folder ``path`` (and its parents) for a command's outputs and probe that a
    file can be written there: a file in the way or a folder without rights is a one-line
    PixelsmithError (:func:`check_output_folder` is the check before any work)."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe, probe_name = tempfile.mkstemp(prefix=".write-check.", dir=folder)
        os.close(probe)
        os.unlink(probe_name)
    except OSError as exc:
        raise PixelsmithError(f"{folder}: cannot write here ({_blocked(folder, exc)})") from None
    return folder


def check_output_folder(path: str | Path) -> Path:
    """Refuse, in one line and before any work, an output folder that cannot be made: a file
    in its place or in a parent's, or a nearest existing folder without write rights. Makes
    nothing (:func:`output_folder` makes the folder when the outputs are written)."""
    folder = Path(path)
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        raise PixelsmithError(f"{folder}: cannot write here ({existing} is a file, not a folder)")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PixelsmithError(f"{folder}: cannot write here (no write permission in {existing})")
    return folder


def _blocked(folder: Path, exc: OSError) -> str:
    """Why ``folder`` cannot take files: a file where it or a parent should be, else the OS
    reason."""
    blocker = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
    return f"{blocker} is a file, not a folder" if blocker else _os_reason(exc)


def _os_reason(exc: OSError) -> str:
    """An OSError as a short reason ("Permission denied"), without the errno prefix."""
    return exc.strerror or _short(exc)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and a rename."""
    atomic_write_bytes(path, text.encode("utf-8"))


def output_format(path: str | Path) -> str:
    """Pillow format name for an output path, or a one-line error for unsupported suffixes."""
    suffix = Path(path).suffix.lower()
    if suffix not in WRITE_FORMATS:
        allowed = ", ".join(sorted(WRITE_FORMATS))
        kind = suffix or "no suffix"
        raise PixelsmithError(f"{path}: cannot write '{kind}' files (use {allowed})")
    return WRITE_FORMATS[suffix]


def save_image(
    path: str | Path,
    pixels: torch.Tensor,
    *,
    alpha: torch.Tensor | None = None,
    bit_depth: int = 8,
    quality: int = 95,
    icc_profile: bytes | None = None,
    exif: bytes | None = None,
) -> Path:
    """Write (1, C, H, W) pixels in [0, 1] to ``path`` atomically; format from the suffix.

    ``bit_depth`` 16 is kept for PNG and TIFF and reduced to 8 for JPEG and WebP, which have no
    16-bit mode. Alpha, if given, is written where the format has it (PNG, TIFF, WebP). An ICC
    profile and an EXIF block (as in :attr:`Image.info`, see :func:`image_metadata`) are
    written into PNG, JPEG and WebP files; a profile made for the other colour kind (gray vs
    RGB) than the pixels is left out, since it would mislabel them.
    """
    from PIL import Image as PILImage

    fmt = output_format(path)
    if bit_depth not in (8, 16):
        raise PixelsmithError(f"bit depth must be 8 or 16, not {bit_depth}")
    if fmt in ("JPEG", "WEBP"):
        bit_depth = 8
    if alpha is not None and fmt == "JPEG":
        alpha = None
    if pixels.ndim == 3:
        pixels = pixels[None]
    data = to_array(pixels, bit_depth)
    if alpha is not None:
        a = to_array(alpha, bit_depth)
        data = np.dstack([data if data.ndim == 3 else data[:, :, None], a])
    channels = 1 if data.ndim == 2 else data.shape[2]
    meta = {}
    if fmt in ("PNG", "JPEG", "WEBP"):
        if icc_profile and _icc_fits(icc_profile, gray=channels <= 2):
            meta["icc_profile"] = icc_profile
        if exif:
            meta["exif"] = exif

    with atomic_output(path) as tmp:
        if bit_depth == 16 and fmt == "PNG" and channels > 1:
            from pixelsmith import io_png

            encoded = io_png.encode_16bit(data)
            tmp.write_bytes(io_png.add_metadata(encoded, meta.get("icc_profile"),
                                                meta.get("exif")))
        elif bit_depth == 16 and fmt == "TIFF":
            import tifffile

            tifffile.imwrite(tmp, data, photometric="minisblack" if channels <= 2 else "rgb")
        elif bit_depth == 16:
            PILImage.fromarray(data.astype(np.uint16), mode=None).save(tmp, format=fmt, **meta)
        else:
            img = PILImage.fromarray(data)
            options = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
            img.save(tmp, format=fmt, **options, **meta)
    return Path(path)


def image_metadata(image: Image) -> dict:
    """The ICC profile and EXIF block of a loaded image, as keyword arguments of
    :func:`save_image` (empty when the file had none)."""
    return {key: image.info[key] for key in ("icc_profile", "exif") if image.info.get(key)}


def _icc_fits(profile: bytes, gray: bool) -> bool:
    """Whether an ICC profile's data colour space (header bytes 16-19) fits gray or RGB data."""
    space = profile[16:20] if len(profile) >= 20 else b""
    return space == (b"GRAY" if gray else b"RGB ")
