"""quantize --qat: fake quantization that mimics the int8 graph, a few fine-tuning steps of the
model's own recipe, then the static int8 package of the fine-tuned weights."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image as PILImage
from test_cli import run

from pixelsmith.runtime.ort_backend import onnxruntime_available
from pixelsmith.zoo import load_model

pytestmark = [pytest.mark.usefixtures("one_thread"),
              pytest.mark.skipif(not onnxruntime_available(),
                                 reason="onnxruntime/onnx/onnxscript not installed "
                                        "(pip install 'pixelsmith[fast]')")]


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for i in range(6):
        smooth = np.kron(rng.random((6, 6)), np.ones((8, 8)))
        PILImage.fromarray((smooth * 255).astype(np.uint8)).save(folder / f"{i}.png")
    return folder


@pytest.fixture(scope="module")
def tiny_model(images, tmp_path_factory) -> Path:
    """A small level-conditioned U-Net package with its (tiny) training recipe."""
    from pixelsmith.train.config import recipe_from_dict
    from pixelsmith.train.export import export_run
    from pixelsmith.train.trainer import Trainer

    root = tmp_path_factory.mktemp("tiny")
    recipe = {
        "name": "tiny-unet",
        "model": {"name": "unet", "args": {"channels": 1, "features": [8, 16], "blocks": 1,
                                           "conditioning": "sigma"}},
        "data": {"train": str(images), "color": "gray", "patch_size": 16,
                 "patches_per_epoch": 32, "val_fraction": 0.2},
        "degradation": {"task": "denoise", "sigma": [10, 30]},
        "val": {"every": 1000, "sigma": 20, "limit": 1},
        "optim": {"name": "adam", "lr": 1e-3},
        "train": {"batch_size": 4, "steps": 6, "seed": 0, "log_every": 2,
                  "checkpoint_every": 6},
        "output": str(root / "run"),
    }
    Trainer(recipe_from_dict(recipe), root / "run", device="cpu", progress=False).fit()
    return export_run(root / "run", root / "tiny-unet", checkpoint="last")


def test_fake_quantization_mimics_the_int8_graph(images, tiny_model, tmp_path):
    import onnxruntime

    from pixelsmith.deploy.qat import graph_activations, install_fake_quantization
    from pixelsmith.deploy.quantize import QUANTIZED_FILE, calibration_inputs, quantize_model

    package = quantize_model(tiny_model, images, tmp_path / "int8", images=6, crop=32)
    activations = graph_activations(package / QUANTIZED_FILE)
    net = load_model(tiny_model)
    convs = [name for name, m in net.named_modules() if isinstance(m, torch.nn.Conv2d)]
    # every convolution but the first and the last is quantized (not the upsampling ones)
    assert sorted(activations) == sorted(convs[1:-1])
    assert all(0 <= q.zero_point <= 255 and q.scale > 0 for q in activations.values())
    feed = calibration_inputs(net, images, images=1, crop=32, seed=3)[0]
    args = (torch.from_numpy(feed["image"]), torch.from_numpy(feed["level"]))
    fake = copy.deepcopy(net)
    assert install_fake_quantization(fake, activations, args) == len(convs) - 2
    session = onnxruntime.InferenceSession(str(package / QUANTIZED_FILE),
                                           providers=["CPUExecutionProvider"])
    int8 = session.run(None, feed)[0]
    with torch.no_grad():
        fp32, mimic = net(*args).numpy(), fake(*args).numpy()
        fake_first = fake.encoders[0][0](fake.head(torch.rand(1, 2, 16, 16)))
    # rounding flips differ element by element, but the fake-quantized forward departs from
    # fp32 as much as the int8 graph does (weights alone would depart far less)
    ratio = np.abs(mimic - fp32).mean() / np.abs(int8 - fp32).mean()
    assert 0.6 < ratio < 1.6
    # and the first residual block's output is on the uint8 grid of the next convolution
    quant = activations["down.0"]
    levels = fake_first / quant.scale + quant.zero_point
    assert torch.allclose(levels, levels.round(), atol=1e-3)


def test_qat_package_holds_fine_tuned_weights(capsys, images, tiny_model, tmp_path):
    from pixelsmith.deploy.quantize import QUANTIZED_FILE

    out = tmp_path / "qat"
    code, _, err = run(capsys, "quantize", str(tiny_model), "--calibrate", str(images),
                       "-o", str(out), "--images", "6", "--crop", "32", "--qat", "3",
                       "--device", "cpu")
    assert code == 0, err
    config = json.loads((out / "config.json").read_text())
    assert config["qat"]["steps"] == 3 and config["qat"]["fake_quantized"] > 0
    assert config["qat"]["finetune"]["summary"]["steps"] == 3
    assert config["quantized"]["file"] == QUANTIZED_FILE
    tuned, source = load_model(out).state_dict(), load_model(tiny_model).state_dict()
    assert tuned.keys() == source.keys()
    assert any(not torch.equal(tuned[k], source[k]) for k in tuned)  # fine-tuned
    code, _, err = run(capsys, "restore", str(sorted(images.iterdir())[0]), "-o",
                       str(tmp_path / "out.png"), "--task", "denoise", "--sigma", "20",
                       "--method", str(out))
    assert code == 0, err
