"""Trained models through `pixelsmith restore` and `pixelsmith.restore()`: --sigma auto,
--quality auto, devices, tiling by default, bf16 against fp32, gray/colour model mismatches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image as PILImage
from test_cli import assert_one_line_error, run
from test_tiling import noisy_image, trained_unet

import pixelsmith
from pixelsmith.degrade.estimate import estimate_sigma
from pixelsmith.degrade.known import Known
from pixelsmith.errors import PixelsmithError
from pixelsmith.io import read_image
from pixelsmith.metrics.pixel import psnr
from pixelsmith.nets.unet import ConditionedUNet
from pixelsmith.restoration.restorer import Restorer
from pixelsmith.zoo import save_model

pytestmark = pytest.mark.usefixtures("one_thread")


def save_unet(folder: Path, task: str = "denoise", channels: int = 1,
              net: ConditionedUNet | None = None) -> Path:
    """A ConditionedUNet model folder; untrained ones get a random last layer (not identity)."""
    conditioning = "quality" if task == "dejpeg" else "sigma"
    if net is None:
        torch.manual_seed(channels)
        net = ConditionedUNet(channels, (8, 16), blocks=1, conditioning=conditioning)
        torch.nn.init.normal_(net.tail.weight, std=0.05)
    args = {"channels": net.channels, "conditioning": net.conditioning, "blocks": 1,
            "features": [m.out_channels for m in (net.head, *net.down)]}
    config = {"name": folder.name, "task": task, "network": {"name": "unet", "args": args},
              "channels": channels, "needs": [conditioning], "family": "restoration"}
    return save_model(folder, net, config)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {"gray": save_unet(root / "gray"), "rgb": save_unet(root / "rgb", channels=3),
            "dejpeg": save_unet(root / "dejpeg", task="dejpeg", channels=3)}


@pytest.fixture
def noisy_png(tmp_path, samples) -> Path:
    clean = read_image(samples / "landscape.png")
    noisy = clean + 25 / 255 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(0))
    pixels = (noisy.clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    PILImage.fromarray(pixels).save(tmp_path / "noisy.png")
    return tmp_path / "noisy.png"


def test_cli_sigma_auto_estimates_and_reports(tmp_path, capsys, models, noisy_png):
    out = tmp_path / "out.png"
    code, stdout, err = run(capsys, "restore", str(noisy_png), "-o", str(out), "--task",
                            "denoise", "--method", str(models["gray"]), "--sigma", "auto")
    assert code == 0, err
    assert stdout == "" and len(err.strip().splitlines()) == 1
    assert err.startswith(f"pixelsmith: {out}: {models['gray']}, sigma ")
    assert abs(float(err.split("sigma ")[1].split()[0]) - 25) < 2.5 and "(estimated)" in err

    pixels = read_image(noisy_png)
    sigma = estimate_sigma(pixels).item() * 255
    auto = pixelsmith.restore(noisy_png, method=str(models["gray"]), sigma="auto")
    assert torch.equal(auto, pixelsmith.restore(pixels, method=str(models["gray"]), sigma=sigma))
    assert not torch.equal(auto, pixelsmith.restore(pixels, method=str(models["gray"]), sigma=50))
    written = torch.from_numpy(np.asarray(PILImage.open(out), dtype=np.float32) / 255)
    assert torch.allclose(written.permute(2, 0, 1)[None], auto, atol=0.5 / 255 + 1e-6)


def test_cli_sigma_auto_on_a_folder_prints_each_estimate(tmp_path, capsys, models, noisy_png):
    (noisy_png.parent / "second.png").write_bytes(noisy_png.read_bytes())
    code, _, err = run(capsys, "restore", str(noisy_png.parent), "-o", str(tmp_path / "out"),
                       "--task", "denoise", "--method", str(models["rgb"]), "--sigma", "auto")
    assert code == 0, err
    assert err.count("(estimated)") == 2 and (tmp_path / "out" / "second.png").exists()


def test_cli_quality_auto_reads_the_jpeg_tables(tmp_path, capsys, models, samples):
    source = tmp_path / "photo.jpg"
    PILImage.open(samples / "landscape.png").convert("RGB").save(source, quality=30)
    code, _, err = run(capsys, "restore", str(source), "-o", str(tmp_path / "out.png"),
                       "--task", "dejpeg", "--method", str(models["dejpeg"]), "--quality", "auto")
    assert code == 0, err
    assert "JPEG quality 30 (from the quantisation tables)" in err
    model = str(models["dejpeg"])
    auto = pixelsmith.restore(source, "dejpeg", method=model, quality="auto")
    assert torch.equal(auto, pixelsmith.restore(source, "dejpeg", method=model, quality=30))
    assert not torch.equal(auto, pixelsmith.restore(source, "dejpeg", method=model, quality=90))
    with pytest.raises(PixelsmithError, match="path"):
        pixelsmith.restore(read_image(source), "dejpeg", method=model, quality="auto")


def test_cli_quality_auto_on_a_png_is_a_one_line_error(tmp_path, capsys, models, noisy_png):
    code, _, err = run(capsys, "restore", str(noisy_png), "-o", str(tmp_path / "out.png"),
                       "--task", "dejpeg", "--method", str(models["dejpeg"]), "--quality", "auto")
    assert_one_line_error(code, err)
    assert "JPEG" in err and "--quality" in err and not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("tail, message", [
    (["--sigma", "abc"], "sigma must be"),
    (["--sigma", "300"], "0-255"),
    (["--quality", "0"], "quality must be"),
    (["--quality", "7.5"], "quality must be"),
    (["--tile", "-1"], "tile must be"),
    (["--tile", "big"], "tile must be"),
    (["--tile", "64", "--overlap", "64"], "overlap"),
    (["--precision", "fp8"], "precision must be fp32, bf16, fp16 or auto"),
    (["--precision", "fp16", "--device", "cpu"], "fp16 needs a CUDA device"),
    (["--device", "tpu"], "device must be cpu, cuda or cuda:N"),
])
def test_bad_option_values_are_one_line_errors(tmp_path, capsys, models, noisy_png, tail,
                                               message):
    sigma = [] if "--sigma" in tail else ["--sigma", "25"]
    code, _, err = run(capsys, "restore", str(noisy_png), "-o", str(tmp_path / "out.png"),
                       "--task", "denoise", "--method", str(models["gray"]), *sigma, *tail)
    assert_one_line_error(code, err)
    assert message in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("method", ["model", "tv"])
def test_cuda_without_a_gpu_is_a_one_line_error(tmp_path, capsys, models, noisy_png, method):
    method = str(models["gray"]) if method == "model" else method
    code, _, err = run(capsys, "restore", str(noisy_png), "-o", str(tmp_path / "out.png"),
                       "--task", "denoise", "--method", method, "--sigma", "25",
                       "--device", "cuda")
    assert_one_line_error(code, err)
    assert "CUDA is not available" in err


def test_trained_models_tile_by_default(models):
    """The evaluator calls Restorer(task, name)(y, known): that path tiles too."""
    restorer = Restorer("denoise", str(models["gray"]))
    options = restorer._fn.options
    assert (options.tile, options.overlap, options.precision) == (512, 32, "fp32")
    assert options.device == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    shapes = []
    run_whole = restorer._fn.run_whole
    restorer._fn.run_whole = lambda y, k: shapes.append(tuple(y.shape)) or run_whole(y, k)
    from pixelsmith.degrade.known import Known

    out = restorer(torch.rand(1, 1, 600, 40), Known(sigma=0.1))
    assert out.shape == (1, 1, 600, 40) and out.device.type == "cpu"
    assert shapes == [(1, 1, 512, 40), (1, 1, 512, 40)]


def test_gray_model_on_colour_and_colour_model_on_gray(models):
    generator = torch.Generator().manual_seed(4)
    rgb = torch.rand(1, 3, 90, 70, generator=generator)
    gray_model, rgb_model = str(models["gray"]), str(models["rgb"])
    out = pixelsmith.restore(rgb, method=gray_model, sigma=25, tile=48, overlap=8, device="cpu")
    assert out.shape == rgb.shape
    per_channel = torch.cat([
        pixelsmith.restore(rgb[:, c:c + 1], method=gray_model, sigma=25, tile=48, overlap=8)
        for c in range(3)
    ], dim=1)
    torch.testing.assert_close(out, per_channel, atol=1e-5, rtol=0)

    gray = rgb[:, :1]
    out = pixelsmith.restore(gray, method=rgb_model, sigma=25, tile=48, overlap=8)
    assert out.shape == gray.shape
    whole = pixelsmith.restore(gray, method=rgb_model, sigma=25, tile=0)
    assert (out - whole).abs().max() < 0.02
    assert pixelsmith.restore(gray[0, 0].numpy(), method=rgb_model, sigma=25).shape == (90, 70)


def test_bf16_is_within_005_db_of_fp32(tmp_path):
    model = str(save_unet(tmp_path / "trained", net=trained_unet()))
    clean, noisy = noisy_image()
    fp32 = pixelsmith.restore(noisy, method=model, sigma=25, precision="fp32")
    bf16 = pixelsmith.restore(noisy, method=model, sigma=25, precision="bf16")
    assert bf16.dtype == torch.float32
    gap = psnr(bf16, clean).item() - psnr(fp32, clean).item()
    assert abs(gap) < 0.05 and psnr(fp32, clean).item() > psnr(noisy.clamp(0, 1), clean) + 5


@pytest.mark.skipif(not torch.cuda.is_available(), reason="fp16 runs on CUDA only")
def test_fp16_on_cuda_is_within_005_db_of_fp32(tmp_path):
    model = str(save_unet(tmp_path / "trained", net=trained_unet()))
    clean, noisy = noisy_image()
    fp32 = pixelsmith.restore(noisy, method=model, sigma=25, device="cuda", precision="fp32")
    fp16 = pixelsmith.restore(noisy, method=model, sigma=25, device="cuda", precision="fp16")
    assert fp16.dtype == torch.float32
    assert abs(psnr(fp16, clean).item() - psnr(fp32, clean).item()) < 0.05


def test_batches_with_sigma_auto_run_classical_methods_image_by_image():
    generator = torch.Generator().manual_seed(5)
    clean = torch.rand(1, 1, 8, 8, generator=generator).repeat_interleave(8, -1)
    clean = clean.repeat_interleave(8, -2)
    batch = torch.cat([clean + s / 255 * torch.randn(clean.shape, generator=generator)
                       for s in (10, 40)])
    both = pixelsmith.restore(batch, method="tv", sigma="auto")
    one_by_one = torch.cat([pixelsmith.restore(batch[i:i + 1], method="tv", sigma="auto")
                            for i in (0, 1)])
    torch.testing.assert_close(both, one_by_one)


def test_default_model_is_chosen_by_the_input_channels(monkeypatch, models, tmp_path):
    """With a gray and a colour default model, a gray image goes to the gray one and a colour
    image to the colour one; without defaults the classical baseline stays the default."""
    import pixelsmith.restoration.registry
    from pixelsmith.restoration.restorer import Restorer

    monkeypatch.setattr(pixelsmith.restoration.registry, "default_models", lambda task: {})
    assert Restorer("denoise").name == "bm3d"
    defaults = {str(models["gray"]): {"task": "denoise", "channels": 1},
                str(models["rgb"]): {"task": "denoise", "channels": 3}}
    monkeypatch.setattr(pixelsmith.restoration.registry, "default_models", lambda task: defaults)
    restorer = Restorer("denoise")
    gray, rgb = torch.rand(1, 1, 24, 24), torch.rand(1, 3, 24, 24)
    known = Known(sigma=25 / 255)
    torch.testing.assert_close(restorer(gray, known),
                               Restorer("denoise", str(models["gray"]))(gray, known))
    torch.testing.assert_close(restorer(rgb, known),
                               Restorer("denoise", str(models["rgb"]))(rgb, known))
