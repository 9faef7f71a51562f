"""Training recipes: YAML files validated into typed configs, with ``--set a.b=value`` overrides.

A recipe names everything a run needs (model, data, degradation, loss, optimiser, schedule,
validation, early stopping, EMA, precision, seed, output), so that one command reproduces a
shipped model. Unknown or mistyped fields are rejected with a one-line error naming the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pixelsmith.errors import PixelsmithError


class Section(BaseModel):
    """Base of every config section: unknown fields are errors, values are validated on set."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ModelConfig(Section):
    name: str  # a key of pixelsmith.nets.NETWORKS
    args: dict[str, Any] = Field(default_factory=dict)


class AugmentConfig(Section):
    flips: bool = True
    rot90: bool = True
    scale_jitter: tuple[float, float] | None = None  # > 1 zooms in (smoother content)
    saturation: tuple[float, float] | None = None  # colourfulness factors of RGB patches


class DataConfig(Section):
    """Where training images come from (relative paths are below $PIXELSMITH_DATA)."""

    train: str | list[str]  # a folder, or several
    kind: Literal["folder", "mnist", "fashion-mnist", "cifar10", "faces"] = "folder"
    color: Literal["gray", "rgb", "auto"] = "auto"
    patch_size: int = Field(48, ge=8)
    image_size: int | None = None  # resize whole images (synthesis data) instead of patches
    patches_per_epoch: int = Field(6400, ge=1)
    num_workers: int = Field(0, ge=0)
    cache: bool = True
    val_fraction: float = Field(0.0, ge=0.0, lt=1.0)  # split held-out images from train
    split_seed: int | None = None  # seed of that split; None: train.seed (a later stage keeps
    #                                the split of the stage it continues by giving its seed)
    augment: AugmentConfig = Field(default_factory=AugmentConfig)


class DegradationConfig(Section):
    """What the restoration model learns to undo, drawn per patch (sigma in 0-255 units)."""

    task: Literal["denoise", "deblur", "inpaint", "sr", "dejpeg", "none"] = "none"
    sigma: tuple[float, float] | None = None
    sigma_bias: float = Field(1.0, gt=0)  # > 1 draws low noise levels more often
    quality: tuple[int, int] | None = None
    quality_bias: float = Field(1.0, gt=0)  # > 1 draws low JPEG qualities more often
    scale: int | None = None
    kernels: list[str] = Field(default_factory=list)  # gaussian / disk / motion
    masks: list[str] = Field(default_factory=list)  # box / strokes / pixels
    mask_coverage: tuple[float, float] | None = None  # missing fraction, every mask kind
    quantize: bool = False  # round inputs to 8 bits, as stored images are
    # realistic: random blur/resize/noise/JPEG chains for blind photo restoration (task denoise
    # at scale 1, sr at scale 4; docs/REALISTIC.md), in BSRGAN, Real-ESRGAN or mixed order
    kind: Literal["synthetic", "realistic"] = "synthetic"
    order: Literal["mixed", "bsrgan", "realesrgan"] = "mixed"
    light: float = Field(0.0, ge=0.0, le=1.0)  # realistic: share of light chains (decent photos)
    shake: float = Field(0.0, ge=0.0, le=1.0)  # realistic: share starting with camera shake


class LossConfig(Section):
    name: Literal["l1", "mse", "charbonnier", "elbo", "gan", "cross_entropy"] = "l1"
    args: dict[str, Any] = Field(default_factory=dict)


class OptimConfig(Section):
    name: Literal["adam", "adamw", "sgd"] = "adam"
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)  # L2 regularisation (decoupled for adamw)
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = 0.9  # sgd only


class ScheduleConfig(Section):
    name: Literal["constant", "cosine", "linear", "step", "plateau"] = "cosine"
    warmup_steps: int = Field(0, ge=0)
    min_lr: float = Field(0.0, ge=0)  # cosine and linear floor
    decay_start: int = Field(0, ge=0)  # linear: constant until this step, then down to min_lr
    step_size: int = Field(1000, ge=1)  # step: every N steps ...
    gamma: float = Field(0.5, gt=0)  # ... multiply by gamma; plateau: factor
    patience: int = Field(3, ge=1)  # plateau: validations without improvement


class ValConfig(Section):
    data: str | None = None  # a folder; None uses the held-out split of data.train
    every: int = Field(500, ge=1)  # steps between validations
    metric: Literal["psnr", "ssim", "loss", "accuracy", "fid"] = "psnr"
    limit: int | None = None  # at most this many validation images
    sigma: float | None = None  # fixed validation degradation (0-255), else the mid-range
    quality: int | None = None
    kernel: str | None = None  # deblur: a blur spec as in `pixelsmith evaluate --kernel`
    mask_kind: str | None = None  # inpaint: as in `pixelsmith evaluate --mask-kind`
    extractor: str | None = None  # GAN, whole-image restoration: classifier for FID/KID/PR
    seed: int = 0
    # restoration: validate on transformed clean images (MATLAB-bicubic zoom, then colour
    # saturation, then 8-bit rounding), e.g. smoother and more colourful photos than val.data
    zoom: float = Field(1.0, ge=1.0, le=4.0)
    saturation: float = Field(1.0, ge=0.0, le=4.0)


