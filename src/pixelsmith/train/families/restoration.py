"""The restoration family: a network maps degraded patches to clean ones (pixel loss).

Training pairs come from :class:`pixelsmith.data.RandomPatches`, degraded on the fly as the
recipe's ``degradation`` section says; validation restores whole held-out images, degraded
by the evaluation protocol with a fixed seed, and reports PSNR/SSIM like ``pixelsmith
evaluate`` does.

With ``data.image_size`` set, the model instead trains on whole images of that size
(:class:`pixelsmith.data.DegradedImages`), read like the synthesis families read them
(``data.kind``: ``faces``, ``folder``, ...; :func:`pixelsmith.train.datasets.synthesis_datasets`),
and validates on the same held-out split they use (UTKFace: 609 faces by ``train.seed``).
With ``val.extractor`` (a feature classifier of that size, e.g. ``features-faces``) each
validation also scores the restored held-out images against their originals in its feature
space (``fid``, ``kid``, ``precision``, ``recall``); ``val.metric: fid`` keeps the checkpoint
with the lowest FID.
"""

from __future__ import annotations

from pathlib import Path

import torch

from pixelsmith.data.augment import Augment
from pixelsmith.degrade.known import Known
from pixelsmith.errors import PixelsmithError
from pixelsmith.nets.contract import conditioning_of
from pixelsmith.train.config import Recipe
from pixelsmith.train.datasets import (
    data_path,
    degradation_spec,
    split_seed,
    synthesis_datasets,
    train_roots,
)
from pixelsmith.train.families.base import Family
from pixelsmith.train.feature_validation import FeatureValidator, check_fid_metric
from pixelsmith.train.finetune import init_and_freeze
from pixelsmith.train.losses import PIXEL_LOSSES

_NEEDS = {"sigma": ["sigma"], "quality": ["quality"], "mask": ["mask"]}
METRICS = ("psnr", "ssim", "loss", "fid")


