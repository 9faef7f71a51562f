"""The training engine: recipes, one step, early stopping, exact resume (also after kill -9),
Ctrl-C, two-process DDP equivalence, export and restore with the exported model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image as PILImage

from pixelsmith.errors import PixelsmithError
from pixelsmith.train.config import dump_recipe, load_recipe, recipe_from_dict
from pixelsmith.train.trainer import Trainer


def tiny_recipe(folder: Path, output: Path, **train) -> dict:
    return {
        "name": "tiny",
        "model": {"name": "dncnn", "args": {"channels": 1, "features": 8, "depth": 3,
                                            "batch_norm": False}},
        "data": {"train": str(folder), "color": "gray", "patch_size": 16,
                 "patches_per_epoch": 64, "val_fraction": 0.2},
        "degradation": {"task": "denoise", "sigma": [10, 30]},
        "val": {"every": 1000, "sigma": 20},
        "optim": {"name": "adam", "lr": 1e-3},
        "train": {"batch_size": 4, "steps": 24, "seed": 0, "log_every": 4,
                  "checkpoint_every": 6, "deterministic": True, **train},
        "output": str(output),
    }


@pytest.fixture
def images(tmp_path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(10):
        smooth = rng.random((6, 6))
        big = np.kron(smooth, np.ones((8, 8)))  # 48x48 blocks: easy to denoise
        PILImage.fromarray((big * 255).astype(np.uint8)).save(folder / f"{i}.png")
    return folder


def write_recipe(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def weights(run: Path, name: str = "last.pt") -> dict:
    return torch.load(run / name, weights_only=True)["models"]["model"]


def assert_same_weights(a: dict, b: dict, atol: float = 0.0) -> None:
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=atol, rtol=0 if atol == 0 else 1e-5)


# -- recipes ----------------------------------------------------------------------------------

def test_recipe_round_trip_and_overrides(tmp_path, images):
    path = write_recipe(tmp_path / "r.yaml", tiny_recipe(images, tmp_path / "run"))
    recipe = load_recipe(path, ["optim.lr=1e-4", "train.precision=bf16", "model.args.depth=5"])
    assert recipe.optim.lr == 1e-4 and recipe.train.precision == "bf16"
    assert recipe.model.args["depth"] == 5
    again = recipe_from_dict(yaml.safe_load(dump_recipe(recipe)))
    assert again == recipe


@pytest.mark.parametrize("override, message", [
    ("optim.lrr=1", "unknown field 'optim.lrr'"),
    ("optim.lr=fast", "optim.lr"),
    ("optim.name=adagrad", "optim.name"),
    ("train.batch_size=0", "train.batch_size"),
    ("nonsense", "KEY=VALUE"),
])
def test_bad_recipe_fields_are_one_line_errors(tmp_path, images, override, message):
    path = write_recipe(tmp_path / "r.yaml", tiny_recipe(images, tmp_path / "run"))
    with pytest.raises(PixelsmithError, match=message) as info:
        load_recipe(path, [override])
    assert "\n" not in str(info.value)


def test_restoration_loss_arguments_are_refused_not_ignored(tmp_path, images):
    recipe = recipe_from_dict(tiny_recipe(images, tmp_path / "run"))
    recipe.loss.args = {"pixel_weight": 100}
    with pytest.raises(PixelsmithError, match="take no arguments, got pixel_weight"):
        Trainer(recipe, progress=False, max_steps=1)


@pytest.mark.parametrize("degradation, message", [
    ({"task": "denoise", "sigma": [10, 30], "quality_bias": 2}, "quality_bias"),
    ({"task": "dejpeg", "quality_bias": 0}, "quality_bias"),
    ({"task": "dejpeg", "sigma_bias": 2}, "sigma_bias"),
    ({"task": "sr", "scale": 2, "sigma_bias": 2}, "sigma_bias"),
    ({"task": "denoise", "sigma_bias": -1}, "sigma_bias"),
])
def test_a_quality_bias_outside_dejpeg_is_refused(tmp_path, images, degradation, message):
    recipe = tiny_recipe(images, tmp_path / "run")
    recipe["degradation"] = degradation
    with pytest.raises(PixelsmithError, match=message) as info:
        Trainer(recipe_from_dict(recipe), progress=False, max_steps=1)
    assert "\n" not in str(info.value)


def test_cli_bad_recipe_exit_code(tmp_path, images):
    path = write_recipe(tmp_path / "r.yaml", tiny_recipe(images, tmp_path / "run"))
    result = subprocess.run([sys.executable, "-m", "pixelsmith", "train", str(path),
                             "--set", "train.stepz=3"], capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "unknown field 'train.stepz'" in result.stderr


def test_cli_says_what_the_run_will_do_then_what_it_did(tmp_path, images):
    path = write_recipe(tmp_path / "r.yaml", tiny_recipe(images, tmp_path / "run", steps=2))
    result = subprocess.run([sys.executable, "-m", "pixelsmith", "train", str(path), "--quiet",
                             "--device", "cpu"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("pixelsmith: training tiny: 2 steps, batch 4, fp32, on cpu")
    assert "step budget reached: 2 steps" in lines[-1]
    resumed = subprocess.run([sys.executable, "-m", "pixelsmith", "train", "--resume",
                              str(tmp_path / "run"), "--set", "train.steps=3", "--quiet"],
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert "from step 2 to 3" in resumed.stderr.splitlines()[0]


# -- the loop ---------------------------------------------------------------------------------

def test_one_step_changes_the_weights(tmp_path, images):
    recipe = recipe_from_dict(tiny_recipe(images, tmp_path / "run"))
    trainer = Trainer(recipe, progress=False, max_steps=1)
    before = {k: v.clone() for k, v in trainer.models["model"].state_dict().items()}
    trainer.fit()
    after = trainer.models["model"].state_dict()
    assert all(not torch.equal(before[k], after[k]) for k in before)
    assert (tmp_path / "run" / "recipe.yaml").exists()
    assert (tmp_path / "run" / "summary.json").exists()


def test_training_lowers_the_loss_and_logs(tmp_path, images):
    data = tiny_recipe(images, tmp_path / "run", steps=60)
    data["val"]["every"] = 20
    summary = Trainer(recipe_from_dict(data), progress=False).fit()
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    losses = [r["loss"] for r in records if r["kind"] == "train"]
    vals = [r["psnr"] for r in records if r["kind"] == "val"]
    assert np.mean(losses[-3:]) < np.mean(losses[:3])
    assert len(vals) == 3 and summary["best_metric"]["psnr"] == pytest.approx(max(vals))
    assert list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))


def test_early_stopping_stops(tmp_path, images):
    data = tiny_recipe(images, tmp_path / "run", steps=200)
    data["optim"]["lr"] = 1e-12  # nothing can improve
    data["val"]["every"] = 2
    data["early_stopping"] = {"patience": 2, "min_delta": 0.01}
    summary = Trainer(recipe_from_dict(data), progress=False).fit()
    assert summary["steps"] == 6 and summary["stopped"].startswith("early stopping")


def test_resume_equals_uninterrupted(tmp_path, images):
    full = tiny_recipe(images, tmp_path / "full")
    Trainer(recipe_from_dict(full), progress=False).fit()
    part = tiny_recipe(images, tmp_path / "part")
    Trainer(recipe_from_dict(part), progress=False, max_steps=10).fit()  # stops mid-epoch
    Trainer(recipe_from_dict(part), progress=False, resume=True).fit()
    assert_same_weights(weights(tmp_path / "full"), weights(tmp_path / "part"))


def _start(recipe: Path, run: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pixelsmith", "train", str(recipe),
                             "--output", str(run), "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_checkpoint(process: subprocess.Popen, run: Path, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while not (run / "last.pt").exists():
        assert process.poll() is None, process.stderr.read()
        assert time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.01)


def test_resume_after_kill_9_equals_uninterrupted(tmp_path, images):
    steps = 120
    reference = tiny_recipe(images, tmp_path / "full", steps=steps)
    Trainer(recipe_from_dict(reference), progress=False).fit()

    data = tiny_recipe(images, tmp_path / "killed", steps=steps)
    path = write_recipe(tmp_path / "r.yaml", data)
    process = _start(path, tmp_path / "killed")
    _wait_for_checkpoint(process, tmp_path / "killed")
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = torch.load(tmp_path / "killed" / "last.pt", weights_only=True)["step"]
    assert 0 < killed_at < steps, "the run finished before it was killed"
    code = subprocess.run([sys.executable, "-m", "pixelsmith", "train", "--resume",
                           str(tmp_path / "killed"), "--quiet"], capture_output=True).returncode
    assert code == 0
    assert_same_weights(weights(tmp_path / "full"), weights(tmp_path / "killed"))


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_writes_a_checkpoint(tmp_path, images, stop):
    data = tiny_recipe(images, tmp_path / "run", steps=100_000, checkpoint_every=100_000)
    path = write_recipe(tmp_path / "r.yaml", data)
    process = _start(path, tmp_path / "run")
    deadline = time.time() + 60
    while not (tmp_path / "run" / "metrics.jsonl").exists():  # training has started
        assert process.poll() is None and time.time() < deadline
        time.sleep(0.05)
    process.send_signal(stop)
    _, err = process.communicate(timeout=180)
    assert process.returncode == 130 and "--resume" in err and "Traceback" not in err
    step = torch.load(tmp_path / "run" / "last.pt", weights_only=True)["step"]
    assert 0 < step < 100_000


#: a blind network, and one that takes the noise level as a second input (the shipped denoisers'
#: kind: under DDP the wrapper must not hide what the network declares)
DDP_MODELS = {
    "blind": {"name": "dncnn", "args": {"channels": 1, "features": 8, "depth": 3,
                                        "batch_norm": False}},
    "sigma-conditioned": {"name": "unet", "args": {"channels": 1, "features": [8, 16],
                                                   "blocks": [1, 1], "conditioning": "sigma"}},
}


@pytest.mark.parametrize("model", list(DDP_MODELS))
def test_two_processes_equal_one(tmp_path, images, model):
    """DDP on 2 CPU processes (gloo) == 1 process with the same global batch."""
    runs = {}
    for nproc in (1, 2):
        data = {**tiny_recipe(images, tmp_path / f"p{nproc}", steps=8),
                "model": DDP_MODELS[model]}
        path = write_recipe(tmp_path / f"r{nproc}.yaml", data)
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        result = subprocess.run([sys.executable, "-m", "pixelsmith", "train", str(path),
                                 "--nproc", str(nproc), "--quiet"],
                                capture_output=True, text=True, env=env, timeout=240)
        assert result.returncode == 0, result.stderr[-2000:]
        runs[nproc] = weights(tmp_path / f"p{nproc}")
    assert_same_weights(runs[1], runs[2], atol=1e-6)


# -- export and use ---------------------------------------------------------------------------

def test_export_load_and_restore(tmp_path, images, capsys):
    from pixelsmith.cli.main import main
    from pixelsmith.zoo import load_model

    run = tmp_path / "run"
    Trainer(recipe_from_dict(tiny_recipe(images, run, steps=6)), progress=False).fit()
    main(["export-model", str(run), "-o", str(tmp_path / "model")])  # returns: success
    model = load_model(tmp_path / "model")
    assert model.pixelsmith_config["task"] == "denoise"
    assert model.pixelsmith_config["weights"] == "raw"  # this recipe has no EMA
    main(["restore", str(images / "0.png"), "-o", str(tmp_path / "out.png"),
          "--task", "denoise", "--method", str(tmp_path / "model")])
    assert (tmp_path / "out.png").exists()

    weights_file = tmp_path / "model" / "model.safetensors"
    weights_file.write_bytes(weights_file.read_bytes()[:-1] + b"\0")
    with pytest.raises(PixelsmithError, match="checksum"):
        load_model(tmp_path / "model")


def test_fine_tuning_starts_from_a_model_and_freezes(tmp_path, images):
    from pixelsmith.train.export import export_run
    from pixelsmith.zoo import load_model

    Trainer(recipe_from_dict(tiny_recipe(images, tmp_path / "a", steps=4)), progress=False).fit()
    export_run(tmp_path / "a", tmp_path / "model")
    start = load_model(tmp_path / "model").state_dict()
    data = tiny_recipe(images, tmp_path / "b", steps=3)
    data.update(init=str(tmp_path / "model"), freeze=["body.0."])
    trainer = Trainer(recipe_from_dict(data), progress=False)
    trainer.fit()
    tuned = trainer.models["model"].state_dict()
    assert torch.equal(tuned["body.0.weight"], start["body.0.weight"])
    assert not torch.equal(tuned["body.2.weight"], start["body.2.weight"])
    data["freeze"] = ["nothing."]
    with pytest.raises(PixelsmithError, match="freeze"):
        Trainer(recipe_from_dict(data), progress=False)


@pytest.mark.parametrize("options", [{"precision": "bf16"}, {"channels_last": True},
                                     {"grad_clip": 0.1, "ema_decay": 0.9}])
def test_precision_layout_and_clipping_options_train(tmp_path, images, options):
    trainer = Trainer(recipe_from_dict(tiny_recipe(images, tmp_path / "run", steps=2, **options)),
                      progress=False)
    summary = trainer.fit()
    assert summary["steps"] == 2
    assert all(torch.isfinite(p).all() for p in trainer.models["model"].parameters())


@pytest.mark.parametrize("native", [False, True])
def test_bf16_training_warns_only_where_the_cpu_emulates_it(tmp_path, images, monkeypatch,
                                                            native):
    import warnings

    from pixelsmith.runtime import precision

    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda flags=None: native)
    recipe = recipe_from_dict(tiny_recipe(images, tmp_path / "run", steps=2, precision="bf16"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Trainer(recipe, device="cpu", progress=False)
    slow = [w for w in caught if issubclass(w.category, precision.SlowPathWarning)]
    if native:
        assert not slow
    else:
        assert len(slow) == 1
        message = str(slow[0].message)
        assert "train.precision: bf16" in message and "train.precision=fp32" in message


def test_colour_augmentation_and_transformed_validation(tmp_path, images):
    from pixelsmith.train.families.restoration import transform_val_image

    colour = tmp_path / "colour"
    colour.mkdir()
    rng = np.random.default_rng(1)
    for i in range(6):
        PILImage.fromarray((rng.random((48, 48, 3)) * 255).astype(np.uint8)).save(
            colour / f"{i}.png")
    data = tiny_recipe(colour, tmp_path / "run", steps=2)
    data["model"]["args"]["channels"] = 3
    data["data"].update(color="rgb", augment={"scale_jitter": [1.0, 2.0],
                                              "saturation": [0.5, 1.5]})
    plain = Trainer(recipe_from_dict(data), progress=False)
    assert plain.dataset.augment.saturation == (0.5, 1.5)
    assert plain.dataset.augment.scale_jitter == (1.0, 2.0)
    data["val"].update(zoom=2.0, saturation=1.5)
    data["output"] = str(tmp_path / "run2")
    trainer = Trainer(recipe_from_dict(data), progress=False)
    assert trainer.fit()["steps"] == 2
    assert trainer.family.validate(trainer.eval_model())["psnr"] != \
        plain.family.validate(plain.eval_model())["psnr"]
    image = torch.rand(1, 3, 10, 12)
    assert transform_val_image(image, 1.0, 1.0) is image
    bigger = transform_val_image(image, 2.0, 1.5)
    assert bigger.shape == (1, 3, 20, 24) and torch.equal(bigger, torch.round(bigger * 255) / 255)
    data["val"]["zoom"] = 0.5
    with pytest.raises(PixelsmithError, match="zoom"):
        recipe_from_dict(data)


def test_compiled_training_matches_eager_and_saves_plain_weights(tmp_path, images):
    """train.compile runs the steps through torch.compile; the weights it learns are those of
    eager training (to rounding), and checkpoints hold the plain module's names."""
    runs = {}
    for compiled in (False, True):
        recipe = tiny_recipe(images, tmp_path / f"run-{compiled}", steps=2, compile=compiled)
        trainer = Trainer(recipe_from_dict(recipe), progress=False)
        trainer.fit()
        runs[compiled] = trainer.models["model"].state_dict()
        saved = torch.load(tmp_path / f"run-{compiled}" / "last.pt", weights_only=False)
        assert saved["models"]["model"].keys() == runs[compiled].keys()
    assert runs[True].keys() == runs[False].keys()
    for key, value in runs[True].items():
        assert torch.allclose(value, runs[False][key], atol=1e-4), key


