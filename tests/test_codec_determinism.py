"""Files that decode on any machine: the shipped codecs load with the ids of their stored bytes
whatever the host's float rounding (simulated by nudging every float the load path computes by
one ulp), the hyperprior picks coding rows in exact fixed point, version 1 files written before
the tables revision decode bit for bit, and the revision script is deterministic."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import struct
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from one_ulp import nudged
from PIL import Image as PILImage
from torch.nn import functional as F

from pixelsmith.codec import api
from pixelsmith.codec.api import compress, decompress, load_codec
from pixelsmith.codec.format import MAGIC, unpack
from pixelsmith.codec.models import MeanScaleHyperprior, hyper_synthesis_fixed
from pixelsmith.errors import PixelsmithError
from pixelsmith.io import read_image, to_array

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).parent / "golden" / "codec-v1"
EXPECTED = json.loads((GOLDEN / "expected.json").read_text())
SAMPLE = ROOT / "src" / "pixelsmith" / "samples" / "landscape.png"
#: ids of the revised packages (hashes of their stored tensors)
IDS = {"codec-q1": "fefd0a51ae3f305b", "codec-q2": "fffceb02d572686c",
       "codec-q3": "2f025e7ea75c3675", "codec-q4": "ebaae75678208c2e"}


def sha(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def fresh(name: str):
    """load_codec without its cache, failing on any warning."""
    api._LOADED.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return load_codec(name)






#: float functions the load path and table building call; the synthesis transforms' own
#: (sqrt, rsqrt of GDN, convolutions) are left alone where pixels are compared
TABLE_FUNCTIONS = ((torch, ("exp", "log", "linspace", "erfc", "sigmoid", "tanh", "matmul")),
                   (torch.special, ("ndtri",)), (F, ("softplus",)),
                   (math, ("exp", "log", "expm1", "sqrt")))


def simulate_other_host(monkeypatch, extra: tuple = ()) -> None:
    """Every float function of TABLE_FUNCTIONS (and ``extra``) returns one ulp more than here:
    a host whose libm or vector units round the other way."""
    for owner, names in TABLE_FUNCTIONS + extra:
        for name in names:
            monkeypatch.setattr(owner, name, nudged(getattr(owner, name)))
    api._LOADED.clear()


def symbols(codec, data: bytes) -> tuple[str, str]:
    """SHA-256 of the decoded z and y symbols of a .pxs file, as decompress chooses rows."""
    header, streams = unpack(data)
    options = {}
    overrides = codec.version1_ids.get(header.model_id, {}).get("scale_table") \
        if header.version == 1 else None
    if overrides:
        table = codec.gaussian.final["scale_table"].clone()
        for index, value in overrides.items():
            table[index] = value
        options["scale_table"] = table
    z, y, _ = codec.decode_symbols(streams, *header.padded_size, header.version, **options)
    return sha(z.astype("<i8")), sha(y.astype("<i8"))


def pixels(data: bytes) -> np.ndarray:
    return to_array(decompress(data), 8)


# -- loading ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(IDS))
def test_shipped_codecs_load_current_without_warning_with_the_id_of_their_bytes(name):
    codec = fresh(name)  # any warning fails
    assert codec.finalized()
    assert codec.pixelsmith_id.hex() == IDS[name]
    assert codec.gaussian.final["scale_bounds"].dtype == torch.int64
    config = json.loads((ROOT / "src" / "pixelsmith" / "zoo" / name / "config.json").read_text())
    assert config["codec_tables"]["revision"] == 2
    # the stored bounds are the stored table in fixed point, not anything computed at load
    from safetensors import safe_open

    with safe_open(str(ROOT / "src" / "pixelsmith" / "zoo" / name / "model.safetensors"),
                   "pt") as stored:
        assert torch.equal(stored.get_tensor("gaussian.final_scale_bounds"),
                           codec.gaussian.final["scale_bounds"])


def test_a_host_that_rounds_every_float_the_other_way_gets_the_same_ids_and_symbols(
        monkeypatch):
    """The simulation: everything the load path computes in floating point is one ulp off
    (GDN's square roots too: loading must not depend on them either)."""
    simulate_other_host(monkeypatch, ((torch, ("sqrt", "rsqrt")),))
    # the nudge is real: the scale table a model builds at construction is not the stored one
    rebuilt = MeanScaleHyperprior().gaussian.scale_table
    for name in sorted(IDS):
        codec = fresh(name)
        assert not torch.equal(rebuilt, codec.gaussian.final["scale_table"])
        assert codec.finalized() and codec.pixelsmith_id.hex() == IDS[name]
    for name, record in EXPECTED["files"].items():
        data = (GOLDEN / f"{name}.pxs").read_bytes()
        codec = fresh(record["model"])
        assert symbols(codec, data) == (record["z_symbols"], record["y_symbols"]), name
    api._LOADED.clear()


def test_files_and_pixels_are_the_same_on_the_simulated_host(monkeypatch):
    x = read_image(SAMPLE, gray=False)[..., :150, :180]
    here = {}
    for quality in (1, 3):
        codec = fresh(f"codec-q{quality}")
        data = compress(x, model=codec)
        assert unpack(data)[0].version == 2
        here[quality] = (data, symbols(codec, data), pixels(data))
    golden = {name: pixels((GOLDEN / f"{name}.pxs").read_bytes()) for name in EXPECTED["files"]}
    simulate_other_host(monkeypatch)
    for quality, (data, syms, image) in here.items():
        codec = fresh(f"codec-q{quality}")
        assert compress(x, model=codec) == data
        assert symbols(codec, data) == syms
        assert np.array_equal(pixels(data), image)
    for name, image in golden.items():
        assert np.array_equal(pixels((GOLDEN / f"{name}.pxs").read_bytes()), image), name
    api._LOADED.clear()


# -- the hyperprior's rows in fixed point -------------------------------------------------------

def test_fixed_point_hyper_synthesis_is_exact_under_perturbed_convolutions(monkeypatch):
    """Every float64 convolution result nudged by one ulp (another BLAS, another summation
    order) gives the same integer scales and means: the limbs keep every sum exact."""
    codec = fresh("codec-q2")
    z_hat = torch.round(torch.randn(1, codec.N, 5, 7, generator=torch.Generator().manual_seed(0))
                        * 3) + codec._z_centre()
    exact = hyper_synthesis_fixed(codec.h_s, z_hat)
    for name in ("conv2d", "conv_transpose2d"):
        monkeypatch.setattr(F, name, nudged(getattr(F, name)))
    assert torch.equal(hyper_synthesis_fixed(codec.h_s, z_hat), exact)
    monkeypatch.undo()
    with torch.no_grad():
        weights = {k: v.double() for k, v in codec.h_s.named_parameters()}
        reference = torch.func.functional_call(codec.h_s, weights, (z_hat.double(),))
    error = (exact.double() / 2**16 - reference).abs().max()
    assert error < 1e-3  # within rounding of the float computation (measured: ~1e-5)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert torch.equal(hyper_synthesis_fixed(codec.h_s, z_hat), exact)
    finally:
        torch.set_num_threads(threads)


def test_hyper_tiles_equal_the_whole_exactly():
    codec = fresh("codec-q1")
    z_hat = torch.round(torch.randn(1, codec.N, 6, 9, generator=torch.Generator().manual_seed(1))
                        * 2) + codec._z_centre()
    assert torch.equal(codec.hyper_counts(z_hat, tile=1), codec.hyper_counts(z_hat, tile=64))


# -- version 1 files ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(EXPECTED["files"]))
def test_version1_golden_files_decode_bit_exactly(name):
    record = EXPECTED["files"][name]
    data = (GOLDEN / f"{name}.pxs").read_bytes()
    header = unpack(data)[0]
    assert header.version == 1 and header.model_id.hex() == record["model_id"]
    codec = fresh(record["model"])
    assert symbols(codec, data) == (record["z_symbols"], record["y_symbols"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        decoded = pixels(data)
    expected = np.asarray(PILImage.open(GOLDEN / f"{name}.png"))
    assert decoded.shape == expected.shape
    if writing_cpu():
        assert sha(decoded) == record["pixels"]  # bit for bit, as the writing code decoded it
    else:  # another CPU: the float32 synthesis may round a handful of sub-pixels otherwise
        apart = np.abs(decoded.astype(int) - expected.astype(int))
        assert apart.max() <= 1 and np.count_nonzero(apart) <= max(4, apart.size // 10_000)


def writing_cpu() -> bool:
    """Whether this CPU is the kind that wrote the golden files: the same torch capability and
    the same notable instruction sets (oneDNN picks other float32 kernels on, e.g., a Xeon with
    AMX than on one without, though torch reports AVX512 for both). The record of the files
    here names no instruction sets (make.py ran before they were recorded), so every CPU
    compares them as another CPU's: the symbols exactly, the pixels up to float32 rounding."""
    from pixelsmith.sysinfo import cpu_features

    return (torch.backends.cpu.get_cpu_capability() == EXPECTED["cpu"]
            and EXPECTED.get("cpu_features") == cpu_features())


def _with_id(data: bytes, ident: bytes) -> bytes:
    body = data[:22] + ident + data[30:-4]
    return body + struct.pack("<I", zlib.crc32(body))


def test_version1_files_from_hosts_that_rebuilt_the_tables_decode():
    """Earlier pixelsmith rebuilt the tables on some hosts and wrote that id (530e... for
    codec-q3); the revised package lists it, with the table entries those hosts had."""
    data = (GOLDEN / "landscape-q3.pxs").read_bytes()
    rebuilt = _with_id(data, bytes.fromhex("530e03daa3df61ac"))
    codec = fresh("codec-q3")
    assert bytes.fromhex("530e03daa3df61ac") in codec.version1_ids
    assert symbols(codec, rebuilt) == symbols(codec, data)
    assert np.array_equal(pixels(rebuilt), pixels(data))


def test_unknown_ids_are_refused_with_one_line_that_says_why():
    data = (GOLDEN / "landscape-q3.pxs").read_bytes()
    with pytest.raises(PixelsmithError, match="different model") as caught:
        decompress(_with_id(data, b"\x01" * 8))
    assert "\n" not in str(caught.value)
    # a version 2 file must carry the model's current id: earlier ids name version 1 files
    current = compress(read_image(SAMPLE, gray=False)[..., :64, :64], quality=3)
    old_id = bytes.fromhex(EXPECTED["files"]["landscape-q3"]["model_id"])
    with pytest.raises(PixelsmithError, match="different model"):
        decompress(_with_id(current, old_id))
    assert current.startswith(MAGIC + b"\x02")


# -- the revision script ------------------------------------------------------------------------

def test_revision_script_is_deterministic_and_reproduces_the_shipped_packages(tmp_path):
    """Strip the revision from a copy of codec-q1 (what was shipped before), revise it again:
    the bytes equal the shipped package; a second run changes nothing."""
    from safetensors.torch import load_file, save_file

    from pixelsmith.zoo import ZOO, sha256_file

    zoo = tmp_path / "zoo"
    shutil.copytree(ZOO / "codec-q1", zoo / "codec-q1")
    folder = zoo / "codec-q1"
    state = load_file(str(folder / "model.safetensors"))
    del state["gaussian.final_scale_bounds"]
    save_file(state, str(folder / "model.safetensors"))
    config = json.loads((folder / "config.json").read_text())
    del config["codec_tables"]
    config["sha256"] = sha256_file(folder / "model.safetensors")
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    script = [sys.executable, str(ROOT / "scripts" / "revise_codec_tables.py"), "codec-q1",
              "--zoo", str(zoo)]
    env = {"PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    subprocess.run(script, check=True, env=env, capture_output=True)
    for file in ("model.safetensors", "config.json"):
        assert (folder / file).read_bytes() == (ZOO / "codec-q1" / file).read_bytes(), file
    check = subprocess.run(script + ["--check"], env=env, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_models_saved_without_stored_bounds_keep_their_id():
    """A model exported before the bounds were stored gets them derived exactly at load, and
    its id stays the hash of what its file holds, so its version 1 files keep decoding."""
    torch.manual_seed(0)
    model = MeanScaleHyperprior(channels=3, N=8, M=12, quality=2, lmbda=0.05).eval()
    model.update()
    old_state = {k: v for k, v in model.state_dict().items()
                 if k != "gaussian.final_scale_bounds"}
    digest = hashlib.sha256()
    for name, tensor in sorted(old_state.items()):
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.numpy().tobytes())
    copy = MeanScaleHyperprior(channels=3, N=8, M=12, quality=2, lmbda=0.05).eval()
    copy.load_state_dict(old_state)
    assert copy.finalized() and "gaussian.final_scale_bounds" not in copy.state_dict()
    assert api.model_id(copy) == digest.digest()[:8]
    assert torch.equal(copy.gaussian.final["scale_bounds"], model.gaussian.final["scale_bounds"])
    x = read_image(SAMPLE, gray=False)[..., :40, :56]
    assert torch.equal(decompress(compress(x, model=model), model=model),
                       decompress(compress(x, model=copy), model=copy))
