"""The FFDNet- and NAFNet-style networks compared in benchmarks/architecture_study.py: any input
size, the identity before training, their level input, and a round trip through a model folder."""

from __future__ import annotations

import pytest
import torch

from pixelsmith.errors import PixelsmithError
from pixelsmith.nets import build_network
from pixelsmith.zoo import load_model, save_model

NETWORKS = {
    "ffdnet": {"channels": 1, "features": 8, "depth": 4, "conditioning": "sigma"},
    "nafnet": {"channels": 3, "width": 4, "encoder_blocks": [1, 2], "middle_blocks": 1,
               "decoder_blocks": [1, 1], "conditioning": "quality"},
}


def _trained_a_little(name: str) -> torch.nn.Module:
    """The network after one optimizer step, so that its output is no longer its input."""
    torch.manual_seed(0)
    net = build_network(name, NETWORKS[name])
    y = torch.rand(2, net.channels, 16, 16)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.5)
    (net(y, torch.tensor([0.1, 0.3])) - y.flip(-1)).pow(2).mean().backward()
    optimizer.step()
    return net.eval()


@pytest.mark.parametrize("name", NETWORKS)
def test_an_untrained_network_returns_its_input_at_any_size(name):
    net = build_network(name, NETWORKS[name]).eval()
    y = torch.rand(1, net.channels, 13, 7)
    with torch.no_grad():
        assert torch.equal(net(y, torch.tensor([0.2])), y)


@pytest.mark.parametrize("name", NETWORKS)
def test_the_level_changes_the_output_and_is_required(name):
    net = _trained_a_little(name)
    y = torch.rand(1, net.channels, 12, 10)
    with torch.no_grad():
        low, high = net(y, torch.tensor([0.05])), net(y, torch.tensor([0.6]))
    assert low.shape == y.shape and not torch.allclose(low, high)
    with pytest.raises(ValueError, match="needs its"):
        net(y)


@pytest.mark.parametrize("name", NETWORKS)
def test_a_mask_conditioning_is_refused(name):
    with pytest.raises(PixelsmithError, match="conditioning"):
        build_network(name, {**NETWORKS[name], "conditioning": "mask"})


@pytest.mark.parametrize("name", NETWORKS)
def test_a_saved_network_reads_back_identically(name, tmp_path):
    net = _trained_a_little(name)
    save_model(tmp_path / name, net, {"name": name, "task": "denoise",
                                      "network": {"name": name, "args": NETWORKS[name]}})
    loaded = load_model(tmp_path / name).eval()
    y = torch.rand(1, net.channels, 20, 12)
    with torch.no_grad():
        assert torch.equal(loaded(y, torch.tensor([0.25])), net(y, torch.tensor([0.25])))


def test_the_nafnet_needs_matching_encoder_and_decoder_scales():
    with pytest.raises(PixelsmithError, match="one count per scale"):
        build_network("nafnet", {"encoder_blocks": [1, 1], "decoder_blocks": [1]})
