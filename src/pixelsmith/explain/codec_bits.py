"""Where a learned codec spends its bits: a bit-allocation map from a real ``.pxs`` encode.

The image is compressed with :func:`pixelsmith.codec.compress`; the file's streams are then
decoded symbol by symbol against the model's integer tables, and each symbol's information
content, ``16 - log2(frequency)`` bits (plus the bits of an escaped value), is put back on the
16 x 16 pixel block its latent y covers (the hyperprior's z: 64 x 64 blocks). The map is in
bits per pixel over the padded image the codec coded; its sum is what the range coder wrote,
so it equals the file's payload (its streams) up to the coder's last words, and the file is
that plus the header. For the mean-scale hyperprior the predicted scales of y (the hyperprior's
guess of how unpredictable each latent is) come as a second map. The checkerboard codec's two
passes over y are decoded as its decoder runs them (anchors from the hyperprior, then
non-anchors with the context of the decoded anchors), so its map and scales are per pass too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pixelsmith.errors import PixelsmithError
from pixelsmith.explain.subject import Subject


@dataclass
class BitMap:
    """``bpp``: (H', W') bits per pixel over the padded image (y and z together); ``y_bits`` /
    ``z_bits``: bits per latent position (h, w) / (h/4, w/4); ``scales``: mean predicted scale
    per latent position (hyperprior only); byte counts of the real file."""

    bpp: np.ndarray
    y_bits: np.ndarray
    z_bits: np.ndarray | None
    scales: np.ndarray | None
    size: tuple[int, int]  # (height, width) of the image (the map is cropped to it for display)
    file_bytes: int
    payload_bytes: int
    data: bytes
    anchors: np.ndarray | None = None  # checkerboard codec: (h, w) True at anchor positions

    @property
    def header_bytes(self) -> int:
        return self.file_bytes - self.payload_bytes

    @property
    def map_bits(self) -> float:
        return float(self.bpp.sum())

    @property
    def payload_bits(self) -> int:
        return 8 * self.payload_bytes


def symbol_bits(symbols: np.ndarray, table_ids: np.ndarray, tables) -> np.ndarray:
    """Information content in bits of each symbol under its table row (escapes included): the
    per-symbol terms of :func:`pixelsmith.codec.coder.estimate_bits`."""
    from pixelsmith.codec import coder

    values = np.asarray(symbols, dtype=np.int64).ravel()
    ids = np.asarray(table_ids, dtype=np.int64).ravel()
    index = values - tables.offsets[ids]
    escape = tables.lengths[ids] - 1
    escaped = (index < 0) | (index >= escape)
    index = np.where(escaped, escape, index)
    bits = coder.PRECISION - np.log2(tables.freqs[ids, index].astype(np.float64))
    extra = coder._bit_length(coder._zigzag(values[escaped]))
    bits[escaped] += np.log2(coder._LENGTH_SYMBOLS) + np.maximum(extra - 1, 0)
    return bits


def _spread(bits: np.ndarray, block: int) -> np.ndarray:
    """Bits per latent position (h, w) -> bits per pixel over (h * block, w * block)."""
    return np.kron(bits, np.ones((block, block))) / (block * block)


def bit_map(subject: Subject) -> BitMap:
    """Compress the subject's image and map the file's bits back onto the image."""
    from pixelsmith.codec import coder
    from pixelsmith.codec.api import compress
    from pixelsmith.codec.checkerboard import CheckerboardHyperprior
    from pixelsmith.codec.entropy import dequantize
    from pixelsmith.codec.format import unpack
    from pixelsmith.codec.models import FactorizedPrior, MeanScaleHyperprior, channel_ids

    codec = subject.model
    if not isinstance(codec, (FactorizedPrior, MeanScaleHyperprior, CheckerboardHyperprior)):
        raise PixelsmithError("a bit map needs a codec with an entropy model (codec-q1..q4 "
                              "or a checkerboard codec); "
                              f"this one is {type(codec).__name__}")
    data = compress(subject.x, model=codec)
    header, streams = unpack(data)
    height, width = header.padded_size
    payload = sum(len(s) for s in streams)
    z_bits = scales = anchors = None
    with torch.no_grad():
        if isinstance(codec, CheckerboardHyperprior):
            z_bits, y_bits, scales, anchors = _checkerboard_bits(codec, streams, height, width)
        elif isinstance(codec, MeanScaleHyperprior):
            z_shape = codec.latent_shape(height, width, 64, codec.N)
            z_ids = channel_ids(z_shape)
            z_tables = codec.entropy_z.tables()
            z_symbols = coder.decode(streams[0], z_ids, z_tables)
            z_bits = symbol_bits(z_symbols, z_ids, z_tables).reshape(z_shape)[0].sum(axis=0)
            z_hat = dequantize(torch.from_numpy(z_symbols).view(z_shape), codec._z_centre())
            scale_t, _ = codec.entropy_parameters(z_hat)
            rows = codec.gaussian.indexes(scale_t).cpu().numpy().ravel()
            y_tables = codec.gaussian.tables()
            y_symbols = coder.decode(streams[1], rows, y_tables)
            y_bits = symbol_bits(y_symbols, rows, y_tables).reshape(scale_t.shape)[0].sum(axis=0)
            scales = scale_t[0].double().mean(dim=0).cpu().numpy()
        else:
            shape = codec.latent_shape(height, width)
            ids = channel_ids(shape)
            tables = codec.entropy_y.tables()
            y_symbols = coder.decode(streams[0], ids, tables)
            y_bits = symbol_bits(y_symbols, ids, tables).reshape(shape)[0].sum(axis=0)
    bpp = _spread(y_bits, 16)
    if z_bits is not None:
        bpp = bpp + _spread(z_bits, 64)
    return BitMap(bpp, y_bits, z_bits, scales, (header.height, header.width), len(data),
                  payload, data, anchors)


def _z_bits(codec, stream: bytes, height: int, width: int) -> tuple[np.ndarray, torch.Tensor]:
    """Bits per position of the hyperprior's z (summed over channels) and the decoded z_hat."""
    from pixelsmith.codec import coder
    from pixelsmith.codec.entropy import dequantize
    from pixelsmith.codec.models import channel_ids

    z_shape = codec.latent_shape(height, width, 64, codec.N)
    z_ids = channel_ids(z_shape)
    z_tables = codec.entropy_z.tables()
    z_symbols = coder.decode(stream, z_ids, z_tables)
    z_bits = symbol_bits(z_symbols, z_ids, z_tables).reshape(z_shape)[0].sum(axis=0)
    z_hat = dequantize(torch.from_numpy(z_symbols).view(z_shape), codec._z_centre().cpu())
    return z_bits, z_hat


