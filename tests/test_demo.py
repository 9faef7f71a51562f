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
