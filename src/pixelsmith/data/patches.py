"""Random training patches degraded on the fly: the sampler for restoration models.

:class:`RandomPatches` cuts random patches from clean images, augments them and degrades
them with :mod:`pixelsmith.degrade`, with per-sample parameters (noise level, blur kernel,
mask, JPEG quality) drawn as described by a :class:`DegradationSpec`. Every random number of
item ``i`` in epoch ``e`` comes from ``item_generator(seed, e, i)``, so an item is the same
whatever the number of DataLoader workers.

Item format (a dict; every key is present for every task, so ``default_collate`` stacks a
batch, and a model wrapper can read what it needs without knowing the task):

=============== ===================== ========================================================
key             shape, dtype          meaning
=============== ===================== ========================================================
``clean``       (C, P, P) float32     the target patch, in [0, 1]
``degraded``    (C, p, p) float32     the input; p = P / scale for ``sr``, else P. Noise is
                                      not clipped unless ``spec.quantize``
``sigma``       () float32            Gaussian noise std in [0, 1] units (0: no noise)
``kernel``      (K, K) float32        the blur kernel, centred in a K x K zero canvas,
                                      K = ``spec.kernel_size``; a centred 1 (identity) when
                                      the task does not blur
``kernel_size`` (2,) int64            (kh, kw) of the kernel before padding
                                      (:func:`unpad_kernel` recovers it)
``mask``        (1, P, P) float32     1 = missing pixel (``inpaint``), else all 0
``scale``       () int64              super-resolution factor (1 unless ``sr``)
``quality``     () int64              JPEG quality (0 unless ``dejpeg``)
``image``       () int64              index of the source image in the folder
=============== ===================== ========================================================

After collation each entry gains a leading batch axis. :func:`known_from_item` turns one
item (or one entry of a batch) into the :class:`~pixelsmith.known.Known` a restorer takes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch.utils.data import Dataset

from pixelsmith.data.augment import DEFAULT_AUGMENT, Augment
from pixelsmith.data.folders import ImageFolder, to_float
from pixelsmith.data.seeding import item_generator
from pixelsmith.errors import PixelsmithError
from pixelsmith.known import TASKS, Known

if TYPE_CHECKING:
    from pixelsmith.degrade.realistic import RealisticDegradation

KERNEL_KINDS = ("gaussian", "disk", "motion")
MASK_KINDS = ("box", "strokes", "pixels")
BOUNDARIES = ("valid", "circular", "reflect")
DEFAULT_MASKS = {"box": (0.05, 0.4), "strokes": (0.05, 0.4), "pixels": (0.2, 0.9)}
DEFAULT_CACHE_LIMIT = 2 * 1024**3  # bytes of decoded images RandomPatches keeps in memory


def _range(value: Sequence[float], name: str, low: float = 0.0,
           high: float = math.inf) -> tuple[float, float]:
    """Check a (lo, hi) pair with low <= lo <= hi <= high; one number v means (v, v)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = (value, value)
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a (low, high) pair, got {value!r}") from None
    if not (low <= lo <= hi <= high):
        raise ValueError(f"{name} must satisfy {low:g} <= low <= high <= {high:g}, got {value}")
    return lo, hi


def _check_kernel(kernel: torch.Tensor, limit: int) -> torch.Tensor:
    kernel = torch.as_tensor(kernel, dtype=torch.float32)
    if kernel.ndim != 2 or kernel.numel() == 0:
        raise ValueError(f"a blur kernel must be a non-empty 2-D tensor, got {tuple(kernel.shape)}")
    if max(kernel.shape) > limit:
        raise ValueError(f"a {tuple(kernel.shape)} kernel does not fit kernel_size={limit}")
    if not torch.isfinite(kernel).all() or (kernel < 0).any() or kernel.sum() <= 0:
        raise ValueError("a blur kernel must be finite, non-negative and not all zero")
    return kernel / kernel.sum()


