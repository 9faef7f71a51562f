"""Fuzzing the image reader and the .pxs decoder: every mutated input either decodes or raises
PixelsmithError (a one-line error in the CLI), never another exception, and never hangs.

Seeds are small files of every kind pixelsmith reads (8-bit PNG, 16-bit RGB PNG, JPEG, 16-bit
RGB TIFF, 8-bit TIFF, gray PNG) and a .pxs file made by codec-q1. Mutations: bit flips,
truncations, random bytes in the header, overwritten runs, inserted and deleted bytes; half of
them then get their checksums recomputed (PNG chunk CRCs, the .pxs CRC) so that they reach
the decompressors and the range decoder behind the checks. The default tier runs a few
hundred (seconds); ``-m slow`` runs thousands.
"""

from __future__ import annotations

import io
import random
import signal
import struct
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image as PILImage

import pixelsmith
from pixelsmith.errors import PixelsmithError
from pixelsmith.io import save_image

#: Small limits keep each decoding fast: a mutated header may claim a large image.
MAX_PIXELS = 1 << 20
MAX_PXS_PIXELS = 1 << 14
PER_CASE_SECONDS = 10


def _picture(h: int = 24, w: int = 32) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(0)
    base = np.stack([x / w, y / h, (x + y) / (h + w)], axis=-1)
    return np.clip(base + 0.05 * rng.standard_normal(base.shape), 0, 1)


def _encode(kind: str) -> bytes:
    picture = _picture()
    buffer = io.BytesIO()
    if kind in ("png16", "tif16"):
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / ("a.png" if kind == "png16" else "a.tif")
            save_image(path, torch.from_numpy(picture.transpose(2, 0, 1)).float()[None],
                       bit_depth=16)
            return path.read_bytes()
    image = PILImage.fromarray(np.round(picture * 255).astype(np.uint8))
    if kind == "png":
        image.save(buffer, "PNG")
    elif kind == "gray":
        image.convert("L").save(buffer, "PNG")
    elif kind == "jpeg":
        image.save(buffer, "JPEG", quality=85)
    elif kind == "tif":
        image.save(buffer, "TIFF", compression="tiff_deflate")
    return buffer.getvalue()


SUFFIX = {"png": ".png", "gray": ".png", "png16": ".png", "jpeg": ".jpg", "tif": ".tif",
          "tif16": ".tif"}


@pytest.fixture(scope="module")
def seeds() -> dict[str, bytes]:
    files = {kind: _encode(kind) for kind in SUFFIX}
    picture = torch.from_numpy(_picture(32, 32).transpose(2, 0, 1)).float()[None]
    files["pxs"] = pixelsmith.compress(picture, quality=1)
    return files


def mutate(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One random mutation of ``data`` and its name."""
    out = bytearray(data)
    kind = rng.choice(["flip", "truncate", "header", "overwrite", "insert", "delete"])
    if kind == "flip":
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(out))
            out[i] ^= 1 << rng.randrange(8)
    elif kind == "truncate":
        out = out[: rng.randrange(1, len(out))]
    elif kind == "header":
        for _ in range(rng.randint(1, 3)):
            out[rng.randrange(min(64, len(out)))] = rng.randrange(256)
    elif kind == "overwrite":
        i, n = rng.randrange(len(out)), rng.randint(1, 32)
        out[i:i + n] = bytes(rng.randrange(256) for _ in range(n))
    elif kind == "insert":
        i = rng.randrange(len(out))
        out[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    else:
        i = rng.randrange(len(out))
        del out[i:i + rng.randint(1, 16)]
    return kind, bytes(out)


def fix_checksums(kind: str, data: bytes) -> bytes:
    """``data`` with its checksums recomputed (PNG chunk CRCs, the .pxs CRC), so that a
    mutation reaches the decoders behind the checks instead of stopping at them."""
    if kind == "pxs":
        return data[:-4] + struct.pack("<I", zlib.crc32(data[:-4])) if len(data) > 4 else data
    if SUFFIX.get(kind) != ".png":
        return data
    out, pos = bytearray(data), 8
    while pos + 12 <= len(out):
        (length,) = struct.unpack(">I", out[pos:pos + 4])
        end = pos + 12 + length
        if end > len(out):
            break
        out[end - 4:end] = struct.pack(">I", zlib.crc32(out[pos + 4:end - 4]))
        pos = end
    return bytes(out)


class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang()


def _run_case(fn: Callable[[], object]) -> BaseException | None:
    """None when ``fn`` decodes or raises PixelsmithError; else the exception."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(PER_CASE_SECONDS)
    try:
        fn()
    except PixelsmithError:
        return None
    except Exception as exc:  # what the test is looking for
        return exc
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return None


def fuzz(seeds: dict[str, bytes], cases: int, seed: int, tmp_path: Path) -> list[str]:
    """Run ``cases`` mutated inputs (spread over the seed files); the failures, described."""
    rng = random.Random(seed)
    kinds = sorted(seeds)
    failures = []
    for case in range(cases):
        kind = kinds[case % len(kinds)]
        mutation, data = mutate(seeds[kind], rng)
        if case % 4 >= 2:  # half the cases get past the checksums
            mutation, data = mutation + "+crc", fix_checksums(kind, data)
        if kind == "pxs":
            error = _run_case(lambda d=data: pixelsmith.decompress(d, max_pixels=MAX_PXS_PIXELS))
        else:
            path = tmp_path / f"case{SUFFIX[kind]}"
            path.write_bytes(data)
            error = _run_case(lambda p=path: pixelsmith.load_image(p, max_pixels=MAX_PIXELS))
        if error is not None:
            keep = tmp_path / f"fail-{case}-{kind}-{mutation}{SUFFIX.get(kind, '.pxs')}"
            keep.write_bytes(data)
            what = "hang" if isinstance(error, _Hang) else f"{type(error).__name__}: {error}"
            failures.append(f"{kind} {mutation} (case {case}, {keep.name}): {what}"[:300])
    return failures


def test_seeds_decode(seeds, tmp_path):
    for kind, data in seeds.items():
        if kind == "pxs":
            assert pixelsmith.decompress(data).shape == (1, 3, 32, 32)
        else:
            path = tmp_path / f"seed{SUFFIX[kind]}"
            path.write_bytes(data)
            assert pixelsmith.load_image(path).pixels.shape[-2:] == (24, 32)


def test_fuzz_smoke(seeds, tmp_path):
    start = time.perf_counter()
    failures = fuzz(seeds, cases=350, seed=0, tmp_path=tmp_path)
    assert failures == []
    assert time.perf_counter() - start < 60  # seconds; typically about 10 on 2 cores


def test_the_fuzzer_finds_a_crash(seeds, tmp_path, monkeypatch):
    """A reader that lets a decoder's exception through is caught by the fuzzer."""
    def broken(path, **kwargs):
        raise ValueError("decoder blew up")

    monkeypatch.setattr(pixelsmith, "load_image", broken, raising=False)
    failures = fuzz({"png": seeds["png"]}, cases=3, seed=0, tmp_path=tmp_path)
    assert len(failures) == 3 and "ValueError" in failures[0]


@pytest.mark.slow
def test_fuzz_long(seeds, tmp_path):
    failures = fuzz(seeds, cases=20000, seed=1, tmp_path=tmp_path)
    assert failures == [], "\n".join(failures[:20])
