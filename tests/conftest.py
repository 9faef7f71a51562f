"""Shared fixtures: the data-set folder (tests needing it skip when it is missing)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

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


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op torch thread for a module: much faster when other jobs share the 2 cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def assert_same_checkpoint(a: Path, b: Path, step: int, models: tuple[str, ...]) -> None:
    """Two runs' last.pt hold the same step and identical weights of ``models`` and EMA."""
    first = torch.load(a / "last.pt", weights_only=True)
    second = torch.load(b / "last.pt", weights_only=True)
    assert first["step"] == second["step"] == step
    for key in models:
        for name, value in first["models"][key].items():
            assert torch.equal(value, second["models"][key][name]), (key, name)
    for name, value in first["ema"].items():
        assert torch.equal(value, second["ema"][name]), name


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory):
    """One ONNX export cache for the whole session (exports are slow; the ONNX tests share
    them), set through the cache's environment variable."""
    from pixelsmith.runtime.cache import CACHE_ENV

    folder = tmp_path_factory.getbasetemp() / "onnx-cache"
    patch = pytest.MonkeyPatch()
    patch.setenv(CACHE_ENV, str(folder))
    yield folder
    patch.undo()
