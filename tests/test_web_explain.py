"""The web app's "explain" task through FastAPI's test client: panels, captions and tables of
``pixelsmith explain`` for shipped models, served by number from the job's own folder; the
options checked; inpainting models and their mask; the page's zip."""

from __future__ import annotations

import io
import re
import zipfile

import numpy as np
import pytest
from captum_marker import needs_captum
from PIL import Image

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install "
                                      "'pixelsmith[web]')")
pytest.importorskip("multipart", reason="python-multipart is not installed")
pytest.importorskip("httpx", reason="httpx (FastAPI's test client) is not installed")

from fastapi.testclient import TestClient  # noqa: E402

from pixelsmith.web import explaining  # noqa: E402
from pixelsmith.web.app import create_app  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")


SIZE = 48


def photo_bytes(size: int = SIZE, seed: int = 0, fmt: str = "PNG") -> bytes:
    """A noisy crop of a natural photograph bundled with scikit-image."""
    from skimage import data

    crop = data.astronaut()[40:40 + size, 200:200 + size].astype(float)
    noisy = crop + np.random.default_rng(seed).normal(0, 20, crop.shape)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).round().astype(np.uint8)).save(buffer, fmt)
    return buffer.getvalue()


def mask_bytes(size: int = SIZE) -> bytes:
    mask = np.zeros((size, size), np.uint8)
    mask[18:30, 12:36] = 255
    buffer = io.BytesIO()
    Image.fromarray(mask).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def app():
    return create_app(workers=1, max_waiting=4, max_pixels=256 * 256, ttl=600)


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client


def submit(client, image: bytes | None = None, mask: bytes | None = None, **form):
    files = {}
    if image is not None:
        files["image"] = ("photo.png", image, "application/octet-stream")
    if mask is not None:
        files["mask"] = ("mask.png", mask, "image/png")
    return client.post("/jobs", data={"task": "explain", **form}, files=files or None)


def explain(app, client, image: bytes | None = None, **form) -> dict:
    response = submit(client, photo_bytes() if image is None else image, **form)
    assert response.status_code == 202, response.text
    return app.state.manager.wait(response.json()["id"], timeout=120)


def table(section: dict) -> dict:
    return {row[0]: row[1] for row in section["table"]["rows"]}


