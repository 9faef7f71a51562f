"""Mixed-precision codec training: under bf16 autocast the inner transform layers run in bf16,
while latents, hyperprior, context, entropy parameters and likelihoods stay float32."""

from __future__ import annotations

import pytest
import torch

from pixelsmith.codec.checkerboard import CheckerboardHyperprior
from pixelsmith.codec.models import MeanScaleHyperprior
from pixelsmith.codec.precision import Float32Sequential, MixedSequential
from pixelsmith.train.families.codec import rd_terms


def _bf16():
    return torch.autocast("cpu", dtype=torch.bfloat16)


def test_float32_sequential_ignores_autocast_and_mixed_keeps_its_ends_in_float32():
    torch.manual_seed(0)
    layers = [torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
              torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.Conv2d(8, 2, 3, padding=1)]
    x = torch.rand(1, 3, 16, 16)
    plain = torch.nn.Sequential(*layers)(x)
    with _bf16():
        exact = Float32Sequential(*layers)(x)
        mixed = MixedSequential(*layers)(x)
        cast = torch.nn.Sequential(*layers)(x)
    assert exact.dtype == mixed.dtype == torch.float32 and cast.dtype == torch.bfloat16
    assert torch.equal(exact, plain)
    assert not torch.equal(mixed, plain)  # the inner convolution ran in bf16
    assert torch.allclose(mixed, plain, atol=0.02)
    assert torch.equal(MixedSequential(*layers)(x), plain)  # no autocast: plain Sequential


@pytest.mark.parametrize("codec", [MeanScaleHyperprior, CheckerboardHyperprior])
def test_bf16_training_forward_keeps_rates_in_float32_and_close_to_fp32(codec):
    torch.manual_seed(0)
    net = codec(3, 16, 24, 1, 0.01, mixed_quantization=True).train()
    x = torch.rand(2, 3, 64, 64)
    out32 = net(x, generator=torch.Generator().manual_seed(1))
    with _bf16():
        out16 = net(x, generator=torch.Generator().manual_seed(1))
    assert out16["x_hat"].dtype == torch.float32
    for name, likelihood in out16["likelihoods"].items():
        assert likelihood.dtype == torch.float32, name
    terms32, terms16 = rd_terms(out32, x, net.lmbda), rd_terms(out16, x, net.lmbda)
    assert float(terms16["bpp"].detach()) == pytest.approx(float(terms32["bpp"].detach()), rel=0.02)
    assert float(terms16["mse"].detach()) == pytest.approx(float(terms32["mse"].detach()), rel=0.02)
    terms16["loss"].backward()
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_the_fixed_rate_baseline_quantizes_float32_levels_under_bf16():
    from pixelsmith.codec.models import ConvAECodec

    torch.manual_seed(0)
    net = ConvAECodec(3, 16, 8).train()
    x = torch.rand(1, 3, 64, 64)
    with _bf16():
        levels = net.levels(x)
        out = net(x)
    assert levels.dtype == out["x_hat"].dtype == torch.float32
    assert torch.allclose(levels, net.levels(x), atol=1.0)  # bf16 inner layers, float32 ends


def test_state_dict_keys_are_those_of_plain_sequential_transforms():
    keys = set(CheckerboardHyperprior(3, 16, 24).state_dict())
    for key in ("g_a.0.weight", "g_a.6.bias", "g_s.0.weight", "h_a.0.weight", "h_s.4.weight",
                "entropy_params.0.weight", "context.weight"):
        assert key in keys


def test_a_codec_recipe_trains_in_bf16_validates_in_float32_and_exports(tmp_path):
    import json
    import warnings
    from pathlib import Path

    from conftest import data_or_skip

    from pixelsmith.codec.api import compress, decompress, load_codec
    from pixelsmith.runtime.precision import SlowPathWarning
    from pixelsmith.train.config import load_recipe
    from pixelsmith.train.export import export_run
    from pixelsmith.train.trainer import Trainer

    data_or_skip("train/CBSD432/val32")
    root = Path(__file__).resolve().parents[1]
    recipe = load_recipe(root / "configs" / "codec-cb-wide-q1.yaml", [
        "train.steps=2", "train.batch_size=1", "data.patch_size=64", "data.cache=false",
        "data.patches_per_epoch=4", "val.every=2", "val.limit=1", "train.log_every=1",
        "train.checkpoint_every=100", "train.precision=bf16", f"output={tmp_path / 'run'}"])
    assert recipe.train.channels_last
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SlowPathWarning)  # a CPU without native bf16
        Trainer(recipe, progress=False).fit()
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().split("\n")
             if x]
    train = [x for x in lines if x["kind"] == "train"]
    val = [x for x in lines if x["kind"] == "val"][-1]
    assert all(torch.isfinite(torch.tensor(x["loss"])) for x in train)
    assert val["bpp"] > 0 and val["psnr"] > 0
    folder = export_run(tmp_path / "run", tmp_path / "model")
    codec = load_codec(folder)
    assert all(p.dtype == torch.float32 for p in codec.parameters())
    x = torch.rand(1, 3, 48, 40)
    assert decompress(compress(x, model=folder), model=folder).shape == (1, 3, 48, 40)
