"""A self-contained HTML page of side-by-side images and a PSNR/SSIM table."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pixelsmith.io import atomic_write_text


@dataclass
class Cell:
    """One image on the page, with its scores when it has a reference."""

    label: str
    src: str
    psnr: float | None = None
    ssim: float | None = None
    seconds: float | None = None


@dataclass
class Row:
    name: str
    cells: list[Cell] = field(default_factory=list)


@dataclass
class Section:
    title: str
    params: dict
    rows: list[Row] = field(default_factory=list)


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table.scores { border-collapse: collapse; margin: 1em 0; }
table.scores td, table.scores th { border: 1px solid #ccc; padding: 4px 10px; text-align: right; }
table.scores td:first-child, table.scores th:first-child { text-align: left; }
.row { display: flex; gap: 8px; margin-bottom: 12px; flex-wrap: wrap; }
figure { margin: 0; text-align: center; font-size: 12px; }
figure img { width: 192px; height: 192px; object-fit: contain; image-rendering: pixelated;
             background: #eee; }
td.best { font-weight: bold; }
"""


def _caption(cell: Cell) -> str:
    parts = [f"<b>{html.escape(cell.label)}</b>"]
    if cell.psnr is not None:
        parts.append(f"{cell.psnr:.2f} dB / {cell.ssim:.3f}")
    if cell.seconds is not None:
        parts.append(f"{cell.seconds:.2f} s")
    return "<br>".join(parts)


def _summary(section: Section) -> str:
    """Mean PSNR/SSIM per label over the section's rows (degraded input included)."""
    labels = [c.label for c in section.rows[0].cells if c.psnr is not None]
    means = {}
    for label in labels:
        cells = [c for row in section.rows for c in row.cells if c.label == label]
        means[label] = (np.mean([c.psnr for c in cells]), np.mean([c.ssim for c in cells]))
    best = max((v[0] for k, v in means.items() if k != "degraded"), default=None)
    lines = ["<table class='scores'><tr><th>method</th><th>PSNR (dB)</th><th>SSIM</th></tr>"]
    for label, (p, s) in means.items():
        cls = " class='best'" if p == best else ""
        lines.append(f"<tr><td>{html.escape(label)}</td><td{cls}>{p:.2f}</td><td>{s:.4f}</td></tr>")
    lines.append("</table>")
    return "\n".join(lines)


def write_page(path: Path, title: str, sections: list[Section]) -> Path:
    """Write the page atomically to ``path`` (image sources are relative to its folder)."""
    body = [f"<h1>{html.escape(title)}</h1>",
            "<p>PSNR / SSIM against the clean image, outputs quantised to 8 bits "
            "(super-resolution: Y channel, border of <i>scale</i> pixels cropped).</p>"]
    for section in sections:
        params = ", ".join(f"{k}={v}" for k, v in section.params.items())
        body.append(f"<h2>{html.escape(section.title)}</h2><p>{html.escape(params)}</p>")
        body.append(_summary(section))
        for row in section.rows:
            figures = "".join(
                f"<figure><img src='{html.escape(c.src)}' alt='{html.escape(c.label)}'>"
                f"<figcaption>{_caption(c)}</figcaption></figure>" for c in row.cells
            )
            body.append(f"<div class='row'>{figures}</div>")
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body>{''.join(body)}</body></html>\n")
    atomic_write_text(path, page)
    return path