@dataclass(frozen=True, eq=False)
class DegradationSpec:
    """What a training pair looks like: the task and the ranges its parameters are drawn from.

    Build it with the task constructors (:meth:`denoise`, :meth:`deblur`, :meth:`inpaint`,
    :meth:`sr`, :meth:`dejpeg`); ranges are (low, high), drawn uniformly per sample (one
    number v is the fixed range (v, v)).

    - ``sigma``: Gaussian noise std in 0-255 units (``(0, 75)`` = blind denoising up to 75);
      added after the operator for every task but ``dejpeg``.
    - ``kernels``: entries chosen uniformly per sample: ``"gaussian"`` (std in
      ``gaussian_sigma``, anisotropic with a random angle if ``anisotropic``), ``"disk"``
      (radius in ``disk_radius``), ``"motion"`` (path length in ``motion_length``) or fixed
      kernel tensors (normalised to sum 1). ``kernel_size`` (odd) is the kernel canvas.
    - ``boundary``: ``"valid"`` blurs a larger crop and keeps the centre, so the patch has no
      artificial border (the physical model); ``"circular"`` / ``"reflect"`` blur the patch
      itself with that boundary rule (e.g. to match an FFT-based model).
    - ``masks``: {kind: coverage range}, kinds ``"box"`` (one hole, area fraction),
      ``"strokes"`` (free-form brush strokes) and ``"pixels"`` (random missing pixels).
    - ``scale``: super-resolution factor; the input is MATLAB-bicubic ``imresize(clean, 1/s)``.
    - ``quality``: JPEG quality range (integers, inclusive); ``subsampling`` for colour.
    - ``quantize``: clip and round the degraded input to 8 bits, as a stored image would be.
    - ``realistic``: a :class:`~pixelsmith.degrade.realistic.RealisticDegradation` that makes
      the input instead of the task's operator and noise (blind photo restoration; build it
      with :meth:`realistic_photo`).
    """

    task: str
    sigma: tuple[float, float] = (0.0, 0.0)
    kernels: tuple[str | torch.Tensor, ...] = KERNEL_KINDS
    kernel_size: int = 25
    gaussian_sigma: tuple[float, float] = (0.5, 4.0)
    anisotropic: bool = True
    disk_radius: tuple[float, float] = (1.0, 6.0)
    motion_length: tuple[float, float] = (5.0, 25.0)
    boundary: str = "valid"
    masks: Mapping[str, tuple[float, float]] = field(default_factory=lambda: dict(DEFAULT_MASKS))
    scale: int = 4
    quality: tuple[int, int] = (10, 90)
    subsampling: str = "4:2:0"
    quantize: bool = False
    realistic: RealisticDegradation | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, not {self.task!r}")
        fix = object.__setattr__  # frozen: normalise fields once, here
        fix(self, "sigma", _range(self.sigma, "sigma", 0.0, 255.0))
        size = int(self.kernel_size)
        if size < 1 or size % 2 == 0:
            raise ValueError(f"kernel_size must be odd and >= 1, got {self.kernel_size}")
        fix(self, "kernel_size", size)
        fix(self, "gaussian_sigma", _range(self.gaussian_sigma, "gaussian_sigma"))
        fix(self, "disk_radius", _range(self.disk_radius, "disk_radius"))
        fix(self, "motion_length", _range(self.motion_length, "motion_length"))
        if self.task == "deblur":
            self._check_kernels(size)
        if self.boundary not in BOUNDARIES:
            raise ValueError(f"boundary must be one of {BOUNDARIES}, not {self.boundary!r}")
        masks = {}
        for kind, coverage in dict(self.masks).items():
            if kind not in MASK_KINDS:
                raise ValueError(f"mask kind must be one of {MASK_KINDS}, not {kind!r}")
            top = 0.999 if kind == "box" else 1.0
            masks[kind] = _range(coverage, f"{kind} coverage", 0.0, top)
        if self.task == "inpaint" and not masks:
            raise ValueError("inpaint needs at least one mask kind")
        fix(self, "masks", masks)
        if isinstance(self.scale, bool) or int(self.scale) != self.scale or self.scale < 1:
            raise ValueError(f"scale must be an integer >= 1, got {self.scale}")
        fix(self, "scale", int(self.scale))
        quality = (self.quality,) * 2 if isinstance(self.quality, int) else tuple(self.quality)
        low, high = (int(q) for q in quality)
        if not (1 <= low <= high <= 100) or (low, high) != quality:
            raise ValueError(f"quality must be integers 1 <= low <= high <= 100, "
                             f"got {self.quality}")
        fix(self, "quality", (low, high))
        if self.realistic is not None:
            self._check_realistic()

    def _check_realistic(self) -> None:
        expected = "sr" if self.realistic.scale > 1 else "denoise"
        if self.task != expected or self.scale != self.realistic.scale:
            raise ValueError(f"a realistic degradation of scale {self.realistic.scale} goes "
                             f"with task {expected} and scale {self.realistic.scale}")
        if self.sigma != (0.0, 0.0):
            raise ValueError("the realistic degradation draws its own noise: leave sigma unset")

    def _check_kernels(self, size: int) -> None:
        if not self.kernels:
            raise ValueError("deblur needs at least one kernel kind or kernel tensor")
        checked: list[str | torch.Tensor] = []
        for entry in self.kernels:
            if isinstance(entry, str):
                if entry not in KERNEL_KINDS:
                    raise ValueError(f"kernel kind must be one of {KERNEL_KINDS}, not {entry!r}")
                checked.append(entry)
            else:
                checked.append(_check_kernel(entry, size))
        if "disk" in checked and 2 * math.ceil(self.disk_radius[1]) + 1 > size:
            raise ValueError(f"disk radius {self.disk_radius[1]} does not fit kernel_size={size}")
        if "motion" in checked and size < 3:
            raise ValueError("motion kernels need kernel_size >= 3")
        object.__setattr__(self, "kernels", tuple(checked))

    # -- task constructors ---------------------------------------------------------------
    @classmethod
    def denoise(cls, sigma: tuple[float, float] = (0.0, 75.0), **options) -> DegradationSpec:
        """Additive white Gaussian noise with std drawn in ``sigma`` (0-255 units)."""
        return cls("denoise", sigma=sigma, **options)

    @classmethod
    def deblur(cls, kernels: Sequence[str | torch.Tensor] = KERNEL_KINDS,
               sigma: tuple[float, float] = (0.0, 0.0), **options) -> DegradationSpec:
        """Blur by a random or listed kernel, then optional noise."""
        return cls("deblur", sigma=sigma, kernels=tuple(kernels), **options)

    @classmethod
    def inpaint(cls, masks: Sequence[str] | Mapping[str, tuple[float, float]] = MASK_KINDS,
                coverage: tuple[float, float] | None = None, **options) -> DegradationSpec:
        """Missing pixels set to 0; ``masks`` is a list of kinds (default coverage ranges, or
        ``coverage`` for all) or a {kind: coverage range} mapping."""
        if isinstance(masks, Mapping):
            table = dict(masks)
        else:
            unknown = [k for k in masks if k not in DEFAULT_MASKS]
            if unknown:
                raise ValueError(f"mask kind must be one of {MASK_KINDS}, not {unknown[0]!r}")
            table = {k: coverage if coverage is not None else DEFAULT_MASKS[k] for k in masks}
        return cls("inpaint", masks=table, **options)

    @classmethod
    def sr(cls, scale: int = 4, **options) -> DegradationSpec:
        """Bicubic (MATLAB ``imresize``) downsampling by ``scale``, then optional noise."""
        return cls("sr", scale=scale, **options)

    @classmethod
    def dejpeg(cls, quality: tuple[int, int] = (10, 90), **options) -> DegradationSpec:
        """JPEG compression at a quality drawn from ``quality`` (inclusive)."""
        return cls("dejpeg", quality=quality, **options)

    @classmethod
    def realistic_photo(cls, scale: int = 1, order: str = "mixed",
                        **options) -> DegradationSpec:
        """Blind photo restoration: inputs made by the realistic degradation model of ``scale``
        1 (task ``denoise``: same size) or 4 (task ``sr``) in ``order`` (``"mixed"``,
        ``"bsrgan"`` or ``"realesrgan"``); see :mod:`pixelsmith.degrade.realistic`."""
        from pixelsmith.degrade.realistic import RealisticDegradation

        model = RealisticDegradation(scale, order)
        task = "sr" if model.scale > 1 else "denoise"
        return cls(task, scale=model.scale, realistic=model, **options)

    # -- geometry ------------------------------------------------------------------------
    def margin(self) -> int:
        """Extra pixels cut on each side of the patch before degrading (valid blur)."""
        return self.kernel_size // 2 if self.task == "deblur" and self.boundary == "valid" else 0


