"""Template tests over the registries: every network, every restore method target, and the
package's import graph. A new network or method is covered by adding one line to a table."""

from __future__ import annotations

import importlib
import runpy
from pathlib import Path

import pytest
import torch

from pixelsmith.nets import NETWORKS, build_network
from pixelsmith.restoration import registry
from pixelsmith.zoo import load_model, save_model

ROOT = Path(__file__).resolve().parents[1]

# name -> (small constructor args, input shape of a batch of one, what goes in)
NETWORK_EXAMPLES: dict[str, tuple[dict, tuple[int, ...], str]] = {
    "dncnn": ({"channels": 1, "features": 8, "depth": 3}, (1, 1, 13, 11), "image"),
    "unet": ({"channels": 3, "features": (8, 16), "blocks": 1}, (1, 3, 13, 11), "image+level"),
    "edsr": ({"channels": 3, "scale": 2, "features": 8, "blocks": 1}, (1, 3, 7, 9), "image"),
    "ffdnet": ({"channels": 1, "features": 8, "depth": 3}, (1, 1, 13, 11), "image+level"),
    "nafnet": ({"channels": 3, "width": 4, "encoder_blocks": (1, 1), "middle_blocks": 1,
                "decoder_blocks": (1, 1)}, (1, 3, 13, 11), "image+level"),
    "conv-ae": ({"channels": 1, "image_size": 28, "latent_dim": 4, "base": 8}, (1, 1, 28, 28),
                "image"),
    "conv-vae": ({"channels": 1, "image_size": 28, "latent_dim": 4, "base": 8}, (1, 1, 28, 28),
                 "image+generator"),
    "dcgan-g": ({"latent_dim": 8, "channels": 1, "image_size": 28, "base": 8}, (1, 8), "latent"),
    "dcgan-d": ({"channels": 1, "image_size": 28, "base": 8}, (1, 1, 28, 28), "image"),
    "patchgan": ({"in_channels": 2, "base": 8, "depth": 2}, (1, 2, 37, 29), "image"),
    "feature-classifier": ({"channels": 1, "image_size": 28, "width": 8}, (1, 1, 28, 28),
                           "image"),
    "codec-factorized": ({"channels": 3, "N": 8, "M": 8}, (1, 3, 64, 64), "image"),
    "codec-hyperprior": ({"channels": 3, "N": 8, "M": 8}, (1, 3, 64, 64), "image"),
    "codec-ae": ({"channels": 3, "N": 8, "M": 4}, (1, 3, 64, 64), "image"),
    "codec-checkerboard": ({"channels": 3, "N": 8, "M": 12}, (1, 3, 64, 64), "image"),
}


def _forward(net: torch.nn.Module, kind: str, shape: tuple[int, ...]) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=gen) if kind == "latent" else torch.rand(shape, generator=gen)
    if kind == "image+level":
        out = net(x, torch.full((shape[0],), 0.1))
    elif kind == "image+generator":  # a VAE samples its latent
        out = net(x, generator=torch.Generator().manual_seed(1))
    else:
        out = net(x)
    if isinstance(out, dict):  # codecs: x_hat and likelihoods
        out = out["x_hat"]
    if isinstance(out, (tuple, list)):  # VAEs: (x_hat, mu, logvar)
        out = out[0]
    return out


def test_every_network_has_an_example() -> None:
    assert set(NETWORK_EXAMPLES) == set(NETWORKS)


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_network_shapes_batch_of_one_and_round_trip(name: str, tmp_path: Path) -> None:
    args, shape, kind = NETWORK_EXAMPLES[name]
    torch.manual_seed(0)
    net = build_network(name, args).eval()
    with torch.no_grad():
        out = _forward(net, kind, shape)
        assert out.shape[0] == 1 and torch.isfinite(out).all()
        if kind.startswith("image") and name not in ("dcgan-d", "patchgan", "feature-classifier"):
            scale = args.get("scale", 1)
            assert out.shape[-2:] == (shape[-2] * scale, shape[-1] * scale)  # odd sizes kept
        batch = _forward(net, kind, (3, *shape[1:]))
        assert batch.shape[0] == 3
    config = {"name": name, "family": "test", "task": "test",
              "network": {"name": name, "args": args}, "channels": shape[1]}
    save_model(tmp_path / name, net, config)
    loaded = load_model(tmp_path / name)
    with torch.no_grad():
        assert torch.equal(_forward(loaded, kind, shape), out)


def test_every_method_target_resolves() -> None:
    methods = [m for task in registry.TASKS for m in registry.task_methods(task).values()]
    assert methods
    for method in methods:
        module_name, attr = method.target.split(":")
        assert callable(getattr(importlib.import_module(module_name), attr)), method.target


