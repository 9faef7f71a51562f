"""Screenshots of the web page for docs/WEB.md, taken in headless Chromium (Playwright).

    python scripts/web_screenshots.py              # writes docs/images/web-*.png

It starts the app on a free loopback port in this process, uploads a noisy crop of one of
scikit-image's bundled photographs, runs the shown tasks with their defaults (the explanation:
attribution of one output pixel of the default denoising model) and saves the page.
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/lib/chromium/chromium"


def photos(folder: Path) -> tuple[Path, Path]:
    """A 256x256 crop of scikit-image's astronaut, with Gaussian noise (sigma 25) and without."""
    from PIL import Image
    from skimage import data

    crop = data.astronaut()[20:276, 130:386]
    noisy = crop + np.random.default_rng(0).normal(0, 25, crop.shape)
    paths = folder / "astronaut-noisy.png", folder / "astronaut.png"
    Image.fromarray(np.clip(noisy, 0, 255).round().astype(np.uint8)).save(paths[0])
    Image.fromarray(crop).save(paths[1])
    return paths


def serve():
    import uvicorn

    from pixelsmith.web.app import create_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port,
                                           log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def main() -> None:
    from playwright.sync_api import expect, sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", default=str(ROOT / "docs" / "images"))
    args = parser.parse_args()
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    server, base = serve()
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        image, clean = photos(Path(tmp))
        face = Path(tmp) / "astronaut-face.png"
        from PIL import Image

        Image.open(image).crop((64, 24, 192, 152)).save(face)
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        page = browser.new_page(viewport={"width": 1280, "height": 880})
        page.goto(base + "/")
        expect(page.locator("#method option")).not_to_have_count(0)
        page.set_input_files("#file", str(image))
        page.click("#run")
        expect(page.locator("#progress-text")).to_have_text("done 100%", timeout=120_000)
        page.locator("#slider").fill("50")
        page.wait_for_timeout(300)
        page.screenshot(path=str(out / "web-denoise.png"))

        page.set_input_files("#file", str(clean))
        page.select_option("#task", "inpaint")
        box = page.locator("#mask-canvas").bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.3)
        page.mouse.down()
        for step in range(1, 21):
            page.mouse.move(box["x"] + box["width"] * (0.25 + step * 0.025),
                            box["y"] + box["height"] * (0.3 + 0.01 * step))
        page.mouse.up()
        page.screenshot(path=str(out / "web-inpaint-mask.png"))

        page.select_option("#task", "compress")
        page.click("#run")
        expect(page.locator("#info")).to_contain_text("bits per pixel", timeout=120_000)
        page.wait_for_timeout(300)
        page.screenshot(path=str(out / "web-compress.png"))

        # explain one output pixel of the denoising model, picked by a click on the image (a
        # 128x128 crop of the face: the panels are enlarged, and the screenshot stays small)
        page.set_input_files("#file", str(face))
        page.select_option("#task", "explain")
        page.select_option("#kind", "attribution")
        box = page.locator("#point-image").bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.53, box["y"] + box["height"] * 0.52)
        page.click("#run")
        expect(page.locator("#progress-text")).to_have_text("done 100%", timeout=300_000)
        page.wait_for_function("[...document.querySelectorAll('#panels img')]"
                               ".every((img) => img.complete && img.naturalWidth > 0)")
        page.screenshot(path=str(out / "web-explain.png"), full_page=True)
        browser.close()
    server.should_exit = True
    names = ("web-denoise.png", "web-inpaint-mask.png", "web-compress.png", "web-explain.png")
    print("wrote " + ", ".join(str(out / name) for name in names))


if __name__ == "__main__":
    main()
