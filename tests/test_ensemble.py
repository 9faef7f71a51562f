"""Self-ensemble: the mean over the 8 flips and quarter turns, with masks and kernels turned."""

from __future__ import annotations

import torch

import pixelsmith
from pixelsmith.degrade import GaussianNoise, degrade
from pixelsmith.degrade.known import Known
from pixelsmith.io import read_image
from pixelsmith.metrics.pixel import psnr
from pixelsmith.restoration.restorer import Restorer, self_ensemble

SAMPLES = pixelsmith.__file__.rsplit("/", 1)[0] + "/samples"


def test_ensemble_of_an_equivariant_method_is_the_method() -> None:
    y = torch.rand(1, 3, 13, 9, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(self_ensemble(lambda x, k: x * 2, y, Known()), y * 2)
    out = pixelsmith.restore(y, task="dejpeg", method="identity", ensemble=True)
    assert torch.allclose(out, y)


def test_mask_turns_with_the_image() -> None:
    clean = read_image(f"{SAMPLES}/shapes.png", gray=True)[..., :40, :56]
    mask = torch.zeros(1, 1, 40, 56)
    mask[..., 5:15, 30:50] = 1  # off-centre and not square: a wrong turn would move it
    out = pixelsmith.restore(clean * (1 - mask), task="inpaint", method="biharmonic",
                             mask=mask, ensemble=True)
    known = mask == 0
    assert torch.allclose(out[known.expand_as(out)], clean[known.expand_as(clean)], atol=1e-5)


def test_kernel_turns_with_the_image() -> None:
    seen = []

    def record(x, known):
        seen.append(known.kernel.clone())
        return x

    kernel = torch.zeros(3, 3)
    kernel[0, 2] = 1.0
    self_ensemble(record, torch.rand(1, 1, 8, 8), Known(kernel=kernel))
    assert len({tuple(k.flatten().tolist()) for k in seen}) == 4  # a corner: 4 places
    assert torch.equal(seen[0], kernel)


def test_trained_model_ensemble_runs_tiled_and_reports_progress() -> None:
    clean = read_image(f"{SAMPLES}/texture.png", gray=True)[..., :64, :64]
    noisy = degrade(clean, GaussianNoise(25 / 255), seed=0)
    calls = []
    restorer = Restorer("denoise", "denoise-gray", tile=32, overlap=8, ensemble=True)
    out = restorer(noisy, Known(sigma=25 / 255), lambda done, total: calls.append((done, total)))
    single = Restorer("denoise", "denoise-gray", tile=32, overlap=8)(noisy, Known(sigma=25 / 255))
    assert not torch.equal(out, single)
    assert float(psnr(out, clean)) > float(psnr(noisy, clean)) + 3
    assert calls[-1][0] == calls[-1][1] and calls[-1][1] % 8 == 0