class EarlyStoppingConfig(Section):
    patience: int | None = None  # validations without improvement before stopping
    min_delta: float = 0.0


class TrainConfig(Section):
    batch_size: int = Field(16, ge=1)  # global batch, split across processes
    steps: int | None = Field(None, ge=1)
    epochs: int | None = Field(None, ge=1)
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    channels_last: bool = False
    compile: bool = False  # torch.compile the trained networks' training forward/backward
    ema_decay: float | None = Field(None, ge=0, lt=1)
    ema_warmup: bool = False  # ramp the EMA decay up from 0.1 (models trained from scratch)
    grad_clip: float | None = Field(None, gt=0)
    seed: int = 0
    deterministic: bool = False
    log_every: int = Field(50, ge=1)
    checkpoint_every: int = Field(500, ge=1)
    keep_every: int | None = Field(None, ge=1)  # also keep step-NNNNNNN.pt every that many steps


class Recipe(Section):
    """A whole experiment. ``init`` starts from a pretrained model (``init_fresh``: prefixes of
    layers it lacks, left freshly initialised); ``freeze`` lists prefixes not trained."""

    name: str = "experiment"
    family: Literal["restoration", "pix2pix", "autoencoder", "vae", "gan", "codec",
                    "classifier"] = "restoration"
    model: ModelConfig
    data: DataConfig
    degradation: DegradationConfig = Field(default_factory=DegradationConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    val: ValConfig = Field(default_factory=ValConfig)
    early_stopping: EarlyStoppingConfig = Field(default_factory=EarlyStoppingConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    init: str | None = None
    init_fresh: list[str] = Field(default_factory=list)
    freeze: list[str] = Field(default_factory=list)
    output: str = "runs/experiment"

    @model_validator(mode="after")
    def _one_length(self) -> Recipe:
        if self.train.steps is None and self.train.epochs is None:
            raise ValueError("train.steps or train.epochs must be set")
        return self


def _first_error(exc: ValidationError, source: str) -> PixelsmithError:
    """Turn pydantic's report into one line: 'recipe.yaml: optim.lr: Input should be ...'."""
    err = exc.errors()[0]
    where = ".".join(str(part) for part in err["loc"]) or "recipe"
    if err["type"] == "extra_forbidden":
        return PixelsmithError(f"{source}: unknown field '{where}'")
    if err["type"] == "missing":
        return PixelsmithError(f"{source}: missing field '{where}'")
    message = err["msg"].removeprefix("Value error, ")
    return PixelsmithError(f"{source}: {where}: {message}")


def parse_override(text: str) -> tuple[list[str], Any]:
    """'optim.lr=1e-4' -> (['optim', 'lr'], 0.0001); the value is read as YAML."""
    if "=" not in text:
        raise PixelsmithError(f"--set expects KEY=VALUE, got '{text}'")
    key, raw = text.split("=", 1)
    if not key or any(not part for part in key.split(".")):
        raise PixelsmithError(f"--set: bad key '{key}'")
    try:
        value = yaml.safe_load(raw) if raw else None
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Set nested keys of a plain recipe dict from ``KEY=VALUE`` strings."""
    for text in overrides:
        path, value = parse_override(text)
        node = data
        for part in path[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise PixelsmithError(f"--set {text}: '{part}' is not a section")
            node = child
        node[path[-1]] = value
    return data


def recipe_from_dict(data: dict, source: str = "recipe") -> Recipe:
    """Validate a plain dict into a :class:`Recipe`, or raise a one-line PixelsmithError."""
    if not isinstance(data, dict):
        raise PixelsmithError(f"{source}: a recipe is a YAML mapping")
    try:
        return Recipe.model_validate(data)
    except ValidationError as exc:
        raise _first_error(exc, source) from None


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Read a YAML recipe, apply ``--set`` overrides, validate."""
    path = Path(path)
    if not path.is_file():
        raise PixelsmithError(f"{path}: no such recipe file")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0]
        raise PixelsmithError(f"{path}: not valid YAML ({first})") from None
    return recipe_from_dict(apply_overrides(data, overrides or []), str(path))


def dump_recipe(recipe: Recipe) -> str:
    """The resolved recipe as YAML (saved in every run folder)."""
    return yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False)
