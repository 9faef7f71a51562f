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
