"""The demo writes a page with every task, every available method and a score table."""

from __future__ import annotations

from PIL import Image as PILImage

from pixelsmith.degrade.known import Known
from pixelsmith.evaluate.demo import run_demo
from pixelsmith.restoration.registry import general_methods


def test_demo_page_on_a_small_sample(tmp_path, samples):
    folder = tmp_path / "samples"
    folder.mkdir()
    PILImage.open(samples / "shapes.png").crop((0, 0, 64, 64)).save(folder / "s.png")
    page = run_demo(tmp_path / "out", samples=folder)
    html = page.read_text()
    for task in ("denoise", "deblur", "inpaint", "sr", "dejpeg"):
        assert f"<h2>{task}</h2>" in html
        for name, method in general_methods(task).items():
            image = tmp_path / "out" / "images" / f"{task}-s-{name}.png"
            # every available method runs, except SR models of another scale than the demo's x4
            assert image.exists() == (method.available() and method.fits(Known(scale=4)))
    assert "PSNR (dB)" in html


def test_demo_scores_the_default_method_per_image(tmp_path, samples):
    """The 'default' column is what `pixelsmith restore` gives each image: the gray model for
    a gray image, the colour model for a colour one; a model on the other kind is marked."""
    from pixelsmith.evaluate.demo import _default_cell, _kind_mismatch
    from pixelsmith.evaluate.report import Cell
    from pixelsmith.restoration.registry import default_method

    results = {name: Cell(name, f"{name}.png", 30.0 + i, 0.8, 0.1)
               for i, name in enumerate(general_methods("denoise"))}
    known = Known(sigma=25 / 255)
    for channels in (1, 3):
        cell = _default_cell("denoise", channels, known, results)
        expected = default_method("denoise", channels, known)
        assert (cell.label, cell.src, cell.psnr) == ("default", f"{expected}.png",
                                                     results[expected].psnr)
        assert cell.note == f"= {expected}"
    assert _default_cell("denoise", 3, known, {}) is None
    assert _kind_mismatch("denoise-color", 1) == "colour model on a gray image"
    assert _kind_mismatch("denoise-gray", 3) == "gray model, channel by channel"
    assert _kind_mismatch("denoise-color", 3) is None and _kind_mismatch("bm3d", 1) is None


def test_demo_page_has_the_default_column_and_its_footnote(tmp_path, samples):
    folder = tmp_path / "samples"
    folder.mkdir()
    PILImage.open(samples / "shapes.png").crop((0, 0, 48, 48)).convert("L").save(folder / "g.png")
    html = run_demo(tmp_path / "out", samples=folder).read_text()
    assert html.count("<td>default</td>") == 5  # one summary row per task
    assert "the gray model for gray images" in html
    assert "colour model on a gray image" in html
