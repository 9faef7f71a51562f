"""What a recipe's ``data`` and ``degradation`` sections name: folders, data sets and splits.

Shared by every training family: :func:`data_path` resolves recipe paths against
$PIXELSMITH_DATA, :func:`train_roots` checks the training folders, :func:`degradation_spec`
turns the degradation section into a :class:`~pixelsmith.degrade.draws.DegradationSpec`, and
:func:`synthesis_datasets` gives (training, validation) whole-image sets: ``data.kind``
(``folder``, ``mnist``, ``fashion-mnist``, ``cifar10``, ``faces``), a held-out split of
``data.train`` (``data.val_fraction``, else ``min(1000, n // 10)`` images, drawn by
``data.split_seed``, else ``train.seed``) unless ``val.data`` names a folder, capped by
``val.limit``.
"""

from __future__ import annotations

from pathlib import Path

from torch.utils.data import Dataset

from pixelsmith.data import MNIST, CIFAR10Folder, FaceFolder, FashionMNIST, ImageFolder
from pixelsmith.data.images import SynthesisItems
from pixelsmith.data.split import split_indices
from pixelsmith.degrade.draws import DegradationSpec
from pixelsmith.errors import PixelsmithError
from pixelsmith.settings import data_root
from pixelsmith.train.config import Recipe


def data_path(value: str) -> Path:
    """A recipe path: as given when it exists, else below $PIXELSMITH_DATA."""
    path = Path(value).expanduser()
    if path.exists() or path.is_absolute():
        return path
    return data_root() / value


def split_seed(recipe: Recipe) -> int:
    """Seed of the train/validation split: ``data.split_seed``, else ``train.seed``."""
    seed = recipe.data.split_seed
    return recipe.train.seed if seed is None else seed


def train_roots(recipe: Recipe) -> list[Path]:
    """The recipe's ``data.train`` folders, each checked to exist (one-line error otherwise)."""
    cfg = recipe.data
    roots = [data_path(item) for item in ([cfg.train] if isinstance(cfg.train, str) else cfg.train)]
    for root in roots:
        if not root.exists():
            raise PixelsmithError(f"data.train: {root} does not exist (set $PIXELSMITH_DATA?)")
    return roots


def degradation_spec(recipe: Recipe):
    """The recipe's degradation section as a :class:`pixelsmith.degrade.draws.DegradationSpec`
    (one-line error for bad values)."""
    try:
        return _spec(recipe)
    except ValueError as exc:
        raise PixelsmithError(f"{recipe.name}: degradation: {exc}") from None


def _spec(recipe: Recipe) -> DegradationSpec:
    cfg = recipe.degradation
    if cfg.quality_bias != 1.0 and (cfg.task != "dejpeg" or cfg.kind == "realistic"):
        raise ValueError("quality_bias skews the JPEG quality draw of task dejpeg")
    if cfg.sigma_bias != 1.0 and (cfg.kind == "realistic" or cfg.task == "dejpeg"
                                  or cfg.sigma is None and cfg.task != "denoise"):
        raise ValueError("sigma_bias skews the draw of a degradation.sigma range")
    if cfg.kind == "realistic":
        return _realistic_spec(cfg)
    for name in ("light", "shake"):
        if getattr(cfg, name):
            raise ValueError(f"{name} is a share of the realistic model's draws "
                             "(kind realistic)")
    options = {}
    if cfg.sigma is not None:
        options["sigma"] = cfg.sigma
    if cfg.quantize:
        options["quantize"] = True
    if cfg.sigma_bias != 1.0:
        options["sigma_bias"] = cfg.sigma_bias
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
        return DegradationSpec.dejpeg(**({"quality": cfg.quality} if cfg.quality else {}),
                                      quality_bias=cfg.quality_bias)
    raise PixelsmithError(f"{recipe.name}: the restoration family needs degradation.task")


def _realistic_spec(cfg) -> DegradationSpec:
    """The blind photo-restoration spec: the realistic model draws blur, noise and JPEG."""
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
    return DegradationSpec.realistic_photo(scale, cfg.order, light=cfg.light,
                                       shake=cfg.shake)


def _color(channels: int) -> str:
    return "gray" if channels == 1 else "rgb"


def _source(recipe: Recipe, channels: int, size: int) -> Dataset:
    """The whole training set named by ``data.kind`` / ``data.train``."""
    cfg = recipe.data
    root = data_path(cfg.train)
    if cfg.kind == "folder":
        return ImageFolder(root, color=_color(channels), size=size, cache=cfg.cache)
    if cfg.kind in ("mnist", "fashion-mnist"):
        return (MNIST if cfg.kind == "mnist" else FashionMNIST)(root, train=True)
    if cfg.kind == "cifar10":
        return CIFAR10Folder(root, cache=cfg.cache)
    return FaceFolder(root, size=size, cache=cfg.cache)


def synthesis_datasets(recipe: Recipe, channels: int, image_size: int
                       ) -> tuple[SynthesisItems, SynthesisItems]:
    """(training set, validation set) of whole images for a model of ``channels`` x
    ``image_size``^2 (the rules are in the module notes)."""
    cfg, val = recipe.data, recipe.val
    if cfg.image_size is not None and cfg.image_size != image_size:
        raise PixelsmithError(f"data.image_size {cfg.image_size} differs from the model's "
                              f"image_size {image_size}")
    wanted = {"gray": 1, "rgb": 3}.get(cfg.color)
    if cfg.kind == "folder" and wanted is not None and wanted != channels:
        raise PixelsmithError(f"data.color {cfg.color} does not fit a {channels}-channel model")
    source = _source(recipe, channels, image_size)
    n = len(source)
    if val.data is not None:
        folder = ImageFolder(data_path(val.data), color=_color(channels), size=image_size)
        train_idx = list(range(n))
        val_set = SynthesisItems(folder, size=image_size, channels=channels)
    else:
        split = ({"val_fraction": cfg.val_fraction} if cfg.val_fraction > 0
                 else {"val_count": min(1000, max(1, n // 10))})
        train_idx, val_idx = split_indices(n, seed=split_seed(recipe), **split)
        val_set = SynthesisItems(source, val_idx, size=image_size, channels=channels)
    if val.limit:
        val_set.indices = val_set.indices[:val.limit]
    return SynthesisItems(source, train_idx, size=image_size, channels=channels), val_set
