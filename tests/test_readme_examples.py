"""The README's "Using it" examples run as written from a checkout: a quick check that every
file an example reads exists or is written by an earlier line, and (slow tier) the whole block
run in a scratch folder."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import data_or_skip

from pixelsmith.zoo import shipped_models

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = "src/pixelsmith/samples"
#: options whose value is a file the command writes
WRITES = {"-o", "--output", "--save-mask", "--save-kernel", "--save-params", "--out-dir",
          "--json", "--markdown"}
#: options whose value is not a path
VALUES = {"--noise", "--blur", "--mask-kind", "--downsample", "--jpeg", "--seed", "--task",
          "--sigma", "--method", "--methods", "--scale", "--quality", "--tile", "--overlap",
          "--samples", "-n", "--temperature", "--steps", "--seeds", "--dims", "--refine",
          "--padding", "--device", "--data", "--strength", "--backend", "--workers"}


#: commands whose model argument (first, or --model) may be a shipped model's name
MODEL_COMMANDS = {"export-onnx", "quantize", "prune", "compress", "decompress"}


def readme_block() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("## Using it")
    begin = text.index("```bash", start) + len("```bash\n")
    return text[begin:text.index("```", begin)]


def commands(block: str) -> list[list[str]]:
    """Each ``pixelsmith ...`` command of the block as words ($S expanded, comments cut)."""
    found = []
    for line in block.replace("\\\n", " ").splitlines():
        line = line.split("#")[0].strip().replace("$S", SAMPLES)
        for part in line.split("&&"):
            words = shlex.split(part)
            if words and words[0] == "pixelsmith":
                found.append(words[1:])
    return found


def test_every_example_reads_a_file_that_exists_or_an_earlier_line_wrote():
    written: set[str] = set()
    for words in commands(readme_block()):
        reads, skip = [], False
        for index, word in enumerate(words[1:], start=1):
            if skip:
                skip = False
                continue
            if word in WRITES:
                written.add(words[index + 1].rstrip("/"))
                skip = True
            elif word in VALUES:
                skip = True
            elif word == "--kernel" or (word == "--mask" and words[0] == "restore"):
                reads.append(words[index + 1])
                skip = True
            elif word == "--mask":  # degrade: a mask spec
                skip = True
            elif word.startswith("-"):
                continue
            elif words[0] != "methods":
                reads.append(word)
        for path in reads:
            if words[0] in MODEL_COMMANDS and path in shipped_models():
                continue  # a shipped model's name, not a file
            assert path.rstrip("/") in written or (ROOT / path).exists(), \
                f"`pixelsmith {' '.join(words)}` reads {path}, which nothing before writes"


@pytest.mark.slow
def test_the_readme_block_runs_as_written(tmp_path):
    """About 5 minutes on 2 shared cores (bm3d on Set12 is most of it)."""
    data = data_or_skip("test/Set12").parents[1]
    (tmp_path / "src").symlink_to(ROOT / "src")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "activate").write_text(f"export PATH={bin_dir}:$PATH\n")
    shim = bin_dir / "pixelsmith"
    shim.write_text(f"#!/bin/sh\nexec {sys.executable} -m pixelsmith \"$@\"\n")
    shim.chmod(0o755)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "PIXELSMITH_DATA": str(data)}
    result = subprocess.run(["bash", "-e", "-c", readme_block()], cwd=tmp_path, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert re.search(r"\| bm3d \| \d+\.\d+ \|", result.stdout)
    for name in ("filled_std.png", "set12.json", "unpacked/landscape.png", "restored/shapes.png"):
        assert (tmp_path / name).exists(), name
