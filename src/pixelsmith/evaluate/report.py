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
    note: str | None = None  # a short remark under the image (which model, a fallback)


@dataclass
class Row:
    name: str
    cells: list[Cell] = field(default_factory=list)


@dataclass
class Section:
    title: str
    params: dict
    rows: list[Row] = field(default_factory=list)
    footnote: str | None = None  # under the score table


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
    if cell.note:
        parts.append(f"<i>{html.escape(cell.note)}</i>")
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


_SLIDER_STYLE = """
.compare { margin: 4px 0 18px; }
.compare .view { overflow: auto; width: fit-content; max-width: 100%; max-height: 75vh;
                 background: #333; }
.compare .stack { position: relative; width: 384px; height: 384px; }
.compare .stack img { position: absolute; left: 0; top: 0; width: 100%; height: 100%;
                      object-fit: contain; image-rendering: pixelated; }
.compare .tools { display: flex; gap: 10px; align-items: center; font-size: 13px; }
.compare input[type=range] { width: 384px; }
"""

# Before/after: the right image is clipped from the left edge by the slider; the zoom sets the
# stack to a multiple of the right image's own size (1:1 = one image pixel per CSS pixel), and
# the view scrolls to pan.
_SLIDER_SCRIPT = """
for (const box of document.querySelectorAll('.compare')) {
  const [left, right] = box.querySelectorAll('.stack img');
  const [slider] = box.querySelectorAll('input[type=range]');
  const [pickLeft, pickRight, zoom] = box.querySelectorAll('select');
  const stack = box.querySelector('.stack');
  const clip = () => { right.style.clipPath = `inset(0 0 0 ${slider.value}%)`; };
  const size = () => {
    const z = Number(zoom.value), w = right.naturalWidth, h = right.naturalHeight;
    stack.style.width = (z ? w * z : 384) + 'px';
    stack.style.height = (z ? h * z : 384 * h / w) + 'px';
  };
  slider.addEventListener('input', clip);
  pickLeft.addEventListener('change', () => { left.src = pickLeft.value; });
  pickRight.addEventListener('change', () => { right.src = pickRight.value; });
  zoom.addEventListener('change', size);
  right.addEventListener('load', size);
  clip();
}
"""


def _slider(row: Row) -> str:
    """A before/after comparison of a row: the degraded input against its best-scoring
    result (both sides can be changed), with a slider and a zoom."""
    scored = [c for c in row.cells if c.psnr is not None and c.label not in ("clean", "degraded")]
    right = max(scored, key=lambda c: c.psnr) if scored else row.cells[-1]
    left = next((c for c in row.cells if c.label == "degraded"), row.cells[0])

    def options(chosen: Cell) -> str:
        return "".join(f"<option value='{html.escape(c.src)}'"
                       f"{' selected' if c is chosen else ''}>{html.escape(c.label)}</option>"
                       for c in row.cells)

    zooms = "".join(f"<option value='{v}'>{label}</option>"
                    for v, label in (("0", "fit"), ("1", "1:1"), ("2", "2x"), ("4", "4x")))
    return (f"<div class='compare'><div class='view'><div class='stack'>"
            f"<img src='{html.escape(left.src)}' alt='left'>"
            f"<img src='{html.escape(right.src)}' alt='right'></div></div>"
            f"<div class='tools'><input type='range' min='0' max='100' value='50'>"
            f"<label>left <select>{options(left)}</select></label>"
            f"<label>right <select>{options(right)}</select></label>"
            f"<label>zoom <select>{zooms}</select></label></div></div>")


def write_page(path: Path, title: str, sections: list[Section], slider: bool = False) -> Path:
    """Write the page atomically to ``path`` (image sources are relative to its folder).

    ``slider`` adds a before/after comparison with a slider and a zoom above each row."""
    body = [f"<h1>{html.escape(title)}</h1>",
            "<p>PSNR / SSIM against the clean image, outputs quantised to 8 bits "
            "(super-resolution: Y channel, border of <i>scale</i> pixels cropped).</p>"]
    for section in sections:
        params = ", ".join(f"{k}={v}" for k, v in section.params.items())
        body.append(f"<h2>{html.escape(section.title)}</h2><p>{html.escape(params)}</p>")
        body.append(_summary(section))
        if section.footnote:
            body.append(f"<p class='footnote'>{html.escape(section.footnote)}</p>")
        for row in section.rows:
            if slider:
                body.append(_slider(row))
            figures = "".join(
                f"<figure><img src='{html.escape(c.src)}' alt='{html.escape(c.label)}'>"
                f"<figcaption>{_caption(c)}</figcaption></figure>" for c in row.cells
            )
            body.append(f"<div class='row'>{figures}</div>")
    style = _STYLE + (_SLIDER_STYLE if slider else "")
    script = f"<script>{_SLIDER_SCRIPT}</script>" if slider else ""
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>{''.join(body)}{script}</body></html>\n")
    atomic_write_text(path, page)
    return path
