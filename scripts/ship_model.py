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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("run", type=Path)
    parser.add_argument("--default", action="store_true")
    parser.add_argument("--checkpoint", choices=["best", "last"], default="best",
                        help="which checkpoint of the run (default: best validation)")
    parser.add_argument("--fp16", action="store_true",
                        help="store the weights in float16 (half the size; loaded as float32)")
    args = parser.parse_args()
    folder = export_run(args.run, ZOO / args.name, checkpoint=args.checkpoint,
                        storage_dtype=torch.float16 if args.fp16 else None)
    config = read_config(folder)
    index_path = ZOO / "index.json"
    index = json.loads(index_path.read_text()) if index_path.exists() else {}
    previous = index.get(args.name, {})
    # Re-shipping keeps the model's place in the index and its default flag.
    entry = {"task": config["task"], "channels": config["channels"],
             "default": args.default or bool(previous.get("default"))}
    scale = config["network"].get("args", {}).get("scale")
    if scale is not None:  # super-resolution: one default per scale
        entry["scale"] = int(scale)
    if args.default:
        for other in index.values():
            if (other["task"], other["channels"], other.get("scale")) == \
                    (config["task"], config["channels"], entry.get("scale")):
                other["default"] = False
        index.pop(args.name, None)
        index = {args.name: entry, **index}
    else:
        index[args.name] = entry
    atomic_write_text(index_path, json.dumps(index, indent=2) + "\n")
    size = (folder / "model.safetensors").stat().st_size / 1e6
    print(f"shipped {args.name}: {size:.2f} MB, sha256 {config['sha256'][:16]}...")
    return 0


if __name__ == "__main__":
    sys.exit(main())
