"""The typed view of a loaded model's ``config.json``.

:func:`pixelsmith.zoo.load_model` puts the config dict on ``model.pixelsmith_config`` (the
public attribute); code that needs a field reads it through :func:`config_of`, which also
answers for a network that pixelsmith did not load (every field ``None`` or empty), so no
caller probes attributes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from torch import nn

from pixelsmith.errors import PixelsmithError

#: What a restoration model may need to know (fields of pixelsmith.degrade.known.Known).
Need = Literal["sigma", "kernel", "mask", "scale", "quality"]


class NetworkSpec(BaseModel):
    """The network a model package rebuilds: a registered name and its constructor args."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    args: dict[str, Any] = {}


class ModelConfig(BaseModel):
    """The fields of ``config.json`` that code reads; other entries are kept as extras."""

    model_config = ConfigDict(extra="allow", frozen=True)
    name: str | None = None
    family: str | None = None
    task: str | None = None
    channels: Annotated[int, Field(gt=0)] | None = None
    needs: list[Need] = []
    network: NetworkSpec | None = None
    sha256: str | None = None  # of the weights file
    quantized: dict[str, Any] | None = None  # the int8 graph of a `pixelsmith quantize` package

    @property
    def network_name(self) -> str:
        """The registered network name, or "" when the config names none."""
        return self.network.name if self.network else ""

    def display_name(self, module: nn.Module) -> str:
        """The model's name, else its class name (for messages)."""
        return self.name or type(module).__name__


EMPTY = ModelConfig()


def raw_config(module: object) -> dict:
    """The config dict :func:`pixelsmith.zoo.load_model` put on ``module``; {} for any other."""
    return module.__dict__.get("pixelsmith_config") or {}


def package_dir(module: object) -> Path | None:
    """The folder ``module`` was loaded from by :func:`pixelsmith.zoo.load_model` (None for a
    network built in code): where a package keeps its other files."""
    folder = module.__dict__.get("pixelsmith_dir")
    return None if folder is None else Path(folder)


def config_of(module: object) -> ModelConfig:
    """The typed config of a model loaded by pixelsmith (or of its ONNX Runtime stand-in);
    empty for any other module."""
    raw = raw_config(module)
    if not raw:
        return EMPTY
    cached = module.__dict__.get("_pixelsmith_typed_config")
    if cached is None or cached[0] is not raw:
        cached = (raw, ModelConfig.model_validate(raw))
        module.__dict__["_pixelsmith_typed_config"] = cached
    return cached[1]


def validate_config(raw: object, source: str) -> ModelConfig:
    """``config.json``'s content as a :class:`ModelConfig` with a ``network``, else a one-line
    PixelsmithError naming the first bad field (a list instead of an object, no ``network``,
    an unknown entry in ``needs``; for a restoration model, ``channels`` not 1 or 3 or unlike
    the network's own)."""
    if not isinstance(raw, dict):
        raise PixelsmithError(f"{source}: a model config must be a JSON object, not a "
                              f"{type(raw).__name__}")
    try:
        config = ModelConfig.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "config"
        raise PixelsmithError(f"{source}: bad '{where}' ({error['msg']})") from None
    if config.network is None:
        raise PixelsmithError(f"{source}: no 'network' entry (the network name and its args)")
    from pixelsmith.degrade.known import TASKS

    if config.task in TASKS and config.channels is not None:  # images in, images out
        if config.channels not in (1, 3):
            raise PixelsmithError(f"{source}: bad 'channels' ({config.channels}; a "
                                  f"restoration model takes 1 (gray) or 3 (RGB))")
        declared = config.network.args.get("channels")
        if declared is not None and declared != config.channels:
            raise PixelsmithError(f"{source}: 'channels' is {config.channels} but the network "
                                  f"is built with {declared}")
    return config
