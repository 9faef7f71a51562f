"""JPEG compression as a (non-linear, deterministic) degradation, through Pillow's libjpeg."""

from __future__ import annotations

import io

import numpy as np
import torch

from pixelsmith.degrade.base import Operator

SUBSAMPLINGS = ("4:4:4", "4:2:2", "4:2:0")


class JPEG(Operator):
    """Encode each image of the batch as an 8-bit JPEG at ``quality`` (1-100) and decode it.

    Gray images (C = 1) are coded as gray, RGB (C = 3) with chroma ``subsampling`` (Pillow's
    default "4:2:0", as most JPEG artifact-removal papers use; "4:4:4" keeps full chroma).
    The input is clipped to [0, 1] and rounded to 8 bits first; the output is k / 255.
    """

    def __init__(self, quality: int, subsampling: str = "4:2:0") -> None:
        if isinstance(quality, bool) or int(quality) != quality or not 1 <= int(quality) <= 100:
            raise ValueError(f"JPEG quality must be an integer in 1..100, got {quality}")
        if subsampling not in SUBSAMPLINGS:
            raise ValueError(f"subsampling must be one of {SUBSAMPLINGS}, not {subsampling!r}")
        self.quality = int(quality)
        self.subsampling = subsampling

    def _roundtrip(self, image: torch.Tensor) -> np.ndarray:
        """(C, H, W) float -> JPEG bytes -> (H, W, C) uint8."""
        from PIL import Image

        data = torch.round(image.detach().clamp(0, 1) * 255).to(torch.uint8).cpu().numpy()
        data = data[0] if data.shape[0] == 1 else data.transpose(1, 2, 0)
        buffer = io.BytesIO()
        options = {"quality": self.quality}
        if data.ndim == 3:
            options["subsampling"] = self.subsampling
        Image.fromarray(data).save(buffer, format="JPEG", **options)
        buffer.seek(0)
        with Image.open(buffer) as decoded:
            out = np.asarray(decoded)
        return out[:, :, None] if out.ndim == 2 else out

    def apply(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        if x.shape[1] not in (1, 3):
            raise ValueError(f"JPEG needs 1 (gray) or 3 (RGB) channels, got {x.shape[1]}")
        decoded = [self._roundtrip(image) for image in x]
        array = np.stack(decoded).transpose(0, 3, 1, 2)
        return torch.from_numpy(array).to(device=x.device, dtype=x.dtype) / 255.0

    def describe(self) -> str:
        return f"JPEG quality={self.quality} ({self.subsampling})"
