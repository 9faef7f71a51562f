"""How much memory decoding a .pxs file takes, checked before anything is allocated.

Decoding holds the output image (float32), the entropy decoder's per-latent arrays and one
synthesis tile's activations (:meth:`pixelsmith.codec.models.Codec.synthesize`), so its peak
is affine in the pixel count. :func:`decode_bytes` estimates it from the header alone with
constants set above what ``benchmarks/codec_decode_memory.py`` measures (docs/CODEC.md), and
:func:`check_decode_memory` refuses, with one line, a file whose decoding would not fit in the
memory that is free, before any tensor the size of the image exists.
"""

from __future__ import annotations

import torch

from pixelsmith.codec.models import LATENT_STRIDE, SYNTHESIS_HALO, SYNTHESIS_TILE, Codec
from pixelsmith.errors import PixelsmithError

#: bytes per output pixel and channel of the model: the float32 image (4) and the temporaries
#: of writing it as an 8-bit file (pixelsmith decompress), set above the benchmark's measurement
OUTPUT_BYTES = 12
#: bytes per latent value while the entropy decoder runs (symbols, their rows, coding order,
#: means, the dequantized latent), set above the benchmark's measurement
LATENT_BYTES = 40
#: the same per codec kind where it differs: the checkerboard codec (kind 4) also holds the
#: hyperprior's 2M features, the means and scales of both passes and the decoded anchors as
#: int64 (counted from its arrays, about 100 bytes; with it the benchmark measured at most 0.56
#: of the estimate for an N64/M128 model, docs/CODEC.md)
LATENT_BYTES_BY_KIND = {4: 112}
#: bytes per pixel of one synthesis tile (halo included) and hidden channel (N): the tile's
#: activations and convolution workspace, set above the benchmark's measurement
TILE_BYTES_PER_CHANNEL = 14


def latent_elements(codec: Codec, height: int, width: int) -> int:
    """Latent values coded for an image of padded size (height, width)."""
    return codec.M * (height // LATENT_STRIDE) * (width // LATENT_STRIDE)


def decode_bytes(codec: Codec, height: int, width: int, pad_bottom: int = 0,
                 pad_right: int = 0) -> int:
    """Estimated peak memory (bytes) of decoding a height x width image (as in the header)."""
    padded_h, padded_w = height + pad_bottom, width + pad_right
    side = (SYNTHESIS_TILE + 2 * SYNTHESIS_HALO) * LATENT_STRIDE
    tile = min(side, padded_h) * min(side, padded_w)
    return (OUTPUT_BYTES * codec.channels * height * width
            + LATENT_BYTES_BY_KIND.get(codec.kind, LATENT_BYTES)
            * latent_elements(codec, padded_h, padded_w)
            + TILE_BYTES_PER_CHANNEL * codec.N * tile)


def available_memory(device: torch.device) -> int | None:
    """Free memory in bytes where it can be read (CUDA, or Linux's MemAvailable), else None."""
    from pixelsmith.codec.refine import available_memory as free

    return free(device)


def check_decode_memory(codec: Codec, height: int, width: int, pad_bottom: int = 0,
                        pad_right: int = 0) -> None:
    """A one-line error when decoding would need more memory than is free."""
    device = next(codec.parameters()).device
    needed = decode_bytes(codec, height, width, pad_bottom, pad_right)
    free = available_memory(device)
    if free is not None and needed > free:
        raise PixelsmithError(
            f"decoding this {width}x{height} image needs about {needed / 2**30:.1f} GB of "
            f"memory and {free / 2**30:.1f} GB is free")
