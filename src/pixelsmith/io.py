"""Read and write image files as float tensors in [0, 1], NCHW, with clear errors and atomic writes.

Pillow decodes most formats. Two gaps are filled by small, dedicated libraries: Pillow reduces
16-bit RGB PNG to 8 bits (``pypng`` reads and writes those), and 16-bit RGB TIFF (``tifffile``).
Alpha is set aside on reading and can be put back on writing, so restoration never sees it.
"""

from __future__ import annotations

import contextlib
import os
import struct
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


def _read_png16(path: Path) -> np.ndarray:
    import png

    width, height, rows, info = png.Reader(filename=str(path)).asDirect()
    planes = info["planes"]
    data = np.vstack([np.asarray(row, dtype=np.uint16) for row in rows])
    return data.reshape(height, width, planes)


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


def _read_with_pillow(path: Path, max_pixels: int):
    from PIL import Image as PILImage
    from PIL import ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
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
    except (OSError, ValueError, SyntaxError) as exc:
        raise PixelsmithError(f"{path}: cannot read image ({exc})") from None
    width, height = img.size
    if width == 0 or height == 0:
        raise PixelsmithError(f"{path}: image has zero size ({width}x{height})")
    if width * height > max_pixels:
        raise PixelsmithError(
            f"{path}: {width}x{height} = {width * height / 1e6:.1f} megapixels is above the "
            f"limit of {max_pixels / 1e6:.1f} (raise it with --max-pixels)"
        )
    try:
        img.load()
        meta = {"format": img.format or path.suffix.lstrip(".").upper()}
        if img.format == "JPEG" and getattr(img, "quantization", None):
            meta["quantization"] = {k: list(v) for k, v in img.quantization.items()}
        if img.format == "TIFF":
            meta["bits_per_sample"] = img.tag_v2.get(258, (8,))
        meta["orientation"] = img.getexif().get(0x0112, 1)
        img = ImageOps.exif_transpose(img)
    except (OSError, ValueError, SyntaxError, struct.error) as exc:
        raise PixelsmithError(f"{path}: damaged or truncated image ({exc})") from None
    return img, meta


def load_image(path: str | Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image:
    """Decode an image file into an :class:`Image` (gray or RGB pixels, alpha set aside).

    Raises :class:`PixelsmithError` with a one-line message for missing, unreadable, truncated,
    empty or over-large files, so callers never need to catch decoder-specific exceptions.
    """
    path = Path(path)
    if not path.is_file():
        raise PixelsmithError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise PixelsmithError(f"{path}: file is empty")
    img, info = _read_with_pillow(path, max_pixels)
    mode, fmt = img.mode, info["format"]

    header = _png_header(path) if fmt == "PNG" else None
    if header is not None and header[0] == 16 and header[1] in (2, 6):
        array = _orient(_read_png16(path), info["orientation"])  # Pillow would drop to 8 bits
    elif fmt == "TIFF" and mode.startswith("RGB") and info["bits_per_sample"][0] == 16:
        import tifffile

        array = _orient(tifffile.imread(path), info["orientation"])
    elif mode == "P" or mode == "PA":
        has_alpha = "transparency" in img.info or mode == "PA"
        array = np.asarray(img.convert("RGBA" if has_alpha else "RGB"))
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        array = np.asarray(img.convert("RGB"))
    elif mode == "1":
        array = np.asarray(img.convert("L"))
    elif mode in ("L", "LA", "RGB", "RGBA", "I;16", "I;16B", "I;16L", "I;16N"):
        array = np.asarray(img)
        if mode.startswith("I;16"):
            array = array.astype(np.uint16)
    elif mode == "RGBa" or mode == "La":
        array = np.asarray(img.convert("RGBA" if mode == "RGBa" else "LA"))
    elif mode == "I":
        array = np.clip(np.asarray(img), 0, 65535).astype(np.uint16)
    elif mode == "F":
        array = np.clip(np.asarray(img, dtype=np.float32), 0.0, 1.0)
    else:
        array = np.asarray(img.convert("RGB"))

    color, alpha = _split_channels(np.asarray(array))
    pixels, depth = _to_float(color)
    alpha_tensor = _to_float(alpha)[0] if alpha is not None else None
    return Image(pixels, alpha_tensor, depth, mode, fmt, info)


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
    """Yield a temporary path beside ``path``; renamed onto ``path`` if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp makes 0600 files, and some writers (safetensors) replace the file we made:
        # give the finished output normal rights just before it takes the target's name.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


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
) -> Path:
    """Write (1, C, H, W) pixels in [0, 1] to ``path`` atomically; format from the suffix.

    ``bit_depth`` 16 is kept for PNG and TIFF and reduced to 8 for JPEG and WebP, which have no
    16-bit mode. Alpha, if given, is written where the format has it (PNG, TIFF, WebP).
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

    with atomic_output(path) as tmp:
        channels = 1 if data.ndim == 2 else data.shape[2]
        if bit_depth == 16 and fmt == "PNG" and channels > 1:
            import png

            writer = png.Writer(data.shape[1], data.shape[0], greyscale=channels == 2,
                                alpha=channels in (2, 4), bitdepth=16)
            with open(tmp, "wb") as handle:
                writer.write(handle, data.reshape(data.shape[0], -1).tolist())
        elif bit_depth == 16 and fmt == "TIFF":
            import tifffile

            tifffile.imwrite(tmp, data, photometric="minisblack" if channels <= 2 else "rgb")
        elif bit_depth == 16:
            PILImage.fromarray(data.astype(np.uint16), mode=None).save(tmp, format=fmt)
        else:
            img = PILImage.fromarray(data)
            options = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
            img.save(tmp, format=fmt, **options)
    return Path(path)
