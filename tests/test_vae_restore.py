"""Restoration in a VAE's latent space: shapes, exact zeros of the std on known pixels,
determinism, the masked-ELBO fit, other sizes and colours, the method registry (never a
default) and `pixelsmith restore --samples`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image as PILImage
from test_cli import assert_one_line_error, run

import pixelsmith.restoration.vae
import pixelsmith.zoo
from pixelsmith.degrade.known import Known
from pixelsmith.errors import PixelsmithError
from pixelsmith.nets.autoencoder import ConvVAE, elbo_terms, log_likelihood
from pixelsmith.restoration.registry import (
    default_method,
    general_methods,
    get_method,
    task_methods,
)
from pixelsmith.restoration.restorer import Restorer
from pixelsmith.restoration.vae import (
    fit_masked_posterior,
    observed_log_likelihood,
    pixel_log_likelihood,
    vae_denoise,
    vae_denoise_with_std,
    vae_inpaint,
)

pytestmark = pytest.mark.usefixtures("one_thread")

STEPS = 20  # enough to test the mechanics; the default (300) is for real models


@pytest.fixture
def few_steps(monkeypatch):
    """Restorers and the CLI fit with STEPS Adam steps instead of the default."""
    monkeypatch.setattr(pixelsmith.restoration.vae, "DEFAULT_STEPS", STEPS)


def squares(n: int, seed: int) -> torch.Tensor:
    """(n, 1, 28, 28) black images with one white 10x10 square at a random place."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.zeros(n, 1, 28, 28)
    corners = torch.randint(0, 19, (n, 2), generator=generator)
    for image, (top, left) in zip(images, corners.tolist(), strict=True):
        image[:, top:top + 10, left:left + 10] = 1.0
    return images


@pytest.fixture(scope="module")
def untrained() -> ConvVAE:
    torch.manual_seed(0)
    return ConvVAE(1, 28, latent_dim=4, base=4, likelihood="bernoulli").eval()


