"""The .pxs container: a small fixed header, the entropy-coded streams, a CRC32 (docs/FORMAT.md).

:func:`unpack` never trusts the bytes: every length is checked against what is left of the
file before it is used, sizes are bounded (pixels, name length, stream count), and the CRC
is checked before any field is interpreted, so a damaged, truncated or foreign file raises a
one-line :class:`PixelsmithError` at once, whatever its content.
"""

from __future__ import annotations

import re
import struct
import zlib
from dataclasses import dataclass

from pixelsmith.errors import PixelsmithError
from pixelsmith.io import DEFAULT_MAX_PIXELS

MAGIC = b"\x89PXS\r\n\x1a\n"
VERSION = 2  # written; version 1 differs only in how the hyperprior picks rows (FORMAT.md)
READ_VERSIONS = (1, 2)
KIND_NAMES = {1: "factorized prior", 2: "hyperprior", 3: "conv-ae 8-bit + zlib",
              4: "checkerboard context + hyperprior"}
MAX_NAME = 64
MAX_STREAMS = 4
MAX_PAD = 63  # pads are below the largest pad multiple (64)
MAX_SIDE = 1 << 20
_FIXED = struct.Struct("<8sBBBBIIBB8sB")  # magic .. name length: 31 bytes
_NAME_OK = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_CRC = 4


@dataclass(frozen=True)
class Header:
    """What a .pxs file says about its image and the model that coded it.

    ``channels`` is the image's (1 gray, 3 RGB), which may be fewer than the model's: a gray
    image is coded by an RGB model as three equal channels. ``model_id`` is the first 8 bytes
    of the SHA-256 of the model's state (weights and entropy tables). ``version`` is the
    format version the file was written in.
    """

    kind: int
    channels: int
    quality: int
    width: int
    height: int
    pad_bottom: int
    pad_right: int
    model_id: bytes
    model_name: str
    version: int = VERSION

    @property
    def padded_size(self) -> tuple[int, int]:
        """(height, width) the model decodes before cropping."""
        return self.height + self.pad_bottom, self.width + self.pad_right


def clean_name(name: str) -> str:
    """A model name as the header can hold it: [A-Za-z0-9._-], 1 to 64 characters."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:MAX_NAME]
    return cleaned or "model"


def _check(header: Header, max_pixels: int) -> None:
    if header.kind not in KIND_NAMES:
        raise PixelsmithError(f"unknown codec kind {header.kind} in .pxs header")
    if header.channels not in (1, 3):
        raise PixelsmithError(f"bad channel count {header.channels} in .pxs header")
    if not (1 <= header.width <= MAX_SIDE and 1 <= header.height <= MAX_SIDE):
        raise PixelsmithError(f"bad image size {header.width}x{header.height} in .pxs header")
    if header.width * header.height > max_pixels:
        raise PixelsmithError(f"{header.width}x{header.height} image is above the limit of "
                              f"{max_pixels / 1e6:.1f} megapixels (raise it with --max-pixels)")
    if header.pad_bottom > MAX_PAD or header.pad_right > MAX_PAD:
        raise PixelsmithError("bad padding in .pxs header")
    if len(header.model_id) != 8 or not _NAME_OK.match(header.model_name):
        raise PixelsmithError("bad model name in .pxs header")


def pack(header: Header, streams: list[bytes]) -> bytes:
    """The bytes of a .pxs file."""
    _check(header, MAX_SIDE * MAX_SIDE)
    if not 1 <= len(streams) <= MAX_STREAMS:
        raise ValueError(f"1 to {MAX_STREAMS} streams, not {len(streams)}")
    if header.version not in READ_VERSIONS:
        raise ValueError(f"cannot write .pxs version {header.version}")
    name = header.model_name.encode("ascii")
    head = _FIXED.pack(MAGIC, header.version, header.kind, header.channels, header.quality,
                       header.width, header.height, header.pad_bottom, header.pad_right,
                       header.model_id, len(name))
    lengths = struct.pack(f"<B{len(streams)}I", len(streams), *(len(s) for s in streams))
    body = head + name + lengths + b"".join(streams)
    return body + struct.pack("<I", zlib.crc32(body))


def unpack(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[Header, list[bytes]]:
    """Parse and check a .pxs file: (header, streams), or a one-line PixelsmithError."""
    data = bytes(data)
    if not data.startswith(MAGIC):
        if MAGIC.startswith(data):
            raise PixelsmithError("truncated .pxs file")
        raise PixelsmithError("not a .pxs file (no pixelsmith magic number)")
    if len(data) < len(MAGIC) + 1:
        raise PixelsmithError("truncated .pxs file")
    version = data[len(MAGIC)]
    if version not in READ_VERSIONS:
        raise PixelsmithError(f".pxs version {version} is not supported (this pixelsmith "
                              f"reads versions {', '.join(map(str, READ_VERSIONS))})")
    end = len(data) - _CRC
    position = _FIXED.size
    if position > end:
        raise PixelsmithError("truncated .pxs file")
    (_, _, kind, channels, quality, width, height, pad_bottom, pad_right, model_id,
     name_length) = _FIXED.unpack_from(data, 0)
    if not 1 <= name_length <= MAX_NAME:
        raise PixelsmithError("corrupted .pxs file (bad model name length)")
    if position + name_length + 1 > end:
        raise PixelsmithError("truncated .pxs file")
    name_bytes = data[position:position + name_length]
    position += name_length
    count = data[position]
    position += 1
    if not 1 <= count <= MAX_STREAMS:
        raise PixelsmithError("corrupted .pxs file (bad stream count)")
    if position + 4 * count > end:
        raise PixelsmithError("truncated .pxs file")
    lengths = struct.unpack_from(f"<{count}I", data, position)
    position += 4 * count
    if position + sum(lengths) > end:
        raise PixelsmithError("truncated .pxs file")
    if position + sum(lengths) < end:
        raise PixelsmithError("corrupted .pxs file (unexpected bytes after the streams)")
    if zlib.crc32(data[:end]) != struct.unpack_from("<I", data, end)[0]:
        raise PixelsmithError("corrupted .pxs file (CRC mismatch)")
    streams = []
    for length in lengths:
        streams.append(data[position:position + length])
        position += length
    header = Header(kind, channels, quality, width, height, pad_bottom, pad_right, model_id,
                    name_bytes.decode("ascii", errors="replace"), version)
    _check(header, max_pixels)
    return header, streams
