"""The ONNX Runtime backend of trained models: same output as torch through the restorer (tiles,
level maps, sigma estimation, gray models on colour), the export cache, backend choice, the
CLI and evaluate options, and the bf16-on-CPU slow-path warning."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch
from test_cli import assert_one_line_error, run

import pixelsmith
from pixelsmith.degrade.known import Known
from pixelsmith.errors import PixelsmithError
from pixelsmith.io import read_image, save_image
from pixelsmith.restoration.restorer import Restorer
from pixelsmith.runtime import precision
from pixelsmith.runtime.ort_backend import choose_backend, onnxruntime_available
from pixelsmith.zoo import load_model

pytestmark = pytest.mark.usefixtures("one_thread", "onnx_cache")

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "pixelsmith" / "samples"
needs_ort = pytest.mark.skipif(not onnxruntime_available(),
                               reason="onnxruntime/onnx/onnxscript not installed "
                                      "(pip install 'pixelsmith[fast]')")




def photo(height: int = 67, width: int = 53, gray: bool = False) -> torch.Tensor:
    return read_image(SAMPLES / "landscape.png", gray=gray)[..., 30:30 + height, 40:40 + width]


def both_backends(task: str, method: str, y: torch.Tensor, known: Known, **run) -> tuple:
    outputs = []
    for backend in ("torch", "onnxruntime"):
        restorer = Restorer(task, method, device="cpu", backend=backend, **run)
        assert restorer.backend == backend
        outputs.append(restorer(y, known))
    return tuple(outputs)


@needs_ort
@pytest.mark.parametrize("task, method, known", [
    ("denoise", "denoise-color", Known(sigma=25 / 255)),
    ("dejpeg", "dejpeg-gray", Known(quality=20)),  # a gray model on a colour image
    ("sr", "sr-x2", Known(scale=2)),
    ("deblur", "deblur-blind", Known()),
])
def test_both_backends_restore_alike_in_tiles(task, method, known):
    y = photo()
    if task == "denoise":
        y = y + 25 / 255 * torch.randn(y.shape, generator=torch.Generator().manual_seed(1))
    fast, slow = both_backends(task, method, y, known, tile=32, overlap=8)  # 3 x 2 tiles
    assert fast.shape == slow.shape
    assert (fast - slow).abs().max() < 1e-4


@needs_ort
def test_inpainting_tiles_use_their_size_class():
    y = photo(80, 70)
    mask = torch.zeros(1, 1, 80, 70)
    mask[..., 20:50, 10:60] = 1.0
    fast, slow = both_backends("inpaint", "inpaint", y * (1 - mask), Known(mask=mask),
                               tile=48, overlap=8)
    assert (fast - slow).abs().max() < 1e-4


@needs_ort
def test_sigma_auto_and_the_api(tmp_path):
    y = photo() + 20 / 255 * torch.randn(1, 3, 67, 53, generator=torch.Generator().manual_seed(2))
    fast = pixelsmith.restore(y, "denoise", method="denoise-color", sigma="auto",
                              backend="onnxruntime", tile=0)
    slow = pixelsmith.restore(y, "denoise", method="denoise-color", sigma="auto", tile=0)
    assert (fast - slow).abs().max() < 1e-4
    assert (fast - y).abs().mean() > 0.01  # it did denoise


@needs_ort
def test_cache_is_written_atomically_and_reused(tmp_path, monkeypatch):
    from pixelsmith.runtime import cache, onnx_export
    from pixelsmith.runtime.cache import CACHE_ENV, cache_key, cached_export

    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    net = load_model("sr-x2")
    calls = []
    export = onnx_export.export_network

    def counting(*args, **kwargs):
        calls.append(args)
        return export(*args, **kwargs)

    monkeypatch.setattr(onnx_export, "export_network", counting)
    first = cached_export(net, 0)
    assert first.parent == cache.cache_dir() == tmp_path / "cache" / "onnx"
    assert first.name == cache_key(net, 0) and net.pixelsmith_config["sha256"] in first.name
    assert [p.name for p in first.parent.iterdir()] == [first.name]  # no temporary file left
    stamp = first.stat().st_mtime_ns
    restorer = Restorer("sr", "sr-x2", device="cpu", backend="onnxruntime")
    restorer(photo(20, 24), Known(scale=2))
    assert cached_export(net, 0) == first and first.stat().st_mtime_ns == stamp
    assert len(calls) == 1


@needs_ort
def test_an_interrupted_export_leaves_no_file(tmp_path, monkeypatch):
    import onnx

    from pixelsmith.runtime.cache import CACHE_ENV, cached_export

    monkeypatch.setenv(CACHE_ENV, str(tmp_path))

    def broken(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(onnx, "save_model", broken)
    with pytest.raises(KeyboardInterrupt):
        cached_export(load_model("sr-x2"), 0)
    assert list((tmp_path / "onnx").iterdir()) == []


def test_backend_choice(monkeypatch):
    net = load_model("denoise-gray")
    cpu = torch.device("cpu")
    assert choose_backend("torch", net, cpu, "fp32") == "torch"
    assert choose_backend("auto", net, cpu, "bf16") == "torch"
    assert choose_backend("auto", torch.nn.Conv2d(1, 1, 3), cpu, "fp32") == "torch"
    monkeypatch.setattr("pixelsmith.runtime.ort_backend.onnxruntime_available", lambda: False)
    assert choose_backend("auto", net, cpu, "fp32") == "torch"
    with pytest.raises(PixelsmithError, match=r"pixelsmith\[fast\]"):
        choose_backend("onnxruntime", net, cpu, "fp32")
    with pytest.raises(PixelsmithError, match="backend must be"):
        Restorer("denoise", "denoise-gray", backend="tensorrt")


@needs_ort
def test_auto_picks_onnxruntime_on_cpu_and_refuses_what_it_cannot_run():
    net = load_model("denoise-gray")
    cpu = torch.device("cpu")
    assert choose_backend("auto", net, cpu, "fp32") == "onnxruntime"
    with pytest.raises(PixelsmithError, match="fp32 only"):
        choose_backend("onnxruntime", net, cpu, "bf16")
    with pytest.raises(PixelsmithError, match="no ONNX export"):
        choose_backend("onnxruntime", load_model("vae-mnist"), cpu, "fp32")
    assert Restorer("denoise", "tv", backend="onnxruntime").backend is None  # classical


@needs_ort
def test_cli_restore_with_onnxruntime(capsys, tmp_path):
    source = tmp_path / "noisy.png"
    y = photo(40, 48) + 25 / 255 * torch.randn(1, 3, 40, 48,
                                               generator=torch.Generator().manual_seed(3))
    save_image(source, y.clamp(0, 1))
    outputs = {}
    for backend in ("torch", "onnxruntime", "auto"):
        target = tmp_path / f"{backend}.png"
        code, _, err = run(capsys, "restore", str(source), "-o", str(target), "--task",
                           "denoise", "--sigma", "25", "--method", "denoise-color",
                           "--backend", backend, "--device", "cpu")
        assert code == 0, err
        outputs[backend] = read_image(target)
    for backend in ("onnxruntime", "auto"):
        assert (outputs[backend] - outputs["torch"]).abs().max() <= 1 / 255 + 1e-6


def test_cli_refuses_an_unknown_backend(capsys, tmp_path):
    code, _, err = run(capsys, "restore", str(SAMPLES / "shapes.png"), "-o",
                       str(tmp_path / "x.png"), "--task", "denoise", "--backend", "tensorrt")
    assert code == 2 and "tensorrt" in err and "Traceback" not in err


def evaluate_results(capsys, tmp_path: Path, *options: str) -> dict[str, dict]:
    """`evaluate` of denoise-color and wavelet on two small images: method -> JSON result."""
    data = tmp_path / "clean"
    data.mkdir()
    for i in range(2):
        save_image(data / f"{i}.png", photo(32, 40).roll(7 * i, dims=-1))
    report_path = tmp_path / "report.json"
    code, _, err = run(capsys, "evaluate", "--task", "denoise", "--data", str(data),
                       "--methods", "denoise-color,wavelet", *options,
                       "--json", str(report_path))
    assert code == 0, err
    return {r["method"]: r for r in json.loads(report_path.read_text())["results"]}


@needs_ort
def test_evaluate_records_the_backend(capsys, tmp_path):
    results = evaluate_results(capsys, tmp_path, "--backend", "onnxruntime")
    backends = {name: result["backend"] for name, result in results.items()}
    assert backends == {"denoise-color": "onnxruntime", "wavelet": None}


def test_evaluate_records_the_precision(capsys, tmp_path):
    results = evaluate_results(capsys, tmp_path, "--precision", "bf16")
    assert results["denoise-color"]["precision"] == "bf16"
    assert results["wavelet"]["precision"] is None


def test_bf16_on_a_cpu_without_native_bf16_warns_in_one_line(capsys, tmp_path, monkeypatch):
    assert precision.cpu_has_native_bf16(frozenset({"avx2", "fma"})) in (False, None)
    if precision.cpu_has_native_bf16(frozenset({"avx512_bf16"})) is None:
        pytest.skip("not an x86 machine: native bf16 is not told from cpuinfo here")
    assert precision.cpu_has_native_bf16(frozenset({"avx2", "amx_bf16"})) is True
    assert precision.slow_precision_message("cpu", "bf16", native=True) is None
    assert precision.slow_precision_message("cuda", "bf16", native=False) is None
    message = precision.slow_precision_message("cpu", "bf16", native=False)
    assert "\n" not in message and "fp32" in message

    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda flags=None: False)
    with pytest.warns(precision.SlowPathWarning):
        Restorer("denoise", "denoise-gray", device="cpu", precision="bf16")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # fp32 warns nothing
        Restorer("denoise", "denoise-gray", device="cpu")

    code, _, err = run(capsys, "restore", str(SAMPLES / "shapes.png"), "-o",
                       str(tmp_path / "x.png"), "--task", "denoise", "--sigma", "10",
                       "--method", "denoise-gray", "--device", "cpu", "--precision", "bf16",
                       "--tile", "0")
    assert code == 0, err
    lines = [line for line in err.strip().splitlines() if "warning" in line]  # + the output line
    assert len(lines) == 1 and lines[0].startswith("pixelsmith: warning: --precision bf16")


@pytest.mark.parametrize("native, chosen", [(False, "fp32"), (True, "bf16")])
def test_precision_auto_takes_bf16_only_where_the_cpu_has_it(capsys, tmp_path, monkeypatch,
                                                             native, chosen):
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda flags=None: native)
    cpu = torch.device("cpu")
    assert precision.fast_precision(cpu) == chosen
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # auto never picks the slow path
        restorer = Restorer("denoise", "denoise-gray", device="cpu", precision="auto")
    assert restorer.precision == chosen and restorer.precision_auto
    if onnxruntime_available():  # ONNX Runtime runs fp32 only: auto never asks it for bf16
        ort = Restorer("denoise", "denoise-gray", device="cpu", precision="auto",
                       backend="onnxruntime")
        assert ort.precision == "fp32" and ort.backend == "onnxruntime"

    code, _, err = run(capsys, "restore", str(SAMPLES / "shapes.png"), "-o",
                       str(tmp_path / "x.png"), "--task", "denoise", "--sigma", "10",
                       "--method", "denoise-gray", "--device", "cpu", "--precision", "auto",
                       "--tile", "0")
    assert code == 0, err
    assert f"{chosen} (auto)" in err.strip().splitlines()[-1]


def test_cli_error_for_onnxruntime_with_bf16(capsys, tmp_path):
    if not onnxruntime_available():
        pytest.skip("onnxruntime not installed (pip install 'pixelsmith[fast]')")
    code, _, err = run(capsys, "restore", str(SAMPLES / "shapes.png"), "-o",
                       str(tmp_path / "x.png"), "--task", "denoise", "--sigma", "10",
                       "--method", "denoise-gray", "--backend", "onnxruntime",
                       "--precision", "bf16", "--device", "cpu")
    assert_one_line_error(code, err)


def test_help_loads_no_torch_and_no_onnx():
    import subprocess
    import sys

    code = ("import sys; from pixelsmith.cli.main import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('torch', 'onnx', 'onnxruntime', 'numpy') if m in sys.modules]\n"
            "assert not heavy, heavy")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "export-onnx" in done.stdout and "quantize" in done.stdout


@needs_ort
def test_kernel_deblurring_runs_its_denoisers_on_onnxruntime():
    y = photo(40, 48)
    kernel = torch.ones(5, 5) / 25
    fast, slow = both_backends("deblur", "deblur", y, Known(kernel=kernel, sigma=2.55 / 255),
                               tile=0)
    assert (fast - slow).abs().max() < 1e-3


@needs_ort
def test_the_photo_chain_runs_its_networks_on_the_backend_asked_for():
    y = photo(40, 48)
    y = y + 10 / 255 * torch.randn(y.shape, generator=torch.Generator().manual_seed(2))
    fast, slow = both_backends("photo", "photo-chain", y, Known(scale=2), tile=0)
    assert fast.shape == slow.shape == (1, 3, 80, 96)
    assert (fast - slow).abs().max() < 1e-3
    chain = Restorer("photo", "photo-chain", backend="onnxruntime", tile=0)
    chain(y, Known(scale=2))
    assert chain.backend == "onnxruntime"  # said by the steps that ran, not by the options
    assert {step.backend for step in chain._fn._steps.values()} == {"onnxruntime"}


def test_a_vae_method_refuses_onnxruntime_in_one_line():
    with pytest.raises(PixelsmithError, match="torch only"):
        Restorer("denoise", "vae-mnist", backend="onnxruntime")