class RestorationFamily(Family):
    takes_loss_args = False  # a subclass that reads loss.args validates them itself

    def __init__(self, recipe: Recipe, device: torch.device) -> None:
        self.recipe, self.device = recipe, device
        self.loss = PIXEL_LOSSES.get(recipe.loss.name)
        if self.loss is None:
            raise PixelsmithError(f"loss '{recipe.loss.name}' does not fit the "
                                  f"{recipe.family} family")
        if recipe.loss.args and not self.takes_loss_args:
            raise PixelsmithError(f"loss.args: the {recipe.family} family's pixel losses take "
                                  f"no arguments, got {', '.join(sorted(recipe.loss.args))}")
        val = recipe.val
        if val.metric not in METRICS:
            raise PixelsmithError(f"the {recipe.family} family validates with val.metric "
                                  f"{' | '.join(METRICS)}, not '{val.metric}'")
        check_fid_metric(val, "features-faces")
        if val.extractor and recipe.data.image_size is None:
            raise PixelsmithError("val.extractor needs whole images of the extractor's size "
                                  "(data.image_size), not patches")
        self.higher_is_better = val.metric not in ("loss", "fid")
        self.val_files: list[Path] = []
        self.val_set = None  # whole-image data: the held-out images (a dataset of dicts)
        self.feature_validator = (FeatureValidator(val.extractor, device, val.seed)
                                  if val.extractor else None)

    # -- export metadata ----------------------------------------------------------------------

    @classmethod
    def exported_task(cls, recipe: Recipe) -> str:
        """A restoration model restores what its recipe degraded; a model trained on realistic
        degradations restores photos (task ``photo``, at its scale)."""
        return "photo" if recipe.degradation.kind == "realistic" else recipe.degradation.task

    @staticmethod
    def channels(recipe: Recipe) -> int:
        args = recipe.model.args
        return int(args.get("channels", args.get("in_channels", 1)))

    @staticmethod
    def needs(recipe: Recipe) -> list[str]:
        from pixelsmith.nets import build_network

        conditioning = conditioning_of(build_network(recipe.model.name, recipe.model.args))
        return _NEEDS.get(conditioning, [])

    # -- networks -----------------------------------------------------------------------------

    def build_models(self) -> dict[str, torch.nn.Module]:
        from pixelsmith.nets import build_network

        return {"model": build_network(self.recipe.model.name, self.recipe.model.args)}

    def prepare_models(self, models: dict[str, torch.nn.Module]) -> None:
        """Fine-tuning: start from a pretrained model, then freeze the listed parameters."""
        init_and_freeze(models[self.main], self.recipe)

    # -- data ---------------------------------------------------------------------------------

    def train_dataset(self):
        from pixelsmith.data import RandomPatches, split_indices
        from pixelsmith.io import list_images

        cfg = self.recipe.data
        if cfg.image_size is not None:
            return self.whole_image_dataset()
        files = list_images(train_roots(self.recipe))
        if self.recipe.val.data is None and cfg.val_fraction > 0:
            train_idx, val_idx = split_indices(len(files), val_fraction=cfg.val_fraction,
                                               seed=split_seed(self.recipe))
            self.val_files = [files[i] for i in val_idx]
            files = [files[i] for i in train_idx]
        elif self.recipe.val.data is not None:
            self.val_files = list_images(data_path(self.recipe.val.data))
        if self.recipe.val.limit:
            self.val_files = self.val_files[: self.recipe.val.limit]
        augment = augment_of(cfg.augment)
        return RandomPatches(files, degradation_spec(self.recipe), cfg.patch_size,
                             patches_per_epoch=cfg.patches_per_epoch, augment=augment,
                             seed=self.recipe.train.seed, color=cfg.color, cache=cfg.cache)

    def whole_image_dataset(self):
        """Whole ``data.image_size`` images (faces), split as the synthesis families split."""
        from pixelsmith.data import DegradedImages

        cfg = self.recipe.data
        train, self.val_set = synthesis_datasets(self.recipe, self.channels(self.recipe),
                                                 cfg.image_size)
        try:
            augment = augment_of(cfg.augment)
            return DegradedImages(train, degradation_spec(self.recipe), augment=augment,
                                  seed=self.recipe.train.seed)
        except ValueError as exc:
            raise PixelsmithError(f"data.image_size: {exc}") from None

    # -- steps --------------------------------------------------------------------------------

    def batch_known(self, batch: dict) -> Known:
        """Per-image conditioning of a collated batch (sigma/quality as (N,) tensors)."""
        return Known(sigma=batch.get("sigma"), quality=batch.get("quality"),
                     mask=batch.get("mask"))

    def train_step(self, batch: dict, trainer) -> dict:
        from pixelsmith.restoration.trained import restoration_forward

        net = trainer.wrapped[self.main]
        with trainer.autocast():
            restored = restoration_forward(net, batch["degraded"], self.batch_known(batch))
        loss = self.loss(restored.float(), batch["clean"])
        trainer.optimize(loss, self.main)
        return {"loss": float(loss.detach())}

    @torch.no_grad()
    def validate(self, model: torch.nn.Module) -> dict:
        """Mean PSNR/SSIM (and loss) over the validation images, evaluation protocol; with
        ``val.extractor``, also the feature-space scores of the restored images."""
        from pixelsmith.evaluate.protocol import image_generator, load_clean, score
        from pixelsmith.io import quantize
        from pixelsmith.restoration.trained import restoration_forward

        params = self.val_params()
        count = len(self.val_set) if self.val_set is not None else len(self.val_files)
        if not count:
            raise PixelsmithError("no validation images: set val.data or data.val_fraction")
        was_training = model.training
        model.eval()
        totals = {"psnr": 0.0, "ssim": 0.0, "loss": 0.0}
        outputs: list[tuple[torch.Tensor, torch.Tensor]] = []
        for index in range(count):
            clean = (self.val_set[index]["image"][None] if self.val_set is not None
                     else load_clean(self.val_files[index], params))
            clean = transform_val_image(clean, self.recipe.val.zoom, self.recipe.val.saturation)
            reference, degraded, known = self.val_case(clean, params,
                                                       image_generator(params.seed, index))
            restored = restoration_forward(model, degraded.to(self.device),
                                           _to_device(known, self.device)).float().cpu()
            value_psnr, value_ssim = score(restored, reference, params)
            totals["psnr"] += value_psnr
            totals["ssim"] += value_ssim
            totals["loss"] += float(self.loss(restored, reference))
            if self.recipe.val.extractor:
                outputs.append((quantize(restored), reference))
        model.train(was_training)
        metrics = {k: v / count for k, v in totals.items()}
        if outputs:
            restored_all, references = (torch.cat(part) for part in zip(*outputs, strict=True))
            metrics.update(self.feature_validator(restored_all, references))
        return metrics

    def val_case(self, clean: torch.Tensor, params, generator: torch.Generator):
        """(reference, degraded, known) of one validation image: the evaluation protocol, or
        a draw of the realistic model (reproducible from ``val.seed``)."""
        from pixelsmith.evaluate.protocol import make_case

        if self.recipe.degradation.kind == "realistic":
            from pixelsmith.degrade.realistic import realistic_case

            return realistic_case(clean, degradation_spec(self.recipe).realistic, generator)
        return make_case(clean, params, generator)

    def val_params(self):
        from pixelsmith.evaluate.protocol import EvalParams

        cfg, val = self.recipe.degradation, self.recipe.val
        color = {"gray": "gray", "rgb": "rgb"}.get(self.recipe.data.color, "auto")
        sigma = val.sigma
        if sigma is None and cfg.sigma is not None:
            sigma = sum(cfg.sigma) / 2
        quality = val.quality or (cfg.quality[0] if cfg.quality else None)
        scale = cfg.scale if cfg.task == "sr" else None  # realistic denoise may say scale 1
        return EvalParams(cfg.task, sigma=sigma, scale=scale, quality=quality,
                          kernel=val.kernel, mask_kind=val.mask_kind, seed=val.seed,
                          color=color).resolved()


def transform_val_image(clean: torch.Tensor, zoom: float, saturation: float) -> torch.Tensor:
    """A clean (1, C, H, W) validation image zoomed (MATLAB bicubic) and saturated (RGB) as
    ``val.zoom`` and ``val.saturation`` say, rounded to 8 bits like a stored image; as it is
    when both are 1."""
    from pixelsmith.data.augment import saturate
    from pixelsmith.degrade import imresize
    from pixelsmith.io import quantize

    if zoom == 1.0 and saturation == 1.0:
        return clean
    if zoom != 1.0:
        clean = imresize(clean, scale=zoom).clamp(0.0, 1.0)
    if saturation != 1.0 and clean.shape[1] == 3:
        clean = saturate(clean, saturation)
    return quantize(clean)


def augment_of(cfg) -> Augment:
    """The patch augmentation a recipe's ``data.augment`` section asks for."""
    return Augment(flip=cfg.flips, rot90=cfg.rot90, scale_jitter=cfg.scale_jitter,
                   saturation=cfg.saturation)


def _to_device(known: Known, device: torch.device) -> Known:
    return known.with_(
        kernel=None if known.kernel is None else known.kernel.to(device),
        mask=None if known.mask is None else known.mask.to(device),
    )
