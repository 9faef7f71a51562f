"""Standard image sets as Datasets of (image, label): MNIST, Fashion-MNIST, CIFAR-10, faces.

Images are float32 (C, H, W) tensors in [0, 1]; labels are Python ints (``default_collate``
makes an int64 tensor of them; -1 means "no label"). Each set's ``root`` defaults to its
usual folder under :func:`pixelsmith.settings.data_root`; when the files are not there a
:class:`PixelsmithError` names the expected path and how to download them.

File formats:

- MNIST / Fashion-MNIST: the idx files (``train-images-idx3-ubyte``, ``t10k-labels-idx1-
  ubyte``, ...), raw or gzipped (detected from the content). :func:`read_idx` checks the
  header, type code, dimensions and exact length, so a truncated or corrupt file fails cleanly.
- CIFAR-10: the official "python version" is pickled batches (``cifar-10-batches-py/
  data_batch_1..5``, ``test_batch``). Unpickling can run code, so only those file names are
  read, and with an unpickler that resolves nothing but the numpy array constructors the
  official files need (anything else is refused). Class-folder copies (``<class>/*.png``)
  are read by :class:`CIFAR10Folder`.
- Faces: a folder of face images (CelebA-style, or UTKFace whose file names carry
  ``age_gender_race_date``), center-cropped and resized to a square.
"""

from __future__ import annotations

import gzip
import math
import pickle
import struct
import zlib
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from pixelsmith.data.augment import Augment
from pixelsmith.data.download import DEFAULT_FOLDERS
from pixelsmith.data.folders import ImageFolder
from pixelsmith.errors import PixelsmithError
from pixelsmith.io import list_images
from pixelsmith.settings import dataset_path

# -- idx files ------------------------------------------------------------------------------
_IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
IDX_MAX_BYTES = 1 << 31  # refuse headers promising more than this (corrupt or hostile)


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == b"\x1f\x8b"


