"""The learned codec: GDN, the range coder, round trips at odd sizes, determinism, real size
against the estimated rate, a fuzzed decoder, the CLI, training + export, and BD-rate."""

from __future__ import annotations

import json
import os
import random
import struct
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image as PILImage

import pixelsmith
from pixelsmith.cli.main import cli, main
from pixelsmith.codec import coder
from pixelsmith.codec.api import compress, decompress, load_codec, model_id, read_header
from pixelsmith.codec.format import MAGIC, Header, pack, unpack
from pixelsmith.codec.gdn import GDN
from pixelsmith.codec.models import (
    ConvAECodec,
    FactorizedPrior,
    MeanScaleHyperprior,
    pad_image,
    rate_bits,
    straight_through_round,
)
from pixelsmith.codec.rd import bd_rate
from pixelsmith.errors import PixelsmithError
from pixelsmith.io import read_image
from pixelsmith.metrics.pixel import psnr as image_psnr
from pixelsmith.train.families.codec import rd_terms

pytestmark = pytest.mark.usefixtures("one_thread")

CODECS = (FactorizedPrior, MeanScaleHyperprior, ConvAECodec)
GOLDEN = Path(__file__).parent / "golden" / "codec.json"
REGENERATE = os.environ.get("PIXELSMITH_REGEN_GOLDEN") == "1"


def tiny(cls=MeanScaleHyperprior, channels: int = 3, seed: int = 0, **args):
    """A random-initialised codec small enough to code an image in milliseconds, finalized."""
    torch.manual_seed(seed)
    model = cls(channels=channels, N=8, M=12, quality=2, lmbda=0.05, **args).eval()
    model.update()
    return model


