"""Decompression bombs: a small valid .pxs that claims a huge image is checked against the pixel
limit and against the memory decoding would take before anything is allocated; decoding runs
the synthesis in tiles (equal to the whole-image transform) so its memory is bounded per
megapixel; an absurd blur kernel is refused the same way."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image as PILImage

from pixelsmith.cli.main import main
from pixelsmith.codec import memory
from pixelsmith.codec.api import compress, decompress, load_codec, model_id
from pixelsmith.codec.format import Header, clean_name, pack, unpack
from pixelsmith.codec.models import ConvAECodec, FactorizedPrior, MeanScaleHyperprior
from pixelsmith.errors import PixelsmithError

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[1]


def claiming(data: bytes, width: int, height: int) -> bytes:
    """``data`` (a valid .pxs) re-sealed with a header that claims width x height."""
    header, streams = unpack(data)
    multiple = 64 if header.kind == 2 else 16
    forged = Header(header.kind, header.channels, header.quality, width, height,
                    (-height) % multiple, (-width) % multiple, header.model_id,
                    header.model_name, header.version)
    return pack(forged, streams)


def flat_file(codec, height: int, width: int) -> bytes:
    """A valid .pxs of a flat image, coded directly from all-zero latents."""
    padded_h, padded_w = height + (-height) % 64, width + (-width) % 64
    streams = codec.compress_latents({
        "y": torch.zeros(1, codec.M, padded_h // 16, padded_w // 16),
        "z": torch.zeros(1, codec.N, padded_h // 64, padded_w // 64)})
    header = Header(codec.kind, 3, codec.quality, width, height, padded_h - height,
                    padded_w - width, codec.pixelsmith_id, clean_name("codec-q1"))
    return pack(header, streams)


@pytest.fixture
def small_file() -> bytes:
    return compress(torch.full((1, 3, 64, 64), 0.5), quality=1)


# -- the guard ----------------------------------------------------------------------------------

def test_the_estimate_grows_with_pixels_and_stays_far_below_whole_image_decoding():
    codec = load_codec("codec-q1")
    small, large = (memory.decode_bytes(codec, side, side) for side in (2048, 4096))
    per_megapixel = (large - small) / ((4096**2 - 2048**2) / 1e6)
    assert 20e6 < per_megapixel < 80e6
    # whole-image decoding of a flat 4096x4096 file took 4.7 GB
    assert large < 1.5e9


def test_a_file_whose_decoding_would_not_fit_is_refused_before_decoding(small_file, monkeypatch):
    bomb = claiming(small_file, 4096, 4096)
    assert len(bomb) < 2000
    codec = load_codec("codec-q1")
    monkeypatch.setattr(memory, "available_memory", lambda device: 300 << 20)

    def never(*args, **kwargs):
        raise AssertionError("decoding started")

    monkeypatch.setattr(codec, "decompress_padded", never)
    with pytest.raises(PixelsmithError, match=r"needs about .* GB of memory") as caught:
        decompress(bomb)
    assert "\n" not in str(caught.value) and "4096x4096" in str(caught.value)


def test_the_cli_refuses_bombs_with_one_line(small_file, tmp_path, monkeypatch, capsys):
    path = tmp_path / "bomb.pxs"
    path.write_bytes(claiming(small_file, 9984, 9984))
    monkeypatch.setattr(memory, "available_memory", lambda device: 2 << 30)
    with pytest.raises(SystemExit) as stop:
        main(["decompress", str(path), "-o", str(tmp_path / "bomb.png")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and len(err.strip().splitlines()) == 1
    assert "needs about" in err and "Traceback" not in err
    path.write_bytes(claiming(small_file, 10240, 10240))  # 104.9 megapixels
    with pytest.raises(SystemExit) as stop:
        main(["decompress", str(path), "-o", str(tmp_path / "bomb.png")])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "above the limit of 100.0 megapixels" in err
    assert not (tmp_path / "bomb.png").exists()


# -- tiles --------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", (FactorizedPrior, MeanScaleHyperprior, ConvAECodec))
def test_tiled_synthesis_equals_the_whole_image_transform(cls):
    torch.manual_seed(0)
    codec = cls(channels=3, N=8, M=12).eval()
    latent = torch.round(torch.randn(1, 12, 7, 10) * 3)
    if cls is ConvAECodec:
        latent = latent.abs().clamp(0, 255)
    with torch.no_grad():
        whole = codec.g_s(codec.synthesis_input(latent))
    for tile in (1, 2, 3):
        assert torch.equal(codec.synthesize(latent, tile=tile), whole), tile
    assert torch.equal(codec.synthesize(latent, crop=(101, 77), tile=2), whole[..., :101, :77])


def test_too_small_a_halo_would_show():
    """The halo is needed: without it tiles differ from the whole (so the test above can fail)."""
    from pixelsmith.codec import models

    torch.manual_seed(0)
    codec = FactorizedPrior(channels=3, N=8, M=12).eval()
    latent = torch.round(torch.randn(1, 12, 6, 6) * 3)
    with torch.no_grad():
        whole = codec.g_s(latent)
        cut = models.map_tiles(codec.g_s, latent, 16, 2, 0)
    assert not torch.equal(cut, whole)


def test_a_large_image_decodes_within_the_estimate(tmp_path):
    """Peak memory of decoding a flat 1536x1536 file in a fresh process stays under the guard's
    estimate and well below whole-image decoding (measured: about 235 MB tiled, 710 MB for
    the whole-image transform)."""
    codec = load_codec("codec-q1")
    data = flat_file(codec, 1536, 1536)
    (tmp_path / "flat.pxs").write_bytes(data)
    script = (
        "import json, resource, sys, torch\n"
        "torch.set_num_threads(1)\n"
        "from pixelsmith.codec.api import decompress, load_codec\n"
        "codec = load_codec('codec-q1')\n"
        "data = open(sys.argv[1], 'rb').read()\n"
        "peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024\n"
        "before = peak()\n"
        "x = decompress(data, model=codec)\n"
        "print(json.dumps({'added': peak() - before, 'shape': list(x.shape)}))\n")
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "flat.pxs")],
                         check=True, capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["shape"] == [1, 3, 1536, 1536]
    assert result["added"] < memory.decode_bytes(codec, 1536, 1536, 0, 0)
    assert result["added"] < 400e6


def test_tiled_decoding_gives_the_forward_with_rounding_image():
    """Across several tiles, decompress equals the eval-mode forward on the whole image."""
    torch.manual_seed(0)
    codec = MeanScaleHyperprior(channels=3, N=8, M=12, quality=2, lmbda=0.05).eval()
    codec.update()
    x = torch.rand(1, 3, 40, 50)
    x = torch.nn.functional.interpolate(x, size=(600, 700), mode="bilinear")  # > 1 tile
    data = compress(x, model=codec)
    from pixelsmith.codec.models import pad_image

    padded, _ = pad_image(x, codec.pad_multiple)
    with torch.no_grad():
        expected = codec(padded)["x_hat"][..., :600, :700].clamp(0, 1)
    assert torch.equal(decompress(data, model=codec), expected)
    assert model_id(codec) == unpack(data)[0].model_id


# -- blur kernels -------------------------------------------------------------------------------

@pytest.mark.parametrize("blur", ("gaussian:1e9", "gaussian:1e9,2,30", "disk:1e6",
                                  "motion:1000001"))
def test_huge_blur_kernels_are_refused_with_one_line_before_allocating(blur, tmp_path, capsys):
    PILImage.new("RGB", (16, 16), (128, 128, 128)).save(tmp_path / "in.png")
    started = time.perf_counter()
    with pytest.raises(SystemExit) as stop:
        main(["degrade", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"),
              "--blur", blur])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and len(err.strip().splitlines()) == 1
    assert "GB to build" in err and time.perf_counter() - started < 2.0
    assert not (tmp_path / "out.png").exists()
