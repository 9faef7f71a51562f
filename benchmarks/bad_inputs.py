"""Run every class of bad input through the real `pixelsmith` command; write the outcomes.

Each row is one command run in a subprocess, in a scratch folder (so messages show short
relative paths): the class of input, the command, its exit code and what it said on stderr
(its last lines, progress bars left out; for a success, also what it wrote). The classes:
damaged image files, outputs that cannot be written, tiny images per method, tiny tiles,
broken model folders, folders with one bad file, fallbacks that used to be silent, NumPy
arrays given to the Python API, and training recipes, data and devices that cannot be used.

Run: ``python -m benchmarks.bad_inputs`` (writes docs/RELIABILITY.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.common import markdown_table, meta_lines, replace_section, run_meta

ROOT = Path(__file__).resolve().parents[1]
ZOO = ROOT / "src" / "pixelsmith" / "zoo"
SAMPLES = ROOT / "src" / "pixelsmith" / "samples"
SECTION = "bad-inputs"
MESSAGE_LINES = 3  # the last lines of stderr kept per row (a folder reports each failure)
TITLE = "# Reliability: bad input as a user meets it"


def make_inputs(folder: Path) -> None:
    """The damaged files, tiny images and broken model folders the rows use."""
    import tifffile
    import torch

    from pixelsmith.io import save_image

    rng = np.random.default_rng(0)
    rgb16 = rng.integers(0, 65536, (48, 64, 3)).astype(np.uint16)
    save_image(folder / "rgb16.png", torch.from_numpy(rgb16.transpose(2, 0, 1) / 65535.0)
               .float()[None], bit_depth=16)
    data = (folder / "rgb16.png").read_bytes()
    (folder / "cut16.png").write_bytes(data[: len(data) // 2])
    flipped = bytearray(data)
    flipped[data.index(b"IDAT") + 100] ^= 0x10
    (folder / "flip16.png").write_bytes(bytes(flipped))
    tifffile.imwrite(folder / "rgb16.tif", rgb16, photometric="rgb")
    tif = (folder / "rgb16.tif").read_bytes()
    (folder / "cut16.tif").write_bytes(tif[: len(tif) * 2 // 3])
    moved = bytearray(tif)
    moved[4:8] = (len(tif) + 64).to_bytes(4, "little")
    (folder / "ifd16.tif").write_bytes(bytes(moved))
    with Image.open(SAMPLES / "landscape.png") as img:
        img.convert("RGB").save(folder / "photo.jpg", quality=90)
    jpeg = (folder / "photo.jpg").read_bytes()
    (folder / "grey.jpg").write_bytes(jpeg[: len(jpeg) // 2] + b"\xff\xd9")
    (folder / "blocker").write_text("a file, not a folder")
    (folder / "ro").mkdir()
    (folder / "ro").chmod(0o555)
    for w, h in ((1, 1), (3, 5), (512, 1)):
        Image.fromarray(rng.integers(0, 256, (h, w, 3)).astype(np.uint8)).save(
            folder / f"tiny{w}x{h}.png")
        mask = np.zeros((h, w), np.uint8)
        mask[-1, -1] = 255 if w * h > 1 else 0
        Image.fromarray(mask).save(folder / f"mask{w}x{h}.png")
    np.save(folder / "k3.npy", np.ones((3, 3)) / 9)
    soft = (np.linspace(0, 255, 64)[None, :] * np.ones((48, 1))).astype(np.uint8)
    Image.fromarray(soft).save(folder / "soft_mask.png")
    Image.fromarray(rng.integers(0, 256, (48, 64, 3)).astype(np.uint8)).save(
        folder / "small.png")
    shutil.copy(SAMPLES / "texture.png", folder / "texture.png")
    batch = folder / "batch"
    batch.mkdir()
    shutil.copy(SAMPLES / "texture.png", batch / "a.png")
    (batch / "b.png").write_bytes((folder / "cut16.png").read_bytes())
    shutil.copy(SAMPLES / "shapes.png", batch / "c.png")
    stale = folder / "stale"
    stale.mkdir()
    (stale / ".a.png.x1y2z3ab.tmp").write_bytes(b"left by kill -9")  # mkstemp: 8 characters
    make_models(folder / "models")
    make_recipes(folder)


def make_recipes(folder: Path) -> None:
    """A tiny training set and recipe (a few 48x48 images, a 3-layer DnCNN), and a recipe that
    is not YAML, for the training rows."""
    import yaml

    rng = np.random.default_rng(1)
    images = folder / "trainset"
    images.mkdir()
    for i in range(6):
        noise = rng.integers(0, 256, (48, 48)).astype(np.uint8)
        Image.fromarray(noise).save(images / f"{i}.png")
    recipe = {"name": "tiny", "output": "run",
              "model": {"name": "dncnn", "args": {"channels": 1, "features": 8, "depth": 3}},
              "data": {"train": "trainset", "color": "gray", "patch_size": 16,
                       "patches_per_epoch": 32, "val_fraction": 0.2},
              "degradation": {"task": "denoise", "sigma": [10, 30]},
              "val": {"every": 1000, "sigma": 20},
              "train": {"batch_size": 4, "steps": 4, "checkpoint_every": 2}}
    (folder / "tiny.yaml").write_text(yaml.safe_dump(recipe))
    (folder / "broken.yaml").write_text("name: tiny\nmodel: {name: dncnn\n")


def make_models(folder: Path) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    def model(name: str, config_edit=None, tensors=None, weights_bytes=None, raw=None) -> None:
        target = folder / name
        shutil.copytree(ZOO / "denoise-gray", target)
        weights = target / "model.safetensors"
        if tensors is not None:
            state = load_file(str(weights))
            tensors(state)
            save_file(state, str(weights))
        if weights_bytes is not None:
            weights.write_bytes(weights_bytes(weights.read_bytes()))
        config = json.loads((target / "config.json").read_text())
        config["sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()
        if config_edit is not None:
            config = config_edit(config)
        (target / "config.json").write_text(raw if raw is not None else json.dumps(config))

    def first(state):
        return next(iter(state))

    model("truncated", weights_bytes=lambda b: b[: len(b) // 2])
    model("badheader", weights_bytes=lambda b: struct.pack("<Q", 10**12) + b[8:])
    model("wrongshape", tensors=lambda s: s.__setitem__(first(s), torch.zeros(3, 3)))
    model("nan", tensors=lambda s: s.__setitem__(first(s), torch.full_like(s[first(s)],
                                                                           float("nan"))))
    model("inf", tensors=lambda s: s.__setitem__(first(s), torch.full_like(s[first(s)],
                                                                           float("inf"))))
    model("nonetwork", config_edit=lambda c: {k: v for k, v in c.items() if k != "network"})
    model("channels3", config_edit=lambda c: {**c, "channels": 3})
    model("channels5", config_edit=lambda c: {**c, "channels": 5})
    model("needs", config_edit=lambda c: {**c, "needs": ["colour"]})
    model("list", raw="[1, 2, 3]")


def restore(*args: str) -> tuple[str, list[str]]:
    """A ``pixelsmith restore`` row: (the command as shown, the arguments after python)."""
    return shlex.join(["pixelsmith", "restore", *args]), ["-m", "pixelsmith", "restore", *args]


def train(*args: str) -> tuple[str, list[str]]:
    """A ``pixelsmith train`` row."""
    return shlex.join(["pixelsmith", "train", *args]), ["-m", "pixelsmith", "train", *args]


def command(*args: str) -> tuple[str, list[str]]:
    """A row of any other ``pixelsmith`` command."""
    return shlex.join(["pixelsmith", *args]), ["-m", "pixelsmith", *args]


def api(code: str) -> tuple[str, list[str]]:
    """A Python API call, run as ``python -c``: prints the PixelsmithError, exit 2."""
    wrapped = ("import sys, numpy as np, pixelsmith\n"
               "try:\n"
               f"    out = {code}\n"
               "    print(f'returned {out.dtype} {out.shape}, mean {out.mean():.3f}', "
               "file=sys.stderr)\n"
               "except pixelsmith.PixelsmithError as exc:\n"
               "    print(f'PixelsmithError: {exc}', file=sys.stderr); sys.exit(2)\n")
    return code, ["-c", wrapped]


TINY = [("tiny1x1.png", "mask1x1.png"), ("tiny3x5.png", "mask3x5.png"),
        ("tiny512x1.png", "mask512x1.png")]
TINY_METHODS = [
    ("bm3d", ["--task", "denoise", "--method", "bm3d", "--sigma", "25"]),
    ("nlm", ["--task", "denoise", "--method", "nlm", "--sigma", "25"]),
    ("wiener", ["--task", "deblur", "--method", "wiener", "--kernel", "k3.npy"]),
    ("biharmonic", ["--task", "inpaint", "--method", "biharmonic", "--mask", "MASK"]),
    ("dejpeg model", ["--task", "dejpeg", "--quality", "20"]),
    ("deblur-blind model", ["--task", "deblur"]),
    ("inpaint model", ["--task", "inpaint", "--mask", "MASK"]),
]


def rows_to_run() -> list[tuple[str, tuple[str, list[str]]]]:
    """(class, (command as shown, arguments after python)) for every row."""
    out = "--task", "dejpeg", "--method", "identity"
    rows = [
        ("damaged 16-bit PNG (cut in half)", restore("cut16.png", "-o", "o.png", *out)),
        ("damaged 16-bit PNG (one bit flipped)", restore("flip16.png", "-o", "o.png", *out)),
        ("damaged 16-bit RGB TIFF (cut)", restore("cut16.tif", "-o", "o.png", *out)),
        ("damaged 16-bit RGB TIFF (directory past the end)",
         restore("ifd16.tif", "-o", "o.png", *out)),
        ("JPEG with damaged image data (libjpeg's grey fill)",
         restore("grey.jpg", "-o", "o.png", *out)),
        ("output under a regular file", restore("texture.png", "-o", "blocker/o.png", *out)),
        ("output that would overwrite its input",
         restore("texture.png", "-o", "texture.png", *out)),
        ("output folder chmod 555" + (" (run as root: root may write there)"
                                      if os.geteuid() == 0 else ""),
         restore("texture.png", "-o", "ro/o.png", *out)),
        ("output folder not writable (rename refused, simulated)",
         (restore("texture.png", "-o", "o.png", *out)[0] + " (os.replace refusing)",
          ["-c", "import os, sys\n"
           "def refuse(a, b): raise PermissionError(13, 'Permission denied')\n"
           "os.replace = refuse\n"
           "from pixelsmith.cli.main import main\n"
           "main(sys.argv[1:])",
           "restore", "texture.png", "-o", "o.png", *out])),
    ]
    for image, mask in TINY:
        size = image.removeprefix("tiny").removesuffix(".png")
        for name, args in TINY_METHODS:
            args = [mask if a == "MASK" else a for a in args]
            rows.append((f"tiny image {size}, {name}", restore(image, "-o", "o.png", *args)))
    rows += [
        ("tile of 1 pixel", restore("texture.png", "-o", "o.png", "--task", "denoise",
                                    "--sigma", "25", "--tile", "1", "--overlap", "0")),
    ]
    for name, what in (("truncated", "truncated weights file"),
                       ("badheader", "weights file with a bad header"),
                       ("wrongshape", "a tensor of the wrong shape"),
                       ("nan", "NaN in the weights"), ("inf", "Inf in the weights"),
                       ("nonetwork", "config.json without network"),
                       ("channels3", "channels unlike the network's"),
                       ("channels5", "channels 5"), ("needs", "unknown needs"),
                       ("list", "a list as config.json")):
        rows.append((f"model folder: {what}",
                     restore("texture.png", "-o", "o.png", "--task", "denoise", "--sigma", "25",
                             "--method", f"models/{name}")))
    rows += [
        ("folder with one damaged file", restore("batch", "-o", "batch-out", *out)),
        ("folder resumed with --skip-existing",
         restore("batch", "-o", "batch-out", *out, "--skip-existing")),
        ("temporary file left by kill -9 in the output folder",
         restore("texture.png", "-o", "stale/a.png", *out)),
        ("super-resolution x3 (no x3 model)",
         restore("texture.png", "-o", "o.png", "--task", "sr", "--scale", "3")),
        ("super-resolution without --scale", restore("texture.png", "-o", "o.png", "--task",
                                                     "sr")),
        ("soft (grey) inpainting mask",
         restore("small.png", "-o", "o.png", "--task", "inpaint", "--method", "biharmonic",
                 "--mask", "soft_mask.png")),
        ("API: uint16 array", api("pixelsmith.restore((np.random.default_rng(0).random((32, "
                                  "32, 3)) * 65535).astype(np.uint16), 'dejpeg', "
                                  "method='identity')")),
        ("API: uint8 array", api("pixelsmith.restore((np.random.default_rng(0).random((32, "
                                 "32, 3)) * 255).astype(np.uint8), 'dejpeg', "
                                 "method='identity')")),
        ("API: floats in 0-255", api("pixelsmith.restore(np.random.default_rng(0).random((32, "
                                     "32, 3)) * 255, 'dejpeg', method='identity')")),
        ("API: int64 array", api("pixelsmith.restore(np.zeros((8, 8), np.int64), 'dejpeg', "
                                 "method='identity')")),
        ("training: recipe file missing", train("nothing.yaml")),
        ("training: recipe not valid YAML", train("broken.yaml")),
        ("training: unknown recipe field", train("tiny.yaml", "--set", "nosuch=1")),
        ("training: value out of range", train("tiny.yaml", "--set", "train.batch_size=0")),
        ("training: data folder missing", train("tiny.yaml", "--set", "data.train=missing")),
        ("training: init model missing", train("tiny.yaml", "--set", "init=models/none")),
        ("training: patches larger than every image",
         train("tiny.yaml", "--set", "data.patch_size=4096")),
        ("training: resume without a checkpoint", train("--resume", "nowhere")),
        ("training: a GPU this machine lacks" + (" (this machine has one: it trains)"
                                                 if _has_cuda() else ""),
         train("tiny.yaml", "--device", "cuda", "--max-steps", "1", "--quiet")),
        ("training on 2 processes: data folder missing",
         train("tiny.yaml", "--nproc", "2", "--set", "data.train=missing", "--quiet")),
        ("training: run folder under a regular file",
         train("tiny.yaml", "--output", "blocker/run", "--quiet")),
        ("explain: output folder under a regular file",
         command("explain", "texture.png", "--method", "denoise-gray", "-o", "blocker/x")),
        ("demo: output folder under a regular file", command("demo", "-o", "blocker/x")),
        ("generate: output folder under a regular file",
         command("generate", "--method", "vae-mnist", "-n", "2", "--out-dir", "blocker/x")),
        ("prune: output folder under a regular file",
         command("prune", "denoise-gray", "-o", "blocker/x")),
    ]
    return rows


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def run_row(command: list[str], cwd: Path) -> tuple[int, str]:
    """Exit code and the message (stderr's last line, or what was written) of one command."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    (cwd / "o.png").unlink(missing_ok=True)
    result = subprocess.run([sys.executable, *command], cwd=cwd, capture_output=True,
                            text=True, env=env, timeout=600)
    lines = [line.strip() for line in result.stderr.replace("\r", "\n").splitlines()
             if line.strip() and "%|" not in line]  # progress bars left out
    message = " / ".join(lines[-MESSAGE_LINES:])
    if "Traceback" in result.stderr:
        message = "TRACEBACK: " + message
    if result.returncode == 0 and (cwd / "o.png").exists():
        with Image.open(cwd / "o.png") as img:
            wrote = f"wrote o.png ({img.width}x{img.height})"
        message = f"{message}; {wrote}" if message else wrote
    if result.returncode == 0 and not message:
        message = "(done, nothing said)"
    if "stale/" in " ".join(command):
        left = [p.name for p in (cwd / "stale").iterdir() if p.name.endswith(".tmp")]
        message += f"; temporary files left: {', '.join(left) or 'none'}"
    return result.returncode, message


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=str(ROOT / "docs" / "RELIABILITY.md"))
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_inputs(folder)
        for name, (shown, command) in rows_to_run():
            start = time.perf_counter()
            code, message = run_row(command, folder)
            print(f"{code:3d} {time.perf_counter() - start:5.1f}s {name}: {message}",
                  flush=True)
            rows.append([cell(name), f"`{cell(shown)}`", str(code), cell(message)])
        (folder / "ro").chmod(0o755)
    meta = run_meta()
    tracebacks = sum("TRACEBACK" in row[3] for row in rows)
    body = "\n".join([
        "## Bad input, class by class",
        "",
        meta_lines(meta),
        "",
        "Every command ran in a scratch folder holding the inputs that "
        "`benchmarks/bad_inputs.py` makes (damaged copies of small images, tiny images, "
        "copies of the shipped denoise-gray package with one thing broken, a tiny training set "
        "and recipe). Exit code 2 with "
        "one line `pixelsmith: error: ...` is a refused input; 0 is a result. "
        f"Rows ending in a traceback: {tracebacks} of {len(rows)}.",
        "",
        markdown_table(["input", "command", "exit", "message"], rows),
    ])
    replace_section(Path(args.output), SECTION, body, title=TITLE)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
