"""The restoration family: a network maps degraded patches to clean ones (pixel loss).

Training pairs come from :class:`pixelsmith.data.RandomPatches`, degraded on the fly as the
recipe's ``degradation`` section says; validation restores whole held-out images, degraded
by the evaluation protocol with a fixed seed, and reports PSNR/SSIM like ``pixelsmith
evaluate`` does.

With ``data.image_size`` set, the model instead trains on whole images of that size
(:class:`pixelsmith.data.DegradedImages`), read like the synthesis families read them
(``data.kind``: ``faces``, ``folder``, ...; :func:`pixelsmith.train.generative.synthesis_datasets`),
and validates on the same held-out split they use (UTKFace: 609 faces by ``train.seed``).
With ``val.extractor`` (a feature classifier of that size, e.g. ``features-faces``) each
validation also scores the restored held-out images against their originals in its feature
space (``fid``, ``kid``, ``precision``, ``recall``); ``val.metric: fid`` keeps the checkpoint
with the lowest FID.
"""

from __future__ import annotations

from pathlib import Path

import torch

from pixelsmith.errors import PixelsmithError
from pixelsmith.known import Known
from pixelsmith.settings import data_root
from pixelsmith.train.config import Recipe
from pixelsmith.train.feature_validation import FeatureValidator, check_fid_metric
from pixelsmith.train.finetune import init_and_freeze
from pixelsmith.train.losses import PIXEL_LOSSES

_NEEDS = {"sigma": ["sigma"], "quality": ["quality"], "mask": ["mask"]}
METRICS = ("psnr", "ssim", "loss", "fid")


def data_path(value: str) -> Path:
    """A recipe path: as given when it exists, else below $PIXELSMITH_DATA."""
    path = Path(value).expanduser()
    if path.exists() or path.is_absolute():
        return path
    return data_root() / value


def train_roots(recipe: Recipe) -> list[Path]:
    """The recipe's ``data.train`` folders, each checked to exist (one-line error otherwise)."""
    cfg = recipe.data
    roots = [data_path(item) for item in ([cfg.train] if isinstance(cfg.train, str) else cfg.train)]
    for root in roots:
        if not root.exists():
            raise PixelsmithError(f"data.train: {root} does not exist (set $PIXELSMITH_DATA?)")
    return roots


def degradation_spec(recipe: Recipe):
    """The recipe's degradation section as a :class:`pixelsmith.data.DegradationSpec`
    (one-line error for bad values)."""
    try:
        return _spec(recipe)
    except ValueError as exc:
        raise PixelsmithError(f"{recipe.name}: degradation: {exc}") from None


def _spec(recipe: Recipe):
    from pixelsmith.data import DegradationSpec

    cfg = recipe.degradation
    if cfg.kind == "realistic":
        return _realistic_spec(cfg)
    options = {}
    if cfg.sigma is not None:
        options["sigma"] = cfg.sigma
    if cfg.quantize:
        options["quantize"] = True
    if cfg.task == "denoise":
        return DegradationSpec.denoise(**{"sigma": (0.0, 75.0), **options})
    if cfg.task == "deblur":
        return DegradationSpec.deblur(**({"kernels": tuple(cfg.kernels)} if cfg.kernels else {}),
                                      **options)
    if cfg.task == "inpaint":
        return DegradationSpec.inpaint(**({"masks": tuple(cfg.masks)} if cfg.masks else {}),
                                       coverage=cfg.mask_coverage, **options)
    if cfg.task == "sr":
        return DegradationSpec.sr(scale=cfg.scale or 4, **options)
    if cfg.task == "dejpeg":
        return DegradationSpec.dejpeg(**({"quality": cfg.quality} if cfg.quality else {}))
    raise PixelsmithError(f"{recipe.name}: the restoration family needs degradation.task")


def _realistic_spec(cfg):
    """The blind photo-restoration spec: the realistic model draws blur, noise and JPEG."""
    from pixelsmith.data import DegradationSpec

    chosen = [name for name in ("sigma", "quality", "kernels", "masks", "mask_coverage")
              if getattr(cfg, name)]
    if chosen:
        raise ValueError(f"kind realistic draws its own degradations; drop {', '.join(chosen)}")
    if cfg.task not in ("denoise", "sr"):
        raise ValueError("kind realistic needs task denoise (scale 1) or sr (scale 4)")
    scale = cfg.scale or (4 if cfg.task == "sr" else 1)
    if (scale > 1) != (cfg.task == "sr"):
        raise ValueError(f"kind realistic: task {cfg.task} does not go with scale {scale} "
                         "(denoise: 1, sr: 4)")
    return DegradationSpec.realistic_photo(scale, cfg.order)


class RestorationFamily:
    main = "model"
    optimized = ("model",)
    restores = True  # export: the model's task is degradation.task
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

    @staticmethod
    def channels(recipe: Recipe) -> int:
        args = recipe.model.args
        return int(args.get("channels", args.get("in_channels", 1)))

    @staticmethod
    def needs(recipe: Recipe) -> list[str]:
        from pixelsmith.nets import build_network

        conditioning = getattr(build_network(recipe.model.name, recipe.model.args),
                               "conditioning", None)
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
        from pixelsmith.data import Augment, RandomPatches, split_indices
        from pixelsmith.io import list_images

        cfg = self.recipe.data
        if cfg.image_size is not None:
            return self.whole_image_dataset()
        files = list_images(train_roots(self.recipe))
        if self.recipe.val.data is None and cfg.val_fraction > 0:
            train_idx, val_idx = split_indices(len(files), val_fraction=cfg.val_fraction,
                                               seed=self.recipe.train.seed)
            self.val_files = [files[i] for i in val_idx]
            files = [files[i] for i in train_idx]
        elif self.recipe.val.data is not None:
            self.val_files = list_images(data_path(self.recipe.val.data))
        if self.recipe.val.limit:
            self.val_files = self.val_files[: self.recipe.val.limit]
        augment = Augment(flip=cfg.augment.flips, rot90=cfg.augment.rot90,
                          scale_jitter=cfg.augment.scale_jitter)
        return RandomPatches(files, degradation_spec(self.recipe), cfg.patch_size,
                             patches_per_epoch=cfg.patches_per_epoch, augment=augment,
                             seed=self.recipe.train.seed, color=cfg.color, cache=cfg.cache)

    def whole_image_dataset(self):
        """Whole ``data.image_size`` images (faces), split as the synthesis families split."""
        from pixelsmith.data import Augment, DegradedImages
        from pixelsmith.train.generative import synthesis_datasets

        cfg = self.recipe.data
        train, self.val_set = synthesis_datasets(self.recipe, self.channels(self.recipe),
                                                 cfg.image_size)
        try:
            augment = Augment(flip=cfg.augment.flips, rot90=cfg.augment.rot90,
                              scale_jitter=cfg.augment.scale_jitter)
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
        from pixelsmith.model_methods import restoration_forward

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
        from pixelsmith.evaluate import image_generator, load_clean, score
        from pixelsmith.io import quantize
        from pixelsmith.model_methods import restoration_forward

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
        from pixelsmith.evaluate import make_case

        if self.recipe.degradation.kind == "realistic":
            from pixelsmith.degrade.realistic import realistic_case

            return realistic_case(clean, degradation_spec(self.recipe).realistic, generator)
        return make_case(clean, params, generator)

    def val_params(self):
        from pixelsmith.evaluate import EvalParams

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


def _to_device(known: Known, device: torch.device) -> Known:
    return known.with_(
        kernel=None if known.kernel is None else known.kernel.to(device),
        mask=None if known.mask is None else known.mask.to(device),
    )