# -- drawing parameters ------------------------------------------------------------------
def _uniform(low: float, high: float, gen: torch.Generator) -> float:
    return low + (high - low) * float(torch.rand((), generator=gen, dtype=torch.float64))


def _choice(count: int, gen: torch.Generator) -> int:
    return int(torch.randint(count, (), generator=gen)) if count > 1 else 0


def draw_kernel(spec: DegradationSpec, gen: torch.Generator) -> torch.Tensor:
    """One blur kernel for ``spec`` (a deblur spec), drawn from ``gen``."""
    from pixelsmith.degrade import disk_kernel, gaussian_kernel, motion_kernel

    entry = spec.kernels[_choice(len(spec.kernels), gen)]
    if isinstance(entry, torch.Tensor):
        return entry
    if entry == "gaussian":
        low, high = spec.gaussian_sigma
        sx = _uniform(low, high, gen)
        if spec.anisotropic:
            sy, angle = _uniform(low, high, gen), _uniform(0.0, 180.0, gen)
            return gaussian_kernel((sx, sy), size=spec.kernel_size, angle=angle)
        return gaussian_kernel(sx, size=spec.kernel_size)
    if entry == "disk":
        return disk_kernel(_uniform(*spec.disk_radius, gen))
    return motion_kernel(spec.kernel_size, gen, length=_uniform(*spec.motion_length, gen))


