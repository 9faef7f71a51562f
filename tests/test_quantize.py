"""pixelsmith quantize: an int8 package that load_model loads and restore --method runs with
ONNX Runtime, close to the fp32 model, smaller on disk; calibration never on a test set."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from test_cli import assert_one_line_error, run

from pixelsmith.degrade.known import Known
from pixelsmith.io import read_image, save_image
from pixelsmith.metrics.pixel import psnr
from pixelsmith.restoration.restorer import Restorer
from pixelsmith.runtime.ort_backend import onnxruntime_available
from pixelsmith.zoo import load_model

pytestmark = [pytest.mark.usefixtures("one_thread"),
              pytest.mark.skipif(not onnxruntime_available(),
                                 reason="onnxruntime/onnx/onnxscript not installed "
                                        "(pip install 'pixelsmith[fast]')")]

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "pixelsmith" / "samples"


@pytest.fixture(scope="module")
def calibration(tmp_path_factory) -> Path:
    """A small folder of 'training' images: crops of the bundled samples."""
    folder = tmp_path_factory.mktemp("calibration")
    for name in ("landscape.png", "texture.png", "shapes.png"):
        image = read_image(SAMPLES / name, gray=False)
        for i, (top, left) in enumerate([(0, 0), (40, 60)]):
            save_image(folder / f"{Path(name).stem}{i}.png",
                       image[..., top:top + 96, left:left + 96])
    return folder


@pytest.fixture(scope="module")
def package(calibration, tmp_path_factory) -> Path:
    from pixelsmith.deploy.quantize import quantize_model

    out = tmp_path_factory.mktemp("int8") / "denoise-color-int8"
    return quantize_model("denoise-color", calibration, out, images=6, crop=64)


def test_package_loads_and_is_smaller(package):
    from pixelsmith.deploy.quantize import QUANTIZED_FILE

    assert sorted(p.name for p in package.iterdir()) == ["config.json", QUANTIZED_FILE,
                                                          "model.safetensors"]
    config = json.loads((package / "config.json").read_text())
    entry = config["quantized"]
    assert entry["calibration"]["images"] == 6 and entry["source"]["name"] == "denoise-color"
    assert len(entry["kept_fp32"]) == 2 + 3  # first, last, the U-Net's 3 upsamplings
    net = load_model(package)  # the fp32 weights are there, checked by their sha256
    assert net.conditioning == "sigma"
    int8 = (package / QUANTIZED_FILE).stat().st_size
    assert int8 < 0.3 * (package / "model.safetensors").stat().st_size


def test_every_weight_of_the_network_is_stored_as_int8(package):
    """The convolutions that compute in fp32 (first, last, upsampling) keep int8-stored weights
    too, dequantized in the graph, within half a step of the fp32 weights."""
    import onnx
    from onnx import numpy_helper

    from pixelsmith.deploy.quantize import QUANTIZED_FILE

    graph = onnx.load_model(str(package / QUANTIZED_FILE)).graph
    values = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    weights = {name: array for name, array in values.items()
               if name.startswith("net.") and ".weight" in name and array.ndim == 4}
    assert weights and all(array.dtype == np.int8 for array in weights.values())
    state = load_model(package).state_dict()
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0].endswith(".weight_int8"):
            name = node.input[0].removeprefix("net.").removesuffix("_int8")
            axis = next((a.i for a in node.attribute if a.name == "axis"), 1)
            shape = [1, 1, 1, 1]
            shape[axis] = -1
            scale = values[node.input[1]].reshape(shape)
            restored = values[node.input[0]].astype(np.float32) * scale
            assert np.abs(restored - state[name].numpy()).max() <= scale.max() / 2 + 1e-7


def test_restore_method_runs_the_int8_graph_close_to_fp32(package):
    # int8 costs most in flat regions (a sky loses about 1 dB): a textured crop here
    clean = read_image(SAMPLES / "texture.png", gray=False)[..., :128, :112]
    noisy = clean + 25 / 255 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(0))
    known = Known(sigma=25 / 255)
    int8 = Restorer("denoise", str(package), device="cpu", tile=64, overlap=8)
    assert int8.backend == "onnxruntime"  # the package's default
    fp32 = Restorer("denoise", "denoise-color", device="cpu", tile=64, overlap=8)
    out8, out32 = int8(noisy, known), fp32(noisy, known)
    assert (out8 - out32).abs().max() > 0  # it is not the fp32 graph
    gap = psnr(out32, clean).item() - psnr(out8, clean).item()
    assert gap < 0.5, gap
    assert psnr(out8, clean).item() > psnr(noisy.clamp(0, 1), clean).item() + 5
    # --backend torch runs the package's fp32 weights
    same = Restorer("denoise", str(package), device="cpu", tile=64, overlap=8, backend="torch")
    assert same.backend == "torch" and torch.allclose(same(noisy, known), out32, atol=1e-6)


def test_cli_quantize_and_restore(capsys, calibration, tmp_path):
    out = tmp_path / "sr-int8"
    code, stdout, err = run(capsys, "quantize", "sr-x2", "--calibrate", str(calibration),
                            "-o", str(out), "--images", "3", "--crop", "32")
    assert code == 0, err
    assert "model.int8.onnx" in stdout
    source = tmp_path / "small.png"
    save_image(source, read_image(SAMPLES / "texture.png", gray=False)[..., :40, :36])
    code, _, err = run(capsys, "restore", str(source), "-o", str(tmp_path / "big.png"),
                       "--task", "sr", "--scale", "2", "--method", str(out), "--device", "cpu")
    assert code == 0, err
    assert read_image(tmp_path / "big.png").shape[-2:] == (80, 72)


def test_a_broken_int8_file_is_refused(package, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(package, copy)
    with open(copy / "model.int8.onnx", "ab") as handle:
        handle.write(b"\0")
    from pixelsmith.errors import PixelsmithError

    with pytest.raises(PixelsmithError, match="checksum"):
        Restorer("denoise", str(copy), device="cpu")(torch.rand(1, 3, 16, 16),
                                                      Known(sigma=0.1))


def test_calibrating_on_a_test_set_is_refused(capsys, tmp_path, monkeypatch):
    from pixelsmith.settings import DATA_ENV

    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    (tmp_path / "test" / "BSD68").mkdir(parents=True)
    code, _, err = run(capsys, "quantize", "denoise-gray", "--calibrate",
                       str(tmp_path / "test" / "BSD68"), "-o", str(tmp_path / "out"))
    assert_one_line_error(code, err)
    assert "test set" in err and not (tmp_path / "out").exists()


def test_an_inpainting_package_serves_only_its_size_class(tmp_path):
    from pixelsmith.runtime.int8 import quantized_graph

    net = torch.nn.Identity()
    net.pixelsmith_config = {"quantized": {"file": "model.int8.onnx", "size_class": 9,
                                           "sha256": "0"}}
    net.pixelsmith_dir = tmp_path
    assert quantized_graph(net, 8) is None and quantized_graph(net, 0) is None
    from pixelsmith.errors import PixelsmithError

    with pytest.raises(PixelsmithError, match="missing"):
        quantized_graph(net, 9)


@pytest.mark.slow  # three inpainting exports: about a minute on 2 cores
def test_inpainting_is_quantized_for_one_size_class(calibration, tmp_path):
    from pixelsmith.deploy.quantize import quantize_model

    out = quantize_model("inpaint", calibration, tmp_path / "inpaint-int8", images=3,
                         crop=128, max_side=64)
    config = json.loads((out / "config.json").read_text())
    assert config["quantized"]["size_class"] == 6  # smaller sides 33-64
    assert config["quantized"]["calibration"]["crop"] == 64
    image = read_image(SAMPLES / "texture.png", gray=False)
    mask = torch.zeros(1, 1, 256, 256)
    mask[..., 20:40, 30:60] = 1.0
    int8 = Restorer("inpaint", str(out), device="cpu", tile=0)
    fp32 = Restorer("inpaint", "inpaint", device="cpu", tile=0, backend="onnxruntime")
    small = (image[..., :48, :64] * (1 - mask[..., :48, :64]), Known(mask=mask[..., :48, :64]))
    out8, out32 = int8(*small), fp32(*small)
    assert 0 < (out8 - out32).abs().max() < 0.1  # the int8 graph, close to fp32
    # a size class it was not quantized for runs the fp32 graph
    large = (image[..., :80, :72] * (1 - mask[..., :80, :72]), Known(mask=mask[..., :80, :72]))
    assert torch.equal(int8(*large), fp32(*large))


@pytest.mark.parametrize("model", ["codec-q1", "gan-mnist"])
def test_models_it_cannot_quantize(capsys, calibration, tmp_path, model):
    code, _, err = run(capsys, "quantize", model, "--calibrate", str(calibration), "-o",
                       str(tmp_path / "out"))
    assert_one_line_error(code, err)