def read_idx(path: str | Path, *, max_bytes: int = IDX_MAX_BYTES) -> np.ndarray:
    """Read an idx file (raw or gzipped) into a numpy array, with strict checks.

    The header is two zero bytes, a type code, the number of dimensions, then one big-endian
    uint32 per dimension; the data must have exactly the promised length. Any deviation
    (bad magic, unknown type, truncation, trailing bytes, broken gzip) raises
    :class:`PixelsmithError`.
    """
    path = Path(path)
    if not path.is_file():
        raise PixelsmithError(f"{path}: no such file")
    try:
        opener = gzip.open if _is_gzip(path) else open
        with opener(path, "rb") as handle:
            head = handle.read(4)
            if len(head) < 4 or head[0] or head[1] or head[2] not in _IDX_TYPES or not head[3]:
                raise PixelsmithError(f"{path}: not an idx file (bad magic number {head.hex()})")
            ndim, dtype = head[3], _IDX_TYPES[head[2]]
            raw_dims = handle.read(4 * ndim)
            if len(raw_dims) != 4 * ndim:
                raise PixelsmithError(f"{path}: idx header is truncated")
            dims = struct.unpack(f">{ndim}I", raw_dims)
            nbytes = math.prod(dims) * dtype.itemsize
            if nbytes > max_bytes:
                raise PixelsmithError(f"{path}: idx header promises {nbytes} bytes, too many")
            data = handle.read(nbytes + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise PixelsmithError(f"{path}: corrupt or unreadable file ({exc})") from None
    if len(data) != nbytes:
        what = "truncated" if len(data) < nbytes else "longer than its header says"
        raise PixelsmithError(f"{path}: idx data is {what} (dims {dims}, {len(data)} bytes)")
    return np.frombuffer(data, dtype=dtype).reshape(dims).astype(dtype.newbyteorder("="))


def _missing(what: str, expected: str, name: str, root: Path) -> PixelsmithError:
    return PixelsmithError(
        f"{what} not found: expected {expected}; download it with "
        f"pixelsmith.data.download.fetch({name!r}, {str(root)!r}) or set $PIXELSMITH_DATA"
    )


def _find_idx(root: Path, stem: str) -> Path | None:
    for folder in (root, root / "raw"):
        for name in (stem, stem + ".gz"):
            if (folder / name).is_file():
                return folder / name
    return None


class MNIST(Dataset):
    """MNIST digits: (1, 28, 28) images in [0, 1] (white digits on black) and labels 0-9.

    ``train`` picks the 60,000 training or 10,000 test images. Files are read from ``root``
    (or ``root/raw``), default ``$PIXELSMITH_DATA/digits/MNIST``; the whole set is held in
    memory as uint8 (47 MB for the training images).
    """

    name = "mnist"
    title = "MNIST"
    classes: tuple[str, ...] = tuple(str(d) for d in range(10))

    def __init__(self, root: str | Path | None = None, train: bool = True) -> None:
        self.root = Path(root) if root is not None else dataset_path(DEFAULT_FOLDERS[self.name])
        self.train = bool(train)
        prefix = "train" if self.train else "t10k"
        image_file = _find_idx(self.root, f"{prefix}-images-idx3-ubyte")
        label_file = _find_idx(self.root, f"{prefix}-labels-idx1-ubyte")
        if image_file is None or label_file is None:
            expected = f"{self.root}/{prefix}-{{images-idx3,labels-idx1}}-ubyte[.gz]"
            raise _missing(self.title, expected, self.name, self.root)
        images, labels = read_idx(image_file), read_idx(label_file)
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
            raise PixelsmithError(f"{image_file}: expected uint8 N x 28 x 28 images, "
                                  f"got {images.dtype} {images.shape}")
        if labels.dtype != np.uint8 or labels.ndim != 1:
            raise PixelsmithError(f"{label_file}: expected a uint8 label vector, "
                                  f"got {labels.dtype} {labels.shape}")
        if len(images) != len(labels):
            raise PixelsmithError(f"{image_file}: {len(images)} images but {len(labels)} labels")
        if labels.size and int(labels.max()) >= len(self.classes):
            raise PixelsmithError(f"{label_file}: label {int(labels.max())} is out of range")
        self.images = torch.from_numpy(np.ascontiguousarray(images))
        self.labels = torch.from_numpy(labels.astype(np.int64))

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image = self.images[index].to(torch.float32).div_(255.0)[None]
        return image, int(self.labels[index])


class FashionMNIST(MNIST):
    """Fashion-MNIST (Zalando): MNIST's format and sizes, 10 clothing classes.

    Default root ``$PIXELSMITH_DATA/digits/FashionMNIST``.
    """

    name = "fashion-mnist"
    title = "Fashion-MNIST"
    classes = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot")


# -- CIFAR-10 ---------------------------------------------------------------------------------
#: Official CIFAR-10 label order (``batches.meta``), which is also alphabetical.
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST = ("test_batch",)
_RECONSTRUCT = np.ndarray((0,)).__reduce__()[0]  # numpy's array reconstructor
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): __import__("codecs").encode,  # bytes as written by Python 3 pickles
}


class _BatchUnpickler(pickle.Unpickler):
    """Resolves only the globals a CIFAR batch needs; anything else is refused."""

    def find_class(self, module: str, name: str):  # noqa: D102
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}") from None


