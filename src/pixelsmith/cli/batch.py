"""Map command-line inputs (files and folders) to output paths, and run a job over them.

One bad file in a folder does not stop the others: its error is printed on one line, the rest
are processed, and a summary names the files that failed. Exit codes: 0 when every file was
done, 1 when some failed and the others were done, 2 when every file failed (or for a bad
command line). ``--skip-existing`` resumes an interrupted folder, and temporary files a
killed run left in the output folders are removed on the next run there.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pixelsmith.cli.report import Reporter
from pixelsmith.errors import PixelsmithError
from pixelsmith.io import WRITE_FORMATS, list_images


@dataclass(frozen=True)
class Job:
    source: Path
    target: Path


def plan_outputs(inputs: list[str], output: str, suffix: str | None = None) -> list[Job]:
    """Pair every input image with its output path.

    One input file: ``output`` is the output file. Several inputs or a folder: ``output`` is a
    folder, and each result keeps its name (and its path below an input folder). ``suffix``
    forces the output format; otherwise the input's is kept where writable, else PNG.
    """
    if not inputs:
        raise PixelsmithError("no input given")
    single = len(inputs) == 1 and Path(inputs[0]).is_file()
    if single:
        target = Path(output)
        if target.is_dir():
            target = target / _output_name(Path(inputs[0]), suffix)
        return _checked([Job(Path(inputs[0]), target)])
    out_dir = Path(output)
    if out_dir.exists() and not out_dir.is_dir():
        raise PixelsmithError(f"{out_dir}: several inputs need -o to be a folder, not a file")
    jobs: list[Job] = []
    for item in inputs:
        root = Path(item)
        for source in list_images(root):
            relative = source.relative_to(root).parent if root.is_dir() else Path()
            jobs.append(Job(source, out_dir / relative / _output_name(source, suffix)))
    if not jobs:
        raise PixelsmithError(f"no images found in {', '.join(inputs)}")
    names = [job.target for job in jobs]
    if len(set(names)) != len(names):
        raise PixelsmithError("two inputs would be written to the same output name")
    return _checked(jobs)


def _checked(jobs: list[Job]) -> list[Job]:
    """The jobs, unless one would write over its own input (a result would replace the
    original before the user could compare them, and a failed run would lose it)."""
    for job in jobs:
        if job.target.exists() and os.path.samefile(job.source, job.target):
            raise PixelsmithError(f"{job.target}: the output would overwrite its input; give -o "
                                  "another file or folder")
    return jobs


def _output_name(source: Path, suffix: str | None) -> str:
    if suffix:
        return source.stem + suffix
    if source.suffix.lower() in WRITE_FORMATS:
        return source.name
    return source.stem + ".png"


#: Exit codes of a command over several files.
EXIT_OK, EXIT_SOME_FAILED, EXIT_ERROR = 0, 1, 2
#: A hidden temporary output of :func:`pixelsmith.io.atomic_output`: ``.NAME.XXXXXXXX.tmp``.
TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp$")
#: Such a file for another output, untouched this long, is left by a killed run.
STALE_SECONDS = 3600.0

Outputs = Callable[[Job], list[Path]]


@dataclass
class Outcome:
    """What happened to the jobs of a command: outputs written, skipped, failed (sources)."""

    total: int
    written: int = 0
    skipped: int = 0
    failed: list[Path] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0: all done; 1: some files failed, the others were done; 2: every file failed."""
        if not self.failed:
            return EXIT_OK
        return EXIT_ERROR if len(self.failed) == self.total else EXIT_SOME_FAILED


