"""The checkerboard context codec (codec-checkerboard): exact round trips, the two passes and
their masks, fixed-point entropy parameters that do not move under one-ulp float differences
or another thread count, its kind in the header, refinement, its recipes, and old files."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from one_ulp import up
from torch.nn import functional as F

from pixelsmith.codec.api import compress, decompress, model_id, read_header
from pixelsmith.codec.checkerboard import (
    KIND,
    CheckerboardHyperprior,
    anchor_mask,
    pass_positions,
)
from pixelsmith.codec.entropy import dequantize
from pixelsmith.codec.format import KIND_NAMES, unpack
from pixelsmith.codec.memory import LATENT_BYTES, decode_bytes
from pixelsmith.codec.models import MeanScaleHyperprior
from pixelsmith.codec.refine import RefineSettings, coded_loss, refine_compress
from pixelsmith.errors import PixelsmithError
from pixelsmith.nets import build_network

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).parent / "golden" / "codec-v1"


def tiny(seed: int = 0, channels: int = 3, **args) -> CheckerboardHyperprior:
    """A small model with random weights, spread out so that the latents are not all zero."""
    torch.manual_seed(seed)
    model = CheckerboardHyperprior(channels, N=8, M=12, quality=2, lmbda=0.01, **args)
    with torch.no_grad():
        for layer in model.g_a:
            if isinstance(layer, torch.nn.Conv2d):
                layer.weight.mul_(3.0)
    model.eval().update()
    return model


def image(channels: int, height: int, width: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(1, channels, height, width, generator=g)
    return F.avg_pool2d(x, 5, 1, 2, count_include_pad=False)


def encoder_symbols(model: CheckerboardHyperprior, x: torch.Tensor):
    """(symbols, mean counts, scale counts) as the encoder computes them."""
    from pixelsmith.codec.models import pad_image

    padded, _ = pad_image(x, model.pad_multiple)
    with torch.no_grad():
        latents = model.analyse(padded)
        centre = model._z_centre()
        z_hat = dequantize(torch.round(latents["z"].double() - centre.double()), centre)
        return model._encode_passes(latents["y"], z_hat)


def decoded(model: CheckerboardHyperprior, data: bytes):
    header, streams = unpack(data)
    return model.decode_symbols(streams, *header.padded_size)


# -- round trips -------------------------------------------------------------------------------

@pytest.mark.parametrize("channels", (1, 3))
def test_round_trip_gives_the_encoders_symbols_and_the_rounding_forward(channels):
    model = tiny(channels=channels)
    x = image(channels, 33, 47)
    data = compress(x, model=model)
    symbols, means, _ = encoder_symbols(model, x)
    assert symbols.abs().max() > 0  # the test is not about an all-zero latent
    _, got, got_means = decoded(model, data)
    assert torch.equal(got, symbols) and torch.equal(got_means, means)
    x_hat = decompress(data, model=model)
    from pixelsmith.codec.models import pad_image

    with torch.no_grad():
        forward = model(pad_image(x, 64)[0])["x_hat"][..., :33, :47]
    assert torch.equal(x_hat, forward.clamp(0, 1))


def test_a_large_image_of_several_tiles_and_chunks_decodes_to_the_forward(monkeypatch):
    import pixelsmith.codec.checkerboard as cb

    monkeypatch.setattr(cb, "CHUNK", 7)  # many chunks of positions
    model = tiny(seed=1)
    x = image(3, 130, 70, seed=2)
    data = compress(x, model=model)
    from pixelsmith.codec.models import pad_image

    with torch.no_grad():
        out = model(pad_image(x, 64)[0])
        latent = model.analyse(pad_image(x, 64)[0])
    monkeypatch.setattr(cb, "CHUNK", 4096)
    assert torch.equal(decompress(data, model=model), out["x_hat"][..., :130, :70].clamp(0, 1))
    assert out["likelihoods"]["y"].shape == latent["y"].shape


# -- the two passes ----------------------------------------------------------------------------

def test_anchors_and_non_anchors_form_a_checkerboard():
    mask = anchor_mask(3, 4)[0, 0]
    assert mask.tolist() == [[True, False, True, False], [False, True, False, True],
                             [True, False, True, False]]
    anchors, others = pass_positions(3, 4)
    assert sorted(anchors.tolist() + others.tolist()) == list(range(12))
    assert len(anchors) == 6


def test_the_context_sees_only_anchors_and_the_gathered_form_is_the_convolution():
    model = tiny()
    y = torch.randn(1, model.M, 6, 7, generator=torch.Generator().manual_seed(3))
    anchor = anchor_mask(6, 7)
    with torch.no_grad():
        base = model.context(y * anchor)
        changed = y.clone()
        changed[~anchor.expand_as(y)] += 5.0  # change the non-anchors only
        assert torch.equal(model.context(changed * anchor), base)
    counts = torch.round(y.double() * 2**16).to(torch.int64) * anchor
    _, others = pass_positions(6, 7)
    fixed = model.context_counts(counts, others).double()[0, :, 0] / 2**16
    reference = base.double().view(1, 2 * model.M, -1)[0][:, others]
    assert (fixed - reference).abs().max() < 1e-3


def test_anchor_parameters_do_not_depend_on_non_anchors_and_non_anchors_use_the_context():
    model = tiny(seed=4)
    x = image(3, 64, 64, seed=4)
    symbols, means, scales = encoder_symbols(model, x)
    anchors, others = pass_positions(*symbols.shape[-2:])
    z_hat_shape = (1, model.N, 1, 1)
    z_hat = torch.zeros(z_hat_shape) + model._z_centre()

    def params(first: torch.Tensor):
        def source(index, positions, mean_counts, scale_counts):
            return first.view(1, model.M, -1)[..., positions]
        return model.code_passes(z_hat, tuple(symbols.shape), source)

    one = params(symbols)
    other_symbols = symbols.clone().view(1, model.M, -1)
    other_symbols[..., others] += 3
    two = params(other_symbols.view(symbols.shape))
    flat = [t.view(1, model.M, -1) for t in (*one, *two)]
    assert torch.equal(flat[1][..., anchors], flat[4][..., anchors])  # anchor means
    assert torch.equal(flat[2][..., anchors], flat[5][..., anchors])  # anchor scales
    changed_anchors = symbols.clone().view(1, model.M, -1)
    changed_anchors[..., anchors] += 3
    three = [t.view(1, model.M, -1) for t in params(changed_anchors.view(symbols.shape))]
    assert not torch.equal(three[1][..., others], flat[1][..., others])


def test_fixed_point_parameters_follow_the_float_network():
    model = tiny(seed=5)
    x = image(3, 64, 128, seed=5)
    symbols, means, scales = encoder_symbols(model, x)
    from pixelsmith.codec.models import pad_image

    with torch.no_grad():
        latents = model.analyse(pad_image(x, 64)[0])
        centre = model._z_centre()
        z_hat = dequantize(torch.round(latents["z"].double() - centre.double()), centre)
        y_hat, f_means, f_scales = model._float_passes(
            model.h_s(z_hat), latents["y"], lambda v, c: torch.round(v - c) + c)
    assert (means.double() / 2**16 - f_means.double()).abs().max() < 1e-3
    assert (scales.double() / 2**16 - f_scales.double()).abs().max() < 1e-3


# -- determinism -------------------------------------------------------------------------------



def test_symbols_and_means_survive_one_ulp_float_differences_and_two_threads(monkeypatch):
    """A host whose every float convolution and matrix product (and the table functions)
    rounds one ulp the other way decodes the same symbols and means; so do two threads."""
    model = tiny(seed=6)
    x = image(3, 96, 80, seed=6)
    data = compress(x, model=model)
    reference = decoded(model, data)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:  # (encoding may differ across thread counts: g_a is float32; decoding may not)
        two = decoded(model, data)
    finally:
        torch.set_num_threads(threads)
    for owner, names in ((F, ("conv2d", "conv_transpose2d", "linear")),
                         (torch, ("matmul", "exp", "log", "erfc", "sigmoid", "tanh"))):
        for name in names:
            original = getattr(owner, name)
            monkeypatch.setattr(owner, name,
                                lambda *a, _f=original, **k: up(_f(*a, **k)))
    # the nudge is real: the float network moves
    with torch.no_grad():
        assert not torch.equal(F.conv2d(torch.ones(1, 1, 1, 1), torch.ones(1, 1, 1, 1)),
                               torch.ones(1, 1, 1, 1))
    nudged = decoded(model, data)
    monkeypatch.undo()
    for got in (two, nudged):
        assert np.array_equal(got[0], reference[0])
        assert torch.equal(got[1], reference[1]) and torch.equal(got[2], reference[2])


@pytest.mark.parametrize("scale", (1 << 10, 1 << 34))  # one limb, two limbs (of 30 bits)
def test_fixed_point_convolution_equals_exact_integer_arithmetic(scale):
    """The float64 convolutions of fixed_conv give exactly the integers of int64 arithmetic
    (no float rounding anywhere), in one pass and in two limbs alike."""
    from pixelsmith.codec.checkerboard import WEIGHT_BITS
    from pixelsmith.codec.models import _fixed_weight, _round_shift, fixed_conv

    g = torch.Generator().manual_seed(10)
    weight = torch.randn(7, 48, 1, 1, generator=g)
    bias = torch.randn(7, generator=g)
    x = torch.randint(-scale, scale, (1, 48, 1, 33), generator=g)
    got = fixed_conv(x, weight, bias, weight_bits=WEIGHT_BITS)
    integer, shift = _fixed_weight(weight, WEIGHT_BITS)
    exact = torch.einsum("oi,il->ol", integer.view(7, 48).to(torch.int64), x.view(48, 33))
    bias_counts = torch.round(bias.double() * 2**16).to(torch.int64)[:, None]
    expected = _round_shift(exact, shift) + bias_counts
    assert torch.equal(got.view(7, 33), expected)


def test_the_file_is_the_same_after_a_save_and_load_and_the_id_is_of_the_state():
    model = tiny(seed=7)
    copy = CheckerboardHyperprior(3, N=8, M=12, quality=2, lmbda=0.01)
    copy.load_state_dict(model.state_dict())
    copy.eval()
    assert copy.finalized() and model_id(copy) == model_id(model)
    assert "context.mask" not in model.state_dict()  # a constant, not state
    x = image(3, 40, 40, seed=7)
    assert compress(x, model=copy) == compress(x, model=model)


# -- the header --------------------------------------------------------------------------------

def test_files_carry_kind_4_and_other_codecs_refuse_them():
    model = tiny()
    data = compress(image(3, 20, 30), model=model)
    header = read_header(data)
    assert header.kind == KIND == model.kind == 4 and header.version == 2
    assert KIND_NAMES[4].startswith("checkerboard")
    assert len(unpack(data)[1]) == 3
    torch.manual_seed(0)
    other = MeanScaleHyperprior(3, N=8, M=12).eval()
    other.update()
    with pytest.raises(PixelsmithError) as caught:
        decompress(data, model=other)
    assert "\n" not in str(caught.value)
    assert isinstance(build_network("codec-checkerboard", {"N": 8, "M": 12}),
                      CheckerboardHyperprior)
    assert decode_bytes(model, 512, 512) > decode_bytes(other, 512, 512)
    assert LATENT_BYTES < 112


def test_a_truncated_stream_raises_only_a_pixelsmith_error():
    model = tiny()
    data = compress(image(3, 64, 64), model=model)
    header, streams = unpack(data)
    broken = [streams[0], streams[1][:4], streams[2]]
    with pytest.raises(PixelsmithError):
        model.decompress_padded(broken, *header.padded_size)
    with pytest.raises(PixelsmithError, match="version 2"):
        model.decompress_padded(streams, *header.padded_size, version=1)


# -- training and refinement -------------------------------------------------------------------

@pytest.mark.parametrize("mixed", (False, True))
def test_training_forward_gives_likelihoods_with_gradients(mixed):
    model = tiny(mixed_quantization=mixed).train()
    x = image(3, 64, 64)
    out = model(x, generator=torch.Generator().manual_seed(0))
    assert set(out["likelihoods"]) == {"y", "z"}
    loss = sum(-torch.log2(v).sum() for v in out["likelihoods"].values()) + out["x_hat"].sum()
    loss.backward()
    assert model.context.weight.grad.abs().sum() > 0
    assert model.entropy_params[0].weight.grad.abs().sum() > 0
    # masked taps get no gradient: they stay what they were
    masked = model.context.weight.grad * (1 - model.context.mask)
    assert masked.abs().max() == 0


def test_refinement_works_and_never_makes_the_coded_loss_worse():
    model = tiny(seed=8)
    x = image(3, 64, 64, seed=8)
    with torch.no_grad():
        plain_loss, _ = coded_loss(model, model.analyse(x), x, (64, 64))
    streams = refine_compress(model, x, (64, 64), RefineSettings(steps=4))
    # the refined streams decode and score no worse than the plain ones
    x_hat = model.decompress_padded(streams, 64, 64).clamp(0, 1)
    bits = 8.0 * sum(len(s) for s in streams)
    loss = bits / 64**2 + model.lmbda * 255.0**2 * float(torch.mean((x_hat - x) ** 2))
    assert loss <= plain_loss + 1e-9
    data = compress(x, model=model, refine_steps=3)
    assert decompress(data, model=model).shape == (1, 3, 64, 64)


# -- the recipes -------------------------------------------------------------------------------

@pytest.mark.parametrize("quality", (1, 2, 3, 4))
def test_ladder_recipe_smoke_run_trains_validates_with_real_files_and_exports(quality, tmp_path,
                                                                             monkeypatch):
    from conftest import data_or_skip

    from pixelsmith.codec.api import load_codec
    from pixelsmith.train.config import load_recipe
    from pixelsmith.train.export import export_run
    from pixelsmith.train.trainer import Trainer

    data_or_skip("train/CBSD432/val32")
    recipe = load_recipe(ROOT / "configs" / f"codec-cb-wide-q{quality}.yaml", [
        "train.steps=2", "train.batch_size=1", "data.patch_size=64", "data.cache=false",
        "data.patches_per_epoch=4", "val.every=2", "val.limit=1", "train.log_every=1",
        "train.checkpoint_every=100", f"output={tmp_path / 'run'}"])
    assert recipe.model.name == "codec-checkerboard"
    summary = Trainer(recipe, progress=False).fit()
    assert summary["steps"] == 2
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().split("\n")
             if x]
    val = [x for x in lines if x["kind"] == "val"][-1]
    assert val["bpp"] > 0 and val["psnr"] > 0
    folder = export_run(tmp_path / "run", tmp_path / "model")
    codec = load_codec(folder)
    assert isinstance(codec, CheckerboardHyperprior) and codec.quality == quality
    x = image(3, 48, 40)
    data = compress(x, model=folder)
    assert decompress(data, model=folder).shape == (1, 3, 48, 40)
    # a host whose float functions round the other way loads the same model (id, tables)
    # without a warning and reads the same symbols
    import warnings

    from pixelsmith.codec import api

    here = decoded(codec, data)
    for owner, names in ((torch, ("exp", "log", "linspace", "erfc", "sigmoid", "tanh",
                                  "matmul", "sqrt", "rsqrt")),
                         (torch.special, ("ndtri",)), (F, ("softplus", "conv2d",
                                                          "conv_transpose2d")),
                         (math, ("exp", "log", "expm1", "sqrt"))):
        for name in names:
            original = getattr(owner, name)
            monkeypatch.setattr(owner, name, lambda *a, _f=original, **k: up(_f(*a, **k)))
    api._LOADED.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        other = load_codec(folder)
    assert other is not codec and other.pixelsmith_id == codec.pixelsmith_id
    there = decoded(other, data)
    monkeypatch.undo()
    api._LOADED.clear()
    assert np.array_equal(there[0], here[0]) and torch.equal(there[1], here[1])
    assert torch.equal(there[2], here[2])


# -- old files ---------------------------------------------------------------------------------

def test_version1_golden_files_still_decode_to_their_symbols():
    from pixelsmith.codec.api import load_codec

    expected = json.loads((GOLDEN / "expected.json").read_text())
    name, record = sorted(expected["files"].items())[0]
    data = (GOLDEN / f"{name}.pxs").read_bytes()
    header, streams = unpack(data)
    codec = load_codec(record["model"])
    z, y, _ = codec.decode_symbols(streams, *header.padded_size, header.version)
    assert hashlib.sha256(np.ascontiguousarray(y.astype("<i8")).tobytes()).hexdigest() \
        == record["y_symbols"]
    assert decompress(data).shape[-2:] == (header.height, header.width)


def test_damaged_files_raise_only_pixelsmith_errors():
    """Bit flips, truncations and random stream bytes, re-sealed with a correct CRC so that
    they reach the two passes: decoding either succeeds or raises one PixelsmithError."""
    import random
    import struct
    import zlib

    model = tiny(seed=9)
    data = compress(image(3, 70, 90, seed=9), model=model)
    rng = random.Random(0)
    body_start = len(data) - 4 - sum(len(s) for s in unpack(data)[1])
    for trial in range(60):
        body = bytearray(data[:-4])
        if trial % 3 == 0:
            for _ in range(rng.randint(1, 8)):
                position = rng.randrange(body_start, len(body))
                body[position] ^= 1 << rng.randrange(8)
        elif trial % 3 == 1:
            position = rng.randrange(body_start, len(body))
            body[position:] = bytes(rng.randrange(256) for _ in range(len(body) - position))
        else:
            body = body[:rng.randrange(body_start, len(body))]
        sealed = bytes(body) + struct.pack("<I", zlib.crc32(bytes(body)))
        try:
            x = decompress(sealed, model=model)
        except PixelsmithError as exc:
            assert "\n" not in str(exc)
        else:
            assert x.shape == (1, 3, 70, 90) and torch.isfinite(x).all()


def stage1_recipe(tmp_path, *overrides):
    from pixelsmith.train.config import load_recipe

    return load_recipe(ROOT / "configs" / "codec-cb-q1-stage1.yaml", [
        "train.steps=2", "train.batch_size=1", "data.patch_size=64", "data.cache=false",
        "data.patches_per_epoch=4", "val.every=2", "val.limit=1", "train.log_every=1",
        "train.checkpoint_every=100", f"output={tmp_path / 'run'}", *overrides])


def test_stage1_recipe_starts_from_the_hyperprior_and_trains_only_the_new_layers(tmp_path):
    """The checkerboard ladder starts from the shipped hyperprior: its layers are loaded and
    frozen, the context and entropy-parameter layers train from their fresh start."""
    from conftest import data_or_skip

    from pixelsmith.train.trainer import Trainer
    from pixelsmith.zoo import load_model

    data_or_skip("train/CBSD432/val32")
    hyperprior = load_model("codec-q1").state_dict()
    trainer = Trainer(stage1_recipe(tmp_path), progress=False)
    fresh = {k: v.clone() for k, v in trainer.models["model"].state_dict().items()
             if k.startswith(("context.", "entropy_params."))}
    trainer.fit()
    tuned = trainer.models["model"].state_dict()
    for prefix in ("g_a.", "g_s.", "h_a.", "h_s."):
        keys = [k for k in tuned if k.startswith(prefix)]
        assert keys and all(torch.equal(tuned[k], hyperprior[k]) for k in keys), prefix
    assert any(not torch.equal(tuned[k], v) for k, v in fresh.items())


@pytest.mark.parametrize("overrides, message", [
    (["init_fresh=[context, entropy_params, nothing]"], "init_fresh: 'nothing'"),
    (["init_fresh=[context]"], "does not fit"),          # entropy_params would stay unloaded
    (["init_fresh=[]"], "does not fit"),                  # strict: the init lacks layers
    (["model.args.M=128"], "does not fit"),               # shapes differ
    (["init=null"], "init_fresh needs init"),
])
def test_init_fresh_mistakes_are_one_line_errors(tmp_path, overrides, message):
    from pixelsmith.train.trainer import Trainer

    with pytest.raises(PixelsmithError, match=message):
        Trainer(stage1_recipe(tmp_path, *overrides), progress=False)
