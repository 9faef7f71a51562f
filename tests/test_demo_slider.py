"""The demo's natural photographs (scikit-image's, cropped at run time) and its before/after
slider."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image as PILImage

from pixelsmith.evaluate.demo import CROP, PHOTOS, natural_photos, run_demo

CHROMIUM = Path("/usr/lib/chromium/chromium")


def test_natural_photos_are_written_at_run_time(tmp_path):
    folder = natural_photos(tmp_path / "photos")
    files = sorted(p.name for p in folder.iterdir())
    assert files == sorted(f"{name}.png" for name, _, _ in PHOTOS)
    modes = {p.stem: PILImage.open(p).mode for p in folder.iterdir()}
    assert modes == {"astronaut": "RGB", "chelsea": "RGB", "camera": "L"}
    assert all(PILImage.open(p).size == (CROP, CROP) for p in folder.iterdir())


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> Path:
    """The demo page on one small crop of a photograph (fast)."""
    tmp = tmp_path_factory.mktemp("demo")
    photos = natural_photos(tmp / "photos")
    small = tmp / "small"
    small.mkdir()
    PILImage.open(photos / "chelsea.png").crop((64, 64, 128, 128)).save(small / "cat.png")
    return run_demo(tmp / "out", samples=small)


def test_page_has_a_slider_per_row(page):
    html = page.read_text()
    assert html.count("<div class='compare'>") == 5  # one image, five tasks
    assert "<script>" in html and "clipPath" in html
    # the right side starts on the best-scoring method, the left on the degraded input
    assert "<option value='images/denoise-cat-degraded.png' selected>degraded" in html


def test_slider_moves_in_a_browser(page):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not CHROMIUM.is_file():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        tab = browser.new_page()
        tab.goto(page.resolve().as_uri())
        first = tab.locator(".compare").first
        first.locator("input[type=range]").fill("30")
        right = first.locator(".stack img").nth(1)
        sync_api.expect(right).to_have_css("clip-path", "inset(0px 0px 0px 30%)")
        first.locator("select").nth(2).select_option("2")  # zoom 2x: twice the image's size
        sync_api.expect(first.locator(".stack")).to_have_css("width", "128px")
        browser.close()