@needs_captum
def test_attribution_of_a_picked_pixel(app, client):
    job = explain(app, client, model="denoise-color", kind="attribution", at="10,12")
    assert job["status"] == "done", job["error"]
    assert job["progress"] == 1.0 and (job["done"], job["total"]) == (1, 1)  # one kind
    assert job["options"]["at"] == [10, 12]
    info = job["info"]
    assert info["method"] == "denoise-color" and info["kinds"] == ["attribution"]
    assert "estimated" in info["conditioning"]["sigma"]
    titles = [s["title"] for s in info["sections"]]
    assert titles == ["Input and output", "Attribution"]
    attribution = info["sections"][1]
    assert "output pixel (10, 12)" in attribution["text"]
    captions = [p["caption"] for p in attribution["panels"]]
    assert "gradient x input" in captions
    assert any(c.startswith("integrated gradients (") for c in captions)
    figures = table(attribution)
    assert float(figures["IG completeness error"].rstrip("%")) < 1.0  # IG is complete
    assert re.fullmatch(r"\d+ / \d+", figures["receptive field r50 / r90 (px)"])

    # every panel is a PNG of the size the job announced, served by its number
    panels = [p for s in info["sections"] for p in s["panels"]]
    assert [p["index"] for p in panels] == list(range(len(panels)))
    for panel in panels:
        response = client.get(job["files"][f"panels/{panel['index']}"])
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/png"
        image = Image.open(io.BytesIO(response.content))
        assert image.format == "PNG" and image.size == (panel["width"], panel["height"])

    # the download is the whole page: index.html and its panels, as pixelsmith explain writes
    response = client.get(job["files"]["result"])
    assert response.headers["content-type"] == "application/zip"
    assert 'filename="photo-explain-denoise-color.zip"' in response.headers[
        "content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = set(archive.namelist())
    assert "index.html" in names and len(names) == len(panels) + 1
    page = archive.read("index.html").decode()
    for name in names - {"index.html"}:
        assert f'src="{name}"' in page


def test_panels_are_those_of_pixelsmith_explain(app, client, tmp_path):
    """The same image and options give the same PNG panels as the command line."""
    from pixelsmith.cli.main import main

    data = photo_bytes(seed=4)
    job = explain(app, client, data, model="denoise-gray", kind="attribution", at="20,30")
    assert job["status"] == "done", job["error"]
    archive = zipfile.ZipFile(io.BytesIO(client.get(job["files"]["result"]).content))
    (tmp_path / "in.png").write_bytes(data)
    main(["explain", str(tmp_path / "in.png"), "--method", "denoise-gray", "--kind",
          "attribution", "--at", "20,30", "-o", str(tmp_path / "out")])
    written = sorted(p.name for p in (tmp_path / "out").glob("*.png"))
    assert sorted(n for n in archive.namelist() if n.endswith(".png")) == written
    for name in written:
        assert archive.read(name) == (tmp_path / "out" / name).read_bytes(), name


@needs_captum
def test_the_point_moves_the_explanation(app, client):
    """Attribution follows the picked pixel: its integrated gradients peak near it."""
    peaks = []
    for at in ("8,8", "38,36"):
        job = explain(app, client, model="denoise-gray", kind="attribution", at=at)
        assert job["status"] == "done", job["error"]
        ig = next(p for p in job["info"]["sections"][1]["panels"]
                  if p["caption"].startswith("|integrated gradients|"))
        heat = np.asarray(Image.open(io.BytesIO(
            client.get(job["files"][f"panels/{ig['index']}"]).content)).convert("RGB"))
        # the overlay is the black-red-yellow-white scale over gray: where the red-yellow
        # concentrates (the warmth-weighted centroid; a single brightest pixel can sit on an
        # image edge a few pixels off)
        warm = np.clip(heat[..., 0].astype(float) - heat[..., 2].astype(float), 0, None) ** 2
        rows, cols = np.indices(warm.shape)
        scale = heat.shape[1] / SIZE
        peaks.append(((cols * warm).sum() / warm.sum() / scale,
                      (rows * warm).sum() / warm.sum() / scale))
    assert abs(peaks[0][0] - 8) < 6 and abs(peaks[0][1] - 8) < 6, peaks
    assert abs(peaks[1][0] - 38) < 6 and abs(peaks[1][1] - 36) < 6, peaks


@pytest.mark.parametrize("model, kind, title", [
    pytest.param("features-mnist", "gradcam", "Grad-CAM", marks=needs_captum),
    ("codec-q1", "codec", "Codec bit allocation"),
    ("denoise-color", "activations", "Activations"),
])
def test_other_kinds(app, client, model, kind, title):
    job = explain(app, client, model=model, kind=kind)
    assert job["status"] == "done", job["error"]
    section = job["info"]["sections"][-1]
    assert section["title"] == title
    assert section["panels"]
    assert client.get(job["files"][f"panels/{section['panels'][0]['index']}"]).status_code == 200


def test_default_kinds_are_all_that_fit_with_progress_per_kind(app, client):
    job = explain(app, client, model="features-mnist")
    assert job["status"] == "done", job["error"]
    assert job["info"]["kinds"] == ["activations", "attribution", "lrp", "gradcam"]
    assert (job["done"], job["total"]) == (4, 4)


def test_inpainting_model_needs_the_mask(app, client):
    response = submit(client, photo_bytes(), model="inpaint", kind="activations")
    assert response.status_code == 400
    assert "inpaints" in response.json()["detail"] and "mask" in response.json()["detail"]
    response = submit(client, photo_bytes(), mask=mask_bytes(SIZE // 2), model="inpaint")
    assert response.status_code == 400 and "mask" in response.json()["detail"]
    job = explain(app, client, mask=mask_bytes(), model="inpaint", kind="attribution")
    assert job["status"] == "done", job["error"]
    section = job["info"]["sections"][1]
    assert "the sum of the output over 288 filled pixels" in section["text"]  # 12 x 24
    assert "mean distance of sources from the hole (px)" in table(section)


@pytest.mark.parametrize("form, message", [
    ({"model": "gan-faces"}, "cannot be explained here"),
    ({"model": "/tmp"}, "cannot be explained here"),
    ({"model": "../zoo/denoise-color"}, "cannot be explained here"),
    ({"model": "denoise-color", "kind": "gradcam"}, "does not fit model 'denoise-color'"),
    ({"model": "denoise-color", "kind": "everything"}, "unknown kind 'everything'"),
    ({"model": "features-mnist", "at": "3,4"}, "restoration model"),
    ({"model": "denoise-color", "at": "a,b"}, "x,y"),
    ({"model": "denoise-color", "at": "-1,4"}, ">= 0"),
    ({"model": "denoise-color", "sigma": "300"}, "sigma must be in 0-255"),
    ({"model": "dejpeg-color", "quality": "0"}, "quality must be in 1-100"),
])
def test_bad_options_are_one_line_errors(client, form, message):
    response = submit(client, photo_bytes(), **form)
    assert response.status_code == 400, response.text
    detail = response.json()["detail"]
    assert message in detail and "\n" not in detail


def test_a_point_outside_the_output_fails_on_one_line(app, client):
    job = explain(app, client, model="denoise-color", kind="attribution", at="100,100")
    assert job["status"] == "failed"
    assert job["error"] == "the point or box is outside the 48x48 output"


def test_a_dejpeg_model_reads_the_quality_of_a_jpeg(app, client):
    job = explain(app, client, photo_bytes(fmt="JPEG"), model="dejpeg-color",
                  kind="activations")
    assert job["status"] == "done", job["error"]
    assert job["info"]["conditioning"]["quality"] == "75"  # Pillow's default quality
    response = submit(client, photo_bytes(), model="dejpeg-color", kind="activations")
    job = client.get(f"/jobs/{response.json()['id']}").json()
    job = app.state.manager.wait(job["id"], timeout=60)
    assert job["status"] == "failed" and "quality" in job["error"]


def test_panels_are_served_by_number_only(app, client):
    job = explain(app, client, model="codec-q1", kind="codec")
    base = f"/jobs/{job['id']}/panels/"
    assert client.get(base + "0").status_code == 200
    assert client.get(base + "999").status_code == 404
    for bad in ("-1", "1.5", "input", "..%2Fresult", "..%2F..%2Fetc%2Fpasswd", "0%2F..%2F1"):
        assert client.get(base + bad).status_code in (404, 422), bad
    assert client.get("/jobs/" + "0" * 24 + "/panels/0").status_code == 404


def test_the_catalogue_lists_what_can_be_explained(client):
    cat = client.get("/api/catalogue").json()["explain"]
    models = cat["models"]
    assert cat["default"] == "denoise-color"
    assert "gan-faces" not in models and "gan-mnist" not in models  # generators take latents
    assert models["features-mnist"]["kinds"] == ["activations", "attribution", "lrp", "gradcam"]
    assert models["denoise-color"]["needs"] == ["sigma"]
    assert models["inpaint"]["needs"] == ["mask"]
    assert models["sr-x2"]["scale"] == 2 and models["codec-q3"]["kind"] == "codec"
    assert models["codec-q3"]["kinds"] == ["codec", "activations"]
    assert models["codec-ae"]["kinds"] == ["activations"]  # zlib: no bits per symbol


def test_the_default_kinds_of_every_model_run(app, client):
    """What the catalogue offers by default works for every model (fast ones: no gradients)."""
    for name, model in client.get("/api/catalogue").json()["explain"]["models"].items():
        if model["kind"] == "restoration" or name == "features-mnist":
            continue  # attribution and LRP: covered above, and slower
        job = explain(app, client, model=name)
        assert job["status"] == "done", (name, job["error"])


def test_explanations_have_their_own_pixel_limit(app, client, monkeypatch):
    monkeypatch.setattr(explaining, "EXPLAIN_MAX_PIXELS", 40 * 40)
    response = submit(client, photo_bytes(), model="denoise-color")
    assert response.status_code == 400
    assert "megapixels for explanations" in response.json()["detail"]
    assert app.state.manager.counts()["waiting"] == 0
