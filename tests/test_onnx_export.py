"""ONNX export of the shipped restoration models: ONNX Runtime equals torch eager within 1e-4
on real image crops of several (odd) sizes, dynamic batch, metadata, CLI errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from test_cli import assert_one_line_error, run

from pixelsmith.degrade.known import TASKS
from pixelsmith.io import read_image
from pixelsmith.zoo import load_model, shipped_models

pytest.importorskip("onnxruntime", reason="onnxruntime not installed (pip install "
                    "'pixelsmith[fast]')")
pytest.importorskip("onnx", reason="onnx not installed (pip install 'pixelsmith[fast]')")
pytest.importorskip("onnxscript", reason="onnxscript not installed (pip install "
                    "'pixelsmith[fast]')")

import onnxruntime  # noqa: E402

from pixelsmith.runtime.cache import cached_export  # noqa: E402
from pixelsmith.runtime.onnx_export import (  # noqa: E402
    OPSET,
    class_sides,
    read_metadata,
    size_class,
)

pytestmark = pytest.mark.usefixtures("one_thread", "onnx_cache")

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "pixelsmith" / "samples"
RESTORATION = sorted(name for name, info in shipped_models().items()
                     if info.get("task") in TASKS)
#: the default models run in the default tier; the others share their architectures (other
#: weights) and run in the slow tier, since each export takes seconds
PARITY_CASES = [pytest.param(name, marks=() if shipped_models()[name].get("default")
                             else pytest.mark.slow) for name in RESTORATION]
SIZES = [(48, 40), (67, 53)]




def crops(channels: int, height: int, width: int) -> torch.Tensor:
    """Two real image crops (landscape and texture samples), as a batch of 2."""
    images = [read_image(SAMPLES / name, gray=channels == 1) for name in
              ("landscape.png", "texture.png")]
    return torch.cat([image[..., 10:10 + height, 20:20 + width] for image in images])


def inputs(net, height: int, width: int) -> tuple[torch.Tensor, ...]:
    image = crops(net.channels, height, width)
    generator = torch.Generator().manual_seed(height * width)
    if net.conditioning == "sigma":
        sigma = torch.tensor([15.0, 40.0]) / 255
        noisy = image + sigma.reshape(-1, 1, 1, 1) * torch.randn(image.shape, generator=generator)
        return noisy, sigma
    if net.conditioning == "quality":
        return image, torch.tensor([0.1, 0.3])
    if net.conditioning == "mask":
        mask = (torch.rand(2, 1, height, width, generator=generator) > 0.6).float()
        mask[..., 10:30, 8:25] = 1.0  # a hole wider than the random pixels
        return image * (1 - mask), mask
    return (image,)


def run_onnx(path: Path, net, args: tuple[torch.Tensor, ...]) -> np.ndarray:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return session.run(["output"], {n: a.numpy() for n, a in zip(names, args, strict=True)})[0]


def test_every_shipped_restoration_model_is_covered():
    assert {"denoise-gray", "denoise-color", "dejpeg-gray", "dejpeg-color", "sr-x2", "sr-x4",
            "inpaint", "deblur-blind"} <= set(RESTORATION)


@pytest.mark.parametrize("name", PARITY_CASES)
def test_onnx_runtime_matches_torch_eager(name):
    net = load_model(name)
    for height, width in SIZES:
        path = cached_export(net, size_class(net, height, width))
        args = inputs(net, height, width)
        with torch.inference_mode():
            expected = net(*args).numpy()
        got = run_onnx(path, net, args)
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() < 1e-4, (name, height, width)
        # one image alone (batch is dynamic) gives the same as within the batch
        alone = run_onnx(path, net, tuple(a[:1] for a in args))
        assert np.abs(alone - expected[:1]).max() < 1e-4
        # and a different output from another level (the conditioning input is used)
        if net.conditioning in ("sigma", "quality"):
            other = run_onnx(path, net, (args[0], args[1].flip(0)))
            assert np.abs(other - got).max() > 1e-3


def test_metadata_says_what_the_graph_takes():
    net = load_model("denoise-color")
    props = read_metadata(cached_export(net, 0))
    config = json.loads((Path(__file__).resolve().parents[1] / "src/pixelsmith/zoo/"
                         "denoise-color/config.json").read_text())
    assert props["task"] == "denoise" and props["channels"] == "3" and props["scale"] == "1"
    assert props["conditioning"] == "sigma" and props["inputs"] == "image, level"
    assert props["source_sha256"] == config["sha256"]
    assert props["opset"] == str(OPSET) and props["size_multiple"] == "8"
    assert props["pixelsmith_version"]


def test_cli_writes_one_file_with_the_weights_inside(capsys, tmp_path):
    target = tmp_path / "sr-x2.onnx"
    code, out, err = run(capsys, "export-onnx", "sr-x2", "-o", str(target))
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sr-x2.onnx"]  # no .onnx.data
    weights = (Path(__file__).resolve().parents[1] / "src/pixelsmith/zoo/sr-x2/"
               "model.safetensors").stat().st_size
    assert target.stat().st_size > 0.9 * weights
    assert "opset 18" in out and len(out.strip().splitlines()) == 1
    assert read_metadata(target)["scale"] == "2"


def test_exports_carry_no_trace_of_the_machine_and_repeat_byte_for_byte(tmp_path):
    import onnx

    from pixelsmith.runtime.onnx_export import export_network

    net = load_model("sr-x4")
    first = export_network(net, tmp_path / "a.onnx")
    second = export_network(net, tmp_path / "b.onnx")
    assert first.read_bytes() == second.read_bytes()
    assert b"stack_trace" not in first.read_bytes()
    assert str(Path(__file__).resolve().parents[1]).encode() not in first.read_bytes()
    assert all(not node.metadata_props for node in onnx.load_model(str(first)).graph.node)


def test_size_classes_of_inpainting_models():
    net = load_model("inpaint")
    assert size_class(net, 48, 40) == 6 == size_class(net, 64, 500)
    assert size_class(net, 65, 80) == 7
    assert size_class(net, 512, 512) == 9 and size_class(net, 5000, 9000) == 12
    assert class_sides(6) == (33, 64) and class_sides(12) == (2049, None)
    assert size_class(load_model("denoise-gray"), 48, 40) == 0  # any size


@pytest.mark.parametrize("argv", [["gan-mnist"], ["vae-mnist"], ["no-such-model"]])
def test_export_refuses_what_it_cannot_export(capsys, tmp_path, argv):
    code, _, err = run(capsys, "export-onnx", *argv, "-o", str(tmp_path / "x.onnx"))
    assert_one_line_error(code, err)
    assert not (tmp_path / "x.onnx").exists()
