"""Datasets for training and evaluation: image folders, paired folders, degraded patches,
standard sets (MNIST, Fashion-MNIST, CIFAR-10, faces), augmentation, splits and seeding.

All items are float32 tensors in [0, 1], channels first. Every random choice of an item is
drawn from a generator seeded by (seed, epoch, index) (:mod:`pixelsmith.data.seeding`), so a
run gives the same items whatever the number of DataLoader workers; call ``set_epoch`` on the
dataset at the start of each epoch. Importing this package loads torch and numpy only;
Pillow, scipy and urllib-based downloading are loaded when used.
"""

from __future__ import annotations

from pixelsmith.data.augment import (
    DEFAULT_AUGMENT,
    Augment,
    AugmentParams,
    dihedral,
    dihedral_inverse,
)
from pixelsmith.data.degraded import DegradedImages
from pixelsmith.data.folders import ImageFolder
from pixelsmith.data.paired import PairedFolders, match_files
from pixelsmith.data.patches import RandomPatches, known_from_item
from pixelsmith.data.seeding import item_generator, item_seed, seed_all, worker_init_fn
from pixelsmith.data.split import Subset, split_indices, train_val_split
from pixelsmith.data.standard import (
    CIFAR10,
    CIFAR10_CLASSES,
    MNIST,
    CIFAR10Folder,
    ClassFolder,
    FaceFolder,
    FashionMNIST,
    parse_utkface,
    read_idx,
)

__all__ = [
    "CIFAR10",
    "CIFAR10Folder",
    "CIFAR10_CLASSES",
    "ClassFolder",
    "DEFAULT_AUGMENT",
    "Augment",
    "AugmentParams",
    "DegradedImages",
    "FaceFolder",
    "FashionMNIST",
    "ImageFolder",
    "MNIST",
    "PairedFolders",
    "RandomPatches",
    "Subset",
    "dihedral",
    "dihedral_inverse",
    "item_generator",
    "item_seed",
    "known_from_item",
    "match_files",
    "parse_utkface",
    "read_idx",
    "seed_all",
    "split_indices",
    "train_val_split",
    "worker_init_fn",
]
