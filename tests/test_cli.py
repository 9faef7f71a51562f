"""The `pixelsmith` command as a user runs it: outputs, exit codes, one-line errors, batches."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
from cli_runner import run
from PIL import Image as PILImage


def assert_one_line_error(code: int, err: str) -> None:
    assert code == 2
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err


def _child_cpu_seconds(*argv: str) -> float:
    """CPU time (user + system) a command took: unlike wall time, not inflated by other jobs."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-m", "pixelsmith", *argv], capture_output=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def test_version_and_help_are_fast_and_light():
    out = subprocess.run([sys.executable, "-m", "pixelsmith", "--version"], capture_output=True,
                         text=True, check=True).stdout
    assert "pixelsmith" in out
    assert _child_cpu_seconds("--version") < 1.0
    assert _child_cpu_seconds("--help") < 1.0
    probe = "import sys, pixelsmith.cli.main; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


def test_degrade_is_reproducible(tmp_path, capsys, samples):
    src = samples / "texture.png"
    for name, seed in (("a.png", "0"), ("b.png", "0"), ("c.png", "1")):
        code, _, err = run(capsys, "degrade", str(src), "-o", str(tmp_path / name),
                           "--blur", "gaussian:1.6", "--noise", "gaussian:25", "--seed", seed)
        assert code == 0, err
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
    assert (tmp_path / "a.png").read_bytes() != (tmp_path / "c.png").read_bytes()


def test_degrade_then_restore_denoise(tmp_path, capsys, samples):
    noisy, out = tmp_path / "noisy.png", tmp_path / "out.png"
    assert run(capsys, "degrade", str(samples / "texture.png"), "-o", str(noisy),
               "--noise", "gaussian:25")[0] == 0
    code, _, err = run(capsys, "restore", str(noisy), "-o", str(out), "--task", "denoise",
                       "--sigma", "25", "--method", "tv")
    assert code == 0, err
    clean = np.asarray(PILImage.open(samples / "texture.png"), dtype=float)
    mse_in = np.mean((np.asarray(PILImage.open(noisy), dtype=float) - clean) ** 2)
    mse_out = np.mean((np.asarray(PILImage.open(out), dtype=float) - clean) ** 2)
    assert mse_out < 0.5 * mse_in


def test_saved_kernel_and_mask_feed_restore(tmp_path, capsys, samples):
    src = samples / "shapes.png"
    code, _, err = run(capsys, "degrade", str(src), "-o", str(tmp_path / "b.png"),
                       "--blur", "motion:15", "--noise", "gaussian:2.55",
                       "--save-kernel", str(tmp_path / "k.npy"))
    assert code == 0, err
    kernel = np.load(tmp_path / "k.npy")
    assert kernel.ndim == 2 and abs(kernel.sum() - 1) < 1e-6
    code, _, err = run(capsys, "restore", str(tmp_path / "b.png"), "-o", str(tmp_path / "r.png"),
                       "--task", "deblur", "--kernel", str(tmp_path / "k.npy"), "--sigma", "2.55")
    assert code == 0, err
    code, _, err = run(capsys, "degrade", str(src), "-o", str(tmp_path / "m.png"),
                       "--mask", "strokes", "--save-mask", str(tmp_path / "mask.png"))
    assert code == 0, err
    code, _, err = run(capsys, "restore", str(tmp_path / "m.png"), "-o", str(tmp_path / "i.png"),
                       "--task", "inpaint", "--mask", str(tmp_path / "mask.png"))
    assert code == 0, err
    assert PILImage.open(tmp_path / "i.png").size == PILImage.open(src).size


def test_sr_keeps_alpha_and_scales(tmp_path, capsys):
    rgba = np.random.default_rng(0).integers(0, 256, (20, 30, 4), dtype=np.uint8)
    PILImage.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    code, _, err = run(capsys, "restore", str(tmp_path / "a.png"), "-o", str(tmp_path / "b.png"),
                       "--task", "sr", "--scale", "2")
    assert code == 0, err
    out = PILImage.open(tmp_path / "b.png")
    assert out.mode == "RGBA" and out.size == (60, 40)


