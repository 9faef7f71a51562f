"""benchmarks.speed_regression reads an earlier commit's zoo package from git."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from benchmarks.speed_regression import (
    PHOTO_MODELS,
    ROOT,
    first_shipped,
    package_at,
    photo_case,
)
from pixelsmith.zoo import read_config, sha256_file

needs_git = pytest.mark.skipif(
    shutil.which("git") is None or not (ROOT / ".git").exists()
    or subprocess.run(["git", "-C", str(ROOT), "cat-file", "-e", "HEAD:src/pixelsmith/zoo/sr-x4"],
                      capture_output=True).returncode != 0,
    reason="needs a git checkout whose HEAD ships sr-x4")


@needs_git
def test_package_at_head_is_the_committed_package_byte_for_byte(tmp_path: Path):
    folder = package_at("HEAD", "sr-x4", tmp_path)
    assert folder is not None
    # the weights come out of git byte for byte: their sha256 is the one their config records
    assert sha256_file(folder / "model.safetensors") == read_config(folder)["sha256"]
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]


@needs_git
def test_a_model_missing_at_the_commit_is_none(tmp_path: Path):
    assert package_at("HEAD", "no-such-model", tmp_path) is None


@needs_git
def test_first_shipped_is_a_commit_that_has_the_package(tmp_path: Path):
    rev = first_shipped("sr-x4")
    assert rev is not None and package_at(rev, "sr-x4", tmp_path) is not None
    assert first_shipped("no-such-model") is None


def test_photo_inputs_give_the_timed_output_size(tmp_path: Path):
    from PIL import Image

    Image.new("RGB", (48, 40), (120, 60, 30)).save(tmp_path / "a.png")
    for scale in set(PHOTO_MODELS.values()):
        x, _ = photo_case(tmp_path / "a.png", scale, seed=0)
        assert x.shape == (1, 3, 512 // scale, 512 // scale)
        assert float(x.min()) >= 0 and float(x.max()) <= 1
