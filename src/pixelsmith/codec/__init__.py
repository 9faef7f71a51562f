"""Learned image compression: transforms (GDN), entropy models, range coding, the .pxs format.

Layout, one job per module: :mod:`~pixelsmith.codec.gdn` (the non-linearity),
:mod:`~pixelsmith.codec.entropy` (learned priors and their finalized tables),
:mod:`~pixelsmith.codec.coder` (range coding with ``constriction``),
:mod:`~pixelsmith.codec.models` (the codec networks),
:mod:`~pixelsmith.codec.checkerboard` (the checkerboard context model),
:mod:`~pixelsmith.codec.format` (the
container), :mod:`~pixelsmith.codec.api` (``compress``/``decompress``),
:mod:`~pixelsmith.cli.codec_files` (the CLI's per-file work) and :mod:`~pixelsmith.codec.rd`
(Bjontegaard delta rate). See docs/CODEC.md and docs/FORMAT.md.
"""

from __future__ import annotations

from pixelsmith.codec.api import compress, decompress, load_codec, read_header

__all__ = ["compress", "decompress", "load_codec", "read_header"]
