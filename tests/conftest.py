"""Shared fixtures: the data-set folder (tests needing it skip when it is missing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixelsmith.settings import dataset_path

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "pixelsmith" / "samples"


def data_or_skip(relative: str) -> Path:
    """Path of a standard data set, or skip the test when it is not on this machine."""
    path = dataset_path(relative)
    if not path.exists():
        pytest.skip(f"data set {relative} not found under $PIXELSMITH_DATA")
    return path


@pytest.fixture
def samples() -> Path:
    return SAMPLES
