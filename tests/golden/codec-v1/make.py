"""Writes the version-1 golden .pxs files of tests/test_codec_determinism.py (kept as a record).

It ran once, with one torch thread, against pixelsmith at commit 1d7a6d1: the shipped packages
codec-q1..q4 before their tables revision, coded with the tables stored in those packages
(exactly what the build machine used, so the files carry the shipped model ids). For each file
it records the SHA-256 of the decoded z and y symbols and of the decoded 8-bit pixels, and the
decoded image as a PNG (for machines whose float32 synthesis differs in the last bits). It does
not run against later code: version 1 files are no longer written.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

HERE = Path(__file__).parent
SAMPLES = HERE.parents[2] / "src" / "pixelsmith" / "samples"
#: name -> (quality, sample, crop height, crop width, gray)
CASES = {"landscape-q1": (1, "landscape", 256, 256, False),
         "landscape-q2": (2, "landscape", 256, 256, False),
         "landscape-q3": (3, "landscape", 256, 256, False),
         "landscape-q4": (4, "landscape", 256, 256, False),
         "crop-q2": (2, "landscape", 137, 200, False),
         "texture-q3": (3, "texture", 243, 250, True)}


def sha(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def main() -> None:
    from pixelsmith.codec import api, coder
    from pixelsmith.codec.entropy import dequantize
    from pixelsmith.codec.models import channel_ids
    from pixelsmith.io import read_image, to_array
    from pixelsmith.zoo import load_model

    torch.set_num_threads(1)
    record = {"commit": "1d7a6d1", "cpu": torch.backends.cpu.get_cpu_capability(),
              "threads": 1, "files": {}}
    for name, (quality, sample, height, width, gray) in CASES.items():
        codec = load_model(f"codec-q{quality}").eval()
        codec.finalized = lambda: True  # the stored tables, never rebuilt (see the notes)
        codec.pixelsmith_id = api.model_id(codec)
        x = read_image(SAMPLES / f"{sample}.png", gray=gray)[..., :height, :width].contiguous()
        data = api.compress(x, model=codec)
        header, streams = api.unpack(data)
        h, w = header.padded_size
        z_shape = codec.latent_shape(h, w, 64, codec.N)
        z = coder.decode(streams[0], channel_ids(z_shape), codec.entropy_z.tables())
        z_hat = dequantize(torch.from_numpy(z).view(z_shape), codec._z_centre())
        scales, _ = codec.entropy_parameters(z_hat)
        rows = codec.gaussian.indexes(scales).numpy().ravel()
        y = coder.decode(streams[1], rows, codec.gaussian.tables())
        pixels = to_array(api.decompress(data, model=codec), 8)
        (HERE / f"{name}.pxs").write_bytes(data)
        Image.fromarray(pixels).save(HERE / f"{name}.png")
        record["files"][name] = {"model": f"codec-q{quality}", "model_id": header.model_id.hex(),
                                 "size": [height, width], "gray": gray,
                                 "z_symbols": sha(z.astype("<i8")),
                                 "y_symbols": sha(y.astype("<i8")),
                                 "pixels": sha(pixels)}
    (HERE / "expected.json").write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