def _checkerboard_bits(codec, streams: list[bytes], height: int, width: int):
    """(z bits, y bits, mean predicted scale, anchor mask) of a checkerboard file: the two y
    passes decoded with the codec's own fixed-point parameters, each symbol's bits put back on
    its position; the scale is that of the table row each symbol was coded with."""
    from pixelsmith.codec import coder
    from pixelsmith.codec.checkerboard import anchor_mask

    z_bits, z_hat = _z_bits(codec, streams[0], height, width)
    shape = codec.latent_shape(height, width)
    tables = codec.gaussian.tables()
    bits = np.zeros((shape[1], shape[2] * shape[3]))
    used = np.zeros_like(bits)  # the scale of the table row each symbol was coded with
    table = codec.gaussian.final["scale_table"].double().cpu().numpy()

    def symbols_for(index, positions, _means, scale_counts):
        rows = codec.gaussian.indexes(scale_counts).numpy()
        decoded = coder.decode(streams[1 + index], rows.ravel(), tables)
        bits[:, positions.numpy()] = symbol_bits(decoded, rows.ravel(), tables).reshape(
            rows.shape[1:])
        used[:, positions.numpy()] = table[rows[0]]
        return torch.from_numpy(decoded).view(rows.shape)

    codec.code_passes(z_hat, shape, symbols_for)
    y_bits = bits.reshape(shape[1:]).sum(axis=0)
    scales = used.reshape(shape[1:]).mean(axis=0)
    return z_bits, y_bits, scales, anchor_mask(*shape[-2:])[0, 0].numpy()
