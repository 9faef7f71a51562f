"""Synthesis families: autoencoder, VAE and GAN, trained by the same Trainer as restoration.

Data (:func:`synthesis_datasets`): whole images of the model's size from ``data.kind``
(``folder``, ``mnist``, ``fashion-mnist``, ``cifar10`` (the 10,000 class-folder PNGs),
``faces``), with ``data.train`` naming the set's folder (relative paths are below
$PIXELSMITH_DATA). Items are ``{"image": (C, S, S) in [0, 1], "label": int}``. Validation
images are ``val.data`` (a folder), else a held-out split of ``data.train``:
``data.val_fraction`` when set, otherwise ``min(1000, n // 10)`` images (CIFAR-10: the
9,000/1,000 split), drawn by ``train.seed``; ``val.limit`` caps them. ``data.augment`` is
restoration's patch augmentation and is not applied here (rotated faces or mirrored digits
are not samples of the data); GANs get DiffAugment instead, and, where mirror images are
samples of the data (faces), ``loss.args.xflip``.

``loss.args`` per family (unknown keys are an error):

- autoencoder: none; ``loss.name`` picks the pixel loss (l1, mse, charbonnier).
- vae (``loss.name: elbo``): ``beta`` (1.0), ``kl_warmup_steps`` (0: beta rises linearly
  from 0 over that many steps), ``binarize`` (false: with true, each training image is
  binarised afresh at every step, pixel ~ Bernoulli(grey level) ("dynamic binarisation", the
  protocol behind published MNIST likelihoods), and the validation images once, by
  ``val.seed``). The likelihood is the model's (``model.args.likelihood``).
- gan (``loss.name: gan``): ``kind`` (hinge | nonsaturating), ``r1_gamma`` (0: off),
  ``r1_every`` (16: lazy R1, scaled by the interval), ``diffaugment`` (false), ``xflip``
  (false: mirror each real image left-right with probability 1/2 before the discriminator
  sees it, which doubles a small set of faces; StyleGAN's ``--mirror``), and
  ``discriminator``: the discriminator's network, ``{name: dcgan-d, <constructor args>}``
  (channels and image_size default to the generator's). ``recipe.model`` is the generator,
  so export rebuilds and ships it like any other main network.

The GAN's validation metric ``loss`` is a pixel-statistics distance (per-channel mean and
standard deviation of 1,000 fixed-seed samples against the validation images): a cheap,
crude signal that catches collapse and colour drift. A feature-space FID arrives with the
feature classifiers (``val.extractor``).

Randomness: every draw of a training step (GAN latents, VAE reparameterisation noise,
DiffAugment) comes from :func:`step_generator`, seeded by (train.seed, step, rank), so runs
are reproducible and resume exactly; validation draws from generators seeded by
``val.seed`` and leaves the networks' buffers alone (eval mode).
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from pydantic import Field

from pixelsmith.data.images import SynthesisItems
from pixelsmith.errors import PixelsmithError
from pixelsmith.train.augment import diff_augment, random_flip
from pixelsmith.train.config import Recipe
from pixelsmith.train.datasets import synthesis_datasets
from pixelsmith.train.families.base import Family, evaluating, step_generator
from pixelsmith.train.feature_validation import FeatureValidator, check_fid_metric
from pixelsmith.train.finetune import init_and_freeze
from pixelsmith.train.loss_args import (
    KIND_RULE,
    GanKind,
    LossArgs,
    flag,
    network_args,
    parse_loss_args,
    weight,
)
from pixelsmith.train.losses import discriminator_loss, generator_loss, r1_penalty

VAL_BATCH = 250
GAN_VAL_SAMPLES = 1000


def pixel_stats_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Euclidean distance between the per-channel (mean, std) of two (N, C, H, W) image sets."""
    def stats(x: torch.Tensor) -> torch.Tensor:
        x = x.double().transpose(0, 1).flatten(1)
        return torch.cat([x.mean(dim=1), x.std(dim=1)])

    return float((stats(a) - stats(b)).norm())


def _mean_over_batches(images: torch.Tensor, fn) -> dict[str, float]:
    """Average the dict of per-batch means ``fn(batch)`` over all images, weighting by size."""
    totals: dict[str, float] = {}
    for batch in images.split(VAL_BATCH):
        for key, value in fn(batch).items():
            totals[key] = totals.get(key, 0.0) + float(value) * len(batch)
    return {key: value / len(images) for key, value in totals.items()}


