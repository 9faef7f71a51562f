"""benchmarks.architecture_study: every candidate is a valid recipe whose network builds, and
the verdict line ranks by the measured PSNR."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.architecture_study import CANDIDATES, candidate_recipe, ranking
from pixelsmith.nets import build_network
from pixelsmith.train.config import recipe_from_dict


@pytest.mark.parametrize("name", CANDIDATES)
def test_each_candidate_is_a_valid_recipe_with_its_own_run_folder(name, tmp_path):
    data = candidate_recipe(name, 1600, tmp_path)
    recipe = recipe_from_dict(data, name)
    assert recipe.train.steps == 1600 and recipe.val.every == 200
    assert Path(recipe.output) == tmp_path / name
    net = build_network(recipe.model.name, recipe.model.args)
    assert net.channels == 1 and net.conditioning == "sigma"


def test_the_verdict_names_the_best_network_against_the_unet():
    facts = {"unet": {"psnr_25": 28.0, "mp_per_s": 1.0},
             "ffdnet": {"psnr_25": 28.1, "mp_per_s": 1.2},
             "nafnet": {"psnr_25": 27.5, "mp_per_s": 0.9}}
    line = ranking(facts)
    assert line.startswith("Highest at sigma 25 after the same training time: **ffdnet**")
    assert "+0.100 dB over the U-Net at 1.20x" in line
    assert line.endswith("ffdnet 28.100, unet 28.000, nafnet 27.500.")
