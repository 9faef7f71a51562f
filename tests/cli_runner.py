"""Run the ``pixelsmith`` command in-process, as the CLI tests do."""

from __future__ import annotations

from pixelsmith.cli.main import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """Run the CLI with ``argv``; returns (exit code, stdout, stderr)."""
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def run_err(capsys, *argv) -> tuple[int, str]:
    """Run the CLI with ``argv`` (paths allowed); returns (exit code, stderr)."""
    code, _, err = run(capsys, *map(str, argv))
    return code, err
