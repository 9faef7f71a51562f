"""PNG panels and one self-contained HTML page (``OUT/index.html``) for the explanations.

Panels are drawn with Pillow and numpy only (no plotting library): heat maps with a diverging
blue-white-red scale for signed maps (attribution, relevance: red adds to the output, blue
takes away) and a black-red-yellow-white scale for non-negative ones (Grad-CAM, bits,
receptive fields), grids of feature maps, and bar charts. The page references its PNGs by
relative paths and loads nothing from the network, so the folder can be moved or zipped.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from PIL import ImageDraw

MIN_SIDE = 192  # small images (32 x 32) are enlarged (nearest neighbour) to at least this

_HOT = np.array([[0, 0, 0], [160, 20, 10], [240, 120, 0], [255, 230, 60], [255, 255, 255]],
                dtype=np.float64)
_DIVERGING = np.array([[20, 60, 170], [120, 170, 230], [255, 255, 255], [240, 140, 110],
                       [170, 20, 30]], dtype=np.float64)


def _ramp(values: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """values in [0, 1] -> RGB uint8 by piecewise-linear interpolation between anchors."""
    t = np.clip(values, 0.0, 1.0) * (len(anchors) - 1)
    low = np.minimum(np.floor(t).astype(int), len(anchors) - 2)
    frac = (t - low)[..., None]
    return np.round(anchors[low] * (1 - frac) + anchors[low + 1] * frac).astype(np.uint8)


def _enlarge(img: PILImage.Image) -> PILImage.Image:
    factor = max(1, -(-MIN_SIDE // max(1, min(img.size))))
    if factor == 1:
        return img
    return img.resize((img.width * factor, img.height * factor), PILImage.NEAREST)


def heatmap(values: np.ndarray, signed: bool | None = None, percentile: float = 99.5
            ) -> PILImage.Image:
    """(H, W) values -> RGB heat map, scaled to the ``percentile`` of |values| (so one extreme
    pixel does not wash out the rest); ``signed`` None: diverging when values go below 0."""
    v = np.nan_to_num(np.asarray(values, dtype=np.float64))
    if signed is None:
        signed = bool((v < 0).any())
    top = float(np.percentile(np.abs(v), percentile)) if v.size else 0.0
    top = top if top > 0 else float(np.abs(v).max()) or 1.0
    rgb = _ramp(0.5 + 0.5 * v / top, _DIVERGING) if signed else _ramp(v / top, _HOT)
    return _enlarge(PILImage.fromarray(rgb, "RGB"))


def image_panel(x) -> PILImage.Image:
    """(1, C, H, W) or (C, H, W) tensor in [0, 1] -> RGB image (enlarged when small)."""
    from pixelsmith.io import to_array

    array = to_array(x.detach().float().cpu().clamp(0, 1))
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    return _enlarge(PILImage.fromarray(array, "RGB"))


def overlay(base: PILImage.Image, heat: PILImage.Image, alpha: float = 0.55
            ) -> PILImage.Image:
    """The heat map blended over a gray version of the image (same size)."""
    gray = base.convert("L").convert("RGB").resize(heat.size, PILImage.BILINEAR)
    return PILImage.blend(gray, heat, alpha)


def mark_box(img: PILImage.Image, box: tuple[int, int, int, int], size: tuple[int, int],
             color: tuple[int, int, int] = (0, 255, 0)) -> PILImage.Image:
    """Draw ``box`` (x0, y0, x1, y1 in an image of ``size`` (H, W)) on a panel of any scale."""
    out = img.copy()
    sx, sy = out.width / size[1], out.height / size[0]
    x0, y0, x1, y1 = box
    left, top, right, bottom = x0 * sx, y0 * sy, x1 * sx, y1 * sy
    grow = max(0.0, (9 - (right - left)) / 2), max(0.0, (9 - (bottom - top)) / 2)
    ImageDraw.Draw(out).rectangle([left - grow[0] - 1, top - grow[1] - 1, right + grow[0],
                                   bottom + grow[1]], outline=color, width=2)
    return out


def feature_grid(maps: np.ndarray, columns: int = 8, padding: int = 2) -> PILImage.Image:
    """(k, H, W) feature maps -> one gray grid, each map scaled to its own min-max."""
    maps = np.asarray(maps, dtype=np.float64)
    k, h, w = maps.shape
    cols = min(columns, k)
    rows = -(-k // cols)
    canvas = np.full((rows * (h + padding) + padding, cols * (w + padding) + padding), 255,
                     dtype=np.uint8)
    for i, m in enumerate(maps):
        low, high = m.min(), m.max()
        scaled = (m - low) / (high - low) if high > low else np.zeros_like(m)
        r, c = divmod(i, cols)
        top, left = padding + r * (h + padding), padding + c * (w + padding)
        canvas[top:top + h, left:left + w] = np.round(scaled * 255).astype(np.uint8)
    img = PILImage.fromarray(canvas, "L").convert("RGB")
    factor = max(1, -(-48 // max(1, min(h, w))))  # each map at least 48 px
    return img.resize((img.width * factor, img.height * factor), PILImage.NEAREST)


def bar_chart(values: np.ndarray, highlight: np.ndarray | None = None, height: int = 160,
              bar: int = 4) -> PILImage.Image:
    """Non-negative ``values`` as bars (in the given order); ``highlight`` (bool) bars in red,
    the others gray."""
    values = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float64)), 0, None)
    top = values.max() if values.size and values.max() > 0 else 1.0
    width = max(1, len(values)) * bar + 20
    img = PILImage.new("RGB", (width, height + 20), "white")
    draw = ImageDraw.Draw(img)
    for i, v in enumerate(values):
        tall = int(round(v / top * height))
        color = (200, 40, 40) if highlight is not None and highlight[i] else (140, 140, 140)
        draw.rectangle([10 + i * bar, 10 + height - tall, 10 + (i + 1) * bar - 2, 10 + height],
                       fill=color)
    draw.line([8, 10 + height, width - 8, 10 + height], fill="black")
    return img


@dataclass
class Panel:
    file: str
    caption: str


@dataclass
class Section:
    title: str
    text: str = ""
    panels: list[Panel] = field(default_factory=list)
    table: tuple[list[str], list[list[str]]] | None = None


class Page:
    """Sections of PNG panels, text and tables; :meth:`write` saves them and ``index.html``."""

    def __init__(self, title: str, intro: str = "") -> None:
        self.title, self.intro = title, intro
        self.sections: list[Section] = []
        self.images: dict[str, PILImage.Image] = {}

    def section(self, title: str, text: str = "") -> Section:
        section = Section(title, text)
        self.sections.append(section)
        return section

    def add(self, section: Section, file: str, image: PILImage.Image, caption: str) -> None:
        if file in self.images:
            raise ValueError(f"two panels named {file}")
        self.images[file] = image
        section.panels.append(Panel(file, caption))

    def html(self) -> str:
        esc = html.escape
        parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
                 f"<title>{esc(self.title)}</title>",
                 "<style>body{font-family:sans-serif;margin:2em;max-width:1200px}"
                 "figure{display:inline-block;margin:0 1em 1em 0;vertical-align:top}"
                 "figcaption{font-size:90%;max-width:320px}img{image-rendering:pixelated;"
                 "max-width:560px}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
                 "padding:2px 6px;text-align:right}th{background:#eee}</style></head><body>",
                 f"<h1>{esc(self.title)}</h1>"]
        if self.intro:
            parts.append(f"<p>{esc(self.intro)}</p>")
        for s in self.sections:
            parts.append(f"<h2>{esc(s.title)}</h2>")
            if s.text:
                parts.append(f"<p>{esc(s.text)}</p>")
            for p in s.panels:
                parts.append(f'<figure><img src="{esc(p.file)}" alt="{esc(p.caption)}">'
                             f"<figcaption>{esc(p.caption)}</figcaption></figure>")
            if s.table:
                headers, rows = s.table
                parts.append("<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in headers)
                             + "</tr>")
                for row in rows:
                    parts.append("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in row)
                                 + "</tr>")
                parts.append("</table>")
        parts.append("</body></html>")
        return "\n".join(parts) + "\n"

    def write(self, folder: str | Path) -> Path:
        """Write every panel (PNG) and ``index.html`` into ``folder``; returns the page path."""
        from pixelsmith.io import atomic_write_bytes, atomic_write_text, output_folder

        folder = output_folder(folder)
        for name, image in self.images.items():
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            atomic_write_bytes(folder / name, buffer.getvalue())
        page = folder / "index.html"
        atomic_write_text(page, self.html())
        return page
