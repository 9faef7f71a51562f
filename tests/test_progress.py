"""The optional progress(done, total) callback of tiled_apply, Restorer and restore()."""

from __future__ import annotations

import torch

import pixelsmith
from pixelsmith.restoration.tiling import tiled_apply


def test_tiled_apply_reports_each_tile():
    calls = []
    y = torch.rand(1, 1, 64, 64)
    out = tiled_apply(lambda t, k: t * 1.0, y, tile=32, overlap=8,
                      progress=lambda d, n: calls.append((d, n)))
    assert torch.equal(out, y)
    assert calls == [(1, 9), (2, 9), (3, 9), (4, 9), (5, 9), (6, 9), (7, 9), (8, 9), (9, 9)]
    calls.clear()
    tiled_apply(lambda t, k: t, y, tile=0, progress=lambda d, n: calls.append((d, n)))
    assert calls == [(1, 1)]


def test_restore_reports_model_tiles_and_classical_end(one_thread):
    y = torch.rand(1, 1, 48, 48)
    calls = []
    with_progress = pixelsmith.restore(y, "denoise", method="denoise-gray", sigma=25, tile=32,
                                       overlap=8, progress=lambda d, n: calls.append((d, n)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    plain = pixelsmith.restore(y, "denoise", method="denoise-gray", sigma=25, tile=32, overlap=8)
    assert torch.equal(with_progress, plain)  # reporting changes nothing
    calls.clear()
    pixelsmith.restore(y, "denoise", method="tv", sigma=25,
                       progress=lambda d, n: calls.append((d, n)))
    assert calls == [(1, 1)]
