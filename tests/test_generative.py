"""Synthesis networks and families: shapes, ELBO/IWAE maths against a closed form, R1 by hand,
DiffAugment, one Trainer step per family, GAN step isolation, export round trip, GAN resume."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import assert_same_checkpoint, data_or_skip
from PIL import Image as PILImage
from torch import nn

from pixelsmith.errors import PixelsmithError
from pixelsmith.nets import build_network
from pixelsmith.nets.autoencoder import (
    ConvAutoencoder,
    ConvVAE,
    elbo_terms,
    importance_weighted_nll,
)
from pixelsmith.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from pixelsmith.train.augment import augment_translation, diff_augment
from pixelsmith.train.config import recipe_from_dict
from pixelsmith.train.datasets import synthesis_datasets
from pixelsmith.train.losses import r1_penalty
from pixelsmith.train.trainer import Trainer

SIZES = (28, 32, 64)


@pytest.fixture
def digits(tmp_path) -> Path:
    """16 blocky random 28x28 gray PNGs."""
    folder = tmp_path / "digits"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(16):
        image = np.kron(rng.random((7, 7)), np.ones((4, 4)))
        PILImage.fromarray((image * 255).astype(np.uint8)).save(folder / f"{i:02d}.png")
    return folder


def tiny(family: str, folder: Path, output: Path, **train) -> dict:
    """A recipe that trains in a fraction of a second per step."""
    models = {
        "autoencoder": ("conv-ae", {"latent_dim": 4}),
        "vae": ("conv-vae", {"latent_dim": 4, "likelihood": "bernoulli"}),
        "gan": ("dcgan-g", {"latent_dim": 8}),
    }
    name, args = models[family]
    losses = {
        "autoencoder": {"name": "mse"},
        "vae": {"name": "elbo", "args": {"beta": 1.0}},
        "gan": {"name": "gan", "args": {"discriminator": {"base": 4}, "diffaugment": True,
                                        "r1_gamma": 1.0, "r1_every": 2}},
    }
    return {
        "name": f"tiny-{family}",
        "family": family,
        "model": {"name": name, "args": {"channels": 1, "image_size": 28, "base": 4, **args}},
        "data": {"train": str(folder), "kind": "folder", "color": "gray", "image_size": 28},
        "loss": losses[family],
        "val": {"every": 1000, "metric": "psnr" if family == "autoencoder" else "loss"},
        "optim": {"name": "adam", "lr": 1e-3, "betas": [0.5, 0.999]},
        "train": {"batch_size": 4, "steps": 8, "seed": 0, "log_every": 1,
                  "checkpoint_every": 1000, "deterministic": True, **train},
        "output": str(output),
    }


def snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def params(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def unchanged(before: dict[str, torch.Tensor], module: nn.Module) -> set[str]:
    """Parameters of ``module`` still equal to ``before``. A hinge discriminator's last bias
    may be among them: its gradient is mean(-1) + mean(+1) = 0 while all logits lie inside
    the margin, as they do at initialisation."""
    return {k for k, v in module.named_parameters() if torch.equal(before[k], v)}


def last_bias(disc: DCGANDiscriminator) -> set[str]:
    return {f"body.{len(disc.body) - 1}.bias"}


# -- networks -------------------------------------------------------------------------------------

@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("channels", [1, 3])
def test_network_shapes_batch_of_one(size, channels):
    torch.manual_seed(0)
    x = torch.rand(1, channels, size, size)
    ae = ConvAutoencoder(channels, size, latent_dim=6, base=4)
    assert ae.encode(x).shape == (1, 6)
    out = ae(x)
    assert out.shape == x.shape and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1
    for likelihood in ("gaussian", "bernoulli"):
        vae = ConvVAE(channels, size, latent_dim=5, base=4, likelihood=likelihood)
        decoded, mu, logvar = vae(x)
        assert decoded.shape == x.shape and mu.shape == logvar.shape == (1, 5)
        for images in (vae.reconstruct(x), vae.sample(1, seed=0)):
            assert images.shape == x.shape and images.min() >= 0 and images.max() <= 1
    gen = DCGANGenerator(latent_dim=7, channels=channels, image_size=size, base=4)
    fake = gen(torch.randn(1, 7))
    assert fake.shape == x.shape and fake.min() >= 0 and fake.max() <= 1
    for sn in (True, False):
        disc = DCGANDiscriminator(channels, size, base=4, spectral_norm=sn)
        assert disc(x).shape == (1,) and disc(x).dtype == torch.float32


def test_networks_are_registered():
    assert isinstance(build_network("conv-ae", {"base": 4}), ConvAutoencoder)
    assert isinstance(build_network("conv-vae", {"base": 4}), ConvVAE)
    assert isinstance(build_network("dcgan-g", {"base": 4}), DCGANGenerator)
    assert isinstance(build_network("dcgan-d", {"base": 4}), DCGANDiscriminator)


def test_sampling_is_deterministic_under_a_seed():
    torch.manual_seed(0)
    vae = ConvVAE(1, 28, latent_dim=4, base=4).eval()
    gen = DCGANGenerator(8, 1, 28, base=4).eval()
    for model in (vae, gen):
        first = model.sample(3, seed=5)
        torch.rand(10)  # the global RNG moving must not matter
        assert torch.equal(first, model.sample(3, seed=5))
        assert not torch.equal(first, model.sample(3, seed=6))
    assert not torch.equal(vae.sample(3, seed=5), vae.sample(3, seed=5, temperature=0.5))


@pytest.mark.parametrize("likelihood", ["gaussian", "bernoulli"])
def test_elbo_terms_are_finite(likelihood):
    torch.manual_seed(0)
    vae = ConvVAE(1, 28, latent_dim=4, base=4, likelihood=likelihood)
    terms = {k: v.detach() for k, v in elbo_terms(vae, torch.rand(3, 1, 28, 28), 0.5).items()}
    assert set(terms) == {"recon", "kl", "loss"}
    assert all(torch.isfinite(v) for v in terms.values())
    assert terms["kl"] >= 0
    assert float(terms["loss"]) == pytest.approx(float(terms["recon"] + 0.5 * terms["kl"]))


# -- the NLL estimator on a model with a closed-form likelihood -----------------------------------

class LinearGaussianVAE(nn.Module):
    """p(z) = N(0, I), p(x|z) = N(W z + b, sigma^2 I), W with orthogonal columns, so that
    log p(x) = log N(x; b, W W^T + sigma^2 I) and the posterior is an exact diagonal Gaussian.
    ``shrink``/``shift`` perturb the encoder away from the exact posterior."""

    likelihood = "gaussian"

    def __init__(self, shrink: float = 1.0, shift: float = 0.0) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(0)
        q, _ = torch.linalg.qr(torch.randn(6, 2, generator=gen, dtype=torch.float64))
        self.scales = torch.tensor([1.5, 0.7], dtype=torch.float64)
        self.sigma = 0.5
        self.W, self.b = q * self.scales, torch.randn(6, generator=gen, dtype=torch.float64)
        self.log_scale = torch.tensor([math.log(self.sigma)], dtype=torch.float64)
        self.post_var = 1.0 / (1.0 + self.scales**2 / self.sigma**2)
        self.A = (self.post_var[:, None] * self.W.T) / self.sigma**2
        self.shrink, self.shift = shrink, shift

    def exact_posterior(self, x):
        return (x - self.b) @ self.A.T, self.post_var.log().expand(len(x), 2)

    def encode(self, x):
        mu, logvar = self.exact_posterior(x)
        return mu * self.shrink, logvar + self.shift

    def decode(self, z):
        return z @ self.W.T + self.b

    def forward(self, x, generator=None):
        mu, logvar = self.encode(x)
        eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
        return self.decode(mu + (0.5 * logvar).exp() * eps), mu, logvar

    def exact_nll(self, x):
        cov = self.W @ self.W.T + self.sigma**2 * torch.eye(6, dtype=torch.float64)
        return -torch.distributions.MultivariateNormal(self.b, cov).log_prob(x)

    def posterior_gap(self, x):
        """KL(q(z|x) || p(z|x)) between diagonal Gaussians: E[-ELBO] - (-log p(x))."""
        mu_q, logvar_q = self.encode(x)
        mu_p, logvar_p = self.exact_posterior(x)
        return 0.5 * (logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p) ** 2)
                      / logvar_p.exp() - 1).sum(dim=1)


def test_iwae_is_exact_with_the_true_posterior():
    model = LinearGaussianVAE()
    x = torch.randn(50, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2
    for k in (1, 7):  # every importance weight equals p(x): zero variance
        estimate = importance_weighted_nll(model, x, k, torch.Generator().manual_seed(k))
        torch.testing.assert_close(estimate, model.exact_nll(x), atol=1e-9, rtol=0)


def test_iwae_bound_approaches_the_exact_nll_from_above():
    """E[-L_1] = -log p(x) + KL(q || p(z|x)) (the ELBO gap); E[-L_k] >= -log p(x) for every k
    and decreases to it. Single estimates can fall below the exact value, so the checks are
    on means over many points and draws."""
    model = LinearGaussianVAE(shrink=0.8, shift=0.3)
    x = torch.randn(200, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2
    exact = model.exact_nll(x)
    gen = torch.Generator().manual_seed(0)
    gap_1 = importance_weighted_nll(model, x.repeat(1000, 1), 1, gen) - exact.repeat(1000)
    assert float(gap_1.mean()) == pytest.approx(float(model.posterior_gap(x).mean()), rel=0.02)
    gap_k = [float((importance_weighted_nll(model, x, k, gen) - exact).mean()) for k in (10, 2000)]
    assert float(gap_1.mean()) > gap_k[0] > gap_k[1] > -0.002
    assert gap_k[1] < 0.01


def test_elbo_terms_match_the_closed_form_in_expectation():
    model = LinearGaussianVAE(shrink=0.6, shift=0.7)
    x = torch.randn(1, 6, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    terms = elbo_terms(model, x.expand(100_000, 6), beta=1.0,
                       generator=torch.Generator().manual_seed(0))
    expected = model.exact_nll(x) + model.posterior_gap(x)
    assert float(terms["loss"]) == pytest.approx(float(expected), abs=0.06)  # 5 std errors


# -- GAN pieces -----------------------------------------------------------------------------------

def test_r1_penalty_against_a_linear_discriminator():
    torch.manual_seed(0)
    disc = nn.Sequential(nn.Flatten(), nn.Linear(2 * 3 * 3, 1))
    real = torch.rand(5, 2, 3, 3, requires_grad=True)
    penalty = r1_penalty(disc(real).flatten(), real)
    w = disc[1].weight.detach()
    assert penalty.item() == pytest.approx(float((w**2).sum()), rel=1e-6)  # grad_x D = w
    penalty.backward()  # d ||w||^2 / dw = 2 w
    torch.testing.assert_close(disc[1].weight.grad, 2 * w)


def test_diff_augment_is_differentiable_and_follows_the_global_seed():
    x = torch.rand(6, 3, 16, 16, requires_grad=True)
    torch.manual_seed(3)
    out = diff_augment(x)
    torch.manual_seed(3)
    assert torch.equal(out, diff_augment(x)) and out.shape == x.shape
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_translation_shifts_whole_images():
    x = torch.rand(8, 2, 8, 8)
    out = augment_translation(x, ratio=0.25)
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    for image, shifted in zip(padded, out, strict=True):
        assert any(torch.equal(shifted, image[:, 2 + dy:10 + dy, 2 + dx:10 + dx])
                   for dy in range(-2, 3) for dx in range(-2, 3))


def test_gan_steps_change_only_their_own_network(tmp_path, digits):
    trainer = Trainer(recipe_from_dict(tiny("gan", digits, tmp_path / "run")), progress=False)
    family, gen, disc = trainer.family, trainer.models["generator"], trainer.models["discriminator"]
    real = torch.stack([trainer.dataset[i]["image"] for i in range(4)])
    fake = gen(torch.randn(4, gen.latent_dim))

    g_before, d_before = snapshot(gen), snapshot(disc)
    logs = family.discriminator_step(real, fake.detach(), trainer)
    assert {"d_loss", "d_real", "d_fake", "r1"} <= logs.keys()  # r1 at step 0 (every 2)
    assert all(torch.equal(g_before[k], v) for k, v in gen.state_dict().items())
    assert all(p.grad is None for p in gen.parameters())
    assert unchanged(d_before, disc) <= last_bias(disc)

    d_state, d_grads = snapshot(disc), {k: p.grad.clone() for k, p in disc.named_parameters()}
    g_params = params(gen)
    logs = family.generator_step(fake, trainer)
    assert set(logs) == {"g_loss"}
    assert all(torch.equal(d_state[k], v) for k, v in disc.state_dict().items())  # incl. SN u, v
    assert all(torch.equal(d_grads[k], p.grad) for k, p in disc.named_parameters())
    assert all(p.requires_grad for p in disc.parameters()) and disc.training
    assert not unchanged(g_params, gen)


@pytest.mark.parametrize("xflip", [False, True])
def test_gan_xflip_shows_the_discriminator_real_images_or_their_mirrors(tmp_path, digits, xflip,
                                                                         monkeypatch):
    recipe = tiny("gan", digits, tmp_path / "run")
    recipe["loss"]["args"]["xflip"] = xflip
    trainer = Trainer(recipe_from_dict(recipe), progress=False)
    family = trainer.family
    seen = []
    monkeypatch.setattr(family, "discriminator_step",
                        lambda real, fake, trainer, generator=None: seen.append(real) or {})
    monkeypatch.setattr(family, "generator_step", lambda fake, trainer, generator=None: {})
    real = torch.stack([trainer.dataset[i]["image"] for i in range(len(trainer.dataset))])
    family.train_step({"image": real}, trainer)
    mirrored = [torch.equal(a, b.flip(-1)) for a, b in zip(seen[0], real, strict=True)]
    kept = [torch.equal(a, b) for a, b in zip(seen[0], real, strict=True)]
    assert all(m or k for m, k in zip(mirrored, kept, strict=True))
    assert any(mirrored) == xflip and all(kept) != xflip  # 15 fair coins: 2^-14 to fail


# -- the families through the Trainer -------------------------------------------------------------

@pytest.mark.parametrize("family", ["autoencoder", "vae", "gan"])
def test_one_step_changes_the_weights(tmp_path, digits, family):
    trainer = Trainer(recipe_from_dict(tiny(family, digits, tmp_path / "run")), progress=False,
                      max_steps=1)
    before = {key: params(model) for key, model in trainer.models.items()}
    trainer.fit()
    for key, model in trainer.models.items():
        assert unchanged(before[key], model) <= (last_bias(model) if key == "discriminator"
                                                 else set()), key
    record = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    train_log = next(r for r in record if r["kind"] == "train")
    val_log = next(r for r in record if r["kind"] == "val")
    expected = {"autoencoder": ({"loss"}, {"psnr", "ssim", "loss"}),
                "vae": ({"loss", "recon", "kl", "beta"}, {"elbo", "recon", "kl", "loss", "psnr"}),
                "gan": ({"d_loss", "g_loss", "d_real", "d_fake", "r1"},
                        {"loss", "pixel_stats", "g_loss", "d_fake"})}[family]
    assert expected[0] <= train_log.keys() and expected[1] <= val_log.keys()
    assert all(math.isfinite(val_log[k]) for k in expected[1])


def test_vae_kl_warmup(tmp_path, digits):
    data = tiny("vae", digits, tmp_path / "run", steps=3)
    data["loss"]["args"] = {"beta": 2.0, "kl_warmup_steps": 4}
    Trainer(recipe_from_dict(data), progress=False).fit()
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    assert [r["beta"] for r in records if r["kind"] == "train"] == [0.0, 0.5, 1.0]


def test_vae_binarize_draws_binary_training_and_validation_images(tmp_path, digits):
    from pixelsmith.train.families import build_family

    data = tiny("vae", digits, tmp_path / "run", steps=1)
    data["loss"]["args"] = {"beta": 1.0, "binarize": True}
    trainer = Trainer(recipe_from_dict(data), progress=False)
    seen = []
    net = trainer.models["model"]
    hook = net.register_forward_pre_hook(lambda module, inputs: seen.append(inputs[0].clone()))
    trainer.fit()
    hook.remove()
    assert seen and all(torch.isin(x, torch.tensor([0.0, 1.0])).all() for x in seen)

    def validation(recipe: dict) -> torch.Tensor:
        family = build_family(recipe_from_dict(recipe), torch.device("cpu"))
        family.prepare_models(family.build_models())
        family.train_dataset()
        first = family.validation_images()
        assert torch.equal(first, family.validation_images())  # drawn once
        return first

    assert torch.isin(validation(data), torch.tensor([0.0, 1.0])).all()
    grey = validation(tiny("vae", digits, tmp_path / "r2"))
    assert not torch.isin(grey, torch.tensor([0.0, 1.0])).all()


@pytest.mark.parametrize("family", ["vae", "gan"])
def test_export_and_load_round_trip(tmp_path, digits, family):
    from pixelsmith.train.export import export_run
    from pixelsmith.zoo import load_model

    trainer = Trainer(recipe_from_dict(tiny(family, digits, tmp_path / "run", ema_decay=0.9)),
                      progress=False, max_steps=2)
    trainer.fit()
    trained = trainer.eval_model().eval()
    if family == "gan":  # exported with the BatchNorm statistics of its own (EMA) weights
        trained = trainer.family.for_sampling(trained)
    loaded = load_model(export_run(tmp_path / "run", tmp_path / "model"))
    assert type(loaded) is type(trained) and loaded.pixelsmith_config["family"] == family
    assert loaded.pixelsmith_config["channels"] == 1 and loaded.pixelsmith_config["needs"] == []
    assert ("batchnorm" in loaded.pixelsmith_config) == (family == "gan")
    torch.testing.assert_close(loaded.sample(4, seed=0), trained.sample(4, seed=0),
                               atol=0, rtol=0)


def test_gan_resume_equals_uninterrupted(tmp_path, digits):
    full = tiny("gan", digits, tmp_path / "full", ema_decay=0.9)
    Trainer(recipe_from_dict(full), progress=False).fit()
    part = tiny("gan", digits, tmp_path / "part", ema_decay=0.9)
    Trainer(recipe_from_dict(part), progress=False, max_steps=4).fit()  # mid-epoch (3 per epoch)
    Trainer(recipe_from_dict(part), progress=False, resume=True).fit()
    assert_same_checkpoint(tmp_path / "full", tmp_path / "part", 8,
                           ("generator", "discriminator"))


# -- data and recipe errors -----------------------------------------------------------------------

def test_folder_split_and_item_format(tmp_path, digits):
    data = tiny("vae", digits, tmp_path / "run")
    data["data"].update(color="auto", image_size=None)
    train, val = synthesis_datasets(recipe_from_dict(data), channels=3, image_size=32)
    assert (len(train), len(val)) == (15, 1)
    assert not set(train.indices) & set(val.indices)
    item = train[0]
    assert item["image"].shape == (3, 32, 32) and item["label"] == -1


def test_mnist_holds_out_1000_images(tmp_path):
    root = data_or_skip("digits/MNIST")
    data = tiny("vae", root, tmp_path / "run")
    data["data"] = {"train": str(root), "kind": "mnist"}
    train, val = synthesis_datasets(recipe_from_dict(data), channels=1, image_size=28)
    assert (len(train), len(val)) == (59000, 1000)
    item = val[0]
    assert item["image"].shape == (1, 28, 28) and 0 <= item["label"] <= 9


@pytest.mark.parametrize("family, change, message", [
    ("gan", {"val": {"metric": "psnr"}}, "val.metric loss"),
    ("gan", {"val": {"metric": "fid"}}, "needs val.extractor"),
    ("vae", {"val": {"metric": "loss", "extractor": "features-mnist"}}, "val.extractor is for"),
    ("vae", {"loss": {"name": "mse"}}, "loss.name elbo"),
    ("gan", {"loss": {"name": "gan", "args": {"gama": 1}}}, "unknown gama"),
    ("gan", {"loss": {"name": "gan", "args": {"kind": "wasserstein"}}}, "loss.args.kind"),
])
def test_recipe_mistakes_are_one_line_errors(tmp_path, digits, family, change, message):
    data = {**tiny(family, digits, tmp_path / "run"), **change}
    with pytest.raises(PixelsmithError, match=message) as info:
        Trainer(recipe_from_dict(data), progress=False)
    assert "\n" not in str(info.value)


def test_gan_validation_scores_samples_in_feature_space_and_keeps_the_lowest_fid(tmp_path,
                                                                                  digits):
    data = tiny("gan", digits, tmp_path / "run", steps=4)
    data["val"] = {"every": 2, "metric": "fid", "extractor": "features-mnist",
                   "data": str(digits)}
    Trainer(recipe_from_dict(data), progress=False).fit()
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    vals = [r for r in records if r["kind"] == "val"]
    assert [r["step"] for r in vals] == [2, 4]
    for r in vals:
        assert {"fid", "kid", "precision", "recall", "coverage"} <= r.keys()
        assert r["fid"] > 0 and 0 <= r["precision"] <= 1 and 0 < r["coverage"] <= 1
    best = torch.load(tmp_path / "run" / "best.pt", map_location="cpu", weights_only=False)
    assert best["step"] == min(vals, key=lambda r: r["fid"])["step"]
