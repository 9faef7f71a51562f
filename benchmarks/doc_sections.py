"""Each benchmark script owns one marked section of a docs page and rewrites only that section."""

from __future__ import annotations

from pathlib import Path

from pixelsmith.io import atomic_write_text


def replace_section(path: Path, name: str, body: str, title: str = "# Benchmarks") -> None:
    """Put ``body`` between ``<!-- name:start -->`` and ``<!-- name:end -->`` in ``path``.

    The section is appended when the page does not have it yet; the rest of the page is kept.
    """
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.rstrip()}\n{end}"
    text = path.read_text() if path.exists() else f"{title}\n"
    if start in text and end in text:
        before = text[: text.index(start)]
        after = text[text.index(end) + len(end):]
        text = before + block + after
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    atomic_write_text(path, text)
