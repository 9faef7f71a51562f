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
item (or one entry of a batch) into the :class:`~pixelsmith.degrade.known.Known` a restorer takes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from pixelsmith.data.augment import DEFAULT_AUGMENT, Augment
from pixelsmith.data.folders import ImageFolder, to_float
from pixelsmith.data.seeding import item_generator
from pixelsmith.degrade.draws import DegradationSpec, degrade_patch, unpad_kernel
from pixelsmith.degrade.known import TASKS, Known
from pixelsmith.errors import PixelsmithError

DEFAULT_CACHE_LIMIT = 2 * 1024**3  # bytes of decoded images RandomPatches keeps in memory


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
    """The :class:`~pixelsmith.degrade.known.Known` of one item, or of entry ``index`` of a collated
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
