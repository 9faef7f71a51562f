"""restore --workers N: a folder restored by several processes equals one process's result."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from cli_runner import run

from pixelsmith.io import read_image, save_image

pytestmark = pytest.mark.usefixtures("one_thread")

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "pixelsmith" / "samples"


def test_two_processes_write_what_one_writes(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    source = tmp_path / "in"
    (source / "sub").mkdir(parents=True)
    photo = read_image(SAMPLES / "landscape.png", gray=False)
    generator = torch.Generator().manual_seed(0)
    for i, folder in enumerate([source, source, source / "sub"]):
        crop = photo[..., 10 * i:10 * i + 40, 20 * i:20 * i + 52]
        noise = 0.08 * torch.randn(crop.shape, generator=generator)
        save_image(folder / f"{i}.png", (crop + noise).clamp(0, 1))
    (source / "broken.png").write_bytes(b"not a png")
    outputs = {}
    for workers in (1, 2):
        out = tmp_path / f"out{workers}"
        code, _, err = run(capsys, "restore", str(source), "-o", str(out), "--task", "denoise",
                           "--method", "denoise-color", "--workers", str(workers))
        assert code == 1  # the broken file, reported on one line; the others are written
        assert sum("pixelsmith: error:" in line and "broken.png" in line
                   and "failed:" not in line for line in err.splitlines()) == 1
        assert "1 of 4 failed" in err
        assert "3 of 4 images written" in err
        outputs[workers] = {p.relative_to(out): p.read_bytes() for p in out.rglob("*.png")}
    assert sorted(map(str, outputs[1])) == ["0.png", "1.png", "sub/2.png"]
    assert outputs[1] == outputs[2]
