"""Whole fixed-size images degraded on the fly: restoration training pairs without cropping.

:class:`RandomPatches` cuts patches from photos of any size; aligned faces (or any set of
same-size images) are instead used whole, so that a model learns to fill holes the size of
an eye or a mouth from the whole face around them. :class:`DegradedImages` wraps a dataset
of such images (e.g. the training split of :class:`~pixelsmith.data.FaceFolder`, resized)
and returns :mod:`pixelsmith.data.patches` items (``clean``, ``degraded``, ``sigma``,
``kernel``, ``kernel_size``, ``mask``, ``scale``, ``quality``, ``image``), degraded as a
:class:`~pixelsmith.degrade.draws.DegradationSpec` says. Every random draw of item ``i`` in epoch
``e`` (augmentation, then degradation) comes from ``item_generator(seed, e, i)``.
"""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from pixelsmith.data.augment import Augment
from pixelsmith.data.seeding import item_generator
from pixelsmith.degrade.draws import DegradationSpec, degrade_patch

NO_AUGMENT = Augment(flip=False, rot90=False)


def _image_of(item) -> torch.Tensor:
    """The image of a dataset item: a tensor, an (image, label) pair or ``{"image": ...}``."""
    if isinstance(item, dict):
        return item["image"]
    if isinstance(item, (tuple, list)):
        return item[0]
    return item


class DegradedImages(Dataset):
    """Items of ``images`` (same-size (C, H, W) tensors in [0, 1]) degraded by ``spec``.

    ``augment`` flips/rotates the whole image (faces: ``Augment(flip=True, rot90=False)``);
    scale jitter needs a crop and is refused. With a blur spec whose ``boundary`` is
    ``"valid"``, the clean target is the image without a margin of ``spec.margin()`` pixels.
    Call :meth:`set_epoch` at the start of each epoch for fresh draws.
    """

    def __init__(self, images: Dataset, spec: DegradationSpec, *,
                 augment: Augment | None = None, seed: int = 0) -> None:
        if spec.task == "sr":
            raise ValueError("whole-image pairs keep the image size; super-resolution needs "
                             "patches")
        self.augment = augment if augment is not None else NO_AUGMENT
        if self.augment.scale_jitter is not None:
            raise ValueError("scale jitter needs random crops; whole images are not cropped")
        self.images, self.spec, self.seed = images, spec, int(seed)
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.images)

    def set_epoch(self, epoch: int) -> None:
        """Use the random draws of ``epoch`` (and pass it on to the image set)."""
        self.epoch = int(epoch)
        setter = getattr(self.images, "set_epoch", None)
        if setter is not None:
            setter(epoch)

    def __getitem__(self, index: int) -> dict:
        index = int(index)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} images")
        image = _image_of(self.images[index])
        gen = item_generator(self.seed, self.epoch, index)
        params = self.augment.draw(image.shape[-2], image.shape[-1], None, gen)
        item = degrade_patch(self.spec, params.apply(image)[None].contiguous(), gen)
        item["image"] = torch.tensor(index, dtype=torch.int64)
        return item
