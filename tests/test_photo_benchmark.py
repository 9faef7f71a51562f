"""benchmarks.photo --extra: a model folder becomes one more row, with the perceptual side."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from pixelsmith.nets.unet import ConditionedUNet
from pixelsmith.settings import dataset_path
from pixelsmith.zoo import save_model

ROOT = Path(__file__).resolve().parents[1]


def tiny_photo_model(folder: Path) -> Path:
    """An untrained 1x photo model (a small blind U-Net) as a model folder."""
    torch.manual_seed(0)
    net = ConditionedUNet(3, (4, 8), blocks=1, conditioning=None)
    args = {"channels": 3, "features": [4, 8], "blocks": 1, "conditioning": None}
    return save_model(folder, net, {"name": folder.name, "task": "photo", "family": "restoration",
                                    "network": {"name": "unet", "args": args}, "channels": 3,
                                    "needs": []})


def run_benchmark(tmp_path: Path, *options: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "benchmarks.photo", "--results", str(tmp_path / "r"),
               "--docs", str(tmp_path / "B.md"), "--inputs", str(tmp_path / "in"), *options]
    env = {"PYTHONPATH": f"{ROOT / 'src'}:{ROOT}", "OMP_NUM_THREADS": "1",
           "PATH": "/usr/bin:/bin", **({"PIXELSMITH_DATA": str(dataset_path("."))})}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.skipif(not dataset_path("test/CBSD68").exists(), reason="needs test/CBSD68")
def test_extra_model_is_a_row_with_perceptual_scores(tmp_path) -> None:
    model = tiny_photo_model(tmp_path / "tiny")
    done = run_benchmark(tmp_path, "--parts", "heldout", "--sets", "CBSD68", "--scales", "1",
                         "--limit", "1", "--baselines", "photo-chain", "--extra",
                         f"tiny={model}")
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "r" / "photo.json").read_text())["report"]
    rows = next(iter(report.values()))["rows"]
    assert [r["method"] for r in rows] == ["photo", "tiny", "photo-chain", "input"]
    for row in rows:  # 150 tiles of one 481x321 image: enough for FID/KID
        assert row["fid"] is not None and row["kid"] is not None and row["sharpness"] > 0
    tiny, photo = rows[1], rows[0]
    assert tiny["psnr"] < photo["psnr"]  # an untrained net is worse than the shipped model
    page = (tmp_path / "B.md").read_text()
    assert "| tiny |" in page and "FID (proxy)" in page


@pytest.mark.parametrize("extra, message", [
    ("no-equals-sign", "expected NAME=MODEL_FOLDER"),
    ("x=/nonexistent/folder", "not a shipped model, a model folder or a training run"),
    ("x=denoise-color", "a model for task 'denoise', not 'photo'"),
])
def test_bad_extra_is_a_one_line_error(tmp_path, extra, message) -> None:
    done = run_benchmark(tmp_path, "--parts", "heldout", "--limit", "1", "--extra", extra)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
