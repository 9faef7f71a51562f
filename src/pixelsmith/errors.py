"""User-facing errors: the CLI prints their message on one line and exits with code 2."""

from __future__ import annotations


class PixelsmithError(Exception):
    """A problem with the user's input (bad file, bad option), not a bug in pixelsmith."""

    exit_code = 2
