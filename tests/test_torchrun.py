"""restore / compress on a folder under torchrun: each rank restores its share of the files,
and the outputs are those of one process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from cli_runner import run

from pixelsmith.cli.batch import Job
from pixelsmith.cli.ranks import RankShare
from pixelsmith.io import read_image, save_image

pytestmark = pytest.mark.usefixtures("one_thread")

SAMPLES = Path(__file__).resolve().parents[1] / "src" / "pixelsmith" / "samples"


def _folder(root: Path) -> Path:
    source = root / "in"
    (source / "sub").mkdir(parents=True)
    photo = read_image(SAMPLES / "landscape.png", gray=False)
    generator = torch.Generator().manual_seed(0)
    for i, folder in enumerate([source, source, source / "sub", source]):
        crop = photo[..., 8 * i:8 * i + 24, 10 * i:10 * i + 32]
        save_image(folder / f"{i}.png",
                   (crop + 0.08 * torch.randn(crop.shape, generator=generator)).clamp(0, 1))
    (source / "broken.png").write_bytes(b"not a png")
    return source


def _torchrun(*argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           "--nproc_per_node", "2", "-m", "pixelsmith", *argv],
                          capture_output=True, text=True, env=env, timeout=120)


def test_each_rank_takes_every_other_sorted_file():
    jobs = [Job(Path(f"{name}.png"), Path(f"out/{name}.png")) for name in "dbca"]
    shares = [RankShare(rank, 2).take(jobs) for rank in (0, 1)]
    assert [j.source.name for j in shares[0]] == ["a.png", "c.png"]
    assert [j.source.name for j in shares[1]] == ["b.png", "d.png"]


def test_torchrun_writes_what_one_process_writes(capsys, tmp_path, monkeypatch):
    source = _folder(tmp_path)
    for name in ("WORLD_SIZE", "RANK"):
        monkeypatch.delenv(name, raising=False)
    code, _, err = run(capsys, "restore", str(source), "-o", str(tmp_path / "one"),
                       "--task", "denoise", "--method", "denoise-color")
    assert code == 1, err
    done = _torchrun("restore", str(source), "-o", str(tmp_path / "two"), "--task", "denoise",
                     "--method", "denoise-color")
    assert done.returncode != 0  # the broken file failed on one rank: torchrun fails
    err = done.stderr
    assert sum("pixelsmith: error:" in line and "broken.png" in line
               and "failed:" not in line for line in err.splitlines()) == 1
    assert "rank 0 of 2: " in err and "rank 1 of 2: " in err
    assert "4 of 5 images written" in err and "1 of 5 failed" in err  # rank 0's summary
    outputs = [{p.relative_to(tmp_path / name): p.read_bytes()
                for p in (tmp_path / name).rglob("*.png")} for name in ("one", "two")]
    assert sorted(map(str, outputs[0])) == ["0.png", "1.png", "3.png", "sub/2.png"]
    assert outputs[0] == outputs[1]


def test_torchrun_succeeds_when_every_file_is_done(tmp_path):
    source = _folder(tmp_path)
    (source / "broken.png").unlink()
    done = _torchrun("compress", str(source), "-o", str(tmp_path / "packed"),
                     "--quality", "1")
    assert done.returncode == 0, done.stderr
    assert len(list((tmp_path / "packed").rglob("*.pxs"))) == 4
