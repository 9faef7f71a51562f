"""The contract of a restoration method, declared instead of probed.

Every registered method loads to a :class:`RestoreMethod`: ``method(y, known) -> x_hat`` on
(N, C, H, W) float tensors in [0, 1]. Methods that run networks also satisfy
:class:`ConfiguredMethod` (they take the run options: device, tiles, precision, backend), and
methods that sample a latent posterior (the VAEs) satisfy :class:`SamplingMethod` (a number of
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
    """A method that runs networks and takes the restorer's run options; it says which
    options it runs with (``options``, "auto" precision resolved) and which backend its
    networks ran on (``backend``: "torch" or "onnxruntime")."""

    options: RunOptions
    backend: str

    def configure(self, options: RunOptions) -> None: ...


@runtime_checkable
class SamplingMethod(ConfiguredMethod, Protocol):
    """A method whose output is the mean of ``samples`` posterior samples (a VAE)."""

    samples: int | None

    def with_std(self, y: torch.Tensor, known: Known, progress=None
                 ) -> tuple[torch.Tensor, torch.Tensor]: ...


def networks_backend(used: list[str | None], options: RunOptions) -> str:
    """The backend of a method that runs several networks: "onnxruntime" if one of those it
    loaded (``used``: their backends, None for classical steps) runs there; before it loaded
    any, the one ``options`` ask for ("auto" counts as torch until a network is measured)."""
    if any(backend is not None for backend in used):
        return "onnxruntime" if "onnxruntime" in used else "torch"
    return "onnxruntime" if options.backend == "onnxruntime" else "torch"
