"""What every restoration network declares, so that callers read it instead of probing.

The restore path, ONNX export, quantization, pruning and the explain tools all need the same
four facts about a restoration network: its image channels, the extra input it takes, its
upscaling factor and the size multiple it pads to. :class:`RestorationNet` is the base class
that declares them; :class:`RestorationInterface` is the same contract for objects that stand
in for such a network without being a module (ONNX Runtime sessions).
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from torch import nn

Conditioning = Literal["sigma", "quality", "mask"] | None
CONDITIONINGS: tuple[Conditioning, ...] = (None, "sigma", "quality", "mask")


@runtime_checkable
class RestorationInterface(Protocol):
    """The declared facts of a restoration network (see :class:`RestorationNet`)."""

    channels: int
    conditioning: Conditioning
    scale: int
    multiple: int


class RestorationNet(nn.Module):
    """Base class of the restoration networks; each subclass sets the four facts.

    - ``channels``: image channels in and out (1 gray, 3 colour).
    - ``conditioning``: the second input ``forward(y, level)`` takes: "sigma" (noise level
      / 255), "quality" (JPEG quality / 100), "mask" (1 where pixels are missing) or None
      (blind: ``forward(y)``).
    - ``scale``: the upscaling factor (1 for networks that keep the size).
    - ``multiple``: the network pads its input to a multiple of this size and crops back, so
      callers may pass any size; an exporter may still declare it.
    """

    channels: int = 1
    conditioning: Conditioning = None
    scale: int = 1
    multiple: int = 1


def unwrapped(model: object) -> object:
    """The network inside a data-parallel wrapper (``DistributedDataParallel`` under
    ``torchrun``, ``DataParallel``), which declares nothing itself; any other model as is."""
    while isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
        model = model.module
    return model


def conditioning_of(model: object) -> Conditioning:
    """The conditioning of a restoration network or stand-in, also inside a data-parallel
    wrapper; None for any other model (an autoencoder, a codec), which takes the image alone."""
    model = unwrapped(model)
    return model.conditioning if isinstance(model, RestorationInterface) else None
