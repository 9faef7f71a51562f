"""codec_rd's anchor records: a reused anchor keeps the machine that measured it."""

import json
from pathlib import Path

import PIL

from benchmarks.codec_rd import SWEEPS, anchor_provenance, record_path, reusable_anchors


def _write_anchor(out: Path, name: str, machine: str | None) -> None:
    _, qualities = SWEEPS[name]
    record = {"curve": name, "kind": "classical", "measured": "2026-01-02 03:04",
              "points": [{"setting": f"q{q}", "bpp": 0.1 * q, "psnr": 30.0} for q in qualities],
              "meta": {"images": 3, "pillow": PIL.__version__, "machine": "a later run's machine",
                       "date": "2026-02-03 04:05"}}
    if machine is not None:
        record["machine"] = machine
    path = record_path(out, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))


def test_reused_anchor_keeps_its_own_machine_not_the_last_runs(tmp_path: Path) -> None:
    _write_anchor(tmp_path, "JPEG", "machine A")
    curves = reusable_anchors(tmp_path, n_images=3)
    assert curves["JPEG"]["machine"] == "machine A"
    provenance = anchor_provenance(curves)
    assert "2026-01-02 03:04, machine A" in provenance
    assert "a later run's machine" not in provenance


def test_anchor_without_a_machine_says_so(tmp_path: Path) -> None:
    _write_anchor(tmp_path, "WebP", None)
    curves = reusable_anchors(tmp_path, n_images=3)
    assert "machine not recorded" in anchor_provenance(curves)
    assert reusable_anchors(tmp_path, n_images=4) == {}
