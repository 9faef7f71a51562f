"""Map command-line inputs (files and folders) to output paths, and run a job over them.

One bad file in a folder does not stop the others: its error is printed on one line, the rest
are processed, and the command exits with code 2 at the end.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

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
        return [Job(Path(inputs[0]), target)]
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
    return jobs


def _output_name(source: Path, suffix: str | None) -> str:
    if suffix:
        return source.stem + suffix
    if source.suffix.lower() in WRITE_FORMATS:
        return source.name
    return source.stem + ".png"


def run_jobs(jobs: list[Job], work: Callable[[Job], None], desc: str) -> int:
    """Run ``work`` on every job with a progress bar; returns the number of failed jobs."""
    from tqdm import tqdm

    failed = 0
    show = len(jobs) > 1
    for job in tqdm(jobs, desc=desc, unit="image", disable=not show, dynamic_ncols=True):
        try:
            work(job)
        except PixelsmithError as exc:
            if not show:
                raise
            failed += 1
            tqdm.write(f"pixelsmith: error: {exc}", file=sys.stderr)
    return failed
