"""Clean random crops from several image folders, each folder equally likely (codec training)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch.nn import functional as F
from torch.utils.data import Dataset

from pixelsmith.data.augment import Augment
from pixelsmith.data.folders import ImageFolder, to_float
from pixelsmith.data.seeding import item_generator


class RandomCrops(Dataset):
    """Clean random square crops from several folders, each folder equally likely.

    Item ``i`` of epoch ``e`` draws its folder, image, crop and transform from
    ``item_generator(seed, e, i)``, so items do not depend on worker count or order. Images
    smaller than the crop are padded by edge replication first.
    """

    def __init__(self, roots: list[Path], patch_size: int, *, length: int, color: str = "rgb",
                 seed: int = 0, cache: bool = False, flips: bool = True,
                 rot90: bool = True) -> None:
        self.folders = [ImageFolder(root, color=color, cache=cache) for root in roots]
        self.patch_size, self.length, self.seed = int(patch_size), int(length), int(seed)
        self.augment = Augment(flip=flips, rot90=rot90)
        self.epoch = 0

    def __len__(self) -> int:
        return self.length

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __getitem__(self, index: int) -> dict:
        gen = item_generator(self.seed, self.epoch, int(index))
        folder = self.folders[int(torch.randint(len(self.folders), (), generator=gen))]
        data = folder.stored(int(torch.randint(len(folder), (), generator=gen)))
        height, width = data.shape[-2:]
        if min(height, width) < self.patch_size:
            bottom, right = max(0, self.patch_size - height), max(0, self.patch_size - width)
            data = F.pad(to_float(data)[None], (0, right, 0, bottom), mode="replicate")[0]
        params = self.augment.draw(data.shape[-2], data.shape[-1], self.patch_size, gen)
        return {"image": to_float(params.apply(data))}
