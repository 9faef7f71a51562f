"""The pix2pix family: a restoration generator trained against a conditional PatchGAN.

Isola et al. (2017): the generator (``recipe.model``, e.g. the ``unet`` with its mask or
level conditioning) maps a degraded input to a restored image, as in the restoration family,
whose data pipeline, degradations, validation (PSNR/SSIM on held-out images) and export this
family inherits. A discriminator (``loss.args.discriminator``, default a spectral-normalised
:class:`~pixelsmith.nets.patchgan.PatchGAN`) judges (input, output) pairs, the input being
the degraded image plus, for inpainting, its mask channel. Losses:

- discriminator: hinge or non-saturating (logistic) loss on its patch logits, real pairs
  (input, clean) against fake pairs (input, restored, detached);
- generator: ``pixel_weight`` x the pixel loss (``loss.name``: l1, mse or charbonnier)
  + ``adversarial_weight`` x the adversarial loss + ``feature_matching`` x the mean L1
  distance between the discriminator's intermediate features of the fake and the real pair
  (pix2pixHD; 0 turns it off).

Each step makes one restored batch; the discriminator steps on it detached, then the
generator steps through the discriminator evaluated frozen (eval mode, no parameter
gradients), so neither step changes the other network. Both optimisers use ``optim``; the
EMA (``train.ema_decay``) averages the generator, which is what validation and export use.
The exported model is a plain restoration model of ``degradation.task`` (generator only).

``loss.args`` (unknown keys are an error): ``pixel_weight`` (100, as pix2pix), ``kind``
(hinge | nonsaturating), ``adversarial_weight`` (1), ``feature_matching`` (0),
``discriminator`` ({name: patchgan, <constructor args>}; a patchgan's ``in_channels``
defaults to the pair's channels). Logged per step: ``d_loss``, ``d_real``, ``d_fake`` (mean
logits), ``g_loss`` (the generator's total), ``g_pixel``, ``g_adv`` and ``g_fm`` (when on).
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field

from pixelsmith.errors import PixelsmithError
from pixelsmith.train.config import Recipe
from pixelsmith.train.families.base import evaluating
from pixelsmith.train.families.restoration import RestorationFamily
from pixelsmith.train.finetune import init_and_freeze
from pixelsmith.train.loss_args import (
    KIND_RULE,
    GanKind,
    LossArgs,
    network_args,
    parse_loss_args,
    weight,
)
from pixelsmith.train.losses import (
    discriminator_loss,
    feature_matching_loss,
    generator_loss,
)


class Pix2PixArgs(LossArgs):
    """``loss.args`` of the pix2pix family."""

    pixel_weight: float = weight(100.0)
    kind: GanKind = Field("hinge", description=KIND_RULE)
    adversarial_weight: float = weight(1.0)
    feature_matching: float = weight(0.0)
    discriminator: dict[str, Any] = network_args()


class Pix2PixFamily(RestorationFamily):
    """A restoration ``generator`` (main, EMA'd, exported) against a conditional
    ``discriminator``; data, validation and export as in the restoration family."""

    main = "generator"
    optimized = ("generator", "discriminator")
    takes_loss_args = True  # Pix2PixArgs

    def __init__(self, recipe: Recipe, device: torch.device) -> None:
        super().__init__(recipe, device)
        task = recipe.degradation.task
        if task in ("none", "sr"):
            raise PixelsmithError(f"the pix2pix family needs degradation.task deblur, inpaint, "
                                  f"denoise or dejpeg (an input of the output's size), "
                                  f"not '{task}'")
        self.args = parse_loss_args(Pix2PixArgs, recipe.loss.args, "pix2pix")
        self.models: dict[str, torch.nn.Module] = {}

    # -- networks -----------------------------------------------------------------------------

    def pair_channels(self) -> int:
        """Channels the discriminator sees: input (+ mask for inpainting) + image."""
        extra = 1 if self.recipe.degradation.task == "inpaint" else 0
        return 2 * self.channels(self.recipe) + extra

    def build_models(self) -> dict[str, torch.nn.Module]:
        from pixelsmith.nets import build_network

        generator = build_network(self.recipe.model.name, self.recipe.model.args)
        args = dict(self.args.discriminator)
        name = args.pop("name", "patchgan")
        if name == "patchgan":
            args.setdefault("in_channels", self.pair_channels())
        discriminator = build_network(name, args)
        if self.args.feature_matching and not hasattr(discriminator, "features"):
            raise PixelsmithError(f"loss.args.feature_matching needs a discriminator with "
                                  f"features(x) (e.g. patchgan), not '{name}'")
        return {"generator": generator, "discriminator": discriminator}

    def prepare_models(self, models: dict[str, torch.nn.Module]) -> None:
        """Keep the networks; ``init``/``freeze`` apply to the generator."""
        self.models = models
        init_and_freeze(models[self.main], self.recipe)

    # -- steps --------------------------------------------------------------------------------

    def condition(self, batch: dict) -> torch.Tensor:
        """What the discriminator is told about the input: the degraded image (+ mask)."""
        if self.recipe.degradation.task == "inpaint":
            return torch.cat([batch["degraded"], batch["mask"]], dim=1)
        return batch["degraded"]

    def train_step(self, batch: dict, trainer) -> dict:
        from pixelsmith.restoration.trained import restoration_forward

        condition, clean = self.condition(batch), batch["clean"]
        with trainer.autocast():
            fake = restoration_forward(trainer.wrapped["generator"], batch["degraded"],
                                       self.batch_known(batch))
        logs = self.discriminator_step(condition, clean, fake.detach(), trainer)
        logs.update(self.generator_step(condition, clean, fake, trainer))
        return logs

    def discriminator_step(self, condition: torch.Tensor, clean: torch.Tensor,
                           fake: torch.Tensor, trainer) -> dict:
        """One optimiser step of D: (input, clean) pairs against (input, detached fake)."""
        pairs = torch.cat([torch.cat([condition, clean], dim=1),
                           torch.cat([condition, fake.detach().to(clean.dtype)], dim=1)])
        with trainer.autocast():
            logits = trainer.wrapped["discriminator"](pairs).float()
        real_logits, fake_logits = logits[:len(clean)], logits[len(clean):]
        loss = discriminator_loss(self.args.kind, real_logits, fake_logits)
        trainer.optimize(loss, "discriminator")
        return {"d_loss": float(loss.detach()), "d_real": float(real_logits.detach().mean()),
                "d_fake": float(fake_logits.detach().mean())}

    def generator_step(self, condition: torch.Tensor, clean: torch.Tensor,
                       fake: torch.Tensor, trainer) -> dict:
        """One optimiser step of G: weighted pixel + adversarial (+ feature matching) loss,
        through the frozen discriminator."""
        args = self.args
        fm_weight = float(args.feature_matching)
        pixel = self.loss(fake.float(), clean)
        with evaluating(self.models["discriminator"], frozen=True) as disc:
            with trainer.autocast():
                fake_pair = torch.cat([condition, fake], dim=1)
                fake_features = disc.features(fake_pair) if fm_weight > 0 else [disc(fake_pair)]
                if fm_weight > 0:
                    with torch.no_grad():
                        real_features = disc.features(torch.cat([condition, clean], dim=1))
            adversarial = generator_loss(args.kind, fake_features[-1].float())
            total = float(args.pixel_weight) * pixel + \
                float(args.adversarial_weight) * adversarial
            logs = {"g_pixel": float(pixel.detach()), "g_adv": float(adversarial.detach())}
            if fm_weight > 0:
                matching = feature_matching_loss(fake_features[:-1], real_features[:-1])
                total = total + fm_weight * matching
                logs["g_fm"] = float(matching.detach())
            trainer.optimize(total, "generator")
        return {"g_loss": float(total.detach()), **logs}
