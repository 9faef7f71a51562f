"""Figures of benchmarks/gan.py (sample grids, also for benchmarks/vae.py, and the
side-by-side restoration crops)."""

from __future__ import annotations

from pathlib import Path

import torch

#: one row of the crops figure: (row label, [(column title, (C, H, W) image in [0, 1])])
CropRow = tuple[str, list[tuple[str, torch.Tensor]]]


def save_sample_grid(path: Path, samples: torch.Tensor, nrow: int = 8) -> Path:
    """Save ``samples`` (N, C, H, W) in [0, 1] as one PNG grid at ``path``."""
    from pixelsmith.io import save_image
    from pixelsmith.synthesis import image_grid

    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(path, image_grid(samples.clamp(0, 1), nrow=nrow))
    return path


def center_crop(image: torch.Tensor, size: int) -> torch.Tensor:
    """The central ``size`` x ``size`` window of a (C, H, W) or (1, C, H, W) image."""
    image = image[0] if image.ndim == 4 else image
    height, width = image.shape[-2:]
    top, left = max(0, (height - size) // 2), max(0, (width - size) // 2)
    return image[:, top:top + size, left:left + size]


def write_crops_figure(path: Path, blocks: list[tuple[str, list[CropRow]]],
                       dpi: int = 110) -> Path:
    """One PNG with a block of rows per part (title, rows): input | methods | ground truth;
    ``dpi`` sets its size (a cell is 1.45 inches wide)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from pixelsmith.io import atomic_output

    blocks = [(title, rows) for title, rows in blocks if rows]
    if not blocks:
        raise ValueError("no crops to draw")
    cols = max(len(cells) for _, rows in blocks for _, cells in rows)
    heights = [len(rows) + 0.35 for _, rows in blocks]
    figure = plt.figure(figsize=(1.45 * cols, 1.5 * sum(heights)), layout="constrained")
    parts = figure.subfigures(len(blocks), 1, height_ratios=heights, squeeze=False)[:, 0]
    for part, (title, rows) in zip(parts, blocks, strict=True):
        part.suptitle(title, fontsize=10, fontweight="bold", x=0.01, ha="left")
        axes = part.subplots(len(rows), cols, squeeze=False)
        for index, (label, cells) in enumerate(rows):
            for col, ax in enumerate(axes[index]):
                ax.set_xticks([])
                ax.set_yticks([])
                if col >= len(cells):
                    ax.set_visible(False)
                    continue
                name, image = cells[col]
                pixels = image.detach().clamp(0, 1).permute(1, 2, 0).cpu().numpy()
                if pixels.shape[-1] == 1:
                    ax.imshow(pixels[..., 0], cmap="gray", vmin=0, vmax=1,
                              interpolation="nearest")
                else:
                    ax.imshow(pixels, interpolation="nearest")
                if index == 0:
                    ax.set_title(name, fontsize=7)
                if col == 0:
                    ax.set_ylabel(label, fontsize=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        figure.savefig(tmp, format="png", dpi=dpi)
    plt.close(figure)
    return path