def test_compile_without_a_compiler_is_one_line(tmp_path, images, monkeypatch):
    import shutil

    monkeypatch.setattr(shutil, "which", lambda name: None)
    recipe = tiny_recipe(images, tmp_path / "run", steps=2, compile=True)
    with pytest.raises(PixelsmithError, match="C\\+\\+ compiler"):
        Trainer(recipe_from_dict(recipe), progress=False, device="cpu")


def test_global_rng_stream_survives_resume(tmp_path, images):
    """Steps that draw from torch's global RNG (dropout, noise) see the same numbers after a
    resume as in an uninterrupted run."""
    from pixelsmith.train.callbacks import Callback

    class Draw(Callback):
        def __init__(self) -> None:
            self.values: dict[int, float] = {}

        def on_step_end(self, trainer, logs) -> None:
            self.values[trainer.step] = float(torch.rand(1))

    full, part_a, part_b = Draw(), Draw(), Draw()
    Trainer(recipe_from_dict(tiny_recipe(images, tmp_path / "full")), progress=False,
            extra_callbacks=[full]).fit()
    part = tiny_recipe(images, tmp_path / "part")
    Trainer(recipe_from_dict(part), progress=False, max_steps=10, extra_callbacks=[part_a]).fit()
    Trainer(recipe_from_dict(part), progress=False, resume=True, extra_callbacks=[part_b]).fit()
    assert {**part_a.values, **part_b.values} == full.values


