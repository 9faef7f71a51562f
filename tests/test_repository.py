"""The repository itself checks out the same everywhere."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("src", "docs", "configs", "benchmarks", "scripts", "tests")


def test_no_two_files_differ_only_in_case():
    """macOS and Windows file systems ignore case by default: two files whose names differ only
    in case (docs/results/sr-Set5-x4.json beside sr-set5-x4.json) would overwrite each other
    there, in a checkout and whenever a benchmark writes them."""
    seen: dict[str, list[str]] = defaultdict(list)
    for folder in FOLDERS:
        for parent, dirs, files in os.walk(ROOT / folder):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in dirs + files:
                path = Path(parent, name).relative_to(ROOT).as_posix()
                seen[path.casefold()].append(path)
    clashes = [paths for paths in seen.values() if len(paths) > 1]
    assert not clashes, f"names that differ only in case: {clashes}"
