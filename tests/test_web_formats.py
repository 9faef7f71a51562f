"""Downloads in the input's format: PNG by default, the input's format (TIFF, WebP) on request,
PNG for a JPEG input unless JPEG is asked for by name; written by pixelsmith's writer, so the
file is byte for byte what ``pixelsmith restore -o NAME.EXT`` writes."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install "
                                      "'pixelsmith[web]')")
pytest.importorskip("multipart", reason="python-multipart is not installed")
pytest.importorskip("httpx", reason="httpx (FastAPI's test client) is not installed")

from fastapi.testclient import TestClient  # noqa: E402

from pixelsmith.cli.main import main  # noqa: E402
from pixelsmith.web.app import create_app  # noqa: E402
from pixelsmith.web.work import output_format  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")

TV = {"method": "tv", "sigma": "20"}  # fast, and deterministic


def image_bytes(fmt: str, size: int = 48, depth: int = 8, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size]
    smooth = (np.sin(x / 6.0) + np.cos(y / 4.0) + 2) * 60
    array = np.clip(smooth[..., None] + rng.normal(0, 20, (size, size, 3)), 0, 255)
    buffer = io.BytesIO()
    if depth == 16:
        import tifffile

        tifffile.imwrite(buffer, (array * 257).astype(np.uint16), photometric="rgb")
    else:
        Image.fromarray(array.astype(np.uint8)).save(buffer, fmt)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def app():
    return create_app(workers=1, max_waiting=4, max_pixels=256 * 256, ttl=600)


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client


def restore(app, client, data: bytes, task: str = "denoise", **form) -> dict:
    # the name says PNG whatever the content: the content decides the input's format
    response = client.post("/jobs", data={"task": task, **form},
                           files={"image": ("photo.png", data, "application/octet-stream")})
    assert response.status_code == 202, response.text
    job = app.state.manager.wait(response.json()["id"], timeout=120)
    assert job["status"] == "done", job["error"]
    return job


@pytest.mark.parametrize("source, requested, written, suffix, media", [
    ("PNG", "", "PNG", ".png", "image/png"),  # the default
    ("TIFF", "png", "PNG", ".png", "image/png"),
    ("TIFF", "input", "TIFF", ".tif", "image/tiff"),
    ("WEBP", "input", "WEBP", ".webp", "image/webp"),
    ("JPEG", "input", "PNG", ".png", "image/png"),  # JPEG again would lose quality
    ("JPEG", "jpeg", "JPEG", ".jpg", "image/jpeg"),  # ... unless asked for
    ("BMP", "input", "PNG", ".png", "image/png"),  # pixelsmith does not write BMP
    ("PNG", "input", "PNG", ".png", "image/png"),
    ("PNG", "tiff", "TIFF", ".tif", "image/tiff"),
])
def test_download_format(app, client, source, requested, written, suffix, media):
    job = restore(app, client, image_bytes(source), format=requested, **TV)
    assert job["info"]["format"] == source and job["info"]["output_format"] == written
    response = client.get(job["files"]["result"])
    assert response.headers["content-type"] == media
    assert f'filename="photo-denoise{suffix}"' in response.headers["content-disposition"]
    result = Image.open(io.BytesIO(response.content))
    assert result.format == written
    # the comparison view always gets a PNG the browser can show, of the written file
    after = Image.open(io.BytesIO(client.get(job["files"]["after"]).content))
    assert after.format == "PNG" and after.size == result.size
    if written in ("PNG", "TIFF"):  # lossless: the preview has the file's pixels
        assert np.array_equal(np.asarray(after), np.asarray(result.convert(after.mode)))


@pytest.mark.parametrize("source, requested, suffix, form", [
    ("TIFF", "input", ".tif", TV),
    ("WEBP", "input", ".webp", TV),
    ("JPEG", "jpeg", ".jpg", TV),
    ("TIFF", "input", ".tif", {}),  # the default method: a trained model, run in tiles
])
def test_result_is_the_cli_output_byte_for_byte(app, client, tmp_path, source, requested,
                                                suffix, form):
    data = image_bytes(source, seed=5)
    job = restore(app, client, data, format=requested, **form)
    downloaded = client.get(job["files"]["result"]).content
    path = tmp_path / f"noisy.{source.lower()}"
    path.write_bytes(data)
    cli = tmp_path / f"cli{suffix}"
    options = [f"--{key}={value}" for key, value in form.items()]
    main(["restore", str(path), "-o", str(cli), "--task", "denoise", *options])
    assert downloaded == cli.read_bytes()


def test_a_16_bit_tiff_stays_16_bit(app, client, tmp_path):
    data = image_bytes("TIFF", depth=16)
    job = restore(app, client, data, format="input", **TV)
    assert job["info"]["bit_depth"] == 16 and job["info"]["output_format"] == "TIFF"
    downloaded = client.get(job["files"]["result"]).content
    import tifffile

    assert tifffile.imread(io.BytesIO(downloaded)).dtype == np.uint16
    (tmp_path / "in.tif").write_bytes(data)
    main(["restore", str(tmp_path / "in.tif"), "-o", str(tmp_path / "cli.tif"), "--task",
          "denoise", "--method", "tv", "--sigma", "20"])
    assert downloaded == (tmp_path / "cli.tif").read_bytes()


def test_other_restoration_tasks_take_the_format(app, client):
    job = restore(app, client, image_bytes("WEBP"), task="sr", method="bicubic", scale="2",
                  format="input")
    result = Image.open(io.BytesIO(client.get(job["files"]["result"]).content))
    assert result.format == "WEBP" and result.size == (96, 96)


def test_a_bad_format_is_a_one_line_error(client):
    response = client.post("/jobs", data={"task": "denoise", "format": "gif", **TV},
                           files={"image": ("photo.png", image_bytes("PNG"), "image/png")})
    assert response.status_code == 400
    assert response.json()["detail"] == ("format must be one of png, input, jpeg, tiff, webp, "
                                         "not 'gif'")


def test_output_format_rules():
    assert output_format("input", "TIFF") == ("TIFF", "the input's format")
    assert output_format("input", "JPEG")[0] == "PNG"
    assert output_format("input", "GIF")[0] == "PNG"
    assert output_format("jpeg", "PNG") == ("JPEG", "as asked")
