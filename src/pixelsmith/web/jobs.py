"""A bounded job queue run by worker threads, with progress, queue positions and expiry.

Each job owns a folder under one temporary root (names chosen here: the job's random id and
fixed file names). A job that raises is marked failed with its one-line message; the worker
goes on with the next job, so no job can stop the server. Finished jobs and their files are
removed after ``ttl`` seconds, and the whole root when the manager closes.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pixelsmith.errors import PixelsmithError
from pixelsmith.web.security import one_line

log = logging.getLogger("pixelsmith.web")

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
#: ``runner(job, progress) -> (info, files)`` does the work of a job, reporting
#: ``progress(done, total)``; it returns what the page shows (``info``) and the files it wrote
#: in the job's folder (role -> (file name, media type, download name)).
Runner = Callable[["Job", Callable[[int, int], None]], tuple[dict, dict]]


class QueueFull(Exception):
    """Every worker is busy and the waiting line is at its bound (HTTP 429)."""


@dataclass
class Job:
    """One unit of work and what the page shows of it."""

    id: str
    task: str
    options: dict
    folder: Path
    created: float = field(default_factory=time.time)
    status: str = QUEUED
    done: int = 0
    total: int = 0
    error: str | None = None
    info: dict = field(default_factory=dict)  # method used, parameters, figures
    files: dict = field(default_factory=dict)  # role -> (file name in folder, media type, name)
    started: float | None = None
    finished: float | None = None
    version: int = 0  # bumped on every change, for the event stream

    @property
    def finished_or_failed(self) -> bool:
        return self.status in (DONE, FAILED)

    def public(self, position: int = 0) -> dict:  # called with the manager's lock held
        """The job as JSON for the API: never a server path."""
        fraction = 1.0 if self.status == DONE else (self.done / self.total if self.total else 0.0)
        seconds = None
        if self.started is not None:
            seconds = round((self.finished or time.time()) - self.started, 3)
        return {
            "id": self.id, "task": self.task, "status": self.status, "position": position,
            "progress": round(fraction, 4), "done": self.done, "total": self.total,
            "error": self.error, "seconds": seconds, "options": self.options, "info": self.info,
            "files": {role: f"/jobs/{self.id}/{role}" for role in self.files},
        }


class JobManager:
    """Runs jobs on ``workers`` threads; at most ``max_waiting`` more wait in line."""

    def __init__(self, runner: Runner, workers: int = 1, max_waiting: int = 16,
                 ttl: float = 3600.0, sweep_every: float | None = None) -> None:
        if workers < 1 or max_waiting < 0:
            raise ValueError("workers must be >= 1 and max_waiting >= 0")
        self.runner = runner
        self.workers = int(workers)
        self.max_waiting = int(max_waiting)
        self.ttl = float(ttl)
        self.root = Path(tempfile.mkdtemp(prefix="pixelsmith-web-"))
        self._jobs: dict[str, Job] = {}
        self._pending: deque[Job] = deque()
        self._running = 0
        self._cond = threading.Condition()
        self._closed = False
        self._threads = [threading.Thread(target=self._work, name=f"pixelsmith-job-{i}",
                                          daemon=True) for i in range(self.workers)]
        self._sweep_every = sweep_every or max(1.0, min(60.0, self.ttl / 4))
        self._threads.append(threading.Thread(target=self._sweeper, name="pixelsmith-sweep",
                                              daemon=True))
        for thread in self._threads:
            thread.start()

    # -- submitting ---------------------------------------------------------------------------

    def has_room(self) -> bool:
        """Whether a new job would be accepted now."""
        with self._cond:
            return not self._closed and self._load() < self.workers + self.max_waiting

    def _load(self) -> int:
        return self._running + len(self._pending)

    def new_job(self, task: str, options: dict) -> Job:
        """A job with its own empty folder, not yet queued (its inputs go into the folder)."""
        if not self.has_room():
            raise QueueFull(self._full_message())
        job_id = secrets.token_hex(12)
        folder = self.root / job_id
        folder.mkdir()
        return Job(job_id, task, dict(options), folder)

    def enqueue(self, job: Job) -> Job:
        """Queue a prepared job; :class:`QueueFull` (and its folder removed) past the bound."""
        with self._cond:
            if self._closed or self._load() >= self.workers + self.max_waiting:
                shutil.rmtree(job.folder, ignore_errors=True)
                raise QueueFull(self._full_message())
            self._jobs[job.id] = job
            self._pending.append(job)
            job.version += 1
            self._cond.notify_all()
        return job

    def discard(self, job: Job) -> None:
        """Forget a job that was never queued (its inputs were refused)."""
        shutil.rmtree(job.folder, ignore_errors=True)

    def _full_message(self) -> str:
        return (f"the server is busy: {self.workers} job(s) running and {self.max_waiting} "
                "waiting; try again shortly")

    # -- reading ------------------------------------------------------------------------------

    def get(self, job_id: str) -> Job | None:
        with self._cond:
            return self._jobs.get(job_id)

    def position(self, job: Job) -> int:
        """1 for the next job to start, 2 for the one after...; 0 once it has started."""
        with self._cond:
            for index, waiting in enumerate(self._pending):
                if waiting is job:
                    return index + 1
        return 0

    def snapshot(self, job_id: str) -> dict | None:
        """The public view of a job, or None when it is unknown or expired."""
        with self._cond:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            position = next((i + 1 for i, w in enumerate(self._pending) if w is job), 0)
            return job.public(position)

    def file(self, job: Job, role: str) -> tuple[Path, str, str] | None:
        """(path, media type, download name) of a job's file by role, if it has one."""
        with self._cond:
            entry = job.files.get(role)
        if entry is None:
            return None
        name, media_type, download = entry
        return job.folder / name, media_type, download

    def counts(self) -> dict:
        with self._cond:
            return {"workers": self.workers, "running": self._running,
                    "waiting": len(self._pending), "max_waiting": self.max_waiting,
                    "jobs": len(self._jobs)}

    # -- working ------------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                job = self._pending.popleft()
                self._running += 1
                job.status, job.started = RUNNING, time.time()
                job.version += 1
            info, files = {}, {}
            try:
                info, files = self.runner(
                    job, lambda done, total, job=job: self._progress(job, done, total))
                status, error = DONE, None
            except PixelsmithError as exc:
                status, error = FAILED, one_line(str(exc))
            except Exception as exc:  # a bug or an exhausted machine: report it, keep serving
                log.exception("job %s failed", job.id)
                status, error = FAILED, one_line(f"{type(exc).__name__}: {exc}")
            with self._cond:
                self._running -= 1
                job.status, job.error, job.finished = status, error, time.time()
                job.info = {**job.info, **info}
                job.files = {**job.files, **files}
                if status == DONE:
                    job.done = job.total = max(job.total, 1)
                job.version += 1
                self._cond.notify_all()

    def _progress(self, job: Job, done: int, total: int) -> None:
        with self._cond:
            job.done, job.total = int(done), int(total)
            job.version += 1

    def wait(self, job_id: str, timeout: float = 60.0) -> dict | None:
        """Block until the job has finished or failed (for scripts and tests)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                job = self._jobs.get(job_id)
                if job is None or job.finished_or_failed:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
        return self.snapshot(job_id)

    # -- cleaning up --------------------------------------------------------------------------

    def expire(self, now: float | None = None) -> int:
        """Remove finished jobs older than ``ttl`` with their files; returns how many."""
        now = time.time() if now is None else now
        with self._cond:
            old = [job for job in self._jobs.values()
                   if job.finished_or_failed and job.finished is not None
                   and now - job.finished >= self.ttl]
            for job in old:
                del self._jobs[job.id]
        for job in old:
            shutil.rmtree(job.folder, ignore_errors=True)
        return len(old)

    def _sweeper(self) -> None:
        while True:
            with self._cond:
                if self._cond.wait_for(lambda: self._closed, timeout=self._sweep_every):
                    return
            self.expire()

    def close(self, timeout: float = 5.0) -> None:
        """Stop taking and starting jobs, wait briefly for running ones, remove every file."""
        with self._cond:
            self._closed = True
            self._pending.clear()
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        shutil.rmtree(self.root, ignore_errors=True)
