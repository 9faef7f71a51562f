"""Baselines for real photos with unknown, mixed damage (the ``photo`` task).

A photo may carry sensor noise, JPEG blocking, blur and a low resolution at once, with none of
their parameters known. Beside the blind models trained on realistic degradations (``photo``,
``photo-x4``), the task has two methods that chain what exists, to compare them with:

- ``photo-chain``: the specialised shipped models in sequence: the noise level estimated per
  image, the default denoiser at that level, the de-JPEG model when the JPEG quality is known
  (a JPEG file's tables), and the default super-resolution model for ``scale`` 2 or 4
  (MATLAB bicubic for another scale).
- ``photo-classical``: (C)BM3D at the estimated noise level, then MATLAB bicubic.

``scale`` is the upscaling factor (1, the default, keeps the size); ``strength``
(:mod:`pixelsmith.restoration.strength`) mixes the input back in.
"""

from __future__ import annotations

import torch

from pixelsmith.degrade.estimate import estimate_sigma
from pixelsmith.degrade.known import Known
from pixelsmith.errors import PixelsmithError
from pixelsmith.restoration.method import networks_backend
from pixelsmith.restoration.restorer import Restorer
from pixelsmith.restoration.trained import RunOptions

NOISE_FLOOR = 0.5 / 255.0  # an estimate below half a grey level is no noise worth removing


def photo_scale(known: Known) -> int:
    """The upscaling factor of a photo restoration (1 when not given)."""
    scale = 1 if known.scale is None else int(known.scale)
    if scale < 1:
        raise PixelsmithError(f"scale must be 1 or more for task photo, not {scale}")
    return scale


class PhotoChain:
    """Estimate sigma -> denoise -> de-JPEG (quality known) -> super-resolve, each step the
    task's default method (shipped models where they beat the baselines)."""

    denoiser_task = "denoise"

    def __init__(self) -> None:
        self.options = RunOptions()
        self._steps: dict[str, Restorer] = {}  # loaded once per task, reused for every image

    def configure(self, options: RunOptions) -> None:
        self.options = options.checked()
        self._steps.clear()

    @property
    def backend(self) -> str:
        """The backend its steps' networks run on (see :func:`networks_backend`)."""
        return networks_backend([step.backend for step in self._steps.values()], self.options)

    def _restore(self, task: str, y: torch.Tensor, known: Known) -> torch.Tensor:
        if task not in self._steps:
            run = self.options
            self._steps[task] = Restorer(task, self.method_for(task), device=run.device,
                                         tile=run.tile, overlap=run.overlap,
                                         precision=run.precision, backend=run.backend)
        return self._steps[task](y, known)

    def method_for(self, task: str) -> str | None:
        """The method of each step: None is the task's default for the input."""
        return None

    def __call__(self, y: torch.Tensor, known: Known) -> torch.Tensor:
        scale = photo_scale(known)
        x = y
        sigma = estimate_sigma(y).cpu()
        if float(sigma.max()) > NOISE_FLOOR:
            x = self._restore(self.denoiser_task, x, Known(sigma=sigma.clamp(min=0.0)))
        if known.quality is not None and self.method_for("dejpeg") != "skip":
            x = self._restore("dejpeg", x, Known(quality=int(known.quality)))
        if scale > 1:
            x = self._restore("sr", x, Known(scale=scale))
        return x


class ClassicalPhotoChain(PhotoChain):
    """(C)BM3D at the estimated noise level, then MATLAB bicubic: no learned step."""

    def method_for(self, task: str) -> str | None:
        return {"denoise": "bm3d", "sr": "bicubic", "dejpeg": "skip"}[task]
