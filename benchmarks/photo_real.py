"""Part ``real`` of benchmarks.photo: real photos without ground truth.

Camera photos as stored, with their own sensor noise and JPEG compression, read from where
installed packages keep them (never copied into the project), plus the BSDS JPEGs of
``train/CBSD432/val32``. No clean original exists, so the outputs are described by
no-reference statistics (:mod:`pixelsmith.metrics.noref`: estimated noise sigma, 8x8
blockiness, Laplacian-variance sharpness) and shown side by side in docs/images/photo-real.png.
Nothing is chosen on these images.
"""

from __future__ import annotations

from pathlib import Path

import torch

from benchmarks.common import markdown_table, meta_lines
from benchmarks.photo_methods import (
    Method,
    enlarged_input,
    input_itself,
    model_label,
    photo_model_scale,
    timed,
    trained,
)
from pixelsmith.degrade.known import Known

ROOT = Path(__file__).resolve().parents[1]
FIGURE = ROOT / "docs" / "images" / "photo-real.png"
CROP = 128  # side of the small photos enlarged 4x
FIGURE_CROP = 96  # side of the figure's crops (about one screen pixel each at FIGURE_DPI)
FIGURE_PHOTOS = 4  # rows of the figure's 1x block (the first photos of PHOTOS)
FIGURE_DPI = 72  # keeps the PNG at a few hundred kB
BSDS = "train/CBSD432/val32"

#: (name, package, path inside the package, licence) of the licence-clean photos
PHOTOS = (
    ("rocket", "skimage", "data/rocket.jpg",
     "SpaceX photo, public domain (CC0), via scikit-image"),
    ("grace_hopper", "matplotlib", "mpl-data/sample_data/grace_hopper.jpg",
     "US Navy photo (work of the US federal government), public domain, via matplotlib"),
    ("china", "sklearn", "datasets/images/china.jpg",
     "CC BY 2.0, danielbuechele (Flickr), via scikit-learn"),
    ("flower", "sklearn", "datasets/images/flower.jpg",
     "CC BY 2.0, vultilion (Flickr), via scikit-learn"),
    ("coffee", "skimage", "data/coffee.png",
     "CC0, Rachel Michetti, via scikit-image (PNG; earlier compression unknown)"),
    ("chelsea", "skimage", "data/chelsea.png",
     "CC0, Stefan van der Walt, via scikit-image (PNG; earlier compression unknown)"),
)


def installed_photos() -> list[dict]:
    """The PHOTOS whose package is installed: name, path, licence (missing ones skipped)."""
    import importlib.util

    found = []
    for name, package, inside, licence in PHOTOS:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        path = Path(list(spec.submodule_search_locations)[0]) / inside
        if path.exists():
            found.append({"name": name, "path": path, "licence": licence})
    return found


def load(path: Path) -> tuple[torch.Tensor, Known, int | None]:
    """(pixels, what the photo task is told, JPEG quality): the quality is read from a JPEG's
    tables, as ``pixelsmith restore --task photo`` does."""
    from pixelsmith.io import load_image
    from pixelsmith.restoration.restorer import resolve_quality

    image = load_image(path)
    quality = None
    if "quantization" in image.info:
        quality = resolve_quality("auto", image.info, str(path))
    pixels = image.pixels
    if pixels.shape[1] == 1:
        pixels = pixels.expand(-1, 3, -1, -1).contiguous()
    return pixels, Known(quality=quality), quality