class VAEArgs(LossArgs):
    """``loss.args`` of the VAE family."""

    beta: float = weight(1.0)
    kl_warmup_steps: int = Field(0, ge=0, strict=True, description="a whole number >= 0")
    binarize: bool = flag()


class GANArgs(LossArgs):
    """``loss.args`` of the GAN family."""

    kind: GanKind = Field("hinge", description=KIND_RULE)
    r1_gamma: float = weight(0.0)
    r1_every: int = Field(16, ge=1, strict=True, description="a whole number >= 1")
    diffaugment: bool = flag()
    xflip: bool = flag()
    discriminator: dict[str, Any] = network_args()


class SynthesisFamily(Family):
    """What the three families share: one main network from ``recipe.model``, whole-image
    data, checked ``loss.args`` and validation metric, fine-tuning (``init``/``freeze``)."""

    loss_names: tuple[str, ...] = ()
    loss_args: type[LossArgs] = LossArgs
    metrics: tuple[str, ...] = ("loss",)

    def __init__(self, recipe: Recipe, device: torch.device) -> None:
        self.recipe, self.device = recipe, device
        family = recipe.family
        if recipe.loss.name not in self.loss_names:
            raise PixelsmithError(f"the {family} family needs loss.name "
                                  f"{' or '.join(self.loss_names)}, not '{recipe.loss.name}'")
        self.args = parse_loss_args(self.loss_args, recipe.loss.args, family)
        if recipe.val.metric not in self.metrics:
            raise PixelsmithError(f"the {family} family validates with val.metric "
                                  f"{' | '.join(self.metrics)}, not '{recipe.val.metric}'")
        if recipe.val.extractor and "fid" not in self.metrics:
            raise PixelsmithError(f"val.extractor is for GANs; the {family} family does not "
                                  "use it (benchmarks/vae.py scores VAE samples)")
        check_fid_metric(recipe.val, "features-mnist")
        self.higher_is_better = recipe.val.metric not in ("loss", "fid")
        self.feature_validator = (
            FeatureValidator(recipe.val.extractor, device, recipe.val.seed, coverage=True)
            if recipe.val.extractor else None)
        self.models: dict[str, torch.nn.Module] = {}
        self.val_set: SynthesisItems | None = None
        self._val_images: torch.Tensor | None = None

    @staticmethod
    def channels(recipe: Recipe) -> int:
        return int(recipe.model.args.get("channels", 1))

    @staticmethod
    def needs(recipe: Recipe) -> list[str]:
        return []

    def build_models(self) -> dict[str, torch.nn.Module]:
        from pixelsmith.nets import build_network

        return {self.main: build_network(self.recipe.model.name, self.recipe.model.args)}

    def prepare_models(self, models: dict[str, torch.nn.Module]) -> None:
        """Keep the networks; load ``init`` weights into the main one and freeze prefixes."""
        self.models = models
        init_and_freeze(models[self.main], self.recipe)

    def train_dataset(self) -> SynthesisItems:
        net = self.models[self.main]
        train, self.val_set = synthesis_datasets(self.recipe, net.channels, net.image_size)
        return train

    def validation_images(self) -> torch.Tensor:
        """The validation images as one (N, C, S, S) tensor on the device (read once)."""
        if self._val_images is None:
            if self.val_set is None or not len(self.val_set):
                raise PixelsmithError("no validation images: set val.data or data.val_fraction")
            images = [self.val_set[i]["image"] for i in range(len(self.val_set))]
            self._val_images = torch.stack(images).to(self.device)
        return self._val_images


class AutoencoderFamily(SynthesisFamily):
    """A deterministic autoencoder trained with a pixel loss; validated by PSNR/SSIM."""

    loss_names = ("mse", "l1", "charbonnier")
    metrics = ("psnr", "ssim", "loss")

    def __init__(self, recipe: Recipe, device: torch.device) -> None:
        super().__init__(recipe, device)
        from pixelsmith.train.losses import PIXEL_LOSSES

        self.loss = PIXEL_LOSSES[recipe.loss.name]

    def train_step(self, batch: dict, trainer) -> dict:
        x = batch["image"]
        with trainer.autocast():
            x_hat = trainer.wrapped[self.main](x)
        loss = self.loss(x_hat.float(), x)
        trainer.optimize(loss, self.main)
        return {"loss": float(loss.detach())}

    @torch.no_grad()
    def validate(self, model: torch.nn.Module) -> dict:
        """Mean PSNR (and SSIM, for images >= 11 px) of reconstructions, and the loss."""
        from pixelsmith.metrics.pixel import psnr, ssim

        images = self.validation_images()
        with_ssim = images.shape[-1] >= 11

        def scores(x: torch.Tensor) -> dict:
            x_hat = model(x).float().clamp(0.0, 1.0)
            out = {"psnr": psnr(x_hat, x).mean(), "loss": self.loss(x_hat, x)}
            if with_ssim:
                out["ssim"] = ssim(x_hat, x).mean()
            return out

        with evaluating(model):
            return _mean_over_batches(images, scores)


