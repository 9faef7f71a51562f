"""User-facing errors: the CLI prints their message on one line and exits with code 2."""

from __future__ import annotations


class PixelsmithError(Exception):
    """A problem with the user's input (bad file, bad option), not a bug in pixelsmith."""

    exit_code = 2


class PixelsmithWarning(UserWarning):
    """Something a user must know about a result: a fallback, a guess, a value cut.

    The CLI shows each as one line, ``pixelsmith: note: ...``, even with ``--quiet``."""