@pytest.mark.parametrize("argv_tail, message", [
    (["--task", "deblur", "--method", "wiener"], "--kernel"),  # plain --task deblur: blind model
    (["--task", "deblur", "--method", "deblur"], "--kernel"),
    (["--task", "denoise", "--method", "bm3d", "--sigma", "300"], "0-255"),
    (["--task", "denoise", "--method", "nope", "--sigma", "5"], "unknown method"),
])
def test_missing_or_wrong_options_are_one_line_errors(tmp_path, capsys, samples, argv_tail,
                                                      message):
    target = tmp_path / "out.png"
    code, _, err = run(capsys, "restore", str(samples / "texture.png"), "-o", str(target),
                       *argv_tail)
    assert_one_line_error(code, err)
    assert message in err and not target.exists()


def test_plain_denoise_uses_the_shipped_model_and_estimates_sigma(tmp_path, capsys, samples):
    """`restore --task denoise` with nothing else: the default model, sigma estimated."""
    clean = np.asarray(PILImage.open(samples / "landscape.png").convert("RGB"), dtype=np.float64)
    noisy = clean + np.random.default_rng(0).normal(0, 25, clean.shape)
    PILImage.fromarray(np.clip(noisy, 0, 255).round().astype(np.uint8)).save(tmp_path / "n.png")
    code, _, err = run(capsys, "restore", str(tmp_path / "n.png"), "-o", str(tmp_path / "o.png"),
                       "--task", "denoise")
    assert code == 0, err
    estimated = float(re.search(r"o\.png: denoise-\w+, sigma ([\d.]+) \(estimated\)", err)[1])
    assert 20 <= estimated <= 30
    out = np.asarray(PILImage.open(tmp_path / "o.png"), dtype=np.float64)
    psnr_in = 10 * np.log10(255**2 / np.mean((np.clip(noisy, 0, 255) - clean) ** 2))
    psnr_out = 10 * np.log10(255**2 / np.mean((out - clean) ** 2))
    assert psnr_out > psnr_in + 6