class VAEFamily(SynthesisFamily):
    """A VAE trained on recon + beta * KL (with an optional linear KL warm-up).

    The network follows :class:`~pixelsmith.nets.autoencoder.ConvVAE`'s interface:
    ``forward(x, generator) -> (decoder params, mu, logvar)``, ``likelihood`` (and
    ``log_scale``), ``reconstruct``.
    """

    loss_names = ("elbo",)
    loss_args = VAEArgs
    metrics = ("psnr", "loss")

    def validation_images(self) -> torch.Tensor:
        """The validation images; binarised once, by ``val.seed``, when ``binarize`` is on."""
        if self._val_images is None and bool(self.args.binarize):
            images = super().validation_images()
            generator = torch.Generator(device=images.device)
            generator.manual_seed(self.recipe.val.seed)
            self._val_images = torch.bernoulli(images, generator=generator)
        return super().validation_images()

    def beta_at(self, step: int) -> float:
        """beta for the step about to run: linear from 0 over ``kl_warmup_steps``."""
        beta, warmup = float(self.args.beta), int(self.args.kl_warmup_steps)
        return beta * min(1.0, step / warmup) if warmup > 0 else beta

    def train_step(self, batch: dict, trainer) -> dict:
        from pixelsmith.nets.autoencoder import elbo_from_outputs

        x, net = batch["image"], trainer.wrapped[self.main]
        beta = self.beta_at(trainer.step)
        generator = step_generator(trainer, x.device)
        if bool(self.args.binarize):
            x = torch.bernoulli(x, generator=generator)
        with trainer.autocast():
            params, mu, logvar = net(x, generator=generator)
        terms = elbo_from_outputs(net, x, params, mu, logvar, beta)
        trainer.optimize(terms["loss"], self.main)
        return {**{k: float(v.detach()) for k, v in terms.items()}, "beta": beta}

    @torch.no_grad()
    def validate(self, model: torch.nn.Module) -> dict:
        """ELBO (nats per image, one fixed-seed sample each), its terms, the loss at the full
        beta, and the PSNR of deterministic reconstructions."""
        from pixelsmith.metrics.pixel import psnr
        from pixelsmith.nets.autoencoder import elbo_terms

        images = self.validation_images()
        generator = torch.Generator(device=images.device)
        generator.manual_seed(self.recipe.val.seed)
        beta = float(self.args.beta)

        def scores(x: torch.Tensor) -> dict:
            terms = elbo_terms(model, x, beta, generator)
            return {"recon": terms["recon"], "kl": terms["kl"],
                    "psnr": psnr(model.reconstruct(x).float(), x).mean()}

        with evaluating(model):
            out = _mean_over_batches(images, scores)
        out["elbo"] = -(out["recon"] + out["kl"])
        out["loss"] = out["recon"] + beta * out["kl"]
        return out


