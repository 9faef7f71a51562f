"""The shipped models: listed, verified by checksum, loadable offline, and above PSNR floors
on real test images (floors sit a little under the figures measured in docs/results/)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import data_or_skip

from pixelsmith.evaluate.protocol import EvalParams, image_generator, make_case, score
from pixelsmith.io import read_image
from pixelsmith.restoration.restorer import Restorer
from pixelsmith.zoo import ZOO, load_model, read_config, save_model, sha256_file, shipped_models

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("name", sorted(shipped_models()))
def test_shipped_model_is_listed_verified_and_small(name):
    config = read_config(ZOO / name)
    weights = ZOO / name / "model.safetensors"
    assert sha256_file(weights) == config["sha256"]
    assert weights.stat().st_size < 8e6  # a few MB, shipped in the package
    model = load_model(name)
    assert not model.training and model.pixelsmith_config["task"] == config["task"]


@pytest.mark.parametrize("name", sorted(shipped_models()))
def test_every_shipped_model_has_a_current_card_in_the_docs(name):
    """docs/MODELS.md (benchmarks/model_cards.py) must describe the weights that ship: a card
    whose sha256 is not the shipped one means the model was retrained without its card."""
    cards = (Path(__file__).resolve().parents[1] / "docs" / "MODELS.md").read_text()
    card = cards.split(f"\n## {name}\n", 1)
    assert len(card) == 2, f"docs/MODELS.md has no card for {name}: run benchmarks.model_cards"
    assert read_config(ZOO / name)["sha256"] in card[1].split("\n## ", 1)[0]


def test_saved_weights_get_normal_file_rights(tmp_path):
    """safetensors replaces the temporary file it is given; the result must not stay 0600."""
    import os

    import torch

    mask = os.umask(0o022)
    try:
        folder = save_model(tmp_path / "m", torch.nn.Linear(2, 2), {"task": "none"})
    finally:
        os.umask(mask)
    for name in ("model.safetensors", "config.json"):
        assert (folder / name).stat().st_mode & 0o777 == 0o644


def _case_psnr(method: str, path, params: EvalParams, index: int = 0) -> tuple[float, float]:
    """(PSNR of the degraded input, PSNR of the restored output) by the evaluation protocol."""
    params = params.resolved()
    clean = read_image(path, gray=params.color == "gray")
    reference, degraded, known = make_case(clean, params, image_generator(params.seed, index))
    restored = Restorer(params.task, method)(degraded, known)
    return score(degraded, reference, params)[0], score(restored, reference, params)[0]


def test_denoise_gray_floor_on_set12():
    path = data_or_skip("test/Set12") / "01.png"  # measured 29.07 dB at sigma 25
    noisy, restored = _case_psnr("denoise-gray", path, EvalParams("denoise", sigma=25,
                                                                   color="gray"))
    assert restored >= 28.8 and restored > noisy + 8


def test_denoise_color_floor_on_cbsd68():
    path = data_or_skip("test/CBSD68") / "101087.png"  # measured 31.53 dB at sigma 25
    noisy, restored = _case_psnr("denoise-color", path, EvalParams("denoise", sigma=25,
                                                                    color="rgb"))
    assert restored >= 31.2 and restored > noisy + 10


@pytest.mark.parametrize("name, color", [("dejpeg-gray", "gray"), ("dejpeg-color", "rgb")])
def test_dejpeg_beats_the_jpeg_input_on_live1(name, color):
    folder = "test/LIVE1/gray" if color == "gray" else "test/LIVE1/color"
    path = sorted(data_or_skip(folder).glob("*.png"))[0]
    jpeg, restored = _case_psnr(name, path, EvalParams("dejpeg", quality=10, color=color))
    assert restored > jpeg + 1.0  # measured +1.48 (gray) and +1.19 dB (colour) on bikes.png


def test_default_dejpeg_reads_the_quality_of_a_jpeg_input(tmp_path, capsys):
    """`restore x.jpg --task dejpeg` uses the shipped model matching the input's channels and
    the quality stored in the file."""
    from test_cli import run

    from pixelsmith.degrade import JPEG
    from pixelsmith.io import save_image
    from pixelsmith.metrics.pixel import psnr

    path = sorted(data_or_skip("test/LIVE1/gray").glob("*.png"))[0]
    clean = read_image(path)[..., :256, :256]
    save_image(tmp_path / "q.png", clean)
    code, _, err = run(capsys, "degrade", str(tmp_path / "q.png"), "-o", str(tmp_path / "q.jpg"),
                       "--jpeg", "10")
    assert code == 0, err
    code, _, err = run(capsys, "restore", str(tmp_path / "q.jpg"), "-o", str(tmp_path / "r.png"),
                       "--task", "dejpeg")
    assert code == 0, err
    jpeg = float(psnr(JPEG(10)(clean), clean)[0])
    assert float(psnr(read_image(tmp_path / "r.png"), clean)[0]) > jpeg + 0.5


def test_float16_storage_halves_the_file_and_loads_as_float32(tmp_path):
    import torch

    from pixelsmith.nets import build_network

    args = {"channels": 1, "image_size": 28, "latent_dim": 8, "base": 8}
    net = build_network("conv-ae", args)
    config = {"task": "autoencoder", "channels": 1, "network": {"name": "conv-ae", "args": args}}
    full = save_model(tmp_path / "fp32", net, config)
    half = save_model(tmp_path / "fp16", net, config, storage_dtype=torch.float16)
    size = lambda folder: (folder / "model.safetensors").stat().st_size  # noqa: E731
    assert size(half) < 0.55 * size(full)
    assert read_config(half)["storage_dtype"] == "float16"
    loaded = load_model(half)
    for key, value in net.state_dict().items():
        got = loaded.state_dict()[key]
        assert got.dtype == value.dtype
        assert torch.equal(got, value.to(torch.float16).to(value.dtype))