def draw_mask(spec: DegradationSpec, height: int, width: int,
              gen: torch.Generator) -> torch.Tensor:
    """One (1, 1, H, W) inpainting mask (1 = missing) for ``spec``, drawn from ``gen``."""
    from pixelsmith.degrade import box_mask, random_pixel_mask, stroke_mask

    kinds = list(spec.masks)
    kind = kinds[_choice(len(kinds), gen)]
    low, high = spec.masks[kind]
    if kind == "box":
        fraction = _uniform(low, high, gen)
        if fraction * height * width < 0.5:
            return torch.zeros(1, 1, height, width)
        return box_mask(height, width, gen, box=fraction)
    if kind == "pixels":
        return random_pixel_mask(height, width, _uniform(low, high, gen), gen)
    return stroke_mask(height, width, gen, coverage=(low, high))


def pad_kernel(kernel: torch.Tensor, size: int) -> torch.Tensor:
    """Place ``kernel`` (kh, kw) in a (size, size) zero canvas, keeping its centre (kh // 2,
    kw // 2) at (size // 2, size // 2), so convolving with either gives the same result."""
    kh, kw = kernel.shape
    top, left = size // 2 - kh // 2, size // 2 - kw // 2
    if top < 0 or left < 0 or top + kh > size or left + kw > size:
        raise ValueError(f"a {kh}x{kw} kernel does not fit a {size}x{size} canvas")
    canvas = torch.zeros(size, size, dtype=torch.float32)
    canvas[top:top + kh, left:left + kw] = kernel
    return canvas


def unpad_kernel(kernel: torch.Tensor, kernel_size: torch.Tensor | Sequence[int]) -> torch.Tensor:
    """Inverse of :func:`pad_kernel`: the (kh, kw) kernel out of its canvas."""
    kh, kw = (int(v) for v in kernel_size)
    size = kernel.shape[-1]
    top, left = size // 2 - kh // 2, size // 2 - kw // 2
    return kernel[..., top:top + kh, left:left + kw]


