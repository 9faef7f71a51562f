"""Folders as a user runs them: a failing file is named and skipped, exit codes 0/1/2, a
summary, --skip-existing to resume, and temporary files of a killed run cleaned up."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_runner import run
from PIL import Image as PILImage

from pixelsmith.cli.batch import Job, Outcome, remove_stale_temps


@pytest.fixture
def folder(tmp_path, samples) -> Path:
    """Two good 24x24 images (one in a subfolder) and one broken file."""
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    PILImage.open(samples / "texture.png").crop((0, 0, 24, 24)).save(root / "a.png")
    PILImage.open(samples / "shapes.png").crop((0, 0, 24, 24)).save(root / "sub" / "b.png")
    (root / "c.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    return root


def sr(capsys, source, output, *extra) -> tuple[int, str, str]:
    return run(capsys, "restore", str(source), "-o", str(output), "--task", "sr", "--scale",
               "2", "--method", "bicubic", *extra)


def test_a_bad_file_is_named_skipped_and_exit_code_is_1(folder, tmp_path, capsys):
    out = tmp_path / "out"
    code, stdout, err = sr(capsys, folder, out)
    assert code == 1 and "Traceback" not in err and stdout == ""
    lines = err.strip().splitlines()
    errors = [line for line in lines if line.startswith("pixelsmith: error:")]
    # its own line when it fails, then the summary that names it
    assert len(errors) == 2 and all("c.png" in line for line in errors)
    assert errors[-1].startswith("pixelsmith: error: 1 of 3 failed:")
    assert "2 of 3 images written to" in err
    assert (out / "a.png").exists() and (out / "sub" / "b.png").exists()
    assert not (out / "c.png").exists()


def test_every_file_failing_is_exit_code_2(tmp_path, capsys):
    root = tmp_path / "in"
    root.mkdir()
    for name in ("x.png", "y.png"):
        (root / name).write_bytes(b"not an image")
    code, _, err = sr(capsys, root, tmp_path / "out")
    assert code == 2 and "2 of 2 failed: " in err and "x.png" in err and "y.png" in err


def test_an_unexpected_error_in_one_file_does_not_stop_the_folder(folder, tmp_path, capsys,
                                                                   monkeypatch):
    import pixelsmith.restoration.files as files

    real = files.restore_file

    def flaky(restorer, source, *args, **kwargs):
        if source.name == "a.png":
            raise RuntimeError("out of memory\nsecond line")
        return real(restorer, source, *args, **kwargs)

    monkeypatch.setattr(files, "restore_file", flaky)
    code, _, err = sr(capsys, folder, tmp_path / "out")
    assert code == 1 and "Traceback" not in err
    line = next(x for x in err.splitlines() if "a.png" in x and "RuntimeError" in x)
    assert line == f"pixelsmith: error: {folder / 'a.png'}: RuntimeError: out of memory second line"
    assert (tmp_path / "out" / "sub" / "b.png").exists()


def test_outcome_exit_codes():
    assert Outcome(total=3, written=3).exit_code == 0
    assert Outcome(total=3, written=2, failed=[Path("c")]).exit_code == 1
    assert Outcome(total=2, failed=[Path("a"), Path("b")]).exit_code == 2
    assert Outcome(total=3, skipped=3).exit_code == 0


def test_skip_existing_resumes_without_redoing(folder, tmp_path, capsys):
    (folder / "c.png").unlink()
    out = tmp_path / "out"
    out.mkdir()
    PILImage.new("L", (5, 5), 7).save(out / "a.png")  # as if written by an earlier run
    before = (out / "a.png").read_bytes()
    code, _, err = sr(capsys, folder, out, "--skip-existing")
    assert code == 0, err
    assert (out / "a.png").read_bytes() == before  # left alone
    assert PILImage.open(out / "sub" / "b.png").size == (48, 48)  # the missing one is done
    assert "1 of 2 images written to" in err and "(1 skipped: already there)" in err
    assert "a.png: bicubic" not in err and "b.png: bicubic, x2" in err
    code, _, err = sr(capsys, folder, out)  # without the option everything is redone
    assert code == 0 and PILImage.open(out / "a.png").size == (48, 48)


def test_skip_existing_on_one_file_and_on_compress(tmp_path, capsys, samples):
    target = tmp_path / "o.png"
    target.write_bytes(b"kept")
    code, _, err = sr(capsys, samples / "texture.png", target, "--skip-existing")
    assert code == 0 and target.read_bytes() == b"kept" and "skipped" in err
    packed = tmp_path / "packed"
    packed.mkdir()
    (packed / "shapes.pxs").write_bytes(b"kept")
    source = tmp_path / "imgs"
    source.mkdir()
    for name in ("shapes.png", "texture.png"):
        PILImage.open(samples / name).crop((0, 0, 32, 32)).save(source / name)
    code, _, err = run(capsys, "compress", str(source), "-o", str(packed), "--quality", "1",
                       "--skip-existing")
    assert code == 0, err
    assert (packed / "shapes.pxs").read_bytes() == b"kept" and (packed / "texture.pxs").exists()
    assert "1 of 2 files written" in err


def test_skip_existing_needs_the_std_map_too(tmp_path, monkeypatch):
    """A VAE output without its _std.png beside it (killed between the two) is redone."""
    from pixelsmith.cli.batch import run_jobs

    done = []
    jobs = [Job(Path("a.png"), tmp_path / "a.png"), Job(Path("b.png"), tmp_path / "b.png")]
    for job in jobs:
        job.target.write_bytes(b"x")
    (tmp_path / "a_std.png").write_bytes(b"x")
    outcome = run_jobs(jobs, lambda job: done.append(job.source.name), "t", skip_existing=True,
                       side_outputs=lambda job: [job.target.with_name(job.target.stem
                                                                      + "_std.png")])
    assert done == ["b.png"] and outcome.skipped == 1 and outcome.written == 1


def test_temporary_files_of_a_killed_run_are_removed(folder, tmp_path, capsys):
    """A real ``kill -9`` while an output is being written, then the next run in that folder."""
    out = tmp_path / "out"
    out.mkdir()
    killed = subprocess.run([sys.executable, "-c", (
        "import os, signal\n"
        "from pixelsmith.io import atomic_output\n"
        f"with atomic_output({str(out / 'a.png')!r}) as tmp:\n"
        "    tmp.write_bytes(b'half an image')\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n")], env={**os.environ, "PYTHONPATH": str(
            Path(__file__).resolve().parents[1] / "src")})
    assert killed.returncode == -9
    left = [p.name for p in out.iterdir()]
    assert len(left) == 1 and left[0].startswith(".a.png.") and left[0].endswith(".tmp")
    fresh_other = out / ".other.png.abcd1234.tmp"  # another run may be writing this one now
    fresh_other.write_bytes(b"busy")
    old_other = out / ".old.png.zz_z9999.tmp"  # untouched for two hours: left by a killed run
    old_other.write_bytes(b"stale")
    two_hours_ago = time.time() - 7200
    os.utime(old_other, (two_hours_ago, two_hours_ago))
    not_ours = out / ".notes.tmp"  # not the naming of atomic_output
    not_ours.write_text("mine")
    code, _, err = sr(capsys, folder, out, "--quiet")
    assert code == 1
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [".notes.tmp", ".other.png.abcd1234.tmp", "a.png", "sub"])
    assert "note: removed 2 temporary files left by an interrupted run" in err


def test_remove_stale_temps_only_touches_the_output_folders(tmp_path):
    inside, elsewhere = tmp_path / "out", tmp_path / "other"
    inside.mkdir()
    elsewhere.mkdir()
    for folder in (inside, elsewhere):
        (folder / ".x.png.abcdefgh.tmp").write_bytes(b"")
    assert remove_stale_temps([inside / "x.png"]) == 1
    assert not (inside / ".x.png.abcdefgh.tmp").exists()
    assert (elsewhere / ".x.png.abcdefgh.tmp").exists()
    assert remove_stale_temps([tmp_path / "missing" / "x.png"]) == 0  # no folder yet


def test_decompress_folder_with_a_damaged_file(tmp_path, capsys, samples):
    source = tmp_path / "imgs"
    source.mkdir()
    for name in ("shapes.png", "texture.png"):
        PILImage.open(samples / name).crop((0, 0, 32, 32)).save(source / name)
    packed = tmp_path / "packed"
    code, _, err = run(capsys, "compress", str(source), "-o", str(packed), "--quality", "1")
    assert code == 0, err
    data = bytearray((packed / "texture.pxs").read_bytes())
    data[len(data) // 2] ^= 0x40
    (packed / "texture.pxs").write_bytes(bytes(data))
    code, _, err = run(capsys, "decompress", str(packed), "-o", str(tmp_path / "un"))
    assert code == 1 and "Traceback" not in err
    assert "1 of 2 failed: " in err and "texture.pxs" in err
    assert (tmp_path / "un" / "shapes.png").exists()
    assert not (tmp_path / "un" / "texture.png").exists()


@pytest.mark.parametrize("as_folder", [False, True])
def test_an_output_that_would_overwrite_its_input_is_refused(folder, capsys, as_folder):
    source = folder / "a.png"
    before = source.read_bytes()
    target = folder if as_folder else source
    code, _, err = sr(capsys, target, target)
    assert code == 2 and "Traceback" not in err
    assert "would overwrite its input" in err and len(err.strip().splitlines()) == 1
    assert source.read_bytes() == before
