"""Inpainting baselines: biharmonic (scikit-image) and Telea's fast marching (OpenCV).

``known.mask`` is (N, 1, H, W) (or (1, 1, H, W) for the whole batch) with 1 where pixels are
missing. Known pixels are returned unchanged; only the missing ones are filled.
"""

from __future__ import annotations

import numpy as np
import torch

from pixelsmith.degrade.known import Known
from pixelsmith.errors import PixelsmithError
from pixelsmith.restoration.classical._numpy import map_images, require

TELEA_RADIUS = 3


def _masks(y: torch.Tensor, known: Known) -> np.ndarray:
    """Boolean (N, H, W) array of missing pixels, checked against the batch."""
    mask = require(known, "mask")
    n, _, h, w = y.shape
    if mask.ndim != 4 or mask.shape[1] != 1 or mask.shape[-2:] != (h, w) \
            or mask.shape[0] not in (1, n):
        raise ValueError(f"Known.mask must be (N|1, 1, {h}, {w}), got {tuple(mask.shape)}")
    missing = (mask.detach().cpu() > 0.5).expand(n, 1, h, w)[:, 0].numpy()
    if missing.reshape(n, -1).all(axis=1).any():
        raise PixelsmithError("the mask covers the whole image: there is no known pixel to "
                              "fill from")
    return missing


def biharmonic_inpaint(y: torch.Tensor, known: Known) -> torch.Tensor:
    """Fill missing pixels with the smooth (biharmonic) interpolant of the known ones."""
    from skimage.restoration import inpaint_biharmonic

    masks = _masks(y, known)

    def run(z: np.ndarray, i: int) -> np.ndarray:
        if not masks[i].any():
            return z
        return inpaint_biharmonic(z, masks[i], channel_axis=-1 if z.ndim == 3 else None)

    return map_images(y, run)


def telea_inpaint(y: torch.Tensor, known: Known) -> torch.Tensor:
    """Telea's fast-marching inpainting (OpenCV, radius 3) on the 8-bit image.

    OpenCV needs 8-bit input, so the image is rounded to 8 bits for the fill; the known pixels
    are then put back at full precision.
    """
    import cv2

    masks = _masks(y, known)

    def run(z: np.ndarray, i: int) -> np.ndarray:
        missing = masks[i]
        if not missing.any():
            return z
        image8 = np.round(np.clip(z, 0.0, 1.0) * 255.0).astype(np.uint8)
        filled = cv2.inpaint(image8, missing.astype(np.uint8), TELEA_RADIUS, cv2.INPAINT_TELEA)
        filled = filled.astype(np.float64) / 255.0
        where = missing[..., None] if z.ndim == 3 else missing
        return np.where(where, filled, z)

    return map_images(y, run)