class GANFamily(SynthesisFamily):
    """A GAN: ``generator`` (main, EMA'd, exported) against ``discriminator``.

    Each step generates one fake batch; the discriminator step sees it detached, the
    generator step backpropagates through the discriminator evaluated frozen (eval mode,
    no parameter gradients), so neither step changes or leaves gradients in the other
    network. In eval mode spectral normalisation reuses its vectors instead of iterating.
    """

    main = "generator"
    optimized = ("generator", "discriminator")
    loss_names = ("gan",)
    metrics = ("loss", "fid")
    loss_args = GANArgs

    def __init__(self, recipe: Recipe, device: torch.device) -> None:
        super().__init__(recipe, device)
        self.last_r1: float | None = None

    def build_models(self) -> dict[str, torch.nn.Module]:
        from pixelsmith.nets import build_network

        generator = super().build_models()[self.main]
        args = dict(self.args.discriminator)
        name = args.pop("name", "dcgan-d")
        args.setdefault("channels", generator.channels)
        args.setdefault("image_size", generator.image_size)
        return {"generator": generator, "discriminator": build_network(name, args)}

    def augment(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        return diff_augment(x, generator) if self.args.diffaugment else x

    def train_step(self, batch: dict, trainer) -> dict:
        real = batch["image"]
        generator = step_generator(trainer, real.device)
        z = torch.randn(len(real), self.models["generator"].latent_dim, generator=generator,
                        device=real.device)
        with trainer.autocast():
            fake = trainer.wrapped["generator"](z)
        if self.args.xflip:
            real = random_flip(real, generator)
        logs = self.discriminator_step(real, fake.detach(), trainer, generator)
        logs.update(self.generator_step(fake, trainer, generator))
        return logs

    def discriminator_step(self, real: torch.Tensor, fake: torch.Tensor, trainer,
                           generator: torch.Generator | None = None) -> dict:
        """One optimiser step of D on real vs (detached) fake images, with lazy R1."""
        gamma, every = float(self.args.r1_gamma), int(self.args.r1_every)
        with_r1 = gamma > 0 and trainer.step % every == 0
        real_in = self.augment(real, generator)
        fake_in = self.augment(fake.detach(), generator)
        if with_r1:
            real_in = real_in.detach().requires_grad_(True)
        with trainer.autocast():
            logits = trainer.wrapped["discriminator"](torch.cat([real_in, fake_in])).float()
        real_logits, fake_logits = logits[:len(real)], logits[len(real):]
        loss = discriminator_loss(self.args.kind, real_logits, fake_logits)
        total = loss
        if with_r1:
            penalty = r1_penalty(real_logits, real_in)
            total = loss + 0.5 * gamma * every * penalty
            self.last_r1 = float(penalty.detach())
        trainer.optimize(total, "discriminator")
        logs = {"d_loss": float(loss.detach()), "d_real": float(real_logits.detach().mean()),
                "d_fake": float(fake_logits.detach().mean())}
        if self.last_r1 is not None:
            logs["r1"] = self.last_r1  # the latest penalty (computed every r1_every steps)
        return logs

    def generator_step(self, fake: torch.Tensor, trainer,
                       generator: torch.Generator | None = None) -> dict:
        """One optimiser step of G through the frozen discriminator."""
        with evaluating(self.models["discriminator"], frozen=True) as disc:
            with trainer.autocast():
                logits = disc(self.augment(fake, generator)).float()
            loss = generator_loss(self.args.kind, logits)
            trainer.optimize(loss, "generator")
        return {"g_loss": float(loss.detach())}

    @staticmethod
    def for_sampling(generator: torch.nn.Module) -> torch.nn.Module:
        """A copy of ``generator`` whose BatchNorm statistics are its own weights' (the EMA
        averages the live network's statistics instead; see :mod:`.standing_stats`), or
        ``generator`` itself when it has no BatchNorm."""
        from pixelsmith.train.standing_stats import has_batchnorm, recompute_batchnorm

        if not has_batchnorm(generator):
            return generator
        return recompute_batchnorm(copy.deepcopy(generator))

    @staticmethod
    def finish_export(network: torch.nn.Module) -> dict:
        """Recompute the exported generator's BatchNorm statistics (in place) and say so in
        its config."""
        from pixelsmith.train.standing_stats import (
            has_batchnorm,
            recompute_batchnorm,
            standing_note,
        )

        if not has_batchnorm(network):
            return {}
        recompute_batchnorm(network)
        return standing_note()

    @torch.no_grad()
    def validate(self, model: torch.nn.Module) -> dict:
        """Scores of the generator with its BatchNorm statistics recomputed (:meth:`for_sampling`).

        ``loss``/``pixel_stats``: pixel-statistics distance of 1,000 samples (seed
        ``val.seed``) to the validation images; ``g_loss``/``d_fake`` on those samples; with
        ``val.extractor``, their feature-space ``fid``, ``kid``, ``precision``, ``recall``
        (and class ``coverage``) against the validation images."""
        images = self.validation_images()
        model = self.for_sampling(model)
        generator = torch.Generator(device=images.device)
        generator.manual_seed(self.recipe.val.seed)
        z = torch.randn(GAN_VAL_SAMPLES, model.latent_dim, generator=generator,
                        device=images.device)
        with evaluating(model):
            samples = torch.cat([model(chunk).float() for chunk in z.split(VAL_BATCH)])
        with evaluating(self.models["discriminator"]) as disc:
            logits = torch.cat([disc(chunk).float() for chunk in samples.split(VAL_BATCH)])
        distance = pixel_stats_distance(samples, images)
        features = (self.feature_validator(samples.clamp(0, 1), images)
                    if self.feature_validator is not None else {})
        return {"loss": distance, "pixel_stats": distance,
                "g_loss": float(generator_loss(self.args.kind, logits)),
                "d_fake": float(logits.mean()), **features}