def test_kept_snapshots_export_by_step(tmp_path, images, capsys):
    from pixelsmith.cli.main import main
    from pixelsmith.zoo import load_model

    run = tmp_path / "run"
    Trainer(recipe_from_dict(tiny_recipe(images, run, steps=12, keep_every=4)),
            progress=False).fit()
    assert sorted(p.name for p in run.glob("step-*.pt")) == [
        "step-0000004.pt", "step-0000008.pt", "step-0000012.pt"]
    assert_same_weights(weights(run, "step-0000012.pt"), weights(run))
    assert not torch.equal(weights(run, "step-0000004.pt")["body.0.weight"],
                           weights(run)["body.0.weight"])
    main(["export-model", str(run), "-o", str(tmp_path / "model"), "--checkpoint", "8"])
    config = load_model(tmp_path / "model").pixelsmith_config
    assert config["training"]["step"] == 8 and config["training"]["checkpoint"] == "step-0000008.pt"
    with pytest.raises(SystemExit) as stop:
        main(["export-model", str(run), "-o", str(tmp_path / "other"), "--checkpoint", "6"])
    assert stop.value.code == 2
    assert "no snapshot of step 6 (kept: 4, 8, 12)" in capsys.readouterr().err
    assert not (tmp_path / "other").exists()


