"""The codec family: learned image codecs trained on rate + lambda * distortion.

The loss per batch is ``bpp + lmbda * 255^2 * MSE`` (bits per pixel from the likelihoods of
the noisy latents; MSE on [0, 1] pixels, so 255^2 * MSE is the MSE in 8-bit levels, the
convention of CompressAI's lambda ladder). ``lmbda`` and the quality index are constructor
arguments of the model (``model.args``), so the exported ``config.json`` records the whole
operating point. The fixed-rate ``codec-ae`` baseline has no likelihoods and trains on
distortion alone. ``loss.name`` must be ``mse`` (the distortion); ``loss.args`` is empty.

Data: random ``data.patch_size`` crops (flips and quarter turns from ``data.augment``) of the
``data.train`` folders, each folder drawn with equal probability so a large folder (6,090
faces) does not drown a small one (400 natural photos). Validation: whole images of
``val.data`` (at most ``val.limit``), padded as the codec pads them; it finalizes the
entropy tables first, then reports ``bpp`` from the real compressed size, ``bpp_estimate``
from the likelihoods, ``psnr`` of the 8-bit decoded image and ``loss`` (with the estimate).
Because validation finalizes, ``best.pt`` and the final ``last.pt`` carry tables that match
their weights, and ``export-model`` ships them.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch.nn import functional as F

from pixelsmith.data.crops import RandomCrops
from pixelsmith.errors import PixelsmithError
from pixelsmith.train.config import Recipe
from pixelsmith.train.datasets import data_path, train_roots
from pixelsmith.train.families.base import Family, step_generator
from pixelsmith.train.finetune import init_and_freeze


def rd_terms(out: dict, x: torch.Tensor, lmbda: float) -> dict[str, torch.Tensor]:
    """bpp, mse and the loss of one forward pass ``out`` on images ``x``."""
    from pixelsmith.codec.models import RD_SCALE, rate_bits

    pixels = x.shape[0] * x.shape[-2] * x.shape[-1]
    mse = F.mse_loss(out["x_hat"].float(), x)
    if not out["likelihoods"]:
        return {"loss": RD_SCALE * mse, "bpp": torch.zeros((), device=x.device), "mse": mse}
    bpp = rate_bits(out["likelihoods"]).float() / pixels
    return {"loss": bpp + lmbda * RD_SCALE * mse, "bpp": bpp, "mse": mse}


class CodecFamily(Family):
    """Trains one codec network (``recipe.model``, a name in ``pixelsmith.nets.NETWORKS``)."""


    def __init__(self, recipe: Recipe, device: torch.device) -> None:
        self.recipe, self.device = recipe, device
        if recipe.loss.name != "mse" or recipe.loss.args:
            raise PixelsmithError("the codec family needs loss.name mse (the distortion) and no "
                                  "loss.args; the rate-distortion lambda is model.args.lmbda")
        if recipe.val.metric not in ("loss", "psnr"):
            raise PixelsmithError("the codec family validates with val.metric loss or psnr")
        self.higher_is_better = recipe.val.metric != "loss"
        self.val_files: list[Path] = []
        self.models: dict[str, torch.nn.Module] = {}

    @staticmethod
    def channels(recipe: Recipe) -> int:
        return int(recipe.model.args.get("channels", 3))

    @staticmethod
    def needs(recipe: Recipe) -> list[str]:
        return []

    def build_models(self) -> dict[str, torch.nn.Module]:
        from pixelsmith.codec.models import Codec
        from pixelsmith.nets import build_network

        net = build_network(self.recipe.model.name, self.recipe.model.args)
        if not isinstance(net, Codec):
            raise PixelsmithError(f"model '{self.recipe.model.name}' is not a codec network")
        if net.learned_rate and net.lmbda <= 0:
            raise PixelsmithError("model.args.lmbda must be > 0 (the rate-distortion trade-off)")
        return {self.main: net}

    def prepare_models(self, models: dict[str, torch.nn.Module]) -> None:
        self.models = models
        init_and_freeze(models[self.main], self.recipe)

    def train_dataset(self) -> RandomCrops:
        from pixelsmith.io import list_images

        cfg = self.recipe.data
        roots = train_roots(self.recipe)
        if self.recipe.val.data is None:
            raise PixelsmithError("the codec family validates on val.data (a folder of images)")
        self.val_files = list_images(data_path(self.recipe.val.data))
        if self.recipe.val.limit:
            self.val_files = self.val_files[: self.recipe.val.limit]
        multiple = self.models[self.main].pad_multiple if self.models else 1
        if cfg.patch_size % multiple:
            raise PixelsmithError(f"data.patch_size must be a multiple of {multiple} for "
                                  f"'{self.recipe.model.name}' (its latents' total stride)")
        color = "gray" if self.channels(self.recipe) == 1 else "rgb"
        return RandomCrops(roots, cfg.patch_size, length=cfg.patches_per_epoch, color=color,
                           seed=self.recipe.train.seed, cache=cfg.cache,
                           flips=cfg.augment.flips, rot90=cfg.augment.rot90)

    def train_step(self, batch: dict, trainer) -> dict:

        x = batch["image"]
        net = trainer.wrapped[self.main]
        with trainer.autocast():
            out = net(x, generator=step_generator(trainer, x.device))
        terms = rd_terms(out, x, self.models[self.main].lmbda)
        trainer.optimize(terms["loss"], self.main)
        logs = {k: float(v.detach()) for k, v in terms.items()}
        logs["psnr"] = -10.0 * math.log10(max(logs["mse"], 1e-12))
        return logs

    @torch.no_grad()
    def validate(self, model: torch.nn.Module) -> dict:
        """Finalize, then code every validation image for real (see the module notes)."""
        from pixelsmith.codec.api import compress
        from pixelsmith.codec.models import pad_image
        from pixelsmith.io import quantize, read_image
        from pixelsmith.metrics.pixel import psnr

        if not self.val_files:
            raise PixelsmithError("no validation images in val.data")
        was_training = model.training
        model.eval()
        model.update()
        gray = model.channels == 1
        totals = {"loss": 0.0, "bpp": 0.0, "bpp_estimate": 0.0, "psnr": 0.0}
        for path in self.val_files:
            x = read_image(path, gray=gray).to(self.device)
            height, width = x.shape[-2:]
            out = model(pad_image(x, model.pad_multiple)[0])
            x_hat = quantize(out["x_hat"][..., :height, :width].float())
            cropped = {"x_hat": x_hat, "likelihoods": out["likelihoods"]}
            terms = rd_terms(cropped, x, model.lmbda)
            totals["loss"] += float(terms["loss"])
            totals["bpp_estimate"] += float(terms["bpp"])
            totals["bpp"] += 8.0 * len(compress(x, model=model)) / (height * width)
            totals["psnr"] += float(psnr(x_hat, x)[0])
        model.train(was_training)
        return {k: v / len(self.val_files) for k, v in totals.items()}