def image(channels: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    """Smooth-ish random pixels (a blurred noise field), (1, C, H, W) in [0, 1]."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(1, channels, height // 4 + 2, width // 4 + 2, generator=gen)
    x = torch.nn.functional.interpolate(x, scale_factor=4, mode="bilinear")
    return x[..., :height, :width].contiguous()


# -- GDN ----------------------------------------------------------------------------------------

def test_gdn_matches_its_formula_and_keeps_its_parameters_non_negative():
    gdn = GDN(4)
    with torch.no_grad():
        gdn.gamma.add_(0.05 * torch.rand(4, 4))
    x = torch.randn(2, 4, 5, 7)
    beta, gamma = gdn.parameters_value()
    expected = x / torch.sqrt(beta.view(1, 4, 1, 1)
                              + torch.einsum("ij,njhw->nihw", gamma, x * x))
    assert gdn(x).shape == x.shape
    torch.testing.assert_close(gdn(x), expected)
    optimizer = torch.optim.SGD(gdn.parameters(), lr=100.0)
    (gdn(x).sum() * 1e3).backward()  # a huge step pushes some parameters below zero
    optimizer.step()
    beta, gamma = gdn.parameters_value()
    assert (beta >= gdn.beta_min - 1e-12).all() and (gamma >= 0).all()


def test_inverse_gdn_undoes_gdn_without_cross_terms():
    gdn, igdn = GDN(3), GDN(3, inverse=True)
    with torch.no_grad():
        for layer in (gdn, igdn):
            layer.gamma.zero_()  # gamma = 0: both are a per-channel scale by beta
            layer.beta.copy_(torch.tensor([0.5, 1.0, 2.0]))
    x = torch.randn(1, 3, 6, 6)
    torch.testing.assert_close(igdn(gdn(x)), x)


# -- the range coder ----------------------------------------------------------------------------

def random_tables(rng: np.random.Generator, count: int = 5) -> coder.Tables:
    rows, offsets = [], []
    for _ in range(count):
        size = int(rng.integers(1, 40))
        rows.append(coder.quantize_pmf(rng.dirichlet(np.ones(size) * 0.3), 1e-3))
        offsets.append(int(rng.integers(-20, 5)))
    freqs = np.zeros((count, max(len(r) for r in rows)), dtype=np.int32)
    for i, row in enumerate(rows):
        freqs[i, :len(row)] = row
    return coder.Tables(freqs, np.array([len(r) for r in rows]), np.array(offsets))


def test_quantized_tables_sum_to_the_precision_and_keep_every_symbol():
    rng = np.random.default_rng(1)
    for size in (1, 2, 10, 3000):
        freqs = coder.quantize_pmf(rng.dirichlet(np.ones(size) * 0.05), 1e-9)
        assert freqs.sum() == 1 << coder.PRECISION and freqs.min() >= 1 and len(freqs) == size + 1


def test_coder_round_trip_is_bit_exact_with_escapes():
    rng = np.random.default_rng(0)
    tables = random_tables(rng)
    ids = rng.integers(0, len(tables), 20000)
    symbols = tables.offsets[ids] + rng.integers(0, 30, len(ids))
    wild = rng.random(len(ids)) < 0.01  # far outside every table: coded as escapes
    symbols[wild] = rng.integers(-(1 << 19), 1 << 19, int(wild.sum()))
    data = coder.encode(symbols, ids, tables)
    assert data == coder.encode(symbols, ids, tables)
    np.testing.assert_array_equal(coder.decode(data, ids, tables), symbols)
    estimate = coder.estimate_bits(symbols, ids, tables)
    assert abs(8 * len(data) - estimate) <= 0.01 * estimate + 64


def test_coder_refuses_values_beyond_its_range_and_odd_lengths():
    tables = random_tables(np.random.default_rng(2), 1)
    with pytest.raises(PixelsmithError):
        coder.encode(np.array([1 << 21]), np.array([0]), tables)
    with pytest.raises(PixelsmithError):
        coder.decode(b"abc", np.array([0]), tables)


# -- models: round trips ------------------------------------------------------------------------

@pytest.mark.parametrize("cls", CODECS)
@pytest.mark.parametrize("channels", (1, 3))
def test_round_trip_at_an_odd_size_equals_the_rounding_forward(cls, channels):
    model = tiny(cls, channels)
    x = image(channels, 33, 47)
    data = compress(x, model=model)
    decoded = decompress(data, model=model)
    padded, _ = pad_image(x, model.pad_multiple)
    with torch.no_grad():
        expected = model(padded)["x_hat"][..., :33, :47].clamp(0, 1)
    assert decoded.shape == (1, channels, 33, 47)
    assert torch.equal(decoded, expected)
    assert torch.equal(decompress(data, model=model), decoded)  # deterministic
    assert compress(x, model=model) == data
    header = read_header(data)
    assert (header.width, header.height, header.channels) == (47, 33, channels)
    assert (header.kind, header.quality) == (model.kind, 2)
    assert header.padded_size == (33 + (-33) % model.pad_multiple, 47 + (-47) % model.pad_multiple)


def test_straight_through_rounding_rounds_forward_and_passes_gradients_back():
    y = torch.tensor([0.2, 0.7, -1.6, 2.5], requires_grad=True)
    centre = torch.tensor([0.0, 0.4, 0.3, -0.25])
    out = straight_through_round(y, centre)
    assert torch.allclose(out - centre, torch.round(y - centre))
    out.sum().backward()
    assert torch.equal(y.grad, torch.ones(4))


@pytest.mark.parametrize("mixed", (False, True))
def test_mixed_quantization_feeds_the_synthesis_rounded_latents_in_training(mixed):
    """With it, g_s sees round(y - mean) + mean in training, as when decoding; the rate (and
    without it also g_s) sees y plus uniform noise. Evaluation is the same either way."""
    model = tiny(mixed_quantization=mixed).train()
    seen = {}
    model.g_s.register_forward_pre_hook(lambda _, args: seen.update(y_hat=args[0]))
    model.gaussian.register_forward_hook(lambda m, args, out: seen.update(means=args[2]))
    x = image(3, 64, 64)
    out = model(x, generator=torch.Generator().manual_seed(0))
    offsets = (seen["y_hat"] - seen["means"]).detach()
    assert torch.allclose(offsets, torch.round(offsets), atol=1e-5) == mixed
    rd_terms(out, x, model.lmbda)["loss"].backward()
    assert model.g_a[0].weight.grad.abs().sum() > 0
    plain = tiny(mixed_quantization=not mixed)
    with torch.no_grad():
        assert torch.equal(model.eval()(x)["x_hat"], plain(x)["x_hat"])


def test_a_gray_image_through_an_rgb_model_comes_back_gray():
    model = tiny()
    x = image(1, 20, 30)
    decoded = decompress(compress(x, model=model), model=model)
    assert decoded.shape == (1, 1, 20, 30)
    with pytest.raises(PixelsmithError, match="gray"):
        compress(image(3, 20, 30), model=tiny(channels=1))


def test_a_file_only_decodes_with_the_model_that_made_it():
    data = compress(image(3, 16, 16), model=tiny(seed=0))
    with pytest.raises(PixelsmithError, match="different model"):
        decompress(data, model=tiny(seed=1))


@pytest.mark.parametrize("cls", (FactorizedPrior, MeanScaleHyperprior))
def test_file_size_matches_the_estimated_rate_of_a_briefly_trained_model(cls):
    x = read_image(Path(pixelsmith.__file__).parent / "samples" / "landscape.png")
    x = x[..., :128, :128]
    torch.manual_seed(0)
    model = cls(channels=3, N=8, M=12, lmbda=0.05)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(0)
    for _ in range(50):
        loss = rd_terms(model(x, generator=generator), x, model.lmbda)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    model.update()
    with torch.no_grad():
        estimate = float(rate_bits(model(x)["likelihoods"]))
    data = compress(x, model=model)
    header, streams = unpack(data)
    real = 8 * sum(len(s) for s in streams)
    assert abs(real - estimate) <= 0.04 * estimate + 32 * len(streams), (real, estimate)
    assert len(data) - sum(len(s) for s in streams) < 64  # the container's overhead


def test_tables_travel_in_the_state_dict_and_mark_staleness():
    model = tiny()
    copy = MeanScaleHyperprior(channels=3, N=8, M=12, quality=2, lmbda=0.05).eval()
    assert not copy.finalized()
    copy.load_state_dict(model.state_dict())  # strict: the table keys are consumed
    assert copy.finalized() and model_id(copy) == model_id(model)
    with torch.no_grad():
        copy.entropy_z.biases[0].add_(0.1)
    assert not copy.finalized()


# -- the container -----------------------------------------------------------------------------

def test_header_round_trip_and_clear_errors():
    header = Header(2, 3, 4, 47, 33, 31, 17, b"12345678", "codec-q4")
    data = pack(header, [b"abcd", b""])
    assert unpack(data) == (header, [b"abcd", b""])
    with pytest.raises(PixelsmithError, match="not a .pxs"):
        unpack(b"\x89PNG\r\n\x1a\n" + bytes(40))
    with pytest.raises(PixelsmithError, match="truncated"):
        unpack(data[:-1])
    with pytest.raises(PixelsmithError, match="version"):
        unpack(MAGIC + b"\x07" + data[len(MAGIC) + 1:])
    with pytest.raises(PixelsmithError, match="CRC"):
        unpack(data[:-5] + bytes([data[-5] ^ 1]) + data[-4:])
    with pytest.raises(PixelsmithError, match="megapixels"):
        unpack(data, max_pixels=100)


def _with_crc(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


def test_fuzzed_files_raise_only_pixelsmith_errors():
    """Thousands of damaged files: each either decodes or raises PixelsmithError, quickly."""
    model = tiny()
    valid = compress(image(3, 24, 40), model=model)
    rng = random.Random(0)
    outcomes = {"error": 0, "decoded": 0}
    slowest, started, count = 0.0, time.perf_counter(), 0
    while count < 3000 and time.perf_counter() - started < 15.0:
        data = bytearray(valid)
        kind = rng.randrange(6)
        if kind == 0:
            for _ in range(rng.randint(1, 4)):
                data[rng.randrange(len(data))] ^= rng.randint(1, 255)
        elif kind == 1:
            data = data[:rng.randrange(len(data))]
        elif kind == 2:
            start = rng.randrange(len(data))
            del data[start:start + rng.randint(1, 8)]
        elif kind == 3:
            data[rng.randrange(len(data)):rng.randrange(len(data))] = rng.randbytes(
                rng.randint(1, 8))
        elif kind == 4:
            data = bytearray(MAGIC) + rng.randbytes(rng.randint(0, 80))
        if kind in (0, 5) or rng.random() < 0.5:  # re-sealed: the damage reaches the decoder
            body = data[:-4] if len(data) > 4 else data
            if kind == 5:
                body[rng.randrange(len(body))] = rng.randrange(256)
            data = bytearray(_with_crc(bytes(body)))
        tick = time.perf_counter()
        try:
            decompress(bytes(data), model=model, max_pixels=64 * 64)  # bounds a forged size
            outcomes["decoded"] += 1
        except PixelsmithError as exc:
            assert "\n" not in str(exc)
            outcomes["error"] += 1
        slowest = max(slowest, time.perf_counter() - tick)
        count += 1
    print(f"fuzz: {count} files in {time.perf_counter() - started:.1f} s, {outcomes}, "
          f"slowest {slowest * 1e3:.0f} ms")
    assert count >= 1000 and outcomes["error"] > count // 2 and slowest < 2.0


# -- command line -------------------------------------------------------------------------------

def save_codec(folder: Path, model) -> Path:
    from pixelsmith.zoo import save_model

    name = {FactorizedPrior: "codec-factorized", MeanScaleHyperprior: "codec-hyperprior",
            ConvAECodec: "codec-ae"}[type(model)]
    args = {"channels": model.channels, "N": model.N, "M": model.M, "quality": model.quality,
            "lmbda": model.lmbda}
    return save_model(folder, model, {"name": folder.name, "family": "codec", "task": "codec",
                                      "network": {"name": name, "args": args},
                                      "channels": model.channels})


def test_cli_round_trip_and_a_bad_input(tmp_path, capsys):
    folder = save_codec(tmp_path / "tiny-codec", tiny())
    pixels = (image(3, 30, 45).numpy()[0].transpose(1, 2, 0) * 255).round().astype(np.uint8)
    PILImage.fromarray(pixels).save(tmp_path / "in.png")
    runner = CliRunner()
    result = runner.invoke(cli, ["compress", str(tmp_path / "in.png"), "-o",
                                 str(tmp_path / "in.pxs"), "--model", str(folder)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["decompress", str(tmp_path / "in.pxs"), "-o",
                                 str(tmp_path / "out.png"), "--model", str(folder)])
    assert result.exit_code == 0, result.output
    expected = decompress((tmp_path / "in.pxs").read_bytes(), model=load_codec(folder))
    decoded = np.asarray(PILImage.open(tmp_path / "out.png"))
    np.testing.assert_array_equal(decoded, (expected[0].numpy().transpose(1, 2, 0) * 255).round())

    damaged = bytearray((tmp_path / "in.pxs").read_bytes())
    damaged[len(damaged) // 2] ^= 0x40
    (tmp_path / "bad.pxs").write_bytes(bytes(damaged))
    result = runner.invoke(cli, ["decompress", str(tmp_path / "bad.pxs"), "-o",
                                 str(tmp_path / "bad.png"), "--model", str(folder)])
    assert isinstance(result.exception, PixelsmithError)
    with pytest.raises(SystemExit) as stop:
        main(["decompress", str(tmp_path / "bad.pxs"), "-o", str(tmp_path / "bad.png"),
              "--model", str(folder)])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "CRC" in err and not (tmp_path / "bad.png").exists()
    assert not list(tmp_path.glob(".bad.png*"))  # no temporary file left behind


def test_an_empty_pxs_file_is_named_once_in_a_one_line_error(tmp_path, capsys):
    (tmp_path / "empty.pxs").write_bytes(b"")
    with pytest.raises(SystemExit) as stop:
        main(["decompress", str(tmp_path / "empty.pxs"), "-o", str(tmp_path / "out.png")])
    err = capsys.readouterr().err.strip()
    assert stop.value.code == 2 and len(err.splitlines()) == 1
    assert err.count("empty.pxs") == 1 and "file is empty" in err
    assert not (tmp_path / "out.png").exists()


def test_cli_without_an_installed_model_says_so(tmp_path, capsys, monkeypatch):
    """As on an installation without the codec models (a slim build, or before they shipped)."""
    monkeypatch.setattr("pixelsmith.zoo.shipped_models", lambda: {})
    PILImage.new("RGB", (8, 8)).save(tmp_path / "a.png")
    with pytest.raises(SystemExit) as stop:
        main(["compress", str(tmp_path / "a.png"), "-o", str(tmp_path / "a.pxs"), "--quality",
              "2"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "--model" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "a.pxs").exists()


def test_api_is_exposed_lazily():
    assert pixelsmith.compress is compress and pixelsmith.decompress is decompress


# -- training, export, loading ------------------------------------------------------------------

def test_codec_family_trains_exports_and_the_model_codes(tmp_path):
    from pixelsmith.train.config import recipe_from_dict
    from pixelsmith.train.export import export_run
    from pixelsmith.train.trainer import Trainer

    for name, count in (("a", 3), ("b", 2), ("val", 1)):
        (tmp_path / name).mkdir()
        for i in range(count):
            pixels = (image(3, 64, 72, seed=i).numpy()[0].transpose(1, 2, 0) * 255)
            PILImage.fromarray(pixels.round().astype(np.uint8)).save(tmp_path / name / f"{i}.png")
    recipe = recipe_from_dict({
        "name": "tiny-codec", "family": "codec",
        "model": {"name": "codec-hyperprior",
                  "args": {"channels": 3, "N": 8, "M": 12, "quality": 1, "lmbda": 0.01}},
        "data": {"train": [str(tmp_path / "a"), str(tmp_path / "b")], "patch_size": 64,
                 "patches_per_epoch": 8, "cache": False},
        "loss": {"name": "mse"},
        "val": {"data": str(tmp_path / "val"), "every": 3, "metric": "loss"},
        "train": {"batch_size": 2, "steps": 3, "log_every": 1, "checkpoint_every": 100},
        "output": str(tmp_path / "run"),
    })
    summary = Trainer(recipe, progress=False).fit()
    assert summary["steps"] == 3
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().split("\n")
             if x]
    val = [x for x in lines if x["kind"] == "val"][-1]
    assert val["bpp"] > 0 and val["bpp_estimate"] > 0 and val["psnr"] > 0
    folder = export_run(tmp_path / "run", tmp_path / "model")
    config = json.loads((folder / "config.json").read_text())
    assert config["family"] == "codec"
    assert config["network"] == {"name": "codec-hyperprior", "args": {
        "channels": 3, "N": 8, "M": 12, "quality": 1, "lmbda": 0.01}}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the exported tables are current: nothing to rebuild
        codec = load_codec(folder)
    x = image(3, 21, 35)
    assert torch.equal(decompress(compress(x, model=folder), model=folder),
                       decompress(compress(x, model=codec), model=codec))

    # float16 storage: the weights are rounded and the tables rebuilt from them before saving,
    # so the loaded model's tables are current (no rebuild, no warning) and it still codes
    half = export_run(tmp_path / "run", tmp_path / "model16", storage_dtype=torch.float16)
    assert (half / "model.safetensors").stat().st_size < (folder / "model.safetensors").stat(
        ).st_size
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        codec16 = load_codec(half)
    assert codec16.finalized()
    assert codec16.gaussian.final["scale_table"].dtype == torch.float64
    data = compress(x, model=half)
    assert torch.equal(decompress(data, model=half), decompress(data, model=codec16))
    full = decompress(compress(x, model=folder), model=folder)
    assert float(image_psnr(decompress(data, model=half), full)[0]) > 40  # measured: 101.7


# -- BD-rate ------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", ("pchip", "cubic"))
def test_bd_rate_on_hand_checked_curves(method):
    rates, psnr = [0.25, 0.5, 1.0, 2.0], [30.0, 32.0, 34.0, 36.0]
    # the same curve with 20% fewer bits everywhere: -20%
    assert bd_rate(rates, psnr, [0.8 * r for r in rates], psnr, method) == pytest.approx(-20.0)
    # one dB better at every rate; log-rate is linear in PSNR with slope ln2 / 2 dB, so the
    # gap is ln2 / 2 at every quality: 2^-1/2 - 1 = -29.29%
    better = [p + 1 for p in psnr]
    assert bd_rate(rates, psnr, rates, better, method) == pytest.approx(2**-0.5 * 100 - 100)
    assert bd_rate(rates, better, rates, psnr, method) == pytest.approx(2**0.5 * 100 - 100)
    with pytest.raises(ValueError):
        bd_rate(rates, psnr, rates, [p + 10 for p in psnr], method)


# -- shipped models (skipped until they are shipped) --------------------------------------------

@pytest.mark.parametrize("quality", (1, 2, 3, 4))
def test_shipped_models_stay_in_their_rate_and_psnr_window(quality):
    """Golden bpp/PSNR per quality on the bundled landscape sample (PIXELSMITH_REGEN_GOLDEN=1
    rewrites tests/golden/codec.json)."""
    from pixelsmith.zoo import shipped_models

    name = f"codec-q{quality}"
    if name not in shipped_models():
        pytest.skip(f"{name} is not shipped yet")
    x = read_image(Path(pixelsmith.__file__).parent / "samples" / "landscape.png", gray=False)
    data = compress(x, quality=quality)
    measured = {"bpp": 8 * len(data) / (x.shape[-2] * x.shape[-1]),
                "psnr": float(image_psnr(decompress(data), x)[0])}
    golden = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
    if REGENERATE:
        golden[name] = measured
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(golden, indent=2, sort_keys=True) + "\n")
    assert name in golden, "no golden values: run with PIXELSMITH_REGEN_GOLDEN=1"
    assert measured["bpp"] == pytest.approx(golden[name]["bpp"], rel=0.02)
    assert measured["psnr"] == pytest.approx(golden[name]["psnr"], abs=0.1)
