"""The recipes in configs/: each loads, and each shipped model has one that rebuilds its network.

A recipe that no longer parses, or that drifted from the architecture of the weights it claims
to reproduce, would only show when someone retrains on bigger hardware; these checks catch it
when the recipe or the model changes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pixelsmith.train.config import load_recipe
from pixelsmith.zoo import ZOO, read_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
RECIPES = sorted(CONFIGS.glob("*.yaml"))
SHIPPED = list(json.loads((ZOO / "index.json").read_text()))


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_recipe_loads_and_is_named_after_its_file(path):
    recipe = load_recipe(path)
    assert recipe.name == path.stem


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_model_has_a_recipe_with_its_network(name):
    recipe = load_recipe(CONFIGS / f"{name}.yaml")
    network = read_config(ZOO / name)["network"]
    assert (recipe.model.name, recipe.model.args) == (network["name"], network["args"])


@pytest.mark.parametrize("path", [p for p in RECIPES if load_recipe(p).init], ids=lambda p: p.stem)
def test_staged_recipe_starts_from_a_model_another_recipe_makes(path):
    """``init: models/X`` is the export of recipe X, or the recipe's header gives the command
    that writes it (``pixelsmith prune ... -o models/X``); otherwise it names a shipped model."""
    init = load_recipe(path).init
    if init.startswith("models/"):
        made_here = any(line.startswith("#") and "pixelsmith " in line
                        and line.rstrip().endswith(f"-o {init}")
                        for line in path.read_text().splitlines())
        assert (CONFIGS / f"{Path(init).name}.yaml").is_file() or made_here, \
            f"no recipe or command makes {init}"
    else:
        assert init in SHIPPED
