"""Typed ``loss.args`` of a recipe: each family declares a model of what its loss takes.

A family's :class:`LossArgs` subclass lists the arguments, their defaults and their rules; the
recipe's mapping is checked against it once, when the family is built, and a mistake is one
line naming the argument and its rule (``description``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pixelsmith.errors import PixelsmithError
from pixelsmith.train.losses import GAN_KINDS

GanKind = Literal["hinge", "nonsaturating"]
KIND_RULE = "one of " + ", ".join(GAN_KINDS)
WEIGHT_RULE = "a number >= 0"
MAPPING_RULE = "a mapping of network args"


class LossArgs(BaseModel):
    """No arguments (the base of every family's model)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def weight(default: float) -> Any:
    """A loss weight: a number >= 0 (not a bool)."""
    return Field(default, ge=0, strict=True, description=WEIGHT_RULE)


def flag() -> Any:
    """An on/off switch, false unless set."""
    return Field(False, strict=True, description="true or false")


def network_args() -> Any:
    """Constructor arguments of an auxiliary network (e.g. a discriminator)."""
    return Field(default_factory=dict, description=MAPPING_RULE)


def parse_loss_args(model: type[LossArgs], args: dict[str, Any], family: str) -> LossArgs:
    """``args`` checked against ``model``, defaults filled in; one-line error otherwise."""
    try:
        return model.model_validate(args)
    except ValidationError as exc:
        error = exc.errors()[0]
        if error["type"] == "extra_forbidden":
            unknown = sorted(set(args) - set(model.model_fields))
            known = ", ".join(model.model_fields) or "none"
            raise PixelsmithError(f"loss.args: unknown {', '.join(unknown)} for the {family} "
                                  f"family (known: {known})") from None
        key = str(error["loc"][0])
        rule = model.model_fields[key].description or "valid"
        raise PixelsmithError(f"loss.args.{key} must be {rule}, not '{args.get(key)}'") from None