def _identity(size: int) -> torch.Tensor:
    kernel = torch.zeros(size, size)
    kernel[size // 2, size // 2] = 1.0
    return kernel


# -- degrading one patch -------------------------------------------------------------------
def _add_noise(spec: DegradationSpec, y: torch.Tensor,
               gen: torch.Generator) -> tuple[torch.Tensor, float]:
    from pixelsmith.degrade import GaussianNoise

    low, high = spec.sigma
    if high == 0:
        return y, 0.0
    noisy, sigma = GaussianNoise((low / 255.0, high / 255.0)).apply_with_sigma(y, gen)
    return noisy, float(sigma[0])


def degrade_patch(spec: DegradationSpec, big: torch.Tensor, gen: torch.Generator) -> dict:
    """Degrade one (1, C, P + 2 m, P + 2 m) patch (m = ``spec.margin()``) per ``spec``.

    Returns the item fields listed in the module docstring (without ``image``), un-batched.
    Draws happen in a fixed order (operator parameters, then noise) from ``gen``.
    """
    from pixelsmith.degrade import JPEG, Blur, imresize
    from pixelsmith.io import quantize

    m = spec.margin()
    clean = big[..., m:big.shape[-2] - m, m:big.shape[-1] - m] if m else big
    height, width = clean.shape[-2:]
    kernel = _identity(spec.kernel_size)
    kernel_hw = (1, 1)
    mask = torch.zeros(1, 1, height, width)
    scale, quality, sigma = 1, 0, 0.0
    if spec.realistic is not None:  # blind: the chain's parameters are not part of the item
        y, scale = spec.realistic(clean, gen), spec.realistic.scale
    elif spec.task == "denoise":
        y, sigma = _add_noise(spec, clean, gen)
    elif spec.task == "deblur":
        raw = draw_kernel(spec, gen)
        kernel, kernel_hw = pad_kernel(raw, spec.kernel_size), tuple(raw.shape)
        if m:  # blur the larger crop, keep the centre: no artificial border in the patch
            y = Blur(raw, "circular")(big)[..., m:m + height, m:m + width]
        else:
            y = Blur(raw, spec.boundary)(clean)
        y, sigma = _add_noise(spec, y, gen)
    elif spec.task == "inpaint":
        mask = draw_mask(spec, height, width, gen)
        y, sigma = _add_noise(spec, clean, gen)
        y = y * (1.0 - mask)
    elif spec.task == "sr":
        scale = spec.scale
        y = imresize(clean, 1.0 / scale)
        y, sigma = _add_noise(spec, y, gen)
    else:  # dejpeg
        low, high = spec.quality
        quality = low + _choice(high - low + 1, gen)
        y = JPEG(quality, spec.subsampling)(clean.clamp(0.0, 1.0))
    if spec.quantize and spec.task != "dejpeg":
        y = quantize(y)
        if spec.task == "inpaint":
            y = y * (1.0 - mask)
    return {
        "clean": clean[0].contiguous(),
        "degraded": y[0].to(torch.float32).contiguous(),
        "sigma": torch.tensor(sigma, dtype=torch.float32),
        "kernel": kernel,
        "kernel_size": torch.tensor(kernel_hw, dtype=torch.int64),
        "mask": mask[0].to(torch.float32),
        "scale": torch.tensor(scale, dtype=torch.int64),
        "quality": torch.tensor(quality, dtype=torch.int64),
    }


# -- the dataset ---------------------------------------------------------------------------
class RandomPatches(Dataset):
    """Random degraded/clean training patches from a folder of clean images.

    - ``images``: an :class:`~pixelsmith.data.folders.ImageFolder` or what builds one
      (folder, list of files) with ``color`` (give ``"gray"`` or ``"rgb"`` for a folder that
      mixes both, so batches stack). Only its images are used, not its own augmentation.
    - ``patch_size``: side P of the clean patch (a multiple of ``spec.scale`` for ``sr``).
    - ``patches_per_epoch``: epoch length (default: ``patches_per_image`` x images).
    - ``patches_per_image``: consecutive items cut from the same image; with a non-cached
      folder and ``shuffle=False`` (the order is already random) an image is decoded once
      per run of items. Images are visited in a fresh random order each epoch, each once
      per pass over the folder.
    - ``cache``: keep the decoded folder in memory as uint8; None (default) does so when it
      takes at most ``cache_limit`` bytes (BSD400: 13 MB).
    - ``augment``: crop-independent augmentation (flips, rotations, scale jitter) or None.

    Call :meth:`set_epoch` at the start of each epoch (before iterating a DataLoader; with
    ``persistent_workers=True`` the workers keep the epoch they started with).
    """

    def __init__(
        self,
        images: ImageFolder | str | Path | Sequence[str | Path],
        spec: DegradationSpec,
        patch_size: int = 64,
        *,
        patches_per_epoch: int | None = None,
        patches_per_image: int = 1,
        augment: Augment | None = DEFAULT_AUGMENT,
        seed: int = 0,
        color: str = "auto",
        cache: bool | None = None,
        cache_limit: int = DEFAULT_CACHE_LIMIT,
    ) -> None:
        self.folder = images if isinstance(images, ImageFolder) else ImageFolder(images,
                                                                               color=color)
        self.spec = spec
        self.patch_size = int(patch_size)
        if self.patch_size < 1:
            raise ValueError(f"patch_size must be >= 1, got {patch_size}")
        if spec.task == "sr" and self.patch_size % spec.scale:
            raise ValueError(f"patch_size {patch_size} is not a multiple of scale {spec.scale}")
        self.patches_per_image = int(patches_per_image)
        if self.patches_per_image < 1:
            raise ValueError(f"patches_per_image must be >= 1, got {patches_per_image}")
        count = len(self.folder) * self.patches_per_image
        self.patches_per_epoch = count if patches_per_epoch is None else int(patches_per_epoch)
        if self.patches_per_epoch < 1:
            raise ValueError(f"patches_per_epoch must be >= 1, got {patches_per_epoch}")
        self.augment = augment if augment is not None else Augment(flip=False, rot90=False)
        self.seed = int(seed)
        self.epoch = 0
        self._orders: dict[tuple[int, int], np.ndarray] = {}
        if cache or (cache is None and not self.folder.cached
                     and self.folder.nbytes() <= cache_limit):
            self.folder.preload()
        self._check_sizes()

    @property
    def window(self) -> int:
        """Side of the clean crop cut from an image: the patch plus the blur margin."""
        return self.patch_size + 2 * self.spec.margin()

    def _check_sizes(self) -> None:
        small = []
        for index in range(len(self.folder)):
            _, height, width = self.folder.shape(index)
            if min(height, width) < self.window:
                small.append(f"{self.folder.paths[index].name} ({width}x{height})")
        if small:
            shown = ", ".join(small[:5]) + (f" (+{len(small) - 5} more)" if len(small) > 5 else "")
            raise PixelsmithError(
                f"{len(small)} image(s) are smaller than the {self.window}x{self.window} crop "
                f"needed for {self.patch_size}-pixel patches: {shown}"
            )

    def __len__(self) -> int:
        return self.patches_per_epoch

    def set_epoch(self, epoch: int) -> None:
        """Use the random draws (image order, crops, degradations) of ``epoch``."""
        self.epoch = int(epoch)

    def image_index(self, index: int) -> int:
        """Which image item ``index`` of the current epoch is cut from."""
        count = len(self.folder)
        cycle, position = divmod(index // self.patches_per_image, count)
        key = (self.epoch, cycle)
        order = self._orders.get(key)
        if order is None:
            sequence = np.random.SeedSequence([self.seed & 0xFFFFFFFFFFFFFFFF, self.epoch, cycle],
                                              spawn_key=(1,))  # apart from the item streams
            order = np.random.default_rng(sequence).permutation(count)
            if len(self._orders) >= 4:
                self._orders.clear()
            self._orders[key] = order
        return int(order[position])

    def __getitem__(self, index: int) -> dict:
        index = int(index)
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} patches")
        image = self.image_index(index)
        data = self.folder.stored(image)
        gen = item_generator(self.seed, self.epoch, index)
        params = self.augment.draw(data.shape[-2], data.shape[-1], self.window, gen)
        big = to_float(params.apply(data))[None]
        item = degrade_patch(self.spec, big, gen)
        item["image"] = torch.tensor(image, dtype=torch.int64)
        return item


def known_from_item(item: Mapping[str, torch.Tensor], task: str,
                    index: int | None = None) -> Known:
    """The :class:`~pixelsmith.known.Known` of one item, or of entry ``index`` of a collated
    batch; only the fields ``task`` uses are set (``sigma`` for every task that adds noise)."""
    def pick(key: str) -> torch.Tensor:
        value = item[key]
        return value[index] if index is not None else value

    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, not {task!r}")
    if task == "dejpeg":
        return Known(quality=int(pick("quality")))
    known = Known(sigma=float(pick("sigma")))
    if task == "deblur":
        known = known.with_(kernel=unpad_kernel(pick("kernel"), pick("kernel_size")))
    elif task == "inpaint":
        known = known.with_(mask=pick("mask")[None])
    elif task == "sr":
        known = known.with_(scale=int(pick("scale")))
    return known
