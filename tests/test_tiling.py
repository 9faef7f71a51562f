"""Tiled inference: seams are invisible (tiled == whole to 0.01 dB for a trained U-Net), identity
functions come back exactly, masks are cut with the tiles, odd sizes and 2x outputs work."""

from __future__ import annotations

import functools

import pytest
import torch
import torch.nn.functional as F
from conftest import data_or_skip

from pixelsmith.degrade.known import Known
from pixelsmith.errors import PixelsmithError
from pixelsmith.io import read_image
from pixelsmith.metrics.pixel import psnr
from pixelsmith.restoration.tiling import edge_weights, ramp, tile_starts, tiled_apply
from pixelsmith.restoration.trained import restoration_forward

pytestmark = pytest.mark.usefixtures("one_thread")


@functools.cache
def trained_unet(steps: int = 30) -> torch.nn.Module:
    """A small ConditionedUNet after a few Adam steps on noisy patches of Set12 01.png (sigma 25):
    enough to denoise, so that blending errors would show in PSNR (about 5 s on one core)."""
    from pixelsmith.nets.unet import ConditionedUNet

    clean = read_image(data_or_skip("test/Set12") / "01.png")
    torch.manual_seed(0)
    net = ConditionedUNet(1, (16, 32, 64), blocks=1)
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)
    generator = torch.Generator().manual_seed(0)
    for _ in range(steps):
        top, left = torch.randint(0, 256 - 48, (2, 10), generator=generator)
        corners = zip(top.tolist(), left.tolist(), strict=True)
        patches = torch.cat([clean[..., t:t + 48, s:s + 48] for t, s in corners])
        noisy = patches + 25 / 255 * torch.randn(patches.shape, generator=generator)
        loss = (net(noisy, torch.full((10,), 25 / 255)) - patches).abs().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return net.eval()


def noisy_image(name: str = "08.png", sigma: float = 25, seed: int = 0):
    clean = read_image(data_or_skip("test/Set12") / name)
    generator = torch.Generator().manual_seed(seed)
    return clean, clean + sigma / 255 * torch.randn(clean.shape, generator=generator)


def test_tiled_matches_whole_for_a_trained_unet():
    net = trained_unet()
    clean, noisy = noisy_image()
    assert clean.shape[-2:] == (512, 512)
    known = Known(sigma=25 / 255)

    def run(y: torch.Tensor, k: Known) -> torch.Tensor:
        return restoration_forward(net, y, k)

    with torch.inference_mode():
        whole = run(noisy, known).clamp(0, 1)
        tiled = tiled_apply(run, noisy, known, tile=128, overlap=32).clamp(0, 1)
    psnr_whole, psnr_tiled = psnr(whole, clean).item(), psnr(tiled, clean).item()
    assert psnr_whole > psnr(noisy.clamp(0, 1), clean).item() + 5  # the network does denoise
    assert abs(psnr_tiled - psnr_whole) < 0.01
    assert (tiled - whole).abs().max() < 0.01


@pytest.mark.parametrize("shape, tile, overlap", [
    ((2, 3, 300, 257), 64, 16),
    ((1, 1, 37, 129), 32, 8),
    ((1, 1, 130, 130), 128, 32),  # two tiles per axis overlapping by 126
    ((1, 3, 65, 65), 64, 0),
    ((1, 1, 5, 7), 512, 32),  # smaller than a tile
])
def test_identity_gives_back_the_input_exactly(shape, tile, overlap):
    y = torch.rand(shape, generator=torch.Generator().manual_seed(1))
    out = tiled_apply(lambda t, k: t.clone(), y, tile=tile, overlap=overlap)
    assert out.dtype == torch.float32 and torch.equal(out, y)


def test_small_images_and_tile_zero_run_whole():
    calls = []

    def record(t: torch.Tensor, k: Known) -> torch.Tensor:
        calls.append(tuple(t.shape))
        return t

    tiled_apply(record, torch.zeros(1, 1, 100, 80), tile=128)
    tiled_apply(record, torch.zeros(1, 1, 1000, 80), tile=0)
    assert calls == [(1, 1, 100, 80), (1, 1, 1000, 80)]
    calls.clear()
    tiled_apply(record, torch.zeros(1, 1, 300, 200), tile=128, overlap=32)
    assert set(calls) == {(1, 1, 128, 128)} and len(calls) == 3 * 2


def test_masks_are_cut_with_the_tiles():
    generator = torch.Generator().manual_seed(2)
    y = torch.rand(2, 3, 101, 77, generator=generator)
    mask = (torch.rand(2, 1, 101, 77, generator=generator) > 0.7).float()
    sigma = torch.tensor([0.1, 0.2])

    def fill(t: torch.Tensor, k: Known) -> torch.Tensor:
        assert k.mask.shape[-2:] == t.shape[-2:] and k.sigma is sigma
        return torch.where(k.mask > 0, k.sigma.reshape(-1, 1, 1, 1), t)

    whole = fill(y, Known(mask=mask, sigma=sigma))
    tiled = tiled_apply(fill, y, Known(mask=mask, sigma=sigma), tile=40, overlap=10)
    assert torch.equal(tiled, whole)


@pytest.mark.parametrize("scale", [2, None])
def test_scaled_outputs_map_to_scaled_tiles(scale):
    y = torch.rand(1, 3, 75, 131, generator=torch.Generator().manual_seed(3))

    def upsample(t: torch.Tensor, k: Known) -> torch.Tensor:
        return F.interpolate(t, scale_factor=2, mode="nearest")

    out = tiled_apply(upsample, y, tile=32, overlap=8, scale=scale)
    assert out.shape == (1, 3, 150, 262)
    assert torch.equal(out, upsample(y, Known()))


def test_wrong_output_size_and_bad_overlap_are_errors():
    y = torch.rand(1, 1, 100, 100)
    with pytest.raises(PixelsmithError, match="expected 2x"):
        tiled_apply(lambda t, k: t, y, tile=32, overlap=8, scale=2)
    with pytest.raises(PixelsmithError, match="overlap"):
        tiled_apply(lambda t, k: t, y, tile=32, overlap=32)


def test_weights_are_a_partition_of_unity():
    r = ramp(32)
    assert torch.allclose(r + r.flip(0), torch.ones(32)) and (r > 0).all()
    assert tile_starts(100, 128, 32) == [0]
    assert tile_starts(300, 128, 32) == [0, 96, 172]
    w = edge_weights(0, 128, 300, 32)
    assert w[0] == 1 and w[-1] < 0.01  # no ramp on the image border, a ramp inside
