"""benchmarks.speed_regression reads an earlier commit's zoo package from git."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from benchmarks.speed_regression import ROOT, package_at
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
