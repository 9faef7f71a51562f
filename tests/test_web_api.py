"""The web app's REST API through FastAPI's test client: every task, bad uploads, limits, the
queue bound, failing jobs, clean-up, and the Host check."""

from __future__ import annotations

import io
import json
import threading
from dataclasses import replace

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
from pixelsmith.web.security import allowed_hosts, is_loopback  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")

MAX_PIXELS = 128 * 128
MAX_BYTES = 120_000
BASE = "http://127.0.0.1"


def png_bytes(size: int = 64, channels: int = 3, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size]
    smooth = (np.sin(x / 7.0) + np.cos(y / 5.0) + 2) * 60
    noisy = smooth[..., None] + rng.normal(0, 20, (size, size, channels))
    array = np.clip(noisy, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array[..., 0] if channels == 1 else array).save(buffer, "PNG")
    return buffer.getvalue()


def mask_bytes(size: int = 64) -> bytes:
    mask = np.zeros((size, size), np.uint8)
    mask[20:30, 10:50] = 255
    buffer = io.BytesIO()
    Image.fromarray(mask).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def app():
    return create_app(workers=2, max_waiting=4, max_upload_bytes=MAX_BYTES,
                      max_pixels=MAX_PIXELS, ttl=600)


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app, base_url=BASE) as client:
        yield client


def submit(client, task: str, image: bytes | None = None, name: str = "photo.png",
           mask: bytes | None = None, **options):
    files = {}
    if image is not None:
        files["image"] = (name, image, "application/octet-stream")
    if mask is not None:
        files["mask"] = ("mask.png", mask, "image/png")
    return client.post("/jobs", data={"task": task, **options}, files=files or None)


def run_job(app, client, task: str, image: bytes | None = None, **kwargs) -> dict:
    response = submit(client, task, image, **kwargs)
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] in ("queued", "running", "done")
    return app.state.manager.wait(job["id"], timeout=120)


def decoded(client, url: str) -> np.ndarray:
    response = client.get(url)
    assert response.status_code == 200, response.text
    return np.asarray(Image.open(io.BytesIO(response.content)))


# -- every task ---------------------------------------------------------------------------------

@pytest.mark.parametrize("task, options, size", [
    ("denoise", {}, 64),
    ("denoise", {"method": "tv", "sigma": "20"}, 64),
    ("dejpeg", {"method": "identity"}, 64),
    ("sr", {"method": "bicubic", "scale": "2"}, 128),
    ("deblur", {"method": "wiener", "kernel": "gaussian:1.6", "sigma": "2"}, 64),
    ("deblur", {"method": "identity"}, 64),
    ("photo", {"scale": "4"}, 256),
])
def test_restore_tasks(app, client, task, options, size):
    job = run_job(app, client, task, png_bytes(), **options)
    assert job["status"] == "done", job["error"]
    assert job["progress"] == 1.0
    assert job["info"]["method"] == options.get("method", job["info"]["method"])
    assert job["info"]["seconds"] >= 0
    after = decoded(client, job["files"]["after"])
    assert after.shape[:2] == (size, size)
    assert decoded(client, job["files"]["before"]).shape[:2] == (64, 64)
    result = client.get(job["files"]["result"])
    assert result.headers["content-type"] == "image/png"
    assert f'filename="photo-{task}.png"' in result.headers["content-disposition"]


def test_default_denoise_reports_its_model_and_sigma(app, client):
    job = run_job(app, client, "denoise", png_bytes(channels=1))
    assert job["info"]["method"] == "denoise-gray"  # the gray default for a gray image
    assert 5 < job["info"]["sigma"] < 60  # estimated, in 0-255 units


def test_result_is_the_cli_output_byte_for_byte(app, client, tmp_path):
    source = tmp_path / "noisy.png"
    source.write_bytes(png_bytes(seed=3))
    job = run_job(app, client, "denoise", source.read_bytes(), name="noisy.png")
    main(["restore", str(source), "-o", str(tmp_path / "cli.png"), "--task", "denoise"])
    assert client.get(job["files"]["result"]).content == (tmp_path / "cli.png").read_bytes()


