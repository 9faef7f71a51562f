"""The contract of a restoration method, declared instead of probed.

Every registered method loads to a :class:`RestoreMethod`: ``method(y, known) -> x_hat`` on
(N, C, H, W) float tensors in [0, 1]. Methods that run networks also satisfy
:class:`ConfiguredMethod` (they take the run options: device, tiles, precision), and methods
that sample a latent posterior (the VAEs) satisfy :class:`SamplingMethod` (a number of
samples and a per-pixel standard deviation; ``progress(done, total)`` per step and sample).
The :class:`~.restorer.Restorer` checks these protocols, never attribute names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import torch

from pixelsmith.degrade.known import Known

if TYPE_CHECKING:
    from pixelsmith.restoration.trained import RunOptions


@runtime_checkable
class RestoreMethod(Protocol):
    """``(y, known) -> x_hat``: all a classical baseline is."""

    def __call__(self, y: torch.Tensor, known: Known) -> torch.Tensor: ...


@runtime_checkable
class ConfiguredMethod(RestoreMethod, Protocol):
    """A method that runs networks and takes the restorer's run options."""

    def configure(self, options: RunOptions) -> None: ...


@runtime_checkable
class SamplingMethod(ConfiguredMethod, Protocol):
    """A method whose output is the mean of ``samples`` posterior samples (a VAE)."""

    samples: int | None

    def with_std(self, y: torch.Tensor, known: Known, progress=None
                 ) -> tuple[torch.Tensor, torch.Tensor]: ...
