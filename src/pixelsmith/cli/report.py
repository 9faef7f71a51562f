"""What a command says on stderr: one line per output, notes, warnings and progress bars.

Every output gets one line, ``pixelsmith: OUT: what ran, its parameters, seconds``;
``--quiet`` drops those lines and the progress bars, never errors, notes or warnings (a
fallback or a guess that changes the result is always said). Progress bars (tqdm) show only
when stderr is a terminal, so logs and pipes get plain lines. Lines are written through
``tqdm.write`` so they never break a bar that is showing.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

from pixelsmith.errors import PixelsmithWarning

Progress = Callable[[int, int], None]


def stderr_is_terminal() -> bool:
    """Whether stderr is an interactive terminal (progress bars show only then)."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def write(line: str) -> None:
    """Print ``line`` on stderr without breaking a progress bar that is showing."""
    from tqdm import tqdm

    tqdm.write(line, file=sys.stderr)


class Reporter:
    """The stderr voice of one command run; ``quiet`` silences the per-output lines and bars."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet

    @property
    def bars(self) -> bool:
        """Whether progress bars show: not quiet and stderr is a terminal."""
        return not self.quiet and stderr_is_terminal()

    def output(self, target: str | Path, what: str, seconds: float | None = None) -> None:
        """The line of one output: what ran on it, with which parameters, how long it took."""
        if self.quiet:
            return
        took = "" if seconds is None else f", {format_seconds(seconds)}"
        write(f"pixelsmith: {target}: {what}{took}")

    def info(self, message: str) -> None:
        """A summary line (dropped by --quiet)."""
        if not self.quiet:
            write(f"pixelsmith: {message}")

    @staticmethod
    def note(message: str) -> None:
        """Something the user must know (a fallback, a guess): shown even with --quiet."""
        write(f"pixelsmith: note: {message}")

    @staticmethod
    def error(message: str) -> None:
        write(f"pixelsmith: error: {message}")

    def progress(self, desc: str, unit: str, minimum: int = 2) -> TaskProgress:
        """A ``progress(done, total)`` callback that draws a bar once ``total >= minimum``."""
        return TaskProgress(desc, unit, enabled=self.bars, minimum=minimum)


class TaskProgress:
    """A ``progress(done, total)`` callback backed by a tqdm bar, opened on its first call.

    Nothing shows when disabled or for fewer than ``minimum`` steps (a one-tile image). The
    bar is transient (``leave=False``): the per-output line is what stays.
    """

    def __init__(self, desc: str, unit: str, enabled: bool = True, minimum: int = 2) -> None:
        self.desc, self.unit, self.enabled, self.minimum = desc, unit, enabled, minimum
        self.bar = None
        self.calls: list[tuple[int, int]] = []

    def __call__(self, done: int, total: int) -> None:
        self.calls.append((done, total))
        if not self.enabled or total < self.minimum:
            return
        if self.bar is None or self.bar.total != total:
            self.close()
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=self.desc, unit=self.unit, leave=False,
                            dynamic_ncols=True, file=sys.stderr)
        self.bar.update(done - self.bar.n)
        if done >= total:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def format_seconds(seconds: float) -> str:
    """1.23 s, 12.3 s, 2 min 05 s."""
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    kind = "note" if issubclass(category, PixelsmithWarning) else "warning"
    text = " ".join(str(message).split())  # one line, never the source path of Python's format
    write(f"pixelsmith: {kind}: {text}")


@contextlib.contextmanager
def warnings_as_lines() -> Iterator[None]:
    """Inside: every warning shown is one line on stderr (``pixelsmith: note|warning: ...``),
    without the source location Python's own format shows. The filters are left as they are
    (by default each message shows once per place that raises it)."""
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        yield
