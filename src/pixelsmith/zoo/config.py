"""The typed view of a loaded model's ``config.json``.

:func:`pixelsmith.zoo.load_model` puts the config dict on ``model.pixelsmith_config`` (the
public attribute); code that needs a field reads it through :func:`config_of`, which also
answers for a network that pixelsmith did not load (every field ``None`` or empty), so no
caller probes attributes.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from torch import nn


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
    channels: int | None = None
    needs: list[str] = []
    network: NetworkSpec | None = None

    def display_name(self, module: nn.Module) -> str:
        """The model's name, else its class name (for messages)."""
        return self.name or type(module).__name__


EMPTY = ModelConfig()


def config_of(module: nn.Module) -> ModelConfig:
    """The typed config of a model loaded by pixelsmith; empty for any other module."""
    raw = module.__dict__.get("pixelsmith_config")
    if not raw:
        return EMPTY
    cached = module.__dict__.get("_pixelsmith_typed_config")
    if cached is None or cached[0] is not raw:
        cached = (raw, ModelConfig.model_validate(raw))
        module.__dict__["_pixelsmith_typed_config"] = cached
    return cached[1]