def test_several_processes_refuse_bad_input_in_one_line_before_starting(tmp_path, images):
    """A missing data folder or init model under --nproc 2: one line, exit 2, no rank started
    (no run folder, no torchrun report)."""
    recipe = tiny_recipe(images, tmp_path / "run", steps=8)
    for wrong, data in (("none", {**recipe, "init": str(tmp_path / "none")}),
                        ("missing", {**recipe, "data": {**recipe["data"],
                                                        "train": str(tmp_path / "missing")}})):
        path = write_recipe(tmp_path / "r.yaml", data)
        result = subprocess.run([sys.executable, "-m", "pixelsmith", "train", str(path),
                                 "--nproc", "2", "--quiet"],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1 and "pixelsmith: error:" in result.stderr
        assert str(tmp_path / wrong) in result.stderr
        assert not (tmp_path / "run").exists()


def test_torchrun_arguments_carry_the_command():
    from pixelsmith.train.run import torchrun_arguments

    args = torchrun_arguments(2, recipe="r.yaml", overrides=["optim.lr=1e-4"], output="o",
                              resume_dir=None, max_steps=5, device=None, quiet=True)
    assert args == ["--standalone", "--nproc_per_node=2", "-m", "pixelsmith", "train", "r.yaml",
                    "--set", "optim.lr=1e-4", "--output", "o", "--max-steps", "5", "--quiet"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("nproc", ["1", "2"])
def test_a_gpu_this_machine_lacks_is_one_line(tmp_path, images, nproc):
    path = write_recipe(tmp_path / "r.yaml", tiny_recipe(images, tmp_path / "run", steps=8))
    result = subprocess.run([sys.executable, "-m", "pixelsmith", "train", str(path),
                             "--device", "cuda", "--nproc", nproc, "--quiet"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "CUDA is not available" in result.stderr


def test_validate_only_validates_the_init_model_and_writes_nothing(tmp_path, images, capsys):
    from pixelsmith.cli.main import main
    from pixelsmith.zoo import read_config, resolve_model_dir

    network = read_config(resolve_model_dir("denoise-gray"))["network"]
    recipe = {**tiny_recipe(images, tmp_path / "run"), "model": network,
              "init": "denoise-gray"}
    path = write_recipe(tmp_path / "r.yaml", recipe)
    main(["train", str(path), "--validate-only"])
    out = capsys.readouterr().out
    assert out.startswith("denoise-gray on tiny's validation: psnr ")
    psnr = float(out.split("psnr ")[1].split(",")[0])
    assert 20 < psnr < 60
    assert not (tmp_path / "run").exists()
    no_init = write_recipe(tmp_path / "n.yaml", tiny_recipe(images, tmp_path / "run"))
    with pytest.raises(SystemExit) as stop:
        main(["train", str(no_init), "--validate-only"])
    assert stop.value.code == 2 and "has none" in capsys.readouterr().err


def test_a_run_folder_under_a_file_is_refused_before_training(tmp_path, images):
    (tmp_path / "blocker").write_text("a file")
    recipe = recipe_from_dict(tiny_recipe(images, tmp_path / "blocker" / "run"))
    with pytest.raises(PixelsmithError, match="blocker is a file, not a folder") as info:
        Trainer(recipe, progress=False, max_steps=1)
    assert "\n" not in str(info.value)
