"""Settings read in one place: where the standard data sets live."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "PIXELSMITH_DATA"


def data_root() -> Path:
    """Folder holding the standard data sets (``$PIXELSMITH_DATA``, default ``../shared/data``).

    The default is resolved against the current directory first, then against the project
    root of a source checkout, so tests and benchmarks find the data from either place.
    """
    configured = os.environ.get(DATA_ENV)
    if configured:
        return Path(configured).expanduser()
    here = Path.cwd() / ".." / "shared" / "data"
    if here.is_dir():
        return here.resolve()
    checkout = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
    return checkout.resolve()


def dataset_path(relative: str) -> Path:
    """Path of a data set below :func:`data_root`, e.g. ``dataset_path("test/Set12")``."""
    return data_root() / relative
