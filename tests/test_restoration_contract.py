"""Every restoration network declares its channels, conditioning, scale and size multiple
(nets.contract), and the ONNX Runtime stand-in declares the same, so no caller has to probe."""

from __future__ import annotations

import pytest
import torch

from pixelsmith.nets import build_network
from pixelsmith.nets.contract import (
    CONDITIONINGS,
    RestorationInterface,
    RestorationNet,
    conditioning_of,
)

CASES = [
    ("dncnn", {"channels": 3, "features": 8, "depth": 3}, 3, None, 1, 1),
    ("edsr", {"channels": 1, "scale": 2, "features": 8, "blocks": 1}, 1, None, 2, 1),
    ("unet", {"channels": 1, "features": [8, 16], "blocks": 1, "conditioning": "sigma"},
     1, "sigma", 1, 2),
    ("unet", {"channels": 3, "features": [8, 16, 32], "blocks": 1, "conditioning": "mask"},
     3, "mask", 1, 4),
    ("unet", {"channels": 3, "features": [8, 16], "blocks": 1, "conditioning": None},
     3, None, 1, 2),
    ("ffdnet", {"channels": 1, "features": 8, "depth": 3, "conditioning": "sigma"},
     1, "sigma", 1, 2),
    ("nafnet", {"channels": 3, "width": 4, "encoder_blocks": [1, 1], "middle_blocks": 1,
                "decoder_blocks": [1, 1], "conditioning": None}, 3, None, 1, 4),
]


@pytest.mark.parametrize(("name", "args", "channels", "conditioning", "scale", "multiple"),
                         CASES)
def test_each_restoration_network_declares_its_facts(name, args, channels, conditioning, scale,
                                                     multiple):
    net = build_network(name, args)
    assert isinstance(net, RestorationNet) and isinstance(net, RestorationInterface)
    assert (net.channels, net.conditioning, net.scale, net.multiple) == (
        channels, conditioning, scale, multiple)
    assert conditioning_of(net) == conditioning in CONDITIONINGS
    y = torch.rand(1, channels, 12, 10)
    extra = {None: (), "sigma": (torch.tensor([0.1]),), "mask": (torch.zeros(1, 1, 12, 10),)}
    out = net.eval()(y, *extra[conditioning])
    assert out.shape == (1, channels, 12 * scale, 10 * scale)


def test_other_models_take_the_image_alone():
    vae = build_network("conv-vae", {"channels": 1, "image_size": 28, "latent_dim": 4})
    assert not isinstance(vae, RestorationInterface)
    assert conditioning_of(vae) is None


def test_the_onnx_runtime_stand_in_declares_what_its_network_declares():
    pytest.importorskip("onnxruntime")
    from pixelsmith.runtime.ort_backend import OrtNetwork

    net = build_network("edsr", {"channels": 1, "scale": 2, "features": 8, "blocks": 1})
    stand_in = OrtNetwork(net)
    assert isinstance(stand_in, RestorationInterface)
    assert (stand_in.channels, stand_in.conditioning, stand_in.scale, stand_in.multiple) == (
        1, None, 2, 1)