def test_served_precision_is_the_cli_output_byte_for_byte(tmp_path, recwarn):
    source = tmp_path / "noisy.png"
    source.write_bytes(png_bytes(seed=5))
    bf16_app = create_app(workers=1, max_upload_bytes=MAX_BYTES, max_pixels=MAX_PIXELS,
                          precision="bf16")
    with TestClient(bf16_app, base_url=BASE) as bf16_client:
        job = run_job(bf16_app, bf16_client, "denoise", source.read_bytes(), name="noisy.png")
        assert job["status"] == "done", job["error"]
        assert job["info"]["precision"] == "bf16"
        main(["restore", str(source), "-o", str(tmp_path / "cli.png"), "--task", "denoise",
              "--precision", "bf16"])
        served = bf16_client.get(job["files"]["result"]).content
    assert served == (tmp_path / "cli.png").read_bytes()


def test_strength_is_the_cli_output_byte_for_byte(app, client, tmp_path):
    source = tmp_path / "noisy.png"
    source.write_bytes(png_bytes(seed=4))
    job = run_job(app, client, "denoise", source.read_bytes(), name="noisy.png", method="tv",
                  sigma="20", strength="0.4")
    assert job["status"] == "done", job["error"]
    assert job["info"]["strength"] == 0.4
    main(["restore", str(source), "-o", str(tmp_path / "cli.png"), "--task", "denoise",
          "--method", "tv", "--sigma", "20", "--strength", "0.4"])
    assert client.get(job["files"]["result"]).content == (tmp_path / "cli.png").read_bytes()
    full = run_job(app, client, "denoise", source.read_bytes(), method="tv", sigma="20")
    assert "strength" not in full["info"]
    assert client.get(full["files"]["result"]).content != (tmp_path / "cli.png").read_bytes()


@pytest.mark.parametrize("value", ["1.5", "-0.1", "nan", "half"])
def test_bad_strength_is_one_line(client, value):
    response = submit(client, "denoise", png_bytes(), strength=value)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("strength must be")


def test_inpaint_fills_the_mask(app, client):
    job = run_job(app, client, "inpaint", png_bytes(), mask=mask_bytes(), method="biharmonic")
    assert job["status"] == "done", job["error"]
    before = decoded(client, job["files"]["before"]).astype(int)
    after = decoded(client, job["files"]["after"]).astype(int)
    outside = np.ones((64, 64), bool)
    outside[20:30, 10:50] = False
    assert np.array_equal(before[outside], after[outside])  # known pixels kept
    assert not np.array_equal(before[~outside], after[~outside])  # the hole is filled


def test_inpaint_needs_a_mask_of_the_image_size(client):
    response = submit(client, "inpaint", png_bytes())
    assert response.status_code == 400 and "mask" in response.json()["detail"]
    response = submit(client, "inpaint", png_bytes(), mask=mask_bytes(32))
    assert response.status_code == 400
    assert response.json()["detail"] == "the mask is 32x32 but the image is 64x64"


def test_compress_then_decompress(app, client):
    job = run_job(app, client, "compress", png_bytes(), codec_quality="1")
    assert job["status"] == "done", job["error"]
    info = job["info"]
    pxs = client.get(job["files"]["result"]).content
    assert pxs.startswith(b"\x89PXS")
    assert info["bytes"] == len(pxs)
    assert info["bpp"] == pytest.approx(8 * len(pxs) / (64 * 64), abs=1e-3)
    assert 5 < info["psnr"] < 60
    back = run_job(app, client, "decompress", pxs, name="photo.pxs")
    assert back["status"] == "done", back["error"]
    assert back["info"]["method"] == "codec-q1"
    # decoding the file gives the very preview that compress showed
    assert np.array_equal(decoded(client, back["files"]["result"]),
                          decoded(client, job["files"]["after"]))


