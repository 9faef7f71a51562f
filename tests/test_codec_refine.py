"""Encoder-side latent refinement (pixelsmith.codec.refine): SGA rounding, the loss it lowers,
determinism, and the API/CLI switches. Decoding a refined file needs nothing new."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image as PILImage

import pixelsmith
from pixelsmith.cli.main import cli, main
from pixelsmith.codec.api import compress, decompress, read_header
from pixelsmith.codec.models import ConvAECodec, FactorizedPrior, MeanScaleHyperprior, pad_image
from pixelsmith.codec.refine import (
    RefineSettings,
    coded_loss,
    refine_compress,
    sga_round,
    temperature,
)
from pixelsmith.errors import PixelsmithError
from pixelsmith.io import read_image

pytestmark = pytest.mark.usefixtures("one_thread")


def small_model(cls=MeanScaleHyperprior, seed: int = 0):
    torch.manual_seed(seed)
    model = cls(channels=3, N=8, M=12, quality=2, lmbda=0.05).eval()
    model.update()
    return model


def landscape_crop(height: int = 64, width: int = 96) -> torch.Tensor:
    x = read_image(Path(pixelsmith.__file__).parent / "samples" / "landscape.png", gray=False)
    return x[..., 40:40 + height, 60:60 + width].contiguous()


def test_sga_rounding_lies_between_the_neighbours_and_becomes_rounding_when_cold():
    gen = torch.Generator().manual_seed(0)
    values = torch.randn(2000, dtype=torch.float32) * 3
    centre = torch.full_like(values, 0.3)
    warm = sga_round(values, centre, 0.5, gen)
    offset = values - centre
    assert torch.all(warm >= torch.floor(offset) + centre - 1e-5)
    assert torch.all(warm <= torch.ceil(offset) + centre + 1e-5)
    assert not torch.allclose(warm, torch.round(offset) + centre)  # still soft and random
    cold = sga_round(values, centre, 1e-3, gen)
    decided = torch.abs(offset - torch.floor(offset) - 0.5) > 0.02  # ties stay a coin toss
    torch.testing.assert_close(cold[decided], (torch.round(offset) + centre)[decided],
                               atol=1e-4, rtol=0)
    values.requires_grad_(True)
    sga_round(values, centre, 0.3, gen).sum().backward()
    assert values.grad is not None and torch.isfinite(values.grad).all()


def test_temperature_falls_from_its_start_towards_zero():
    settings = RefineSettings(steps=10)
    taus = [temperature(step, settings) for step in range(10)]
    assert taus[0] == pytest.approx(0.5)
    assert all(a > b for a, b in zip(taus[:-1], taus[1:], strict=True))
    assert taus[-1] > 0


def refine_and_measure(codec, x: torch.Tensor, steps: int) -> tuple[float, float]:
    """(plain coded loss, refined coded loss) of image x, from the real streams."""
    padded, _ = pad_image(x, codec.pad_multiple)
    valid = tuple(x.shape[-2:])
    with torch.no_grad():
        base_loss, base_streams = coded_loss(codec, codec.analyse(padded), padded, valid)
        assert base_streams == codec.compress_padded(padded)
    streams = refine_compress(codec, padded, valid, RefineSettings(steps=steps))
    x_hat = codec.decompress_padded(streams, *padded.shape[-2:]).clamp(0, 1)
    mse = float(torch.mean((x_hat - padded)[..., : valid[0], : valid[1]] ** 2))
    loss = 8 * sum(map(len, streams)) / (valid[0] * valid[1]) + codec.lmbda * 255**2 * mse
    assert all(p.requires_grad for p in codec.parameters())  # weights handed back trainable
    assert all(p.grad is None for p in codec.parameters())  # and never touched
    return base_loss, loss


@pytest.mark.parametrize("cls", (FactorizedPrior, MeanScaleHyperprior))
def test_refinement_never_codes_worse_than_the_plain_encoder(cls):
    base_loss, loss = refine_and_measure(small_model(cls), landscape_crop(), steps=10)
    assert loss <= base_loss


def test_refinement_lowers_the_real_coded_loss_of_a_trained_codec():
    from pixelsmith.codec.api import load_codec
    from pixelsmith.zoo import shipped_models

    if "codec-q1" not in shipped_models():
        pytest.skip("codec-q1 is not shipped")
    base_loss, loss = refine_and_measure(load_codec("codec-q1"), landscape_crop(128, 128), 40)
    assert loss < 0.97 * base_loss


def test_refined_files_are_reproducible_and_keep_the_format():
    codec = small_model()
    x = landscape_crop(50, 70)  # odd size: the padding is not part of the loss
    plain = compress(x, model=codec)
    first = compress(x, model=codec, refine_steps=15)
    assert first == compress(x, model=codec, refine_steps=15)
    header, plain_header = read_header(first), read_header(plain)
    assert header == plain_header  # same model, size and padding: only the streams differ
    decoded = decompress(first, model=codec)
    assert decoded.shape == x.shape
    assert compress(x, model=codec, refine_steps=0) == plain


def test_codecs_without_an_entropy_model_refuse_to_refine():
    torch.manual_seed(0)
    codec = ConvAECodec(channels=3, N=8, M=4).eval()
    with pytest.raises(PixelsmithError, match="cannot refine"):
        compress(landscape_crop(), model=codec, refine_steps=5)
    with pytest.raises(PixelsmithError, match=">= 0"):
        compress(landscape_crop(), model=small_model(), refine_steps=-1)


def test_refinement_that_would_not_fit_in_memory_is_refused_up_front(monkeypatch):
    from pixelsmith.codec import refine

    x = landscape_crop()
    assert refine.available_memory(x.device) is None or refine.available_memory(x.device) > 0
    monkeypatch.setattr(refine, "available_memory", lambda device: 1000)
    with pytest.raises(PixelsmithError, match="needs about .* GB of memory"):
        compress(x, model=small_model(), refine_steps=5)
    assert compress(x, model=small_model(), refine_steps=0)  # plain coding is not affected


def test_cli_refine_option(tmp_path, capsys):
    from pixelsmith.zoo import save_model

    model = small_model()
    args = {"channels": 3, "N": model.N, "M": model.M, "quality": 2, "lmbda": model.lmbda}
    folder = save_model(tmp_path / "tiny-codec", model, {
        "name": "tiny-codec", "family": "codec", "task": "codec", "channels": 3,
        "network": {"name": "codec-hyperprior", "args": args}})
    pixels = (landscape_crop()[0].numpy().transpose(1, 2, 0) * 255).round().astype(np.uint8)
    PILImage.fromarray(pixels).save(tmp_path / "in.png")
    runner = CliRunner()
    result = runner.invoke(cli, ["compress", str(tmp_path / "in.png"), "-o",
                                 str(tmp_path / "in.pxs"), "--model", str(folder),
                                 "--refine", "10"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["decompress", str(tmp_path / "in.pxs"), "-o",
                                 str(tmp_path / "out.png"), "--model", str(folder)])
    assert result.exit_code == 0, result.output
    with pytest.raises(SystemExit) as stop:
        main(["compress", str(tmp_path / "in.png"), "-o", str(tmp_path / "x.pxs"),
              "--model", str(folder), "--refine", "-3"])
    assert stop.value.code == 2 and not (tmp_path / "x.pxs").exists()
    assert "Traceback" not in capsys.readouterr().err
