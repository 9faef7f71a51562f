"""A folder of images as a Dataset of float32 (C, H, W) tensors in [0, 1].

Images are decoded by :mod:`pixelsmith.io` (every format it reads, recursively), converted to
the requested colour, optionally cropped and resized to a fixed size (synthesis data), and
optionally kept in memory. Processed 8-bit images are stored as uint8 (4x smaller than float),
16-bit ones as float32, so a cached set costs about its decoded size: BSD400 takes 13 MB.

Conversions that create new values (RGB -> gray, resizing) are rounded to 8 bits for 8-bit
sources, as if the processed image had been stored; this keeps cached and uncached reads
identical.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
from torch.utils.data import Dataset

from pixelsmith.data.augment import Augment
from pixelsmith.data.seeding import item_generator
from pixelsmith.errors import PixelsmithError
from pixelsmith.io import DEFAULT_MAX_PIXELS, list_images, load_image

COLORS = ("gray", "rgb", "auto")
_GRAY_MODES = ("1", "L", "LA", "La", "I", "F", "I;16", "I;16B", "I;16L", "I;16N")

PathList = str | Path | Sequence[str | Path]


def _pair(size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(size, int):
        size = (size, size)
    height, width = (int(s) for s in size)
    if height < 1 or width < 1:
        raise ValueError(f"size must be positive, got {size}")
    return height, width


def center_crop(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The central ``height`` x ``width`` part of ``x`` (..., H, W) (clamped to the image)."""
    full_h, full_w = x.shape[-2:]
    height, width = min(height, full_h), min(width, full_w)
    top, left = (full_h - height) // 2, (full_w - width) // 2
    return x[..., top:top + height, left:left + width]