def load_cifar_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 3, 32, 32), labels int64 (N,)) from one official CIFAR-10 batch.

    Only the official file names are accepted, and the pickle is loaded with
    ``encoding="bytes"`` (the files come from Python 2) by an unpickler that can build numpy
    arrays and nothing else: a hostile file fails instead of running code.
    """
    path = Path(path)
    if path.name not in CIFAR10_TRAIN + CIFAR10_TEST:
        raise PixelsmithError(f"{path}: not a CIFAR-10 batch name; refusing to unpickle it")
    try:
        with open(path, "rb") as handle:
            batch = _BatchUnpickler(handle, encoding="bytes").load()
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError) as exc:
        raise PixelsmithError(f"{path}: corrupt or unexpected CIFAR-10 batch ({exc})") from None
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise PixelsmithError(f"{path}: CIFAR-10 batch lacks 'data' or 'labels'")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise PixelsmithError(f"{path}: expected uint8 N x 3072 data, got {data.dtype} "
                              f"{data.shape}")
    if labels.shape != (len(data),) or (labels.size and not 0 <= labels.min() <= labels.max()
                                         < len(CIFAR10_CLASSES)):
        raise PixelsmithError(f"{path}: labels do not match the data or are out of range")
    return data.reshape(-1, 3, 32, 32), labels


class CIFAR10(Dataset):
    """CIFAR-10 from the official python batches: (3, 32, 32) images, labels 0-9 in the
    official class order (:data:`CIFAR10_CLASSES`).

    ``root`` holds ``cifar-10-batches-py/`` (or is that folder); default
    ``$PIXELSMITH_DATA/cifar10``. ``train`` picks the 50,000 training images (5 batches) or
    the 10,000 test images.
    """

    classes = CIFAR10_CLASSES

    def __init__(self, root: str | Path | None = None, train: bool = True) -> None:
        self.root = Path(root) if root is not None else dataset_path(DEFAULT_FOLDERS["cifar10"])
        folder = self.root if self.root.name == CIFAR10_FOLDER else self.root / CIFAR10_FOLDER
        names = CIFAR10_TRAIN if train else CIFAR10_TEST
        if not all((folder / n).is_file() for n in names):
            raise _missing("CIFAR-10 (python version)", f"{folder}/{{{','.join(names)}}}",
                           "cifar10", self.root)
        parts = [load_cifar_batch(folder / n) for n in names]
        self.images = torch.from_numpy(np.concatenate([p[0] for p in parts]))
        self.labels = torch.from_numpy(np.concatenate([p[1] for p in parts]))

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index].to(torch.float32).div_(255.0), int(self.labels[index])


class ClassFolder(Dataset):
    """Images in one sub-folder per class (``root/<class>/*``); label = index of the class in
    the sorted folder names. Options as in :class:`~pixelsmith.data.folders.ImageFolder`."""

    def __init__(self, root: str | Path, *, color: str = "rgb",
                 size: int | tuple[int, int] | None = None, cache: bool = False) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise PixelsmithError(f"{self.root}: no such folder")
        self.classes = tuple(sorted(d.name for d in self.root.iterdir() if d.is_dir()))
        paths, labels = [], []
        for label, name in enumerate(self.classes):
            found = list_images(self.root / name)
            paths.extend(found)
            labels.extend([label] * len(found))
        if not paths:
            raise PixelsmithError(f"{self.root}: no images in class sub-folders")
        self.labels = labels
        self.images = ImageFolder(paths, color=color, size=size, cache=cache)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index], self.labels[index]


class CIFAR10Folder(ClassFolder):
    """CIFAR-10 as class-folder images (``<class>/*.png``), default
    ``$PIXELSMITH_DATA/cifar10/test``; the folder names must be the 10 CIFAR-10 classes, so
    labels agree with :class:`CIFAR10`."""

    def __init__(self, root: str | Path | None = None, *, cache: bool = False) -> None:
        root = Path(root) if root is not None else dataset_path(DEFAULT_FOLDERS["cifar10"]) / "test"
        if not root.is_dir():
            raise PixelsmithError(
                f"CIFAR-10 images not found: expected {root}/<class>/*.png; for the official "
                "python batches use pixelsmith.data.download.fetch('cifar10', ROOT) and "
                "pixelsmith.data.CIFAR10"
            )
        super().__init__(root, color="rgb", cache=cache)
        if self.classes != CIFAR10_CLASSES:
            raise PixelsmithError(f"{root}: class folders {list(self.classes)} are not the 10 "
                                  f"CIFAR-10 classes {list(CIFAR10_CLASSES)}")


# -- faces ------------------------------------------------------------------------------------
FACE_ATTRIBUTES = ("age", "gender", "race")
#: First ages of the age groups of the ``"gender_age"`` label: 0-14, 15-29, 30-44, 45-59, 60+.
FACE_AGE_GROUPS = (0, 15, 30, 45, 60)
FACE_LABELS = (*FACE_ATTRIBUTES, "gender_age")
UTKFACE_PAGE = "https://susanqq.github.io/UTKFace/"


def parse_utkface(name: str) -> dict[str, int]:
    """Attributes from a UTKFace file name ``age_gender_race_date.jpg[.chip.jpg]``: age in
    years, gender (0 male, 1 female), race (0-4); -1 where a field is missing or malformed."""
    parts = name.split("_")
    values = {key: -1 for key in FACE_ATTRIBUTES}
    if len(parts) < 3:  # not a UTKFace name (every one has at least age_gender_date)
        return values
    limits = {"age": 200, "gender": 1, "race": 4}
    for key, text in zip(FACE_ATTRIBUTES, parts[:3], strict=False):
        if not (text.isdigit() and int(text) <= limits[key]):
            break
        values[key] = int(text)
    return values


def face_label(attributes: dict[str, int], label: str | None) -> int:
    """The label ``label`` (one of :data:`FACE_LABELS`) of parsed UTKFace ``attributes``;
    ``"gender_age"`` is ``gender * 5 + age group`` (10 classes). -1 when unknown."""
    if label is None:
        return -1
    if label != "gender_age":
        return attributes[label]
    age, gender = attributes["age"], attributes["gender"]
    if age < 0 or gender < 0:
        return -1
    group = sum(age >= start for start in FACE_AGE_GROUPS) - 1
    return gender * len(FACE_AGE_GROUPS) + group


class FaceFolder(Dataset):
    """Face images, center-cropped to a square (side ``crop``, default the shorter side) and
    resized to ``size`` x ``size`` RGB: items are (image, label).

    ``label`` picks a UTKFace attribute parsed from the file names (``"age"``, ``"gender"``,
    ``"race"``, or ``"gender_age"``: gender x 5 age groups, see :func:`face_label`) as the
    label; default None gives -1. :attr:`attributes` holds all of them.
    ``augment`` (e.g. ``Augment(flip=True, rot90=False)`` for mirrored faces) is drawn per
    item from (``seed``, epoch, index); call :meth:`set_epoch`. Default root
    ``$PIXELSMITH_DATA/faces/UTKFace``.
    """

    def __init__(self, root: str | Path | None = None, size: int = 64, *,
                 crop: int | None = None, label: str | None = None, cache: bool = False,
                 augment: Augment | None = None, seed: int = 0) -> None:
        self.root = Path(root) if root is not None else dataset_path(DEFAULT_FOLDERS["faces"])
        if label is not None and label not in FACE_LABELS:
            raise ValueError(f"label must be one of {FACE_LABELS} or None, not {label!r}")
        if not self.root.is_dir():
            raise PixelsmithError(
                f"face images not found: expected a folder of images at {self.root}; download "
                f"UTKFace (aligned & cropped faces) from {UTKFACE_PAGE} or use a CelebA folder, "
                "and point $PIXELSMITH_DATA or root at it"
            )
        self.images = ImageFolder(self.root, color="rgb", size=int(size), center_crop=crop,
                                  cache=cache, augment=augment, seed=seed)
        self.label = label
        self.attributes = [parse_utkface(p.name) for p in self.images.paths]

    def __len__(self) -> int:
        return len(self.images)

    def set_epoch(self, epoch: int) -> None:
        """Use the random draws of ``epoch`` (only matters with ``augment``)."""
        self.images.set_epoch(epoch)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index], face_label(self.attributes[index], self.label)
