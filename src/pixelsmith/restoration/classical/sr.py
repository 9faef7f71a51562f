"""Super-resolution baseline: MATLAB-style bicubic interpolation (the reference to beat)."""

from __future__ import annotations

import torch

from pixelsmith.degrade.known import Known
from pixelsmith.restoration.classical._numpy import check_input, require


def bicubic_upscale(y: torch.Tensor, known: Known) -> torch.Tensor:
    """Enlarge by ``known.scale`` with MATLAB's ``imresize`` bicubic, clipped to [0, 1]."""
    from pixelsmith.degrade.resize import imresize

    check_input(y)
    scale = require(known, "scale")
    return imresize(y, float(scale)).clamp(0.0, 1.0).to(y.dtype)