def resize_cover(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Resize (N, C, H, W) so it covers ``height`` x ``width`` (aspect kept, MATLAB bicubic,
    antialiased), then center-crop to exactly that size. Values are clipped to [0, 1]."""
    from pixelsmith.degrade import imresize

    full_h, full_w = x.shape[-2:]
    if (full_h, full_w) != (height, width):
        scale = max(height / full_h, width / full_w)
        out = (max(height, round(full_h * scale)), max(width, round(full_w * scale)))
        if out != (full_h, full_w):
            x = imresize(x, size=out).clamp_(0.0, 1.0)
    return center_crop(x, height, width)


class ImageFolder(Dataset):
    """Images under ``root`` (a folder, searched recursively, or a list of files/folders).

    - ``color``: ``"gray"`` (1 channel, BT.601 luma), ``"rgb"`` (3 channels) or ``"auto"``
      (each image as stored; use gray/rgb when a folder mixes both and you batch it).
    - ``center_crop``: side of a central square cut out first (e.g. 178 for CelebA faces).
    - ``size``: fixed output size, int or (height, width): resized to cover it (aspect kept,
      bicubic) and center-cropped. For synthesis data; restoration data keeps full size.
    - ``cache``: decode everything once, now, and keep it in memory (workers started with
      ``fork`` share it). Otherwise the two most recent images are kept.
    - ``augment`` / ``crop``: optional random flips/rotations (and a random ``crop`` side) per
      item, drawn from :func:`~pixelsmith.data.seeding.item_generator` (``seed``, epoch,
      index); call :meth:`set_epoch` each epoch.

    Items are float32 (C, H, W) tensors in [0, 1]; :attr:`paths` lists the files in order.
    """

    def __init__(
        self,
        root: PathList,
        *,
        color: str = "auto",
        size: int | tuple[int, int] | None = None,
        center_crop: int | None = None,
        cache: bool = False,
        recursive: bool = True,
        augment: Augment | None = None,
        crop: int | None = None,
        seed: int = 0,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        if color not in COLORS:
            raise ValueError(f"color must be one of {COLORS}, not {color!r}")
        self.root = root
        self.paths: list[Path] = list_images(root, recursive=recursive)
        if not self.paths:
            raise PixelsmithError(f"{_describe(root)}: no image files found")
        self.color = color
        self.size = None if size is None else _pair(size)
        self.center_crop = None if center_crop is None else int(center_crop)
        self.augment = augment
        self.crop = crop
        self.seed = int(seed)
        self.epoch = 0
        self.max_pixels = max_pixels
        self._cache: list[torch.Tensor] | None = None
        self._recent: OrderedDict[int, torch.Tensor] = OrderedDict()
        if cache:
            self.preload()

    def __len__(self) -> int:
        return len(self.paths)

    def set_epoch(self, epoch: int) -> None:
        """Use the random draws of ``epoch`` (only matters with ``augment``)."""
        self.epoch = int(epoch)

    @property
    def cached(self) -> bool:
        """Whether every image is held in memory."""
        return self._cache is not None

    def preload(self, threads: int | None = None) -> None:
        """Decode every image now and keep it (decoding runs in a few threads)."""
        if self._cache is not None:
            return
        threads = threads or min(8, os.cpu_count() or 1)
        with ThreadPoolExecutor(max_workers=threads) as pool:
            self._cache = list(pool.map(self._decode, range(len(self.paths))))

    def nbytes(self) -> int:
        """Memory the processed images take when cached; before caching, an estimate from the
        file headers at one byte per sample (16-bit files take 4 once decoded)."""
        if self._cache is not None:
            return sum(t.numel() * t.element_size() for t in self._cache)
        total = 0
        for index in range(len(self.paths)):
            channels, height, width = self.shape(index)
            total += channels * height * width
        return total

    def shape(self, index: int) -> tuple[int, int, int]:
        """(C, H, W) of processed image ``index``, from the cache or the file header (cheap)."""
        if self._cache is not None:
            return tuple(self._cache[index].shape)  # type: ignore[return-value]
        from PIL import Image as PILImage

        path = self.paths[index]
        try:
            with PILImage.open(path) as img:
                width, height = img.size
                gray = img.mode in _GRAY_MODES
                if img.getexif().get(0x0112, 1) in (5, 6, 7, 8):
                    width, height = height, width
        except (OSError, ValueError, SyntaxError) as exc:
            raise PixelsmithError(f"{path}: cannot read image header ({exc})") from None
        channels = {"gray": 1, "rgb": 3}.get(self.color, 1 if gray else 3)
        if self.center_crop is not None:
            height, width = min(height, self.center_crop), min(width, self.center_crop)
        if self.size is not None:
            height, width = self.size
        return channels, height, width

    def _decode(self, index: int) -> torch.Tensor:
        """Read and process image ``index``: uint8 (C, H, W) for 8-bit files, else float32."""
        image = load_image(self.paths[index], max_pixels=self.max_pixels)
        pixels = image.pixels
        if self.color == "gray" and pixels.shape[1] == 3:
            from pixelsmith.color import rgb_to_gray

            pixels = rgb_to_gray(pixels)
        elif self.color == "rgb" and pixels.shape[1] == 1:
            pixels = pixels.expand(-1, 3, -1, -1)
        if self.center_crop is not None:
            pixels = center_crop(pixels, self.center_crop, self.center_crop)
        if self.size is not None:
            pixels = resize_cover(pixels, *self.size)
        if image.bit_depth == 8:
            return torch.round(pixels[0].clamp(0, 1) * 255.0).to(torch.uint8).contiguous()
        return pixels[0].contiguous()

    def stored(self, index: int) -> torch.Tensor:
        """Processed image ``index`` as stored: uint8 (8-bit sources) or float32, (C, H, W)."""
        if self._cache is not None:
            return self._cache[index]
        if index in self._recent:
            self._recent.move_to_end(index)
            return self._recent[index]
        data = self._decode(index)
        self._recent[index] = data
        while len(self._recent) > 2:
            self._recent.popitem(last=False)
        return data

    def read(self, index: int) -> torch.Tensor:
        """Processed image ``index`` as float32 (C, H, W) in [0, 1], without augmentation."""
        return to_float(self.stored(index))

    def __getitem__(self, index: int) -> torch.Tensor:
        index = int(index)
        if index < 0:
            index += len(self)
        data = self.stored(index)
        if self.augment is not None or self.crop is not None:
            augment = self.augment or Augment(flip=False, rot90=False)
            gen = item_generator(self.seed, self.epoch, index)
            params = augment.draw(data.shape[-2], data.shape[-1], self.crop, gen)
            data = params.apply(data)
        return to_float(data)


def to_float(data: torch.Tensor) -> torch.Tensor:
    """uint8 levels -> float32 in [0, 1]; float tensors are returned as float32 copies."""
    if data.dtype == torch.uint8:
        return data.to(torch.float32).div_(255.0)
    return data.to(torch.float32, copy=True)


def _describe(root: PathList) -> str:
    if isinstance(root, (str, Path)):
        return str(root)
    items = [str(r) for r in root]
    return ", ".join(items[:3]) + (f" and {len(items) - 3} more" if len(items) > 3 else "")
