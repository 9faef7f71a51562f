"""export-onnx of a codec: its synthesis transform (decoded latent -> image) in ONNX Runtime
equals torch eager within 1e-4 on the latents of real images, for every shipped codec."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from test_cli import run

from pixelsmith.io import read_image
from pixelsmith.zoo import shipped_models

pytest.importorskip("onnxruntime", reason="onnxruntime not installed (pip install "
                    "'pixelsmith[fast]')")
pytest.importorskip("onnxscript", reason="onnxscript not installed (pip install "
                    "'pixelsmith[fast]')")

import onnxruntime  # noqa: E402

from pixelsmith.runtime.onnx_export import OPSET, read_metadata  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "pixelsmith" / "samples"
CODECS = sorted(name for name, info in shipped_models().items() if info.get("task") == "codec")
SIZES = [(40, 56), (67, 45)]  # padded to 48x64 and 80x48: latents 3x4 and 5x3


def decoded_latent(codec, image: torch.Tensor) -> torch.Tensor:
    """The y_hat that ``decompress`` feeds the synthesis transform after coding ``image``."""
    from pixelsmith.codec.api import compress, decompress

    seen = []
    synthesize = codec.synthesize

    def record(latent, *args, **kwargs):
        seen.append(latent.detach().clone())
        return synthesize(latent, *args, **kwargs)

    codec.synthesize = record
    try:
        decompress(compress(image, model=codec), model=codec)
    finally:
        del codec.synthesize
    return seen[0]


def parity(codec, path: Path) -> None:
    photo = read_image(SAMPLES / "landscape.png", gray=False)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for height, width in SIZES:
        latent = decoded_latent(codec, photo[..., 30:30 + height, 50:50 + width])
        multiple = codec.pad_multiple
        assert latent.shape[-2:] == (-(-height // multiple) * multiple // 16,
                                     -(-width // multiple) * multiple // 16)
        with torch.no_grad():
            expected = codec.g_s(codec.synthesis_input(latent)).numpy()
        got = session.run(None, {"latent": latent.numpy().astype(np.float32)})[0]
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() < 1e-4
    batch = torch.cat([latent, latent.flip(-1)])  # a batch of two
    with torch.no_grad():
        expected = codec.g_s(codec.synthesis_input(batch)).numpy()
    assert np.abs(session.run(None, {"latent": batch.numpy()})[0] - expected).max() < 1e-4


@pytest.mark.parametrize("name", CODECS)
def test_shipped_codec_synthesis_matches_eager(capsys, tmp_path, name):
    from pixelsmith.codec.api import load_codec

    out = tmp_path / "synth.onnx"
    code, stdout, err = run(capsys, "export-onnx", name, "-o", str(out))
    assert code == 0, err
    assert "codec synthesis" in stdout
    codec = load_codec(name)
    props = read_metadata(out)
    assert props["task"] == "codec-synthesis" and props["model"] == name
    assert props["latent_channels"] == str(codec.M) and props["scale"] == "16"
    assert props["opset"] == str(OPSET) and len(props["source_sha256"]) == 64
    parity(codec, out)


@pytest.mark.filterwarnings("ignore:.*entropy tables missing")
def test_checkerboard_synthesis_exports(tmp_path):
    from pixelsmith.codec.api import finalize
    from pixelsmith.nets import build_network
    from pixelsmith.runtime.codec_export import export_synthesis

    torch.manual_seed(0)
    codec = finalize(build_network("codec-checkerboard", {"channels": 3, "N": 16, "M": 24}))
    path = export_synthesis(codec, tmp_path / "cb.onnx")
    assert read_metadata(path)["latent_channels"] == "24"
    parity(codec, path)