def grid_crop(image: torch.Tensor, size: int) -> torch.Tensor:
    """A central ``size`` x ``size`` window whose corner is on the 8x8 JPEG grid."""
    height, width = image.shape[-2:]
    top, left = ((height - size) // 2) // 8 * 8, ((width - size) // 2) // 8 * 8
    return image[..., top:top + size, left:left + size]


def methods(scale: int, model: str, extras: list[tuple[str, str]]) -> list[Method]:
    """The photo model of ``scale``, the extras of that scale, photo-chain and the input."""
    rows: list[Method] = [(model_label(model), trained("photo", model))]
    rows += [(name, trained("photo", folder)) for name, folder in extras
             if photo_model_scale(folder) == scale]
    rows.append(("photo-chain", trained("photo", "photo-chain")))
    if scale == 1:
        rows.append(("input", input_itself))
    else:
        rows.append(("input (bicubic)", enlarged_input))
    return rows


def describe(rows: list[Method], y: torch.Tensor, known: Known, period: int) -> list[tuple]:
    """(label, output, stats) of every method on one photo."""
    from pixelsmith.metrics.noref import no_reference_stats

    out = []
    for label, fn in rows:
        restored, _ = timed(fn, y, known)
        out.append((label, restored, no_reference_stats(restored, period)))
    return out


def measure(photo: str, photo_x4: str, extras: list[tuple[str, str]], limit: int | None,
            figure: Path | None = FIGURE) -> dict:
    """The statistics tables (1x per photo and the BSDS mean, 4x per small photo) and the
    figure."""
    from benchmarks.gan_figures import center_crop, write_crops_figure
    from pixelsmith.io import list_images
    from pixelsmith.settings import dataset_path

    photos = installed_photos()[:limit]
    rows1, rows4 = methods(1, photo, extras), methods(4, photo_x4, extras)
    table1, table4, sources, crops1, crops4 = [], [], [], [], []
    for item in photos:
        y, known, quality = load(item["path"])
        sources.append({"name": item["name"], "path": str(item["path"]), "licence": item["licence"],
                        "size": list(y.shape[-2:]), "quality": quality})
        results = describe(rows1, y, known, 8)
        table1 += [{"image": item["name"], "method": label, **stats}
                   for label, _, stats in results]
        if len(crops1) < FIGURE_PHOTOS:
            crops1.append((item["name"], _input_first(
                [(label, center_crop(out, FIGURE_CROP)) for label, out, _ in results])))
        small = grid_crop(y, CROP)
        results = describe(rows4, small, known.with_(scale=4), 32)
        table4 += [{"image": item["name"], "method": label, **stats}
                   for label, _, stats in results]
        if item["name"] == "grace_hopper" or not crops4:
            crops4 = [(f"{item['name']}, x4", _input_first(
                [(label, center_crop(out, FIGURE_CROP)) for label, out, _ in results]))]
    bsds = list_images(dataset_path(BSDS))[:limit]
    sums: dict[str, dict[str, float]] = {}
    for path in bsds:
        y, known, _ = load(path)
        for label, _, stats in describe(rows1, y, known, 8):
            total = sums.setdefault(label, dict.fromkeys(stats, 0.0))
            for key, value in stats.items():
                total[key] += value / len(bsds)
    table1 += [{"image": f"BSDS val32 (mean of {len(bsds)})", "method": label, **stats}
               for label, stats in sums.items()]
    if figure is not None and crops1:
        write_crops_figure(figure, [(f"1x: central {FIGURE_CROP}x{FIGURE_CROP} crops", crops1),
                                    (f"4x: a {CROP}x{CROP} photo, output centre", crops4)],
                           dpi=FIGURE_DPI)
    return {"sources": sources, "x1": table1, "x4": table4,
            "figure": None if figure is None else str(figure)}


def _input_first(cells: list[tuple[str, torch.Tensor]]) -> list[tuple[str, torch.Tensor]]:
    """The figure's columns: the input, then the methods."""
    return sorted(cells, key=lambda cell: not cell[0].startswith("input"))


def _stats_table(rows: list[dict]) -> str:
    return markdown_table(["image", "method", "noise sigma", "blockiness", "sharpness"],
                          [[r["image"], r["method"], f"{r['noise']:.2f}",
                            f"{r['blockiness']:.3f}", f"{r['sharpness']:.1f}"] for r in rows])


def section(result: dict, meta: dict) -> str:
    """The docs section ``photo-real``."""
    lines = ["## Real photos without ground truth (task photo)", "", meta_lines(meta), "",
             "Photos as stored, read from the installed packages (never copied into the "
             "project), and the BSDS JPEGs of `train/CBSD432/val32` (research use; statistics "
             "only, not in the figure). The JPEG quality is read from each file's tables, as "
             "`pixelsmith restore --task photo` does. No reference exists, so these are "
             "**no-reference statistics, not quality scores** (`pixelsmith.metrics.noref`): "
             "noise sigma estimated by the wavelet MAD estimator (0-255; texture reads as "
             "noise), blockiness (mean luma step across the 8x8 JPEG grid over the step "
             "elsewhere: 1 = no grid; at 4x the 32-pixel grid), sharpness (variance of the "
             "luma's Laplacian; noise raises it too, so read it with the noise column).", ""]
    lines.append(markdown_table(
        ["image", "size (HxW)", "JPEG quality (IJG)", "licence"],
        [[s["name"], "x".join(map(str, s["size"])), s["quality"] or "- (PNG)", s["licence"]]
         for s in result["sources"]]))
    lines += ["", "### 1x, whole photos", "", _stats_table(result["x1"]), "",
              f"### 4x, a central {CROP}x{CROP} crop of each photo (on the JPEG grid)", "",
              _stats_table(result["x4"]), ""]
    if result["figure"]:
        lines += ["Input | each method, central crops (1x), and one small photo enlarged 4x:",
                  "", f"![real photos](images/{Path(result['figure']).name})"]
    return "\n".join(lines)