@pytest.fixture(scope="module")
def trained() -> ConvVAE:
    """A small VAE trained for 100 steps on white squares (under 2 s of CPU)."""
    torch.manual_seed(0)
    vae = ConvVAE(1, 28, latent_dim=4, base=4, likelihood="bernoulli")
    optimizer = torch.optim.Adam(vae.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(1)
    for step in range(100):
        loss = elbo_terms(vae, squares(16, step), generator=generator)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return vae.eval()


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """A conv-vae model folder written by the real export path (a one-step training run)."""
    from pixelsmith.train.config import recipe_from_dict
    from pixelsmith.train.export import export_run
    from pixelsmith.train.trainer import Trainer

    root = tmp_path_factory.mktemp("vae")
    data = root / "data"
    data.mkdir()
    for i, image in enumerate(squares(8, 0)):
        PILImage.fromarray((image[0].numpy() * 255).astype(np.uint8)).save(data / f"{i}.png")
    recipe = {
        "name": "tiny-vae", "family": "vae",
        "model": {"name": "conv-vae", "args": {"channels": 1, "image_size": 28, "base": 4,
                                               "latent_dim": 4, "likelihood": "bernoulli"}},
        "data": {"train": str(data), "kind": "folder", "color": "gray", "image_size": 28},
        "loss": {"name": "elbo"}, "val": {"every": 1000, "metric": "loss"},
        "train": {"batch_size": 4, "steps": 1, "seed": 0, "log_every": 1,
                  "checkpoint_every": 1000},
        "output": str(root / "run"),
    }
    Trainer(recipe_from_dict(recipe), progress=False).fit()
    return export_run(root / "run", root / "tiny-vae")


def _case(n: int = 2, seed: int = 0, size: tuple[int, int] = (28, 28), channels: int = 1):
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(n, channels, *size, generator=generator)
    mask = (torch.rand(n, 1, *size, generator=generator) < 0.4).float()
    return x, mask


# -- the functions ------------------------------------------------------------------------------

def test_inpaint_shapes_and_std_is_zero_exactly_on_observed_pixels(untrained):
    x, mask = _case()
    mean, std = vae_inpaint(untrained, x, mask, samples=4, steps=STEPS)
    assert mean.shape == std.shape == x.shape
    observed = mask.expand_as(x) == 0
    assert torch.equal(mean[observed], x[observed])
    assert torch.equal(std[observed], torch.zeros_like(std[observed]))
    assert (std >= 0).all() and (std[~observed] > 0).any()
    assert (mean >= 0).all() and (mean <= 1).all()


def test_inpaint_is_deterministic_under_the_seed_and_per_image(untrained):
    x, mask = _case(n=3)
    first = vae_inpaint(untrained, x, mask, samples=3, steps=STEPS, seed=5)
    again = vae_inpaint(untrained, x, mask, samples=3, steps=STEPS, seed=5)
    other = vae_inpaint(untrained, x, mask, samples=3, steps=STEPS, seed=6)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not torch.equal(first[0], other[0])
    alone = vae_inpaint(untrained, x[1:2], mask[1:2], samples=3, steps=STEPS, seed=5)
    for a, b in zip(alone, first, strict=True):  # an image's result ignores its batch
        torch.testing.assert_close(a, b[1:2], atol=1e-4, rtol=0)
    with torch.inference_mode():  # as the Restorer calls it
        inside = vae_inpaint(untrained, x, mask, samples=3, steps=STEPS, seed=5)
    assert torch.equal(inside[0], first[0])


def test_masked_elbo_fit_raises_the_observed_likelihood(trained):
    x = squares(6, 99)
    mask = (torch.rand(x.shape, generator=torch.Generator().manual_seed(0)) < 0.6).float()
    fit = fit_masked_posterior(trained, x, 1 - mask, steps=60)
    assert (fit.elbo_end > fit.elbo_start).all()
    before = observed_log_likelihood(trained, fit.initial_mu, x, 1 - mask)
    after = observed_log_likelihood(trained, fit.mu, x, 1 - mask)
    assert after.sum() > before.sum(), (before, after)
    # and the missing pixels come closer to the truth than the encoder's guess on the prefill
    mean, _ = vae_inpaint(trained, x, mask, samples=8, steps=60)
    guess = trained.decode_mean(fit.initial_mu).detach()
    missing = mask.bool()
    assert ((mean - x)[missing] ** 2).mean() < ((guess - x)[missing] ** 2).mean()


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_pixel_log_likelihood_sums_to_log_likelihood(likelihood):
    vae = ConvVAE(1, 28, latent_dim=4, base=4, likelihood=likelihood).eval()
    x = torch.rand(2, 1, 28, 28)
    with torch.no_grad():
        params = vae.decode(torch.randn(2, 4))
        torch.testing.assert_close(pixel_log_likelihood(vae, params, x).flatten(1).sum(1),
                                   log_likelihood(vae, params, x))


def test_other_sizes_and_colours_keep_the_known_pixels_at_full_resolution(untrained):
    x, mask = _case(n=1, size=(37, 45), channels=3)
    mean, std = vae_inpaint(untrained, x, mask, samples=3, steps=STEPS)
    assert mean.shape == std.shape == (1, 3, 37, 45)
    observed = mask.expand_as(x) == 0
    assert torch.equal(mean[observed], x[observed]) and (std[observed] == 0).all()
    rgb = ConvVAE(3, 16, latent_dim=4, base=4).eval()  # a colour model on a gray image
    gray, gmask = _case(n=1, size=(20, 12))
    mean, std = vae_inpaint(rgb, gray, gmask, samples=2, steps=5)
    assert mean.shape == (1, 1, 20, 12) and (std[gmask == 0] == 0).all()


def test_denoise_decodes_the_posterior_mean(untrained):
    x, _ = _case(n=2)
    with torch.no_grad():
        expected = untrained.decode_mean(untrained.encode(x)[0])
    torch.testing.assert_close(vae_denoise(untrained, x), expected)
    assert vae_denoise(untrained, torch.rand(1, 3, 30, 50)).shape == (1, 3, 30, 50)
    mean, std = vae_denoise_with_std(untrained, x, samples=4, seed=1)
    again = vae_denoise_with_std(untrained, x, samples=4, seed=1)
    assert torch.equal(mean, again[0]) and torch.equal(std, again[1])
    assert mean.shape == std.shape == x.shape and (std >= 0).all() and (std > 0).any()


def test_bad_inputs_are_one_line_errors(untrained):
    x, mask = _case(n=2)
    with pytest.raises(PixelsmithError, match="mask is 20x20"):
        vae_inpaint(untrained, x, torch.zeros(1, 1, 20, 20))
    with pytest.raises(PixelsmithError, match="samples"):
        vae_inpaint(untrained, x, mask, samples=0)


# -- methods and the Restorer ---------------------------------------------------------------------

def test_a_vae_folder_is_a_method_of_denoise_and_inpaint_only(exported):
    for task in ("denoise", "inpaint"):
        method = get_method(task, str(exported))
        assert method.kind == "vae" and method.needs == (("mask",) if task == "inpaint" else ())
    with pytest.raises(PixelsmithError, match="is a VAE"):
        get_method("sr", str(exported))


def test_shipped_vaes_are_listed_but_never_defaults(tmp_path, monkeypatch, exported):
    import shutil

    shutil.copytree(exported, tmp_path / "vae-digits")
    index = {"vae-digits": {"task": "vae", "channels": 1, "default": True}}
    (tmp_path / "index.json").write_text(json.dumps(index))
    monkeypatch.setattr(pixelsmith.zoo, "ZOO", tmp_path)
    for task in ("denoise", "inpaint"):
        assert task_methods(task)["vae-digits"].kind == "vae"
        assert "vae-digits" not in general_methods(task)
        assert default_method(task, 1, Known()) != "vae-digits"
    assert "vae-digits" not in task_methods("sr")
    # even listed under a restoration task and marked default, a VAE is not chosen
    index["vae-digits"]["task"] = "inpaint"
    (tmp_path / "index.json").write_text(json.dumps(index))
    assert default_method("inpaint", 1, Known(mask=torch.zeros(1, 1, 8, 8))) == "biharmonic"


def test_restorer_samples_and_std(exported, few_steps):
    x, mask = _case(n=1)
    restorer = Restorer("inpaint", str(exported), samples=3)
    mean, std = restorer.restore_with_std(x, Known(mask=mask))
    assert torch.equal(restorer(x, Known(mask=mask)), mean)
    assert (std[mask.expand_as(std) == 0] == 0).all()
    with pytest.raises(PixelsmithError, match="needs --mask"):
        restorer(x, Known())
    with pytest.raises(PixelsmithError, match="--samples needs a VAE method"):
        Restorer("inpaint", "biharmonic", samples=3)
    with pytest.raises(PixelsmithError, match="chosen by default"):
        Restorer("inpaint", samples=3)


# -- the command line ---------------------------------------------------------------------------

def _png(path: Path, array: np.ndarray) -> Path:
    PILImage.fromarray(array).save(path)
    return path


def test_cli_inpaint_with_samples_writes_the_std_map(tmp_path, capsys, exported, few_steps):
    rng = np.random.default_rng(0)
    image = _png(tmp_path / "in.png", (rng.random((30, 40, 3)) * 255).astype(np.uint8))
    holes = np.zeros((30, 40), np.uint8)
    holes[8:20, 10:25] = 255
    mask = _png(tmp_path / "mask.png", holes)
    out = tmp_path / "out.png"
    code, _, err = run(capsys, "restore", str(image), "-o", str(out), "--task", "inpaint",
                       "--method", str(exported), "--mask", str(mask), "--samples", "4")
    assert code == 0, err
    std_file = tmp_path / "out_std.png"
    assert out.is_file() and std_file.is_file()
    restored = np.asarray(PILImage.open(out))
    original = np.asarray(PILImage.open(image))
    known = holes == 0
    assert restored.shape == original.shape and (restored[known] == original[known]).all()
    std_png = PILImage.open(std_file)
    std = np.asarray(std_png).astype(np.float64) / 65535 / 2  # 16-bit PNG of 2 x std
    assert std.shape[:2] == (30, 40) and (std[known] == 0).all() and (std[~known] > 0).any()


def test_cli_denoise_with_a_vae_needs_no_sigma(tmp_path, capsys, exported):
    image = _png(tmp_path / "in.png", (squares(1, 3)[0, 0].numpy() * 255).astype(np.uint8))
    out = tmp_path / "out.png"
    code, _, err = run(capsys, "restore", str(image), "-o", str(out), "--task", "denoise",
                       "--method", str(exported))
    assert code == 0, err
    assert out.is_file() and not (tmp_path / "out_std.png").exists()


@pytest.mark.parametrize("method", [["--method", "biharmonic"], []])
def test_cli_samples_without_a_vae_is_a_one_line_error(tmp_path, capsys, method):
    image = _png(tmp_path / "in.png", np.zeros((16, 16), np.uint8))
    mask = _png(tmp_path / "mask.png", np.full((16, 16), 255, np.uint8))
    code, _, err = run(capsys, "restore", str(image), "-o", str(tmp_path / "out.png"), "--task",
                       "inpaint", "--mask", str(mask), "--samples", "4", *method)
    assert_one_line_error(code, err)
    assert "--samples needs a VAE method" in err
    assert not (tmp_path / "out.png").exists()
