"""The pix2pix family and its PatchGAN: shapes, spectral-norm bound, step isolation, whole-image
(face) restoration data, feature-space validation, train -> export -> `pixelsmith restore`,
round trip, exact resume, recipe errors, and the shipped recipes."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import assert_same_checkpoint, data_or_skip
from PIL import Image as PILImage
from torch import nn

from pixelsmith.data import DegradedImages, split_indices
from pixelsmith.degrade.draws import DegradationSpec
from pixelsmith.errors import PixelsmithError
from pixelsmith.io import read_image, save_image
from pixelsmith.nets import NETWORKS, build_network
from pixelsmith.nets.patchgan import PatchGAN, receptive_field
from pixelsmith.train.config import load_recipe, recipe_from_dict
from pixelsmith.train.trainer import Trainer

pytestmark = pytest.mark.usefixtures("one_thread")
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.fixture
def faces(tmp_path) -> Path:
    """12 smooth random 64x64 RGB PNGs (inpainting: resized to 32x32 whole images; deblurring:
    cut into 32-pixel patches)."""
    folder = tmp_path / "faces"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        image = np.kron(rng.random((8, 8, 3)), np.ones((8, 8, 1)))
        PILImage.fromarray((image * 255).astype(np.uint8)).save(folder / f"{i:02d}.png")
    return folder


def tiny(folder: Path, output: Path, task: str = "inpaint", family: str = "pix2pix",
         **train) -> dict:
    """A pix2pix (or restoration) recipe on 32x32 images; a step takes milliseconds."""
    degradation = ({"task": "inpaint", "masks": ["box", "strokes"], "mask_coverage": [0.2, 0.4]}
                   if task == "inpaint" else
                   {"task": "deblur", "kernels": ["motion"], "sigma": [0, 10], "quantize": True})
    recipe = {
        "name": f"tiny-{family}-{task}",
        "family": family,
        "model": {"name": "unet", "args": {"channels": 3, "features": [4, 8], "blocks": 1,
                                           "conditioning": "mask" if task == "inpaint" else None}},
        "data": ({"train": str(folder), "kind": "folder", "color": "rgb", "image_size": 32,
                  "val_fraction": 0.25, "augment": {"flips": True, "rot90": False}}
                 if task == "inpaint" else
                 {"train": str(folder), "color": "rgb", "patch_size": 32,
                  "patches_per_epoch": 16, "val_fraction": 0.25}),
        "degradation": degradation,
        "val": {"every": 1000, "metric": "psnr",
                **({"mask_kind": "box:0.3"} if task == "inpaint" else
                   {"kernel": "motion:9", "sigma": 2.55})},
        "loss": {"name": "l1"},
        "optim": {"name": "adam", "lr": 1e-3, "betas": [0.5, 0.999]},
        "train": {"batch_size": 4, "steps": 6, "seed": 0, "log_every": 1,
                  "checkpoint_every": 1000, "deterministic": True, **train},
        "output": str(output),
    }
    if family == "pix2pix":
        recipe["loss"]["args"] = {"pixel_weight": 10, "feature_matching": 1.0,
                                  "discriminator": {"base": 4, "depth": 2}}
    return recipe


def snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def changed(before: dict[str, torch.Tensor], module: nn.Module) -> set[str]:
    return {k for k, v in module.named_parameters() if not torch.equal(before[k], v)}


# -- the PatchGAN ---------------------------------------------------------------------------------

@pytest.mark.parametrize("size, depth, logits", [(64, 3, 6), (64, 2, 14), (96, 3, 10),
                                                 (32, 2, 6), (33, 1, 14)])
def test_patchgan_shapes_batch_of_one(size, depth, logits):
    disc = PatchGAN(in_channels=7, base=4, depth=depth)
    assert disc(torch.rand(1, 7, size, size)).shape == (1, 1, logits, logits)
    features = disc.features(torch.rand(2, 7, size, size + 8))
    assert len(features) == depth + 2 and features[-1].shape[:2] == (2, 1)
    assert "patchgan" in NETWORKS and isinstance(build_network("patchgan", {"base": 4}),
                                                 PatchGAN)


def test_patchgan_receptive_field_and_input_checks():
    assert [receptive_field(d) for d in (1, 2, 3, 4)] == [16, 34, 70, 142]
    disc = PatchGAN(in_channels=7, base=4, depth=3).eval()  # eval: no power iteration
    # one logit's receptive field: perturbing a pixel outside it leaves that logit unchanged
    x = torch.rand(1, 7, 96, 96)
    y = x.clone()
    y[..., 95, 95] += 1.0
    assert torch.equal(disc(x)[..., 0, 0], disc(y)[..., 0, 0])
    with pytest.raises(ValueError, match="input channels"):
        disc(torch.rand(1, 6, 64, 64))
    with pytest.raises(ValueError, match="at least 32"):
        disc(torch.rand(1, 7, 24, 24))


def test_spectral_norm_bounds_every_layer():
    torch.manual_seed(0)
    disc = PatchGAN(in_channels=7, base=8, depth=3, spectral_norm=True)
    for _ in range(30):  # each training-mode forward runs one power iteration per layer
        disc(torch.rand(2, 7, 64, 64))
    convs = [m for m in disc.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 5
    for conv in convs:
        sigma = torch.linalg.matrix_norm(conv.weight.detach().flatten(1), ord=2)
        assert 0.9 < float(sigma) <= 1.01
    plain = PatchGAN(in_channels=7, base=8, depth=3, spectral_norm=False)
    assert not any(hasattr(m, "parametrizations") for m in plain.modules())


# -- whole-image restoration data -----------------------------------------------------------------

def test_degraded_images_are_seeded_whole_and_cover_the_range(faces):
    from pixelsmith.data import ImageFolder

    images = ImageFolder(faces, color="rgb", size=32)
    spec = DegradationSpec.inpaint(["box", "strokes"], coverage=(0.2, 0.4))
    data = DegradedImages(images, spec, seed=3)
    item = data[5]
    assert item["clean"].shape == item["degraded"].shape == (3, 32, 32)
    assert item["mask"].shape == (1, 32, 32) and int(item["image"]) == 5
    assert torch.equal(item["degraded"], item["clean"] * (1 - item["mask"]))
    assert torch.equal(DegradedImages(images, spec, seed=3)[5]["mask"], item["mask"])
    coverage = [float(data[i]["mask"].mean()) for i in range(len(data))]
    data.set_epoch(1)
    coverage += [float(data[i]["mask"].mean()) for i in range(len(data))]
    assert all(0.19 <= c <= 0.41 for c in coverage)
    assert not torch.equal(data[5]["mask"], item["mask"])  # fresh masks each epoch
    with pytest.raises(ValueError, match="super-resolution"):
        DegradedImages(images, DegradationSpec.sr(2))


def test_restoration_family_trains_on_whole_images_with_the_synthesis_split(tmp_path, faces):
    recipe = recipe_from_dict(tiny(faces, tmp_path / "run", family="restoration"))
    trainer = Trainer(recipe, progress=False, max_steps=2)
    family = trainer.family
    _, held_out = split_indices(12, val_fraction=0.25, seed=0)
    assert family.val_set.indices == held_out and len(trainer.dataset) == 9
    summary = trainer.fit()
    assert summary["steps"] == 2 and math.isfinite(summary["best_metric"]["psnr"])


def test_face_recipes_hold_out_the_synthesis_split():
    from pixelsmith.train.families import build_family

    data_or_skip("faces/UTKFace")
    recipe = load_recipe(CONFIGS / "inpaint-faces-l2.yaml", ["data.cache=false"])
    family = build_family(recipe, torch.device("cpu"))
    train = family.train_dataset()
    _, held_out = split_indices(6090, val_count=609, seed=0)
    assert family.val_set.indices == held_out[:200] and len(train) == 6090 - 609


# -- steps ------------------------------------------------------------------------------------

def test_discriminator_and_generator_steps_change_only_their_own_weights(tmp_path, faces):
    trainer = Trainer(recipe_from_dict(tiny(faces, tmp_path / "run")), progress=False)
    family = trainer.family
    gen, disc = trainer.models["generator"], trainer.models["discriminator"]
    batch = torch.utils.data.default_collate([trainer.dataset[i] for i in range(4)])
    condition = family.condition(batch)
    assert condition.shape == (4, 4, 32, 32)  # masked image + mask
    fake = gen(batch["degraded"], batch["mask"])

    g_before, d_before = snapshot(gen), snapshot(disc)
    logs = family.discriminator_step(condition, batch["clean"], fake.detach(), trainer)
    assert set(logs) == {"d_loss", "d_real", "d_fake"}
    assert all(torch.equal(g_before[k], v) for k, v in gen.state_dict().items())
    assert all(p.grad is None for p in gen.parameters())
    # the hinge loss's gradient on the last bias is mean(-1) + mean(+1) = 0 (up to rounding)
    # while every logit lies inside the margin, as at initialisation
    assert changed(d_before, disc) >= {k for k, _ in disc.named_parameters()} - {"head.bias"}

    d_state = snapshot(disc)
    d_grads = {k: p.grad.clone() for k, p in disc.named_parameters()}
    g_params = {k: v.detach().clone() for k, v in gen.named_parameters()}
    logs = family.generator_step(condition, batch["clean"], fake, trainer)
    assert set(logs) == {"g_loss", "g_pixel", "g_adv", "g_fm"}
    assert all(torch.equal(d_state[k], v) for k, v in disc.state_dict().items())  # incl. SN u, v
    assert all(torch.equal(d_grads[k], p.grad) for k, p in disc.named_parameters())
    assert all(p.requires_grad for p in disc.parameters()) and disc.training
    assert changed(g_params, gen)


def test_training_logs_both_players_and_validates(tmp_path, faces):
    Trainer(recipe_from_dict(tiny(faces, tmp_path / "run", task="deblur", steps=2)),
            progress=False).fit()
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    train_log = next(r for r in records if r["kind"] == "train")
    val_log = next(r for r in records if r["kind"] == "val")
    assert {"d_loss", "d_real", "d_fake", "g_loss", "g_pixel", "g_adv", "g_fm"} <= train_log.keys()
    assert {"psnr", "ssim", "loss"} <= val_log.keys()
    assert all(math.isfinite(val_log[k]) for k in ("psnr", "ssim", "loss"))


@pytest.fixture
def extractor(tmp_path) -> Path:
    """A small untrained feature classifier for 3x32x32 images, saved as a model folder."""
    from pixelsmith.zoo import save_model

    torch.manual_seed(0)
    args = {"channels": 3, "image_size": 32, "num_classes": 2, "width": 4}
    net = build_network("feature-classifier", args).eval()
    return save_model(tmp_path / "extractor", net, {
        "name": "extractor", "task": "features", "channels": 3,
        "network": {"name": "feature-classifier", "args": args}, "needs": []})


def test_feature_space_validation_keeps_the_lowest_fid(tmp_path, faces, extractor):
    data = tiny(faces, tmp_path / "run", steps=4)
    data["val"].update(every=2, metric="fid", extractor=str(extractor))
    data["data"]["val_fraction"] = 0.5  # 6 held-out images: enough for k-NN precision/recall
    Trainer(recipe_from_dict(data), progress=False).fit()
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    vals = [r for r in records if r["kind"] == "val"]
    assert [r["step"] for r in vals] == [2, 4]
    for r in vals:
        assert {"psnr", "fid", "kid", "precision", "recall"} <= r.keys()
        assert r["fid"] > -1e-3 and 0 <= r["precision"] <= 1  # 6 images: FID ~ rounding
    best = torch.load(tmp_path / "run" / "best.pt", map_location="cpu", weights_only=True)
    assert best["step"] == min(vals, key=lambda r: r["fid"])["step"]


# -- export, restore, resume ----------------------------------------------------------------------

def test_train_export_and_restore_through_the_cli(tmp_path, faces, capsys):
    from pixelsmith.cli.main import main
    from pixelsmith.zoo import load_model

    run, model = tmp_path / "run", tmp_path / "model"
    trainer = Trainer(recipe_from_dict(tiny(faces, run, steps=2, ema_decay=0.9)),
                      progress=False)
    trainer.fit()
    main(["export-model", str(run), "-o", str(model)])
    loaded = load_model(model)
    config = loaded.pixelsmith_config
    assert (config["task"], config["family"], config["needs"]) == ("inpaint", "pix2pix",
                                                                    ["mask"])
    assert config["weights"] == "ema" and type(loaded).__name__ == "ConditionedUNet"
    # save/load round trip: the exported generator computes what the trained EMA computes
    y, mask = torch.rand(2, 3, 32, 32), (torch.rand(2, 1, 32, 32) > 0.7).float()
    with torch.no_grad():
        torch.testing.assert_close(loaded(y, mask), trainer.eval_model().eval()(y, mask),
                                   atol=0, rtol=0)

    image = torch.rand(3, 37, 45)  # not the training size
    hole = torch.zeros(1, 37, 45)
    hole[:, 10:25, 12:30] = 1.0
    save_image(tmp_path / "in.png", image)
    save_image(tmp_path / "mask.png", hole)
    main(["restore", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.png"), "--task",
          "inpaint", "--method", str(model), "--mask", str(tmp_path / "mask.png")])
    out = read_image(tmp_path / "out.png")
    assert out.shape == (1, 3, 37, 45)
    known = hole.expand(3, -1, -1)[None] == 0
    original = read_image(tmp_path / "in.png")
    assert torch.equal(out[known], original[known])  # the generator keeps the known pixels


def test_resume_equals_uninterrupted(tmp_path, faces):
    full = tiny(faces, tmp_path / "full", steps=7, ema_decay=0.9)
    Trainer(recipe_from_dict(full), progress=False).fit()
    part = tiny(faces, tmp_path / "part", steps=7, ema_decay=0.9)
    Trainer(recipe_from_dict(part), progress=False, max_steps=3).fit()  # mid-epoch (2 per epoch)
    Trainer(recipe_from_dict(part), progress=False, resume=True).fit()
    assert_same_checkpoint(tmp_path / "full", tmp_path / "part", 7,
                           ("generator", "discriminator"))


# -- recipe errors and the shipped recipes --------------------------------------------------------

@pytest.mark.parametrize("change, message", [
    ({"loss": {"name": "l1", "args": {"pixel_wieght": 1}}}, "unknown pixel_wieght"),
    ({"loss": {"name": "l1", "args": {"kind": "wasserstein"}}}, "loss.args.kind"),
    ({"loss": {"name": "l1", "args": {"feature_matching": -1}}}, "feature_matching must be"),
    ({"loss": {"name": "l1", "args": {"discriminator": "patchgan"}}}, "must be a mapping"),
    ({"loss": {"name": "l1", "args": {"feature_matching": 1,
                                      "discriminator": {"name": "dcgan-d", "channels": 7,
                                                        "image_size": 32}}}}, "features"),
    ({"loss": {"name": "gan"}}, "does not fit the pix2pix family"),
    ({"degradation": {"task": "sr", "scale": 2}}, "needs degradation.task"),
    ({"degradation": {"task": "inpaint", "mask_coverage": [0.5, 0.2]}}, "coverage"),
    ({"val": {"metric": "accuracy"}}, "val.metric"),
    ({"val": {"metric": "fid"}}, "needs val.extractor"),
    ({"loss": {"name": "l1", "args": {"discriminator": {"name": "patchgan", "deep": 2}}}},
     "bad arguments"),
])
def test_recipe_mistakes_are_one_line_errors(tmp_path, faces, change, message):
    data = {**tiny(faces, tmp_path / "run"), **change}
    with pytest.raises(PixelsmithError, match=message) as info:
        Trainer(recipe_from_dict(data), progress=False).fit()
    assert "\n" not in str(info.value)


def test_feature_validation_needs_whole_images(tmp_path, faces):
    data = tiny(faces, tmp_path / "run", task="deblur")
    data["val"].update(metric="fid", extractor="features-faces")
    with pytest.raises(PixelsmithError, match="data.image_size"):
        Trainer(recipe_from_dict(data), progress=False)


def test_cli_bad_recipe_is_one_line(tmp_path, faces, capsys):
    from pixelsmith.cli.main import main

    data = tiny(faces, tmp_path / "run")
    data["loss"]["args"]["kind"] = "wasserstein"
    path = tmp_path / "bad.yaml"
    path.write_text(json.dumps(data))
    with pytest.raises(SystemExit) as exit_info:
        main(["train", str(path), "--quiet"])
    err = capsys.readouterr().err
    assert exit_info.value.code != 0 and "Traceback" not in err
    assert err.strip().count("\n") == 0 and "loss.args.kind" in err


@pytest.mark.parametrize("name, task, in_channels", [("inpaint-faces-gan", "inpaint", 7),
                                                     ("inpaint-faces-l2", "inpaint", None),
                                                     ("deblur-gan", "deblur", 6)])
def test_shipped_recipes_build(name, task, in_channels):
    from pixelsmith.train.families import build_family

    recipe = load_recipe(CONFIGS / f"{name}.yaml", ["init=null"])
    assert recipe.name == name and recipe.degradation.task == task
    family = build_family(recipe, torch.device("cpu"))
    models = family.build_models()
    if in_channels is not None:
        assert models["discriminator"].in_channels == in_channels


def test_split_seed_keeps_an_earlier_stages_held_out_images(tmp_path, faces):
    """A later stage draws its own patches (train.seed) but holds out the same images."""
    from pixelsmith.train.families import build_family

    def held_out(**data) -> list[str]:
        cfg = tiny(faces, tmp_path / "run", task="deblur", family="restoration")
        cfg["data"].update(data)
        cfg["train"]["seed"] = 3
        family = build_family(recipe_from_dict(cfg), torch.device("cpu"))
        family.train_dataset()
        return [str(path) for path in family.val_files]

    _, stage_one = split_indices(12, val_fraction=0.25, seed=0)
    files = sorted(str(path) for path in faces.iterdir())
    assert held_out(split_seed=0) == [files[i] for i in stage_one]
    assert held_out() != held_out(split_seed=0)  # without it, train.seed draws the split