def test_compress_with_a_context_model_chosen_by_name(app, client):
    codec = client.get("/api/catalogue").json()["codec"]
    names = [entry["name"] for entry in codec["models"]]
    assert codec["default_model"] == "codec-q3" and "codec-cb-q6" in names
    assert names.index("codec-q4") < names.index("codec-cb-q1") < names.index("codec-cb-q6")
    job = run_job(app, client, "compress", png_bytes(), model="codec-cb-q2")
    assert job["status"] == "done", job["error"]
    assert job["info"]["method"] == "codec-cb-q2"
    back = run_job(app, client, "decompress", client.get(job["files"]["result"]).content,
                   name="photo.pxs")
    assert back["status"] == "done" and back["info"]["method"] == "codec-cb-q2"
    for form in ({"model": "denoise-gray"}, {"model": "codec-cb-q2", "codec_quality": "1"}):
        response = submit(client, "compress", png_bytes(), **form)
        assert response.status_code == 400 and "\n" not in response.json()["detail"]


def test_generate_is_reproducible_from_the_seed(app, client):
    first = run_job(app, client, "generate", model="gan-mnist", seed="5", count="4")
    second = run_job(app, client, "generate", model="gan-mnist", seed="5", count="4")
    third = run_job(app, client, "generate", model="gan-mnist", seed="6", count="4")
    assert first["status"] == "done", first["error"]
    images = [client.get(job["files"]["result"]).content for job in (first, second, third)]
    assert images[0] == images[1] != images[2]


def test_catalogue_lists_methods_with_defaults(client):
    catalogue = client.get("/api/catalogue").json()
    assert set(catalogue["tasks"]) == {"denoise", "deblur", "inpaint", "sr", "dejpeg", "photo"}
    denoise = catalogue["tasks"]["denoise"]
    names = [m["name"] for m in denoise["methods"]]
    assert denoise["default"] in names and "tv" in names
    assert "gan-mnist" in catalogue["generators"]
    assert catalogue["limits"]["max_pixels"] == MAX_PIXELS