def test_package_has_no_import_cycle() -> None:
    graph_tool = runpy.run_path(str(ROOT / "scripts" / "import_graph.py"))
    graph = graph_tool["module_graph"]()
    assert len(graph) > 50
    assert graph_tool["cycles"](graph) == []
    # the tool finds a cycle when there is one
    assert graph_tool["cycles"]({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c"]]


# -- every training family: two steps through the Trainer change every weight --------------
# (two: a U-Net's output layer starts at zero, so the first step moves only that layer)

def _family_recipe(family: str, photos: Path, classes: Path, output: Path) -> dict:
    """A recipe of ``family`` whose one step takes well under a second."""
    gray_28 = {"train": str(photos), "kind": "folder", "color": "gray", "image_size": 28}
    recipes = {
        "restoration": {
            "model": {"name": "dncnn", "args": {"channels": 1, "features": 8, "depth": 3}},
            "data": {"train": str(photos), "color": "gray", "patch_size": 16,
                     "patches_per_epoch": 16, "val_fraction": 0.25},
            "degradation": {"task": "denoise", "sigma": [10, 30]}},
        "pix2pix": {
            "model": {"name": "unet", "args": {"channels": 3, "features": [4, 8], "blocks": 1,
                                               "conditioning": "mask"}},
            "data": {"train": str(photos), "kind": "folder", "color": "rgb", "image_size": 32,
                     "val_fraction": 0.25},
            "degradation": {"task": "inpaint", "masks": ["box"], "mask_coverage": [0.2, 0.4]},
            "loss": {"name": "l1", "args": {"discriminator": {"base": 4, "depth": 2}}},
            "val": {"mask_kind": "box:0.3"}},
        "autoencoder": {
            "model": {"name": "conv-ae", "args": {"channels": 1, "image_size": 28, "base": 4,
                                                  "latent_dim": 4}},
            "data": gray_28, "loss": {"name": "mse"}},
        "vae": {
            "model": {"name": "conv-vae", "args": {"channels": 1, "image_size": 28, "base": 4,
                                                   "latent_dim": 4}},
            "data": gray_28, "loss": {"name": "elbo"}, "val": {"metric": "loss"}},
        "gan": {
            "model": {"name": "dcgan-g", "args": {"channels": 1, "image_size": 28, "base": 4,
                                                  "latent_dim": 8}},
            "data": gray_28, "loss": {"name": "gan", "args": {"discriminator": {"base": 4}}},
            "val": {"metric": "loss"}},
        "codec": {
            "model": {"name": "codec-hyperprior",
                      "args": {"channels": 3, "N": 8, "M": 12, "quality": 1, "lmbda": 0.01}},
            "data": {"train": [str(photos)], "patch_size": 64, "patches_per_epoch": 8},
            "loss": {"name": "mse"}, "val": {"data": str(photos), "metric": "loss"}},
        "classifier": {
            "model": {"name": "feature-classifier",
                      "args": {"channels": 3, "image_size": 32, "num_classes": 10, "width": 4}},
            "data": {"train": str(classes), "kind": "cifar10", "val_fraction": 0.25},
            "loss": {"name": "cross_entropy"}, "val": {"metric": "accuracy"}},
    }
    recipe = recipes[family]
    return {"name": f"tiny-{family}", "family": family, **recipe,
            "val": {"every": 1000, **recipe.get("val", {})},
            "optim": {"name": "adam", "lr": 1e-3},
            "train": {"batch_size": 4, "steps": 2, "seed": 0, "log_every": 1,
                      "checkpoint_every": 1000},
            "output": str(output)}


def _family_images(root: Path) -> tuple[Path, Path]:
    """8 colour 64x64 photos-like images, and 10 class folders of two 32x32 images each."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    photos, classes = root / "photos", root / "classes"
    photos.mkdir()
    for i in range(8):
        blocks = np.kron(rng.random((8, 8, 3)), np.ones((8, 8, 1)))
        Image.fromarray((blocks * 255).astype(np.uint8)).save(photos / f"{i}.png")
    from pixelsmith.data import CIFAR10_CLASSES

    for name in CIFAR10_CLASSES:
        (classes / name).mkdir(parents=True)
        for i in range(2):
            pixels = (rng.random((32, 32, 3)) * 255).astype(np.uint8)
            Image.fromarray(pixels).save(classes / name / f"{i}.png")
    return photos, classes


# Parameters one step may leave unchanged, with the reason: a hinge discriminator's last bias
# has gradient mean(-1) + mean(+1) = 0 while every logit lies inside the margin (as at
# initialisation).
UNCHANGED_BY_DESIGN = {("gan", "discriminator"): {"body.{last}.bias"},
                       ("pix2pix", "discriminator"): {"head.bias"}}


@pytest.mark.parametrize("family", ["restoration", "pix2pix", "autoencoder", "vae", "gan",
                                    "codec", "classifier"])
def test_every_family_subclasses_family_and_training_changes_every_weight(family, tmp_path):
    from pixelsmith.train.config import recipe_from_dict
    from pixelsmith.train.families import FAMILIES, family_class
    from pixelsmith.train.families.base import Family
    from pixelsmith.train.trainer import Trainer

    assert set(FAMILIES) == {"restoration", "pix2pix", "autoencoder", "vae", "gan", "codec",
                             "classifier"}
    assert issubclass(family_class(family), Family)
    photos, classes = _family_images(tmp_path)
    recipe = recipe_from_dict(_family_recipe(family, photos, classes, tmp_path / "run"))
    trainer = Trainer(recipe, progress=False)
    before = {key: {k: v.detach().clone() for k, v in model.named_parameters()}
              for key, model in trainer.models.items()}
    trainer.fit()
    for key, model in trainer.models.items():
        exempt = {name.format(last=len(getattr(model, "body", [])) - 1)
                  for name in UNCHANGED_BY_DESIGN.get((family, key), ())}
        same = {k for k, v in model.named_parameters() if torch.equal(before[key][k], v)}
        assert same <= exempt, (key, sorted(same))
