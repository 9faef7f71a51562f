"""Restore a folder with several processes (``pixelsmith restore --workers N``).

Each worker process loads the method once and restores whole files, so the results are those
of one process: an image's output depends on that image only (its own estimated sigma or
quality, its own tiles). The CPU threads are shared out (each worker gets
``torch.get_num_threads() // N``, at least one). Processes are started with "spawn", which is
safe with torch's thread pools. A file that fails prints one line and the others go on, as in
one process.
"""

from __future__ import annotations

import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

_RESTORER = None


def _start(restorer_args: dict, threads: int) -> None:
    import torch

    from pixelsmith.restoration.restorer import Restorer

    global _RESTORER
    torch.set_num_threads(threads)
    _RESTORER = Restorer(**restorer_args)


def _restore(source: str, target: str, options: dict, max_pixels: int,
             with_std: bool) -> str | None:
    """Restore one file in a worker: None, or the one-line error."""
    from pixelsmith.errors import PixelsmithError
    from pixelsmith.restoration.files import restore_file, std_target

    try:
        restore_file(_RESTORER, Path(source), Path(target), options, max_pixels,
                     std_path=std_target(Path(target)) if with_std else None)
    except PixelsmithError as exc:
        return str(exc)
    return None


def restore_in_processes(jobs: list, restorer_args: dict, options: dict, max_pixels: int,
                         workers: int, with_std: bool = False, desc: str = "restore",
                         error=None) -> list[Path]:
    """Restore ``jobs`` (:class:`pixelsmith.cli.batch.Job`) with ``workers`` processes;
    returns the sources that failed, each reported on one line through ``error`` (stderr
    by default). ``restorer_args`` are :class:`~pixelsmith.restoration.restorer.Restorer`'s."""
    import torch
    from tqdm import tqdm

    threads = max(1, torch.get_num_threads() // workers)
    context = multiprocessing.get_context("spawn")
    failed: list[Path] = []
    report = error or (lambda message: tqdm.write(f"pixelsmith: error: {message}",
                                                  file=sys.stderr))
    with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=context, initializer=_start,
                             initargs=(restorer_args, threads)) as pool:
        futures = {pool.submit(_restore, str(job.source), str(job.target), options, max_pixels,
                               with_std): job for job in jobs}
        try:
            for future in tqdm(as_completed(futures), total=len(futures), desc=desc,
                               unit="image", dynamic_ncols=True):
                message = future.result()
                if message is not None:
                    failed.append(futures[future].source)
                    report(message)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return failed
