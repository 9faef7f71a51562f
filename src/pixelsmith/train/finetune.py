"""Transfer learning shared by every family: start from a trained model, freeze some layers."""

from __future__ import annotations

import torch

from pixelsmith.errors import PixelsmithError
from pixelsmith.train.config import Recipe


def init_and_freeze(net: torch.nn.Module, recipe: Recipe) -> None:
    """Load ``recipe.init`` (a shipped name or model folder) into ``net``, then stop training
    the parameters whose names start with a prefix in ``recipe.freeze``."""
    if recipe.init:
        from pixelsmith.zoo import load_model

        try:
            net.load_state_dict(load_model(recipe.init).state_dict())
        except RuntimeError:
            raise PixelsmithError(f"init: '{recipe.init}' does not fit model "
                                  f"'{recipe.model.name}' with these arguments") from None
    frozen = [param for name, param in net.named_parameters()
              if any(name.startswith(prefix) for prefix in recipe.freeze)]
    if recipe.freeze and not frozen:
        raise PixelsmithError(f"freeze: no parameter starts with {recipe.freeze}")
    for param in frozen:
        param.requires_grad_(False)
