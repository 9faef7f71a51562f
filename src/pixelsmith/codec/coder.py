"""Range coding of integer symbols against integer frequency tables, with ``constriction``.

A :class:`Tables` holds T quantised distributions: row t has ``lengths[t]`` entries of
integer frequencies summing to ``2**PRECISION``; entry ``i < lengths[t] - 1`` stands for the
symbol value ``offsets[t] + i`` and the last entry is the *escape*: a value outside the row's
range is coded as the escape entry followed, at the end of the stream, by the value itself
(Elias-gamma-like: its bit length, uniform over 32, then its bits, uniform).

Every symbol names its row (``table_ids``). Symbols are coded grouped by row, in increasing
row order and, within a row, in raster order; the decoder knows the rows (channel indices, or
scale indices computed from already decoded data), so it replays the same order. Grouping
lets each row's model be built once and a whole group be coded in one vectorised call.

Why decoding is bit-exact: the tables are integers stored in the model file, and
``constriction`` receives them as the exactly representable floats ``freq / 2**16`` with
``perfect=False``, whose conversion to its 24-bit fixed-point model uses only IEEE basic
arithmetic. Encoder and decoder therefore hold identical integer models on any machine, and
the range coder itself is integer arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pixelsmith.errors import PixelsmithError

PRECISION = 16  # frequencies of a row sum to 2**PRECISION
MAX_TABLE = 1 << 12  # entries per row, escape included
ESCAPE_BITS = 21  # |escaped value| < 2**20: zigzag codes fit 21 bits
_LENGTH_SYMBOLS = 32  # the bit length of an escaped value is coded uniformly over 0..31


@dataclass(frozen=True)
class Tables:
    """T rows of integer frequencies: ``freqs`` (T, L) int32 (zero-padded), ``lengths`` (T,)
    entries per row including the escape, ``offsets`` (T,) the symbol value of entry 0."""

    freqs: np.ndarray
    lengths: np.ndarray
    offsets: np.ndarray

    def __post_init__(self) -> None:
        freqs = np.ascontiguousarray(self.freqs, dtype=np.int64)
        lengths = np.ascontiguousarray(self.lengths, dtype=np.int64)
        offsets = np.ascontiguousarray(self.offsets, dtype=np.int64)
        if freqs.ndim != 2 or lengths.shape != (freqs.shape[0],) or offsets.shape != lengths.shape:
            raise ValueError("tables: freqs (T, L), lengths (T,) and offsets (T,) do not agree")
        if len(lengths) and (lengths.min() < 2 or lengths.max() > freqs.shape[1]):
            raise ValueError("tables: every row needs 2..L entries")
        object.__setattr__(self, "freqs", freqs)
        object.__setattr__(self, "lengths", lengths)
        object.__setattr__(self, "offsets", offsets)

    def __len__(self) -> int:
        return len(self.lengths)

    def probabilities(self, row: int) -> np.ndarray:
        """Row ``row`` as float64 probabilities (exact: frequencies / 2**PRECISION)."""
        return self.freqs[row, : self.lengths[row]].astype(np.float64) / (1 << PRECISION)


def quantize_pmf(pmf: np.ndarray, tail: float, precision: int = PRECISION) -> np.ndarray:
    """Integer frequencies (len(pmf) + 1 entries, the last for the escape) summing to
    ``2**precision``, every entry at least 1, as close as rounding allows to ``pmf`` + ``tail``.
    """
    probs = np.append(np.clip(np.asarray(pmf, dtype=np.float64), 0.0, None), max(tail, 0.0))
    total = 1 << precision
    if len(probs) > total or not np.isfinite(probs).all() or probs.sum() <= 0:
        raise ValueError("cannot quantise this distribution")
    freqs = np.maximum(1, np.rint(probs / probs.sum() * total)).astype(np.int64)
    excess = int(freqs.sum()) - total
    if excess < 0:
        freqs[int(np.argmax(freqs))] -= excess
    for index in np.argsort(-freqs, kind="stable"):
        if excess <= 0:
            break
        take = min(excess, int(freqs[index]) - 1)
        freqs[index] -= take
        excess -= take
    return freqs.astype(np.int32)


def _models(tables: Tables, rows: np.ndarray) -> dict[int, object]:
    import constriction

    categorical = constriction.stream.model.Categorical
    return {int(t): categorical(tables.probabilities(int(t)), perfect=False) for t in rows}


def _groups(table_ids: np.ndarray, count: int) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """Coding order (positions) and (row, start, stop) slices of it, row by row."""
    order = np.argsort(table_ids, kind="stable")
    counts = np.bincount(table_ids, minlength=count)
    stops = np.cumsum(counts)
    groups = [(t, int(stops[t] - counts[t]), int(stops[t])) for t in np.flatnonzero(counts)]
    return order, groups


def _check_ids(table_ids: np.ndarray, tables: Tables) -> np.ndarray:
    ids = np.asarray(table_ids, dtype=np.int64).ravel()
    if len(ids) and (ids.min() < 0 or ids.max() >= len(tables)):
        raise ValueError("table index out of range")
    return ids


def _zigzag(values: np.ndarray) -> np.ndarray:
    return np.where(values >= 0, 2 * values, -2 * values - 1)


def _unzigzag(codes: np.ndarray) -> np.ndarray:
    return np.where(codes % 2 == 0, codes // 2, -(codes + 1) // 2)


def _bit_length(values: np.ndarray) -> np.ndarray:
    out = np.zeros(values.shape, dtype=np.int64)
    nonzero = values > 0
    out[nonzero] = np.floor(np.log2(values[nonzero])).astype(np.int64) + 1
    return out


def _encode_escapes(encoder, values: np.ndarray) -> None:
    """Code escaped values: bit lengths (uniform over 32), then the bits below the leading 1."""
    import constriction

    uniform = constriction.stream.model.Uniform
    codes = _zigzag(values)
    if len(codes) and codes.max() >= 1 << ESCAPE_BITS:
        raise PixelsmithError("a latent value is out of the coder's range (|value| >= 2^20)")
    lengths = _bit_length(codes)
    encoder.encode(lengths.astype(np.int32), uniform(_LENGTH_SYMBOLS))
    for bits in np.unique(lengths):
        if bits < 2:
            continue
        rest = codes[lengths == bits] - (1 << (bits - 1))
        low = min(int(bits) - 1, 16)
        encoder.encode((rest & ((1 << low) - 1)).astype(np.int32), uniform(1 << low))
        if bits - 1 > 16:
            encoder.encode((rest >> 16).astype(np.int32), uniform(1 << (int(bits) - 17)))


def _decode_escapes(decoder, count: int) -> np.ndarray:
    import constriction

    uniform = constriction.stream.model.Uniform
    lengths = np.asarray(decoder.decode(uniform(_LENGTH_SYMBOLS), count), dtype=np.int64)
    if len(lengths) and lengths.max() > ESCAPE_BITS:
        raise PixelsmithError("corrupted stream (escaped value too long)")
    codes = lengths.copy()  # bit lengths 0 and 1 are the codes 0 and 1
    for bits in np.unique(lengths):
        if bits < 2:
            continue
        where = lengths == bits
        low = min(int(bits) - 1, 16)
        rest = np.asarray(decoder.decode(uniform(1 << low), int(where.sum())), dtype=np.int64)
        if bits - 1 > 16:
            high = np.asarray(decoder.decode(uniform(1 << (int(bits) - 17)), int(where.sum())),
                              dtype=np.int64)
            rest = rest | (high << 16)
        codes[where] = rest + (1 << (int(bits) - 1))
    return _unzigzag(codes)


def encode(symbols: np.ndarray, table_ids: np.ndarray, tables: Tables) -> bytes:
    """Range-code integer ``symbols`` (any shape), symbol k with row ``table_ids[k]``."""
    import constriction

    values = np.asarray(symbols, dtype=np.int64).ravel()
    ids = _check_ids(table_ids, tables)
    if ids.shape != values.shape:
        raise ValueError("symbols and table_ids differ in size")
    index = values - tables.offsets[ids]
    escape = tables.lengths[ids] - 1
    escaped = (index < 0) | (index >= escape)
    index = np.where(escaped, escape, index)
    order, groups = _groups(ids, len(tables))
    models = _models(tables, np.array([g[0] for g in groups], dtype=np.int64))
    encoder = constriction.stream.queue.RangeEncoder()
    for row, start, stop in groups:
        encoder.encode(index[order[start:stop]].astype(np.int32), models[row])
    _encode_escapes(encoder, values[order][escaped[order]])
    return np.asarray(encoder.get_compressed(), dtype="<u4").tobytes()


def decode(data: bytes, table_ids: np.ndarray, tables: Tables) -> np.ndarray:
    """Inverse of :func:`encode`: int64 symbols in the order of ``table_ids`` (flattened).

    Decoding takes time linear in the number of symbols whatever the bytes; streams that no
    encoder could have written (a length that is not a whole number of 32-bit words, a state
    the range decoder rejects, escapes out of range) raise :class:`PixelsmithError`.
    """
    import constriction

    if len(data) % 4:
        raise PixelsmithError("corrupted stream (length is not a multiple of 4 bytes)")
    ids = _check_ids(table_ids, tables)
    words = np.frombuffer(data, dtype="<u4").astype(np.uint32)
    decoder = constriction.stream.queue.RangeDecoder(words)
    order, groups = _groups(ids, len(tables))
    models = _models(tables, np.array([g[0] for g in groups], dtype=np.int64))
    index = np.empty(len(ids), dtype=np.int64)
    try:
        for row, start, stop in groups:
            index[order[start:stop]] = decoder.decode(models[row], stop - start)
        values = index + tables.offsets[ids]
        escaped = index == tables.lengths[ids] - 1
        positions = order[escaped[order]]
        values[positions] = _decode_escapes(decoder, len(positions))
    except (AssertionError, ValueError, RuntimeError, OverflowError) as exc:
        # constriction reports data that no symbol sequence could have produced this way
        raise PixelsmithError(f"corrupted stream ({exc})") from None
    return values


def estimate_bits(symbols: np.ndarray, table_ids: np.ndarray, tables: Tables) -> float:
    """Information content of ``symbols`` under the tables, in bits (escapes included): what
    :func:`encode` writes, up to the coder's final word."""
    values = np.asarray(symbols, dtype=np.int64).ravel()
    ids = _check_ids(table_ids, tables)
    index = values - tables.offsets[ids]
    escape = tables.lengths[ids] - 1
    escaped = (index < 0) | (index >= escape)
    index = np.where(escaped, escape, index)
    freqs = tables.freqs[ids, index].astype(np.float64)
    bits = float(np.sum(PRECISION - np.log2(freqs)))
    lengths = _bit_length(_zigzag(values[escaped]))
    return bits + float(np.sum(np.log2(_LENGTH_SYMBOLS) + np.maximum(lengths - 1, 0)))
