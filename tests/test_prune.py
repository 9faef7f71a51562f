"""pixelsmith prune: whole channels removed, a dense network saved as an ordinary model folder
that loads, restores and fine-tunes with its own recipe."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import data_or_skip
from test_cli import assert_one_line_error, run

from pixelsmith.degrade.known import Known
from pixelsmith.restoration.restorer import Restorer
from pixelsmith.zoo import load_model

pytest.importorskip("torch_pruning", reason="torch-pruning not installed "
                    "(pip install 'pixelsmith[prune]')")

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("model, expected", [
    # 16, 32, 64, 128 less 30% (11.2, 22.4, 44.8, 89.6), each to the nearest multiple of 8
    ("denoise-gray", [8, 24, 48, 88]),
    ("sr-x2", 32),  # 48 less 30% (33.6)
])
def test_pruned_model_is_a_smaller_dense_model(capsys, tmp_path, model, expected):
    out = tmp_path / "pruned"
    code, stdout, err = run(capsys, "prune", model, "-o", str(out), "--channels", "0.3")
    assert code == 0, err
    config = json.loads((out / "config.json").read_text())
    assert config["network"]["args"]["features"] == expected
    assert config["pruned"]["source"]["name"] == model
    assert config["pruned"]["round_to"] == 8
    pruned, original = load_model(out), load_model(model)
    count = sum(p.numel() for p in pruned.parameters())
    assert count < 0.6 * sum(p.numel() for p in original.parameters())
    assert f"{count:,} parameters" in stdout
    y = torch.rand(1, pruned.channels, 24, 20)
    task, known = (("sr", Known(scale=2)) if model == "sr-x2" else
                   ("denoise", Known(sigma=0.1)))
    out_pruned = Restorer(task, str(out), device="cpu")(y, known)
    out_original = Restorer(task, model, device="cpu")(y, known)
    assert out_pruned.shape == out_original.shape
    # the largest-norm channels are kept: still close to the original before fine-tuning
    assert (out_pruned - out_original).abs().mean() < 0.2


@pytest.mark.parametrize("native_bf16", [False, True])
def test_finetune_runs_the_models_own_recipe(capsys, tmp_path, monkeypatch, native_bf16):
    """The shipped denoise-gray trained in bf16: its fine-tuning uses bf16 only on a CPU that
    has it natively (emulated bf16 is many times slower than fp32)."""
    data_or_skip("train/BSD400")
    data_or_skip("train/CBSD432/val32")
    from pixelsmith.runtime import precision

    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda flags=None: native_bf16)
    out = tmp_path / "tuned"
    code, _, err = run(capsys, "prune", "denoise-gray", "-o", str(out), "--finetune", "2",
                       "--lr", "2e-4", "--device", "cpu")
    assert code == 0, err
    config = json.loads((out / "config.json").read_text())
    assert config["training"]["finetune"]["summary"]["steps"] == 2
    assert config["training"]["finetune"]["recipe"]["optim"]["lr"] == 2e-4
    assert config["training"]["recipe"]["train"]["precision"] == "bf16"
    assert config["training"]["finetune"]["recipe"]["train"]["precision"] == (
        "bf16" if native_bf16 else "fp32")
    assert config["pruned"]["finetune_steps"] == 2 and config["pruned"]["finetune_lr"] == 2e-4
    tuned = load_model(out).state_dict()
    untuned_dir = tmp_path / "untuned"
    run(capsys, "prune", "denoise-gray", "-o", str(untuned_dir))
    untuned = load_model(untuned_dir).state_dict()
    assert any(not torch.equal(tuned[k], untuned[k]) for k in tuned)


@pytest.mark.parametrize("argv", [["vae-mnist"], ["no-such-model"], ["codec-q1"]])
def test_prune_refuses_what_it_cannot_prune(capsys, tmp_path, argv):
    code, _, err = run(capsys, "prune", *argv, "-o", str(tmp_path / "x"))
    assert_one_line_error(code, err)
    assert not (tmp_path / "x").exists()


def test_prune_refuses_a_share_outside_0_1(capsys, tmp_path):
    code, _, err = run(capsys, "prune", "denoise-gray", "--channels", "1.5", "-o",
                       str(tmp_path / "x"))
    assert code == 2 and "Traceback" not in err and "--channels" in err


def test_round_to_one_keeps_the_exact_share():
    from pixelsmith.deploy.prune import prune_network
    from pixelsmith.zoo import read_config, resolve_model_dir

    config = read_config(resolve_model_dir("denoise-gray"))
    _, exact = prune_network(load_model("denoise-gray"), config, 0.3, round_to=1)
    assert exact["args"]["features"] == [11, 22, 44, 89]
    _, coarse = prune_network(load_model("denoise-gray"), config, 0.3, round_to=16)
    assert coarse["args"]["features"] == [16, 16, 48, 96]  # never below one multiple