def test_openapi_documents_the_job_api(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/jobs", "/jobs/{job_id}", "/jobs/{job_id}/events", "/jobs/{job_id}/result"):
        assert path in paths
    assert client.get("/docs").status_code == 200


def test_page_and_assets_are_served_locally(client):
    page = client.get("/")
    assert page.status_code == 200 and "/static/app.js" in page.text
    assert "http" not in page.text.replace('href="/docs"', "").split("<body>")[0]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for asset in ("app.js", "app.css"):
        assert client.get(f"/static/{asset}").status_code == 200


# -- progress as server-sent events -------------------------------------------------------------

def test_events_stream_ends_with_the_finished_job(app, client):
    job = submit(client, "denoise", png_bytes(), method="wavelet", sigma="15").json()
    events = []
    with client.stream("GET", f"/jobs/{job['id']}/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    assert events[-1]["status"] == "done" and events[-1]["progress"] == 1.0
    assert all(e["id"] == job["id"] for e in events)


# -- bad uploads --------------------------------------------------------------------------------

def test_not_an_image(client):
    response = submit(client, "denoise", b"this is not an image, just text" * 10)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("the upload: not an image file")


def test_truncated_image(client):
    data = png_bytes()
    response = submit(client, "denoise", data[: len(data) // 2])
    assert response.status_code == 400
    assert "truncated" in response.json()["detail"]


def test_name_does_not_decide_the_format(app, client):
    # a PNG named .jpg is read as the PNG it is; a text file named .png is refused
    job = run_job(app, client, "denoise", png_bytes(), name="photo.jpg", method="tv", sigma="10")
    assert job["status"] == "done" and job["info"]["format"] == "PNG"
    assert submit(client, "denoise", b"GIF89a nonsense" * 5, name="x.png").status_code == 400


def test_over_the_byte_limit(client):
    big = np.random.default_rng(0).integers(0, 255, (300, 300, 3), np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(big).save(buffer, "PNG")
    assert len(buffer.getvalue()) > MAX_BYTES
    response = submit(client, "denoise", buffer.getvalue())
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]
    # a body far above the limit is refused from its Content-Length, before it is read
    response = client.post("/jobs", content=b"x" * (3 * MAX_BYTES + 2_000_000),
                           headers={"content-type": "multipart/form-data; boundary=b"})
    assert response.status_code == 413
    # and a streamed body without a length is cut off once it passes the limit
    chunks = (b"x" * 100_000 for _ in range(100))
    response = client.post("/jobs", content=chunks,
                           headers={"content-type": "multipart/form-data; boundary=b"})
    assert response.status_code == 413


def test_over_the_pixel_limit(client):
    image = Image.new("L", (129, 128), 128)  # one column above the limit, a tiny file
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    response = submit(client, "denoise", buffer.getvalue())
    assert response.status_code == 400
    assert "megapixels is above the limit" in response.json()["detail"]


def test_super_resolution_result_within_the_pixel_limit(client):
    response = submit(client, "sr", png_bytes(), method="bicubic", scale="3")  # 192x192
    assert response.status_code == 400
    assert "above the limit" in response.json()["detail"]


def test_pxs_bomb_is_refused_from_its_header(app, client):
    from pixelsmith.codec.format import pack, unpack

    job = run_job(app, client, "compress", png_bytes(), codec_quality="1")
    header, streams = unpack(client.get(job["files"]["result"]).content)
    bomb = pack(replace(header, width=60000, height=60000), streams)
    response = submit(client, "decompress", bomb, name="bomb.pxs")
    assert response.status_code == 400
    assert "above the limit" in response.json()["detail"]
    assert submit(client, "decompress", b"not a pxs file").status_code == 400


def test_bad_options_are_one_line_errors(client):
    cases = [
        ({"task": "denoise", "sigma": "300"}, "sigma must be in 0-255"),
        ({"task": "denoise", "method": "no-such"}, "unknown method 'no-such'"),
        ({"task": "denoise", "method": "/etc"}, "unknown method '/etc'"),  # never a path
        ({"task": "sr", "scale": "x"}, "scale must be a whole number"),
        ({"task": "deblur", "kernel": "file:/etc/passwd"}, "kernel must be"),
        ({"task": "generate", "model": "../../etc"}, "unknown generator"),
        ({"task": "paint"}, "unknown task 'paint'"),
    ]
    for form, message in cases:
        task = form.pop("task")
        response = submit(client, task, None if task == "generate" else png_bytes(), **form)
        assert response.status_code == 400, (task, form, response.text)
        detail = response.json()["detail"]
        assert message in detail and "\n" not in detail


def test_job_ids_are_checked(client):
    assert client.get("/jobs/" + "0" * 24).status_code == 404
    assert client.get("/jobs/..%2F..%2Fetc").status_code in (404, 422)
    assert client.get("/jobs/not-an-id/result").status_code == 422


def test_host_header_is_checked(client):
    assert client.get("/api/status", headers={"host": "attacker.example"}).status_code == 400
    assert client.get("/api/status", headers={"host": "localhost:8000"}).status_code == 200


def test_loopback_and_allowed_hosts():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    assert "192.168.1.5" in allowed_hosts("192.168.1.5")
    assert "0.0.0.0" not in allowed_hosts("0.0.0.0")


# -- the queue, failures, clean-up --------------------------------------------------------------

class Gate:
    """A runner that waits for a signal (to fill the queue), or fails on request."""

    def __init__(self) -> None:
        self.open = threading.Event()

    def __call__(self, job, progress):
        if job.options.get("method") == "tv":
            raise RuntimeError("boom\nsecond line")
        self.open.wait(30)
        progress(1, 1)
        return {"method": "gate"}, {}


def test_queue_bound_gives_429_and_positions():
    gate = Gate()
    app = create_app(workers=1, max_waiting=2, runner=gate)
    with TestClient(app, base_url=BASE) as client:
        ids = []
        for _ in range(3):
            response = submit(client, "denoise", png_bytes(), method="wavelet")
            assert response.status_code == 202
            ids.append(response.json()["id"])
        busy = submit(client, "denoise", png_bytes(), method="wavelet")
        assert busy.status_code == 429 and "busy" in busy.json()["detail"]
        positions = [client.get(f"/jobs/{i}").json()["position"] for i in ids]
        assert positions == [0, 1, 2]
        assert client.get(f"/jobs/{ids[1]}/result").status_code == 409  # not finished yet
        gate.open.set()
        states = [app.state.manager.wait(i, 30)["status"] for i in ids]
        assert states == ["done"] * 3
        assert submit(client, "denoise", png_bytes(), method="wavelet").status_code == 202


def test_a_failing_job_does_not_stop_the_server():
    gate = Gate()
    gate.open.set()
    app = create_app(workers=1, runner=gate)
    with TestClient(app, base_url=BASE) as client:
        failing = submit(client, "denoise", png_bytes(), method="tv").json()
        failed = app.state.manager.wait(failing["id"], 30)
        assert failed["status"] == "failed"
        assert failed["error"] == "RuntimeError: boom"
        after = submit(client, "denoise", png_bytes(), method="wavelet").json()
        assert app.state.manager.wait(after["id"], 30)["status"] == "done"


def test_a_user_error_inside_a_job_is_shown_on_one_line(app, client):
    # the de-JPEG model needs the JPEG quality, which a PNG does not carry
    job = run_job(app, client, "dejpeg", png_bytes(), method="dejpeg-color")
    assert job["status"] == "failed"
    assert "quality" in job["error"] and "\n" not in job["error"]
    assert client.get(job["files"]["before"]).status_code == 200
    assert client.get(f"/jobs/{job['id']}/result").status_code == 404


def test_results_expire_and_shutdown_removes_everything():
    app = create_app(workers=1, ttl=3600)
    assert not hasattr(app.state, "manager")  # no threads nor folders before the server starts
    with TestClient(app, base_url=BASE) as client:
        manager = app.state.manager
        job = submit(client, "denoise", png_bytes(), method="wavelet", sigma="10").json()
        assert manager.wait(job["id"], 60)["status"] == "done"
        folder = manager.root / job["id"]
        assert folder.is_dir() and any(folder.iterdir())
        assert manager.expire() == 0  # not old yet
        import time

        assert manager.expire(now=time.time() + 3601) == 1
        assert not folder.exists()
        assert client.get(f"/jobs/{job['id']}").status_code == 404
        second = submit(client, "denoise", png_bytes(), method="wavelet", sigma="10").json()
        manager.wait(second["id"], 60)
        root = manager.root
        assert root.is_dir()
    assert not root.exists()  # shutdown removed every result


# -- the command --------------------------------------------------------------------------------

def test_serve_warns_off_loopback(monkeypatch, capsys):
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    import torch

    threads = torch.get_num_threads()
    try:
        main(["serve", "--host", "0.0.0.0", "--port", "8123", "--workers", "1"])
        assert "warning: listening on 0.0.0.0" in capsys.readouterr().err
        main(["serve", "--workers", "1"])
        assert "warning" not in capsys.readouterr().err
    finally:
        torch.set_num_threads(threads)
    assert calls == [{"host": "0.0.0.0", "port": 8123, "log_level": "warning"},
                     {"host": "127.0.0.1", "port": 8000, "log_level": "warning"}]


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has CUDA")
def test_serve_refuses_fp16_without_a_gpu_before_starting(monkeypatch, capsys):
    import uvicorn
    from cli_runner import run
    from test_cli import assert_one_line_error

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    code, _, err = run(capsys, "serve", "--precision", "fp16", "--workers", "1")
    assert_one_line_error(code, err)
    assert "fp16 needs a CUDA device" in err and not calls


def test_the_cli_does_not_load_the_web_stack():
    import subprocess
    import sys

    probe = ("import sys, pixelsmith.cli.main; "
             "print(sorted(m for m in ('torch', 'fastapi', 'uvicorn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_api_page_loads_nothing_from_the_network(client):
    pytest.importorskip("swagger_ui_bundle")
    html = client.get("/docs").text
    assert "cdn" not in html.lower() and "/docs-assets/swagger-ui-bundle.js" in html
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert client.get(f"/docs-assets/{asset}").status_code == 200
