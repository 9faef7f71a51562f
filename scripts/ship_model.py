"""Copy a trained run into the package zoo: export it and list it in zoo/index.json.

    python scripts/ship_model.py denoise-gray runs/denoise-gray [--default] [--checkpoint last]
    python scripts/ship_model.py vae-faces runs/vae-faces --fp16    # float16 storage

``--default`` makes it the first model of its task in the index, i.e. the method `restore`
uses when none is given (do this only for a model that beats the baselines in the benchmark).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from pixelsmith.io import atomic_write_text
from pixelsmith.train.export import export_run
from pixelsmith.zoo import ZOO, read_config


def with_entry(index: dict, name: str, entry: dict, make_default: bool) -> dict:
    """``index`` with ``name`` listed as ``entry``.

    ``make_default`` puts it first and clears the default flag of the other models of the same
    task, channels and scale; otherwise a model already listed keeps its place and its flag
    (re-shipping retrained weights must not demote a default), and a new one goes last.
    """
    previous = index.get(name, {})
    entry = {**entry, "default": make_default or bool(previous.get("default"))}
    if not make_default:
        return {**index, name: entry}
    key = (entry["task"], entry["channels"], entry.get("scale"))
    others = {other: {**info, "default": False}
              if (info["task"], info["channels"], info.get("scale")) == key else info
              for other, info in index.items() if other != name}
    return {name: entry, **others}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("run", type=Path)
    parser.add_argument("--default", action="store_true")
    parser.add_argument("--checkpoint", default="best",
                        help="best (validation; the default), last, or the step of a snapshot "
                             "kept by train.keep_every")
    parser.add_argument("--fp16", action="store_true",
                        help="store the weights in float16 (half the size; loaded as float32)")
    args = parser.parse_args()
    folder = export_run(args.run, ZOO / args.name, checkpoint=args.checkpoint,
                        storage_dtype=torch.float16 if args.fp16 else None)
    config = read_config(folder)
    index_path = ZOO / "index.json"
    index = json.loads(index_path.read_text()) if index_path.exists() else {}
    entry = {"task": config["task"], "channels": config["channels"]}
    scale = config["network"].get("args", {}).get("scale")
    if scale is None and config["task"] == "photo":
        scale = 1  # a photo model that keeps the size
    if scale is not None:  # super-resolution and photos: one default per scale
        entry["scale"] = int(scale)
    index = with_entry(index, args.name, entry, make_default=args.default)
    atomic_write_text(index_path, json.dumps(index, indent=2) + "\n")
    size = (folder / "model.safetensors").stat().st_size / 1e6
    print(f"shipped {args.name}: {size:.2f} MB, sha256 {config['sha256'][:16]}...")
    return 0


if __name__ == "__main__":
    sys.exit(main())
