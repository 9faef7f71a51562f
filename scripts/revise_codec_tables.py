"""Revise the shipped codec packages (codec-q1..q4) to table revision 2, deterministically.

    python scripts/revise_codec_tables.py             # rewrites src/pixelsmith/zoo/codec-q*
    python scripts/revise_codec_tables.py --check     # exit 1 if a package would change

Revision 2 stores the integer scale bounds that pick the hyperprior's coding rows
(``gaussian.final_scale_bounds``, ``floor(scale_table * 2^16)``) with the other integer tables,
and lists in ``config.json`` (``codec_tables.version1_ids``) the ids that files written before
the revision carry, so that they still decode:

- the package's own id before the revision (tables as stored), and
- the id of the same package as loaded on hosts whose ``torch.exp`` put four entries of the
  rebuilt 64-scale table one ulp above the stored ones (``REBUILT_ULPS``): earlier pixelsmith
  judged the stored tables stale there, rebuilt them and wrote that id into its files. Only the
  float64 scale table differed; the rebuilt frequency tables were identical, as the id shows
  (it hashes them too, and equals what those hosts wrote, e.g. 530e03daa3df61ac for codec-q3).

Everything is computed from the stored bytes with exact operations (no exp, no table
rebuilding), so the output does not depend on the machine that runs this; running it again
on a revised package rewrites the same bytes. The weights and every existing table are kept.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import shutil
import sys
import tempfile
from pathlib import Path

import torch

from pixelsmith.codec.entropy import _digest
from pixelsmith.zoo import WEIGHTS, ZOO, load_model, read_config, save_model

NAMES = ("codec-q1", "codec-q2", "codec-q3", "codec-q4")
#: entries of the float64 scale table and how many ulps above the stored value hosts that
#: judged the stored tables stale computed them (measured there: AMD EPYC, torch 2.13.0 CPU)
REBUILT_ULPS = {33: 1, 42: 1, 53: 1, 56: 1}
REVISION = 2


def state_id(state: dict[str, torch.Tensor]) -> bytes:
    """pixelsmith.codec.api.model_id of a state dict."""
    digest = hashlib.sha256()
    for name, tensor in sorted(state.items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.numpy().tobytes())
    return digest.digest()[:8]


def earlier_ids(codec: torch.nn.Module) -> dict[str, dict]:
    """version1_ids of a package before its revision (see the module notes)."""
    state = codec.state_dict()  # as stored before the revision (derived bounds left out)
    assert "gaussian.final_scale_bounds" not in state
    table = state["gaussian.final_scale_table"].clone()
    overrides = {}
    for index, ulps in sorted(REBUILT_ULPS.items()):
        value = float(table[index])
        for _ in range(ulps):
            value = math.nextafter(value, math.inf)
        table[index] = value
        overrides[str(index)] = value
    tail = torch.tensor([codec.gaussian.tail_mass], dtype=torch.float64)
    rebuilt = {**state, "gaussian.final_scale_table": table,
               "gaussian.final_source": _digest(table, tail)}
    return {state_id(state).hex(): {}, state_id(rebuilt).hex(): {"scale_table": overrides}}


def revise(folder: Path) -> None:
    """Rewrite one package in place as revision 2."""
    config = read_config(folder)
    codec = load_model(folder)  # stored tables as they are; scale bounds derived if absent
    tables = config.get("codec_tables") or {}
    version1 = tables.get("version1_ids") if tables.get("revision") == REVISION else None
    if version1 is None:
        if "gaussian.final_scale_table" not in codec.state_dict():
            raise SystemExit(f"{folder}: no stored entropy tables to revise")
        version1 = earlier_ids(codec)
    keep = {k: v for k, v in config.items()
            if k not in ("format", "format_version", "sha256", "storage_dtype", "codec_tables")}
    keep["codec_tables"] = {"revision": REVISION, "version1_ids": version1}
    codec.gaussian.derived.clear()  # the bounds derived at load are stored from now on
    dtype = getattr(torch, config.get("storage_dtype", "float32"))
    save_model(folder, codec, keep, storage_dtype=dtype if dtype != torch.float32 else None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=list(NAMES))
    parser.add_argument("--zoo", type=Path, default=ZOO)
    parser.add_argument("--check", action="store_true",
                        help="revise copies and report whether the packages would change")
    args = parser.parse_args()
    changed = []
    for name in args.names:
        folder = args.zoo / name
        if args.check:
            with tempfile.TemporaryDirectory() as tmp:
                copy = Path(tmp) / name
                shutil.copytree(folder, copy)
                revise(copy)
                same = all((copy / f).read_bytes() == (folder / f).read_bytes()
                           for f in (WEIGHTS, "config.json"))
            if not same:
                changed.append(name)
            print(f"{name}: {'up to date' if same else 'would change'}")
            continue
        revise(folder)
        config = json.loads((folder / "config.json").read_text())
        ids = ", ".join(config["codec_tables"]["version1_ids"])
        print(f"{name}: revision {REVISION}, sha256 {config['sha256'][:16]}..., "
              f"version 1 ids {ids}")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
