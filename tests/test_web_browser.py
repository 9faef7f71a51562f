"""The web page in a real headless Chromium (Debian's chromium driven by Playwright): upload a
photo, denoise it, watch the progress reach 100%, move the slider, download the result and
compare it byte for byte with ``pixelsmith restore`` on the same file."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = Path("/usr/lib/chromium/chromium")

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install "
                                      "'pixelsmith[web]')")
pytest.importorskip("uvicorn", reason="uvicorn is not installed (pip install 'pixelsmith[web]')")
pytest.importorskip("playwright.sync_api",
                    reason="playwright is not installed (pip install playwright)")
if not CHROMIUM.is_file():
    pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)",
                allow_module_level=True)

import uvicorn  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402

from pixelsmith.cli.main import main  # noqa: E402
from pixelsmith.web.app import create_app  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    """The app under uvicorn on 127.0.0.1, in a thread of this process."""
    port = free_port()
    config = uvicorn.Config(create_app(workers=1, max_waiting=4), host="127.0.0.1", port=port,
                            log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield browser
        browser.close()


@pytest.fixture
def photo(tmp_path) -> Path:
    """A noisy 64x64 crop of a natural photograph bundled with scikit-image."""
    from PIL import Image
    from skimage import data

    crop = data.astronaut()[40:104, 200:264].astype(float)
    noisy = crop + np.random.default_rng(0).normal(0, 20, crop.shape)
    path = tmp_path / "astronaut.png"
    Image.fromarray(np.clip(noisy, 0, 255).round().astype(np.uint8)).save(path)
    return path


def test_denoise_in_the_page_matches_the_cli(server, browser, photo, tmp_path):
    page = browser.new_page(viewport={"width": 1200, "height": 800}, accept_downloads=True)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server + "/")
    expect(page.locator("#method option").first).to_have_text("default (denoise-color)")
    page.set_input_files("#file", str(photo))
    expect(page.locator("#file-name")).to_contain_text("astronaut.png")
    expect(page.locator("#task")).to_have_value("denoise")
    page.click("#run")

    expect(page.locator("#progress-text")).to_have_text("done 100%", timeout=60_000)
    expect(page.locator("#progress")).to_have_js_property("value", 100)
    expect(page.locator("#error")).to_have_text("")
    expect(page.locator("#info")).to_contain_text("denoise-color")
    expect(page.locator("#compare")).to_be_visible()

    # the slider uncovers the "before" image: the "after" is clipped from the left edge
    page.locator("#slider").fill("20")
    expect(page.locator("#after")).to_have_css("clip-path", "inset(0px 0px 0px 20%)")
    page.locator("#slider").fill("75")
    expect(page.locator("#after")).to_have_css("clip-path", "inset(0px 0px 0px 75%)")
    page.click("#zoom-1")
    expect(page.locator("#zoom-level")).to_have_text("100%")

    with page.expect_download() as download_info:
        page.click("#download")
    download = download_info.value
    assert download.suggested_filename == "astronaut-denoise.png"
    downloaded = Path(download.path()).read_bytes()

    cli_output = tmp_path / "cli.png"
    main(["restore", str(photo), "-o", str(cli_output), "--task", "denoise"])
    assert downloaded == cli_output.read_bytes()
    assert not errors
    page.close()


def test_strength_slider_is_sent_and_reported(server, browser, photo):
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    page.goto(server + "/")
    page.set_input_files("#file", str(photo))
    page.locator("#strength").fill("0.35")
    expect(page.locator("#strength-value")).to_have_text("0.35")
    page.click("#run")
    expect(page.locator("#progress-text")).to_have_text("done 100%", timeout=60_000)
    expect(page.locator("#info")).to_contain_text("strength")
    expect(page.locator("#info")).to_contain_text("0.35")
    page.select_option("#task", "inpaint")  # no strength for inpainting
    expect(page.locator("#strength")).to_be_hidden()
    page.close()


def test_compress_with_a_context_model_in_the_page(server, browser, photo):
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server + "/")
    page.set_input_files("#file", str(photo))
    page.select_option("#task", "compress")
    expect(page.locator("#codec-model")).to_have_value("codec-q3")
    page.select_option("#codec-model", "codec-cb-q2")
    page.click("#run")
    expect(page.locator("#progress-text")).to_have_text("done 100%", timeout=60_000)
    expect(page.locator("#info")).to_contain_text("codec-cb-q2")
    expect(page.locator("#info")).to_contain_text("bits per pixel")
    expect(page.locator("#info")).not_to_contain_text("qnull")
    assert not errors
    page.close()


def test_a_bad_file_shows_one_line_and_the_page_goes_on(server, browser, tmp_path):
    page = browser.new_page()
    page.goto(server + "/")
    expect(page.locator("#method option")).not_to_have_count(0)
    bad = tmp_path / "notes.png"
    bad.write_text("not an image at all")
    page.set_input_files("#file", str(bad))
    page.click("#run")
    expect(page.locator("#error")).to_have_text(
        "the upload: not an image file (or a format pixelsmith cannot read)")
    expect(page.locator("#run")).to_be_enabled()
    page.close()


def test_inpaint_with_the_brush(server, browser, photo):
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    page.goto(server + "/")
    expect(page.locator("#method option")).not_to_have_count(0)
    page.select_option("#task", "inpaint")
    page.set_input_files("#file", str(photo))
    canvas = page.locator("#mask-canvas")
    expect(canvas).to_be_visible()
    page.click("#run")  # nothing painted yet
    expect(page.locator("#error")).to_have_text("paint the area to fill in on the image first")
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.5)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] * 0.5, steps=8)
    page.mouse.up()
    page.click("#run")
    expect(page.locator("#progress-text")).to_have_text("done 100%", timeout=60_000)
    expect(page.locator("#error")).to_have_text("")
    expect(page.locator("#info")).to_contain_text("inpaint")
    page.close()


def test_explain_a_picked_pixel_in_the_page(server, browser, tmp_path):
    """Pick an output pixel on the image, explain it, see the panels and download the page."""
    import zipfile

    pytest.importorskip("captum.attr", reason="captum (integrated gradients) is not installed "
                                              "(pip install 'pixelsmith[explain]')")

    from PIL import Image
    from skimage import data

    crop = data.astronaut()[40:88, 200:248].astype(float)
    noisy = crop + np.random.default_rng(1).normal(0, 20, crop.shape)
    path = tmp_path / "astronaut.png"
    Image.fromarray(np.clip(noisy, 0, 255).round().astype(np.uint8)).save(path)

    page = browser.new_page(viewport={"width": 1200, "height": 900}, accept_downloads=True)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server + "/")
    expect(page.locator("#method option")).not_to_have_count(0)
    page.select_option("#task", "explain")
    expect(page.locator("#explain-model")).to_have_value("denoise-color")
    expect(page.locator("#kind")).to_have_value("attribution")
    # a classifier explains a class, not a pixel: no point to pick, Grad-CAM offered
    page.select_option("#explain-model", "features-mnist")
    expect(page.locator("#at-box")).to_be_hidden()
    expect(page.locator("#kind option[value=gradcam]")).to_have_count(1)
    page.select_option("#explain-model", "denoise-color")
    expect(page.locator("#kind option[value=gradcam]")).to_have_count(0)

    page.set_input_files("#file", str(path))
    image = page.locator("#point-image")
    expect(image).to_be_visible()
    box = image.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.26, box["y"] + box["height"] * 0.51)
    expect(page.locator("#at")).to_have_value("12,24")  # the 48 x 48 image's pixel
    expect(page.locator("#point-mark")).to_be_visible()
    page.click("#run")

    expect(page.locator("#progress-text")).to_have_text("done 100%", timeout=60_000)
    expect(page.locator("#error")).to_have_text("")
    expect(page.locator("#info")).to_contain_text("output pixel12, 24")
    panels = page.locator("#panels")
    expect(panels).to_be_visible()
    expect(panels.locator("h3")).to_have_text(["Input and output", "Attribution"])
    expect(panels).to_contain_text("output pixel (12, 24)")
    expect(panels.locator("figcaption", has_text="integrated gradients (")).not_to_have_count(0)
    expect(panels.locator("td", has_text="IG completeness error")).to_have_count(1)
    images = panels.locator("img")
    assert images.count() >= 5
    page.wait_for_function("[...document.querySelectorAll('#panels img')]"
                           ".every((img) => img.complete && img.naturalWidth > 0)")
    expect(page.locator("#compare")).to_be_hidden()

    with page.expect_download() as download_info:
        page.click("#download")
    download = download_info.value
    assert download.suggested_filename == "astronaut-explain-denoise-color.zip"
    names = zipfile.ZipFile(download.path()).namelist()
    assert "index.html" in names and len(names) == images.count() + 1
    assert not errors
    page.close()


def test_download_in_the_inputs_format_matches_the_cli(server, browser, photo, tmp_path):
    """A TIFF input, "same as the input": the download is the TIFF `pixelsmith restore`
    writes; a JPEG input gets PNG for the same choice."""
    from PIL import Image

    tiff = tmp_path / "astronaut.tif"
    Image.open(photo).save(tiff)
    page = browser.new_page(viewport={"width": 1200, "height": 800}, accept_downloads=True)
    page.goto(server + "/")
    expect(page.locator("#method option")).not_to_have_count(0)
    page.set_input_files("#file", str(tiff))
    page.select_option("#format", "input")
    page.click("#run")
    expect(page.locator("#progress-text")).to_have_text("done 100%", timeout=60_000)
    expect(page.locator("#info")).to_contain_text("TIFF (the input's format)")
    expect(page.locator("#download")).to_have_text("Download TIFF")
    expect(page.locator("#after")).to_have_js_property("complete", True)
    with page.expect_download() as download_info:
        page.click("#download")
    download = download_info.value
    assert download.suggested_filename == "astronaut-denoise.tif"
    cli_output = tmp_path / "cli.tif"
    main(["restore", str(tiff), "-o", str(cli_output), "--task", "denoise"])
    assert Path(download.path()).read_bytes() == cli_output.read_bytes()

    jpeg = tmp_path / "astronaut.jpg"
    Image.open(photo).save(jpeg, quality=90)
    page.set_input_files("#file", str(jpeg))
    page.click("#run")
    expect(page.locator("#progress-text")).to_have_text("done 100%", timeout=60_000)
    expect(page.locator("#download")).to_have_text("Download PNG")
    expect(page.locator("#info")).to_contain_text("a JPEG input gives PNG")
    page.close()
