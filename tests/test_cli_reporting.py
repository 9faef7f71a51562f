"""What the commands say on stderr: one line per output (method, parameters, time), fallbacks
and soft masks said out loud, --quiet, and progress bars only on a terminal."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch
from cli_runner import run
from PIL import Image as PILImage

from pixelsmith.degrade.known import Known
from pixelsmith.errors import PixelsmithError, PixelsmithWarning

LINE = re.compile(r"^pixelsmith: (?P<out>\S+): (?P<what>.+), (?P<secs>[\d.]+) s$")




@pytest.fixture
def small(tmp_path, samples):
    path = tmp_path / "small.png"
    PILImage.open(samples / "landscape.png").convert("RGB").crop((0, 0, 20, 16)).save(path)
    return path


@pytest.fixture
def terminal(monkeypatch):
    """As if stderr were a terminal (progress bars show only then)."""
    monkeypatch.setattr("pixelsmith.cli.report.stderr_is_terminal", lambda: True)


def output_lines(err: str) -> list[re.Match]:
    return [m for m in map(LINE.match, err.splitlines()) if m]


# -- silent fallbacks said out loud -------------------------------------------------------------

def test_sr_factor_without_a_model_says_bicubic(tmp_path, capsys, small):
    code, _, err = run(capsys, "restore", str(small), "-o", str(tmp_path / "o.png"),
                       "--task", "sr", "--scale", "3")
    assert code == 0, err
    assert "pixelsmith: note: no trained model for x3 super-resolution" in err
    assert "using bicubic" in err
    [line] = output_lines(err)
    assert line["what"] == "bicubic, x3"
    assert PILImage.open(tmp_path / "o.png").size == (60, 48)


def test_sr_without_scale_is_an_error_for_the_default_method(tmp_path, capsys, small):
    code, _, err = run(capsys, "restore", str(small), "-o", str(tmp_path / "o.png"),
                       "--task", "sr")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith("pixelsmith: error: --task sr needs --scale N")
    assert not (tmp_path / "o.png").exists()


def test_sr_model_without_scale_says_its_factor(tmp_path, capsys, small):
    code, _, err = run(capsys, "restore", str(small), "-o", str(tmp_path / "o.png"),
                       "--task", "sr", "--method", "sr-x2")
    assert code == 0, err
    assert output_lines(err)[0]["what"] == "sr-x2, x2 (the model's factor)"


def test_the_fallback_is_said_once_for_a_folder(tmp_path, capsys, small):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        (folder / name).write_bytes(small.read_bytes())
    code, _, err = run(capsys, "restore", str(folder), "-o", str(tmp_path / "out"),
                       "--task", "sr", "--scale", "3", "--quiet")
    assert code == 0, err
    assert err.count("note: no trained model for x3") == 1  # a note, even with --quiet
    assert not output_lines(err) and "written to" not in err


def test_default_choice_reasons(monkeypatch):
    from pixelsmith.restoration import registry

    assert registry.default_choice("sr", 3, Known(scale=2)) == ("sr-x2", None)
    name, why = registry.default_choice("sr", 3, Known(scale=3))
    assert name == "bicubic" and "x3" in why and "x2, x4" in why
    name, why = registry.default_choice("dejpeg", 1, Known())
    assert name == "dejpeg-gray" and why is None
    name, why = registry.default_choice("sr", 1, Known(scale=2))
    assert name == "sr-x2" and "no gray model" in why
    monkeypatch.setattr(registry, "default_models", lambda task: {})
    bm3d = registry.task_methods("denoise")["bm3d"]
    monkeypatch.setattr(type(bm3d), "available", lambda self: self.name != "bm3d")
    name, why = registry.default_choice("denoise", 1, Known())
    assert name != "bm3d" and "'bm3d' needs the Python package(s) bm3d" in why


def test_restorer_warns_for_the_api_too():
    from pixelsmith.restoration.restorer import Restorer

    with pytest.warns(PixelsmithWarning, match="x3"):
        Restorer("sr")(torch.rand(1, 3, 6, 6), Known(scale=3))
    with pytest.raises(PixelsmithError, match="needs --scale"):
        Restorer("sr")(torch.rand(1, 3, 6, 6), Known())


def test_soft_mask_is_cut_at_half_and_said(tmp_path, capsys, samples):
    image = tmp_path / "img.png"
    PILImage.open(samples / "shapes.png").convert("L").crop((0, 0, 32, 32)).save(image)
    mask = np.zeros((32, 32), np.uint8)
    mask[8:16, 8:16] = 255
    mask[20:24, 20:24] = 100  # soft: 16 pixels below one half, kept
    mask[0:2, 0:8] = 200  # soft: 16 pixels above one half, missing
    PILImage.fromarray(mask).save(tmp_path / "mask.png")
    code, _, err = run(capsys, "restore", str(image), "-o", str(tmp_path / "o.png"), "--task",
                       "inpaint", "--method", "biharmonic", "--mask", str(tmp_path / "mask.png"))
    assert code == 0, err
    notes = [line for line in err.splitlines() if line.startswith("pixelsmith: note:")]
    assert notes == [f"pixelsmith: note: {tmp_path / 'mask.png'}: 32 pixels (3.1%) are neither "
                     "black nor white: cut at 0.5 (above = missing)"]
    PILImage.fromarray((mask > 127).astype(np.uint8) * 255).save(tmp_path / "hard.png")
    code, _, err = run(capsys, "restore", str(image), "-o", str(tmp_path / "h.png"), "--task",
                       "inpaint", "--method", "biharmonic", "--mask", str(tmp_path / "hard.png"))
    assert code == 0 and "note:" not in err
    assert (tmp_path / "o.png").read_bytes() == (tmp_path / "h.png").read_bytes()


def test_soft_mask_array_warns_in_the_api():
    from pixelsmith.restoration.restorer import mask_input

    with pytest.warns(PixelsmithWarning, match="2 pixels"):
        mask = mask_input(np.array([[0.0, 0.3], [0.7, 1.0]]), (2, 2))
    assert mask.flatten().tolist() == [0, 0, 1, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mask_input(np.array([[0.0, 1.0]]), (1, 2))


# -- one line per output ----------------------------------------------------------------------

def test_every_command_says_what_ran_per_output(tmp_path, capsys, samples, small):
    noisy = tmp_path / "noisy.png"
    code, _, err = run(capsys, "degrade", str(small), "-o", str(noisy), "--noise",
                       "gaussian:25", "--seed", "3")
    assert code == 0, err
    assert output_lines(err)[0]["what"] == "noise gaussian:25, seed 3 (image 0)"
    code, _, err = run(capsys, "restore", str(noisy), "-o", str(tmp_path / "d.png"),
                       "--task", "denoise", "--method", "tv")
    [line] = output_lines(err)
    assert line["out"] == str(tmp_path / "d.png")
    assert re.fullmatch(r"tv, sigma [\d.]+ \(estimated\)", line["what"])
    code, _, err = run(capsys, "restore", str(noisy), "-o", str(tmp_path / "e.png"),
                       "--task", "denoise", "--method", "tv", "--sigma", "12.5")
    assert output_lines(err)[0]["what"] == "tv, sigma 12.5"
    jpeg = tmp_path / "q.jpg"
    PILImage.open(small).save(jpeg, quality=40)
    code, _, err = run(capsys, "restore", str(jpeg), "-o", str(tmp_path / "j.png"),
                       "--task", "dejpeg")
    assert output_lines(err)[0]["what"] == \
        "dejpeg-color, JPEG quality 40 (from the quantisation tables)"
    code, _, err = run(capsys, "compress", str(small), "-o", str(tmp_path / "s.pxs"),
                       "--quality", "1")
    assert re.fullmatch(r"codec-q1, \d+ bytes, [\d.]+ bits per pixel",
                        output_lines(err)[0]["what"])
    code, _, err = run(capsys, "decompress", str(tmp_path / "s.pxs"), "-o",
                       str(tmp_path / "s.png"))
    assert output_lines(err)[0]["what"] == "decoded with codec-q1 (named in the file)"
    for argv in (["generate", "--method", "vae-mnist", "-n", "4", "-o", str(tmp_path / "g.png")],
                 ["traverse", "--method", "vae-mnist", "--dims", "0-1", "--steps", "3", "-o",
                  str(tmp_path / "t.png")],
                 ["interpolate", "--method", "vae-mnist", "--seeds", "1,2", "--steps", "3",
                  "-o", str(tmp_path / "i.png")]):
        code, _, err = run(capsys, *argv)
        assert code == 0 and len(output_lines(err)) == 1, err
        code, _, err = run(capsys, *argv, "--quiet")
        assert code == 0 and err == ""


def test_quiet_keeps_errors(tmp_path, capsys, small):
    code, _, err = run(capsys, "restore", str(small), "-o", str(tmp_path / "o.png"), "--task",
                       "sr", "--scale", "2", "--quiet")
    assert code == 0 and err == ""
    code, _, err = run(capsys, "restore", str(tmp_path / "nope.png"), "-o",
                       str(tmp_path / "o.png"), "--task", "sr", "--scale", "2", "--quiet")
    assert code == 2 and err.startswith("pixelsmith: error:")


# -- progress ---------------------------------------------------------------------------------

def test_tile_progress_on_a_terminal_only(tmp_path, capsys, samples, terminal, monkeypatch):
    image = tmp_path / "big.png"
    PILImage.open(samples / "landscape.png").convert("L").crop((0, 0, 96, 96)).save(image)
    argv = ["restore", str(image), "-o", str(tmp_path / "o.png"), "--task", "denoise",
            "--method", "denoise-gray", "--sigma", "25", "--tile", "40", "--overlap", "8"]
    code, _, err = run(capsys, *argv)
    assert code == 0, err
    assert "big.png:   0%" in err and "0/9" in err and "tile/s" in err  # a bar of 3 x 3 tiles
    code, _, err = run(capsys, *argv, "--quiet")
    assert code == 0 and err == ""
    monkeypatch.setattr("pixelsmith.cli.report.stderr_is_terminal", lambda: False)
    code, _, err = run(capsys, *argv)
    assert code == 0 and "0/9" not in err and len(err.strip().splitlines()) == 1


def test_task_progress_draws_only_past_its_minimum(capsys):
    from pixelsmith.cli.report import TaskProgress

    few = TaskProgress("x", "tile", enabled=True, minimum=2)
    few(1, 1)
    assert few.bar is None and few.calls == [(1, 1)]
    many = TaskProgress("x", "tile", enabled=True)
    many(1, 3)
    assert many.bar is not None and many.bar.n == 1
    many(3, 3)
    assert many.bar is None  # closed at the end
    off = TaskProgress("x", "tile", enabled=False)
    off(1, 5)
    assert off.bar is None and off.calls == [(1, 5)]


def test_vae_inpainting_reports_steps_then_samples():
    from pixelsmith.restoration.vae import vae_inpaint
    from pixelsmith.zoo import load_model

    model = load_model("vae-mnist")
    image = torch.rand(1, 1, 28, 28)
    mask = torch.zeros(1, 1, 28, 28)
    mask[..., 8:20, 8:20] = 1
    calls = []
    mean, _ = vae_inpaint(model, image, mask, samples=3, steps=4,
                          progress=lambda d, n: calls.append((d, n)))
    assert calls == [(k, 7) for k in range(1, 8)]
    plain, _ = vae_inpaint(model, image, mask, samples=3, steps=4)
    assert torch.equal(mean, plain)  # reporting changes nothing


def test_vae_samples_progress_from_the_cli(tmp_path, capsys, terminal):
    image = tmp_path / "digit.png"
    PILImage.fromarray((np.random.default_rng(0).random((28, 28)) * 255).astype(np.uint8)
                       ).save(image)
    mask = np.zeros((28, 28), np.uint8)
    mask[10:18, 10:18] = 255
    PILImage.fromarray(mask).save(tmp_path / "m.png")
    code, _, err = run(capsys, "restore", str(image), "-o", str(tmp_path / "o.png"), "--task",
                       "denoise", "--method", "vae-mnist", "--samples", "5")
    assert code == 0, err
    assert "0/5 [" in err and "step/s" in err  # a bar over the 5 samples
    assert output_lines(err)[0]["what"] == "vae-mnist, mean of 5 samples, std map beside it"


def test_generate_in_chunks_gives_the_same_images(tmp_path, capsys, terminal):
    from pixelsmith.io import read_image
    from pixelsmith.synthesis import CHUNK, generate, image_grid
    from pixelsmith.zoo import load_model

    count = CHUNK + 44
    code, _, err = run(capsys, "generate", "--method", "vae-mnist", "-n", str(count), "--seed",
                       "5", "-o", str(tmp_path / "grid.png"))
    assert code == 0, err
    assert f"0/{count} [" in err  # a bar over the chunks for many images
    images = generate(load_model("vae-mnist"), count, seed=5)
    expected = image_grid(images, nrow=int(np.ceil(np.sqrt(count))), padding=2)
    assert torch.equal(read_image(tmp_path / "grid.png"), torch.round(expected * 255) / 255)
    code, _, err = run(capsys, "generate", "--method", "vae-mnist", "-n", "300", "--seed", "5",
                       "--out-dir", str(tmp_path / "many"))
    assert code == 0 and "0/300 [" in err
    assert torch.equal(read_image(tmp_path / "many" / "0299.png"),
                       torch.round(images[299:300] * 255) / 255)


# -- evaluate --data ----------------------------------------------------------------------------

def test_evaluate_data_relative_to_pixelsmith_data(tmp_path, capsys, samples, monkeypatch):
    root = tmp_path / "data"
    (root / "sets" / "mini").mkdir(parents=True)
    PILImage.open(samples / "texture.png").crop((0, 0, 24, 24)).save(
        root / "sets" / "mini" / "a.png")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("PIXELSMITH_DATA", str(root))
    code, out, err = run(capsys, "evaluate", "--task", "denoise", "--data", "sets/mini",
                         "--methods", "tv", "--sigma", "25")
    assert code == 0, err
    assert "on `mini` (1 images;" in out
    code, _, err = run(capsys, "evaluate", "--task", "denoise", "--data", "sets/none",
                       "--methods", "tv")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"sets/none: no such folder here or in the data root {root}" in err
    (elsewhere / "sets" / "mini").mkdir(parents=True)  # found as given: it wins
    code, _, err = run(capsys, "evaluate", "--task", "denoise", "--data", "sets/mini",
                       "--methods", "tv")
    assert code == 2 and "no images found" in err
