"""JPEG artifact removal baseline: the decoded JPEG itself, against which methods are compared."""

from __future__ import annotations

import torch

from pixelsmith.degrade.known import Known


def identity(y: torch.Tensor, known: Known) -> torch.Tensor:
    """Return the input unchanged (clipped to [0, 1]); ``known.quality`` is not needed."""
    return y.clamp(0.0, 1.0)
