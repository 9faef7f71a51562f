"""Transfer learning shared by every family: start from a trained model, freeze some layers."""

from __future__ import annotations

import torch

from pixelsmith.errors import PixelsmithError
from pixelsmith.train.config import Recipe


def _under(name: str, prefixes: list[str]) -> bool:
    """Whether ``name`` is the layer ``prefix`` or inside it ('context' or 'context.')."""
    stems = [prefix.rstrip(".") for prefix in prefixes]
    return any(name == stem or name.startswith(stem + ".") for stem in stems)


def load_init(net: torch.nn.Module, recipe: Recipe) -> None:
    """Copy the weights of ``recipe.init`` into ``net``. Every weight must match, except those
    under a prefix in ``recipe.init_fresh``: layers the init model lacks (a context model added
    to a trained hyperprior codec), which keep their fresh initialisation."""
    from pixelsmith.zoo import load_model

    source = load_model(recipe.init).state_dict()
    misfit = PixelsmithError(f"init: '{recipe.init}' does not fit model "
                             f"'{recipe.model.name}' with these arguments")
    try:
        result = net.load_state_dict(source, strict=not recipe.init_fresh)
    except RuntimeError:
        raise misfit from None
    if not recipe.init_fresh:
        return
    if result.unexpected_keys or any(not _under(key, recipe.init_fresh)
                                     for key in result.missing_keys):
        raise misfit
    unused = [prefix for prefix in recipe.init_fresh
              if not any(_under(key, [prefix]) for key in result.missing_keys)]
    if unused:
        raise PixelsmithError(f"init_fresh: '{unused[0]}' names no layer that '{recipe.init}' "
                              f"lacks")


def init_and_freeze(net: torch.nn.Module, recipe: Recipe) -> None:
    """Load ``recipe.init`` (a shipped name or model folder) into ``net``, then stop training
    the parameters whose names start with a prefix in ``recipe.freeze``."""
    if recipe.init_fresh and not recipe.init:
        raise PixelsmithError("init_fresh needs init: the model the other layers come from")
    if recipe.init:
        load_init(net, recipe)
    frozen = [param for name, param in net.named_parameters()
              if any(name.startswith(prefix) for prefix in recipe.freeze)]
    if recipe.freeze and not frozen:
        raise PixelsmithError(f"freeze: no parameter starts with {recipe.freeze}")
    for param in frozen:
        param.requires_grad_(False)