def test_bad_image_is_a_one_line_error_and_writes_nothing(tmp_path, capsys):
    (tmp_path / "bad.png").write_text("not an image")
    code, _, err = run(capsys, "restore", str(tmp_path / "bad.png"), "-o", str(tmp_path / "o.png"),
                       "--task", "sr", "--scale", "2")
    assert_one_line_error(code, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.png"]


def test_bad_image_through_a_real_process(tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    result = subprocess.run([sys.executable, "-m", "pixelsmith", "restore",
                             str(tmp_path / "bad.jpg"), "-o", str(tmp_path / "o.png"),
                             "--task", "dejpeg"], capture_output=True, text=True)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("pixelsmith: error:")


def test_mask_size_mismatch(tmp_path, capsys, samples):
    PILImage.new("L", (10, 10), 255).save(tmp_path / "mask.png")
    code, _, err = run(capsys, "restore", str(samples / "texture.png"), "-o",
                       str(tmp_path / "o.png"), "--task", "inpaint", "--mask",
                       str(tmp_path / "mask.png"))
    assert_one_line_error(code, err)


def test_folder_batch_continues_past_a_bad_file(tmp_path, capsys, samples):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    PILImage.open(samples / "texture.png").crop((0, 0, 40, 40)).save(folder / "a.png")
    PILImage.open(samples / "shapes.png").crop((0, 0, 40, 40)).save(folder / "sub" / "b.png")
    (folder / "c.png").write_text("broken")
    code, _, err = run(capsys, "restore", str(folder), "-o", str(tmp_path / "out"),
                       "--task", "sr", "--scale", "2")
    assert code == 1 and "c.png" in err and "Traceback" not in err  # 1: some files failed
    assert (tmp_path / "out" / "a.png").exists() and (tmp_path / "out" / "sub" / "b.png").exists()
    assert not (tmp_path / "out" / "c.png").exists()


def test_methods_lists_every_task(capsys):
    code, out, _ = run(capsys, "methods")
    assert code == 0
    for task in ("denoise", "deblur", "inpaint", "sr", "dejpeg"):
        assert f"{task}:" in out
    assert "bm3d" in out and "biharmonic" in out


def test_evaluate_writes_schema(tmp_path, capsys, samples):
    data = tmp_path / "data"
    data.mkdir()
    for name in ("texture.png", "shapes.png"):
        PILImage.open(samples / name).crop((0, 0, 64, 64)).save(data / name)
    code, out, err = run(capsys, "evaluate", "--task", "denoise", "--data", str(data),
                         "--methods", "tv,wavelet", "--sigma", "25", "--json",
                         str(tmp_path / "r.json"), "--markdown", str(tmp_path / "r.md"))
    assert code == 0, err
    report = json.loads((tmp_path / "r.json").read_text())
    assert set(report) >= {"task", "params", "dataset", "results"}
    assert report["params"]["sigma"] == 25.0
    for result in report["results"]:
        assert set(result) >= {"method", "psnr", "ssim", "seconds_per_image",
                               "megapixels_per_second", "median_megapixels_per_second",
                               "per_image"}
        assert [row["name"] for row in result["per_image"]] == ["shapes.png", "texture.png"]
        assert set(result["per_image"][0]) == {"name", "psnr", "ssim", "seconds",
                                               "megapixels_per_second"}
        rates = sorted(64 * 64 / 1e6 / row["seconds"] for row in result["per_image"])
        assert result["median_megapixels_per_second"] == pytest.approx(sum(rates) / 2)
    assert "| tv |" in out and (tmp_path / "r.md").read_text().count("|") > 10


@pytest.mark.parametrize("color, warned", [("auto", True), ("gray", False)])
def test_evaluate_warns_when_a_folder_mixes_gray_and_colour(tmp_path, capsys, samples, color,
                                                            warned):
    data = tmp_path / "data"
    data.mkdir()
    crop = PILImage.open(samples / "texture.png").convert("RGB").crop((0, 0, 32, 32))
    crop.save(data / "a.png")
    crop.convert("L").save(data / "b.png")
    code, _, err = run(capsys, "evaluate", "--task", "denoise", "--data", str(data),
                       "--methods", "wavelet", "--sigma", "25", "--color", color,
                       "--json", str(tmp_path / "r.json"))
    assert code == 0, err
    assert ("mixes 1 gray and 1 colour images" in err) == warned
    channels = json.loads((tmp_path / "r.json").read_text())["meta"]["channels"]
    assert channels == ({"gray": 1, "rgb": 1} if color == "auto" else {"gray": 2, "rgb": 0})


def test_evaluate_bad_folder(capsys, tmp_path):
    code, _, err = run(capsys, "evaluate", "--task", "sr", "--data", str(tmp_path / "missing"))
    assert_one_line_error(code, err)


def test_degrade_jpeg_to_a_jpeg_file_is_that_quality(tmp_path, capsys, samples):
    """`--jpeg 10 -o x.jpg` writes the JPEG at quality 10 (not a q10 image re-encoded at 95),
    so `--quality auto` reads 10 back and the pixels equal the JPEG operator's."""
    from pixelsmith import degrade as dg
    from pixelsmith.degrade.estimate import estimate_jpeg_quality
    from pixelsmith.io import load_image, read_image

    code, _, err = run(capsys, "degrade", str(samples / "texture.png"), "-o",
                       str(tmp_path / "q.jpg"), "--jpeg", "10")
    assert code == 0, err
    image = load_image(tmp_path / "q.jpg")
    assert estimate_jpeg_quality(image.info["quantization"]) == 10
    expected = dg.JPEG(10)(read_image(samples / "texture.png"))
    assert (image.pixels - expected).abs().max() < 1e-6
