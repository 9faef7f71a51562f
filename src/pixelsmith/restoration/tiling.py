"""Run an image-to-image function on overlapping tiles and blend the seams.

A network's activations grow with the image: a 24-megapixel photo through a U-Net needs tens
of gigabytes at once. :func:`tiled_apply` runs the function on one tile at a time and keeps
only the output and a weight map (float32) for the whole image, so memory is bounded by the
tile. Neighbouring tiles overlap; inside each overlap one tile's weight falls and the other's
rises along a raised-cosine ramp, which hides the seams (tile borders, where padding makes a
network least accurate, get almost no weight).

Outputs are merged as a running weighted mean, ``out += w / (W + w) * (tile - out)``: this
equals ``sum(w * tile) / sum(w)`` but is exact when every tile agrees (an identity function
gives back its input bit for bit).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from pixelsmith.degrade.known import Known
from pixelsmith.errors import PixelsmithError

TileFn = Callable[[torch.Tensor, Known], torch.Tensor]
#: ``progress(done, total)``: called after each tile (once, (1, 1), for a whole image).
Progress = Callable[[int, int], None]


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of size ``tile`` covering ``length`` with at least ``overlap``.

    The last tile is aligned with the end, so every tile is full-size (it may then overlap its
    neighbour by more than ``overlap``); a length up to one tile gives one start, 0.
    """
    if length <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, length - tile, stride))
    return starts + [length - tile]


def ramp(length: int, device: torch.device | None = None) -> torch.Tensor:
    """Raised-cosine weights rising from near 0 to near 1 over ``length`` samples.

    Sampled at pixel centres, so ``ramp + ramp.flip(0) == 1``: two tiles overlapping by exactly
    ``length`` sum to one, and no weight is exactly zero.
    """
    i = torch.arange(length, dtype=torch.float64, device=device)
    return (0.5 - 0.5 * torch.cos(math.pi * (i + 0.5) / length)).float()


def edge_weights(start: int, size: int, total: int, fade: int,
                 device: torch.device | None = None) -> torch.Tensor:
    """1-D weights of a tile at ``start`` of ``size`` in ``total``: ramps only on inner edges."""
    weights = torch.ones(size, device=device)
    fade = min(fade, size)
    if fade > 0 and start > 0:
        weights[:fade] *= ramp(fade, device)
    if fade > 0 and start + size < total:
        weights[size - fade:] *= ramp(fade, device).flip(0)
    return weights


def _known_for_tile(known: Known, rows: slice, cols: slice) -> Known:
    """``known`` with its mask (if any) cut to the tile; other fields are per image, unchanged."""
    if known.mask is None:
        return known
    return known.with_(mask=known.mask[..., rows, cols])


def _check_output(out: torch.Tensor, y_tile: torch.Tensor, scale: int) -> None:
    n, _, h, w = y_tile.shape
    expected = (n, h * scale, w * scale)
    if out.ndim != 4 or (out.shape[0], out.shape[2], out.shape[3]) != expected:
        raise PixelsmithError(
            f"the tiled function returned {tuple(out.shape)} for a tile of {tuple(y_tile.shape)}"
            f" (expected {scale}x the tile's size)"
        )


def tiled_apply(fn: TileFn, y: torch.Tensor, known: Known | None = None, *, tile: int = 512,
                overlap: int = 32, scale: int | None = None,
                progress: Progress | None = None) -> torch.Tensor:
    """``fn(y, known)`` computed tile by tile on (N, C, H, W) ``y``, seams blended.

    - ``fn(tile, known_for_tile)`` gets a (N, C, h, w) slice of ``y`` and ``known`` with its
      mask cut to the same slice; it returns (N, C', h * scale, w * scale) on any device (the
      result is moved to ``y``'s device and accumulated there in float32).
    - ``tile``: tile side in input pixels; 0, or an image no larger than one tile, runs whole.
    - ``overlap``: pixels shared by neighbouring tiles (blended over that width).
    - ``scale``: output size / input size (super-resolution); None infers it from the first tile.
    - ``progress``: optional ``progress(done, total)`` called after each tile.
    """
    known = known or Known()
    if tile < 0 or overlap < 0:
        raise PixelsmithError(f"tile ({tile}) and overlap ({overlap}) must not be negative")
    height, width = y.shape[-2:]
    if tile == 0 or (height <= tile and width <= tile):
        out = fn(y, known)
        if scale is not None:
            _check_output(out, y, scale)
        if progress is not None:
            progress(1, 1)
        return out.to(y.device)
    if overlap >= tile:
        raise PixelsmithError(f"overlap ({overlap}) must be smaller than the tile ({tile})")

    out = weight = None
    tops, lefts = tile_starts(height, tile, overlap), tile_starts(width, tile, overlap)
    done = 0
    for top in tops:
        for left in lefts:
            rows = slice(top, min(top + tile, height))
            cols = slice(left, min(left + tile, width))
            piece = y[..., rows, cols]
            result = fn(piece, _known_for_tile(known, rows, cols))
            if out is None:
                if scale is None:
                    scale = max(1, result.shape[-1] // piece.shape[-1])
                out = torch.zeros(y.shape[0], result.shape[1], height * scale, width * scale,
                                  dtype=torch.float32, device=y.device)
                weight = torch.zeros(1, 1, height * scale, width * scale, device=y.device)
            _check_output(result, piece, scale)
            _blend(out, weight, result.to(device=y.device, dtype=torch.float32),
                   top * scale, left * scale, overlap * scale)
            done += 1
            if progress is not None:
                progress(done, len(tops) * len(lefts))
    return out


def _blend(out: torch.Tensor, weight: torch.Tensor, result: torch.Tensor, top: int, left: int,
           fade: int) -> None:
    """Merge ``result`` into ``out`` at (top, left) as a running weighted mean (in place)."""
    h, w = result.shape[-2:]
    total_h, total_w = out.shape[-2:]
    wy = edge_weights(top, h, total_h, fade, out.device)
    wx = edge_weights(left, w, total_w, fade, out.device)
    w_tile = wy[:, None] * wx[None, :]
    region = (..., slice(top, top + h), slice(left, left + w))
    accumulated = weight[region]
    accumulated += w_tile
    share = w_tile / accumulated  # the first tile to cover a pixel gets share 1: out = result
    out[region] += share * (result - out[region])