def run_jobs(jobs: list[Job], work: Callable[[Job], str | None], desc: str, *,
             reporter: Reporter | None = None, skip_existing: bool = False,
             side_outputs: Outputs | None = None, keep_going: bool = False) -> Outcome:
    """Run ``work`` on every job with a progress bar and return what happened.

    ``work(job)`` writes ``job.target`` (and the paths ``side_outputs(job)`` names) and
    returns what ran and with which parameters, for the job's line on stderr (with the time it
    took). One job: its error is raised. Several (or ``keep_going``, a share of a folder): a
    job that fails is reported on one line and skipped, and the others go on. With
    ``skip_existing`` a job whose outputs all exist is not redone (outputs appear only
    complete, through a rename). Temporary files left in the output folders by a killed run
    are removed first (:func:`remove_stale_temps`).
    """
    reporter = reporter or Reporter()
    side_outputs = side_outputs or (lambda job: [])
    outcome = Outcome(total=len(jobs))
    remove_stale_temps([p for job in jobs for p in (job.target, *side_outputs(job))], reporter)
    several = len(jobs) > 1 or keep_going
    from tqdm import tqdm

    bar = tqdm(jobs, desc=desc, unit="image", dynamic_ncols=True, file=sys.stderr,
               disable=not (several and reporter.bars))
    for job in bar:
        if skip_existing and all(p.exists() for p in (job.target, *side_outputs(job))):
            outcome.skipped += 1
            if not several:
                reporter.info(f"{job.target}: exists, skipped (--skip-existing)")
            continue
        start = time.perf_counter()
        try:
            what = work(job)
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop a folder
            if not several:
                raise
            outcome.failed.append(job.source)
            reporter.error(_one_line(job.source, exc))
            continue
        outcome.written += 1
        if what is not None:
            reporter.output(job.target, what, time.perf_counter() - start)
    return outcome


def _one_line(source: Path, exc: Exception) -> str:
    """The error of one file, naming the file once."""
    message = " ".join(str(exc).split()) or type(exc).__name__
    if not isinstance(exc, PixelsmithError):  # not a known bad input: say what it was
        message = f"{type(exc).__name__}: {message}"
    return message if str(source) in message else f"{source}: {message}"


def finish(outcome: Outcome, output: str, reporter: Reporter | None = None,
           unit: str = "images") -> None:
    """Say what a command over several files did, and exit with :attr:`Outcome.exit_code`."""
    reporter = reporter or Reporter()
    if outcome.total > 1:
        skipped = f" ({outcome.skipped} skipped: already there)" if outcome.skipped else ""
        reporter.info(f"{outcome.written} of {outcome.total} {unit} written to {output}"
                      f"{skipped}")
    if outcome.failed:
        names = ", ".join(str(p) for p in outcome.failed[:MAX_NAMED])
        more = len(outcome.failed) - MAX_NAMED
        reporter.error(f"{len(outcome.failed)} of {outcome.total} failed: {names}"
                       + (f" and {more} more" if more > 0 else ""))
        sys.exit(outcome.exit_code)


MAX_NAMED = 20  # failed files named in the summary (each had its own line already)


def remove_stale_temps(outputs: list[Path], reporter: Reporter | None = None) -> int:
    """Delete the temporary files a killed run left beside ``outputs``; returns how many.

    In each output folder, a hidden ``.NAME.XXXXXXXX.tmp`` (the naming of
    :func:`pixelsmith.io.atomic_output`) goes when NAME is one of ``outputs`` (this run is
    about to write it again), or when it has not been touched for :data:`STALE_SECONDS` (a
    run writing it now keeps touching it).
    """
    names: dict[Path, set[str]] = {}
    for path in outputs:
        names.setdefault(path.parent, set()).add(path.name)
    now, removed = time.time(), 0
    for folder, wanted in names.items():
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            match = TEMP_NAME.match(entry.name)
            if not match or not entry.is_file(follow_symlinks=False):
                continue
            try:
                if match["name"] in wanted or now - entry.stat().st_mtime > STALE_SECONDS:
                    os.unlink(entry.path)
                    removed += 1
            except OSError:
                continue
    if removed and reporter is not None:
        folders = ", ".join(sorted(str(f) for f in names))
        reporter.note(f"removed {removed} temporary file{'s' * (removed > 1)} left by an "
                      f"interrupted run in {folders}")
    return removed
