"""A short load test of ``pixelsmith serve`` on loopback: N small denoising jobs from M client
threads, each job followed over its event stream and its result downloaded. Checks that no job
is lost or duplicated and that the server's temporary folder is gone after it stops; measures
latency and the server's peak memory. Writes the "web-load" section of docs/WEB.md.

    python -m benchmarks.web_load                 # 50 jobs, 8 clients, queues 16 and 2, ~1 min
    python -m benchmarks.web_load --jobs 20 --clients 4 --queues 4 --output-dir /tmp/w

With a waiting line shorter than the number of clients (queue 2), the server answers some
uploads with 429 and the clients retry: the table shows that this loses nothing either.

Bounded: a fixed number of jobs, a wall-clock limit (--timeout) after which it stops, and only
127.0.0.1 is ever contacted (the server is started here, on a free port).
"""

from __future__ import annotations

import argparse
import glob
import hashlib
import io
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from benchmarks.common import replace_section
from pixelsmith.sysinfo import cpu_model

ROOT = Path(__file__).resolve().parents[1]
SECTION = "web-load"
HOST = "127.0.0.1"  # loopback only
SIZE = 64


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def inputs(count: int) -> list[bytes]:
    """``count`` different noisy 64x64 crops of scikit-image's bundled photographs (PNG)."""
    from PIL import Image
    from skimage import data

    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    rng = np.random.default_rng(0)
    images = []
    for index in range(count):
        photo = photos[index % len(photos)]
        top = int(rng.integers(0, photo.shape[0] - SIZE))
        left = int(rng.integers(0, photo.shape[1] - SIZE))
        crop = photo[top:top + SIZE, left:left + SIZE].astype(float)
        noisy = np.clip(crop + rng.normal(0, 20, crop.shape), 0, 255).round().astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(noisy).save(buffer, "PNG")
        images.append(buffer.getvalue())
    return images


def rss_kib(pid: int, field: str) -> int:
    """VmRSS (now) or VmHWM (peak) of a process, in KiB (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def run_client(base: str, work: list[tuple[int, bytes]], lock: threading.Lock, results: dict,
               deadline: float) -> None:
    """Take inputs from ``work`` until it is empty: submit, follow the events, download."""
    with httpx.Client(base_url=base, timeout=60) as client:
        while time.monotonic() < deadline:
            with lock:
                if not work:
                    return
                index, image = work.pop()
            start = time.monotonic()
            retries = 0
            while True:
                response = client.post("/jobs", data={"task": "denoise"},
                                       files={"image": (f"{index}.png", image, "image/png")})
                if response.status_code != 429 or time.monotonic() > deadline:
                    break
                retries += 1
                time.sleep(0.2)
            response.raise_for_status()
            job_id = response.json()["id"]
            last = None
            with client.stream("GET", f"/jobs/{job_id}/events") as events:
                for line in events.iter_lines():
                    if line.startswith("data: "):
                        last = json.loads(line[6:])
            result = client.get(f"/jobs/{job_id}/result") if last["status"] == "done" else None
            with lock:
                results[index] = {
                    "id": job_id, "status": last["status"], "error": last["error"],
                    "seconds": time.monotonic() - start, "retries": retries,
                    "sha": hashlib.sha256(result.content).hexdigest() if result else None,
                }


def run(jobs: int, clients: int, workers: int | None, queue: int, timeout: float) -> dict:
    port = free_port()
    base = f"http://{HOST}:{port}"
    temp_roots = set(glob.glob(os.path.join(tempfile.gettempdir(), "pixelsmith-web-*")))
    command = [sys.executable, "-m", "pixelsmith", "serve", "--host", HOST, "--port", str(port),
               "--queue", str(queue)] + (["--workers", str(workers)] if workers else [])
    with tempfile.TemporaryFile(mode="w+") as log:  # the server's messages, if it fails
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    status = httpx.get(base + "/api/status", timeout=1).json()
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        log.seek(0)
                        raise RuntimeError("the server did not start: "
                                           + log.read()[-2000:]) from None
                    time.sleep(0.2)
            idle_rss = rss_kib(server.pid, "VmRSS")
            images = inputs(jobs)
            work = list(enumerate(images))[::-1]
            results: dict = {}
            lock = threading.Lock()
            start = time.monotonic()
            stop = start + timeout
            threads = [threading.Thread(target=run_client, args=(base, work, lock, results, stop))
                       for _ in range(clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(max(0.0, stop + 70 - time.monotonic()))
            wall = time.monotonic() - start
            peak_rss = rss_kib(server.pid, "VmHWM")
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    left = set(glob.glob(os.path.join(tempfile.gettempdir(), "pixelsmith-web-*"))) - temp_roots
    done = [r for r in results.values() if r["status"] == "done"]
    ids = [r["id"] for r in results.values()]
    distinct_inputs = len({hashlib.sha256(i).hexdigest() for i in images})
    seconds = sorted(r["seconds"] for r in results.values())
    return {
        "jobs": jobs, "clients": clients, "workers": status["workers"], "queue": queue,
        "finished": len(results), "done": len(done), "failed": len(results) - len(done),
        "lost": jobs - len(results), "duplicate_ids": len(ids) - len(set(ids)),
        "distinct_results": len({r["sha"] for r in done}), "distinct_inputs": distinct_inputs,
        "retries_429": sum(r["retries"] for r in results.values()),
        "wall_s": wall, "jobs_per_s": len(done) / wall if wall else 0.0,
        "p50_s": statistics.median(seconds) if seconds else None,
        "p95_s": seconds[min(len(seconds) - 1, int(0.95 * len(seconds)))] if seconds else None,
        "idle_rss_mb": idle_rss / 1024, "peak_rss_mb": peak_rss / 1024,
        "temp_left": len(left), "errors": sorted({r["error"] for r in results.values()
                                                   if r["error"]}),
    }


def accounted(r: dict) -> bool:
    return (r["lost"] == 0 and r["duplicate_ids"] == 0 and r["failed"] == 0
            and r["distinct_results"] == r["distinct_inputs"] and r["temp_left"] == 0)


def section(rows: list[dict], meta: dict) -> str:
    r = rows[0]
    queues = " and ".join(str(row["queue"]) for row in rows)
    lines = [
        "## Load test",
        "",
        f"Command: `{meta['command']}`. The server (`pixelsmith serve` on 127.0.0.1, "
        f"{r['workers']} worker(s), waiting line {queues}) gets {r['jobs']} denoising jobs "
        f"(default method, different noisy {SIZE}x{SIZE} crops of scikit-image's photographs) from "
        f"{r['clients']} client threads; each client follows its job's event stream and "
        "downloads the result. A job answered 429 (queue full) is retried after 0.2 s. Latency "
        "is from the first upload to the last event. Peak memory is the server process's "
        "VmHWM.",
        "",
        f"- machine: {meta['machine']}",
        f"- date: {meta['date']}",
        "",
        "| queue | jobs | done | failed | lost | duplicated ids | distinct results / inputs | "
        "429 retries | wall (s) | jobs/s | p50 (s) | p95 (s) | idle RSS (MB) | peak RSS (MB) | "
        "temp folders left |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['queue']} | {r['jobs']} | {r['done']} | {r['failed']} | {r['lost']} | "
            f"{r['duplicate_ids']} | {r['distinct_results']} / {r['distinct_inputs']} | "
            f"{r['retries_429']} | {r['wall_s']:.1f} | {r['jobs_per_s']:.2f} | "
            f"{r['p50_s']:.2f} | {r['p95_s']:.2f} | {r['idle_rss_mb']:.0f} | "
            f"{r['peak_rss_mb']:.0f} | {r['temp_left']} |")
    lines += ["", "Every job accounted for, once, and nothing left behind: "
              + ("yes." if all(accounted(r) for r in rows) else "**no** (see the table).")]
    errors = sorted({e for r in rows for e in r["errors"]})
    if errors:
        lines += ["", "Errors: " + "; ".join(errors)]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, help="server workers (default: one per CPU)")
    parser.add_argument("--queues", type=int, nargs="+", default=[16, 2],
                        help="server's waiting-line bound; one run per value")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds before giving up")
    parser.add_argument("--output-dir", default=str(ROOT / "docs"),
                        help="where WEB.md goes (default docs/)")
    args = parser.parse_args()
    if not 1 <= args.jobs <= 500 or not 1 <= args.clients <= 32 or len(args.queues) > 4:
        parser.error("1-500 jobs, 1-32 clients, at most 4 queue bounds")
    rows = []
    for queue in args.queues:
        rows.append(run(args.jobs, args.clients, args.workers, queue, args.timeout))
        print(json.dumps(rows[-1], indent=1), flush=True)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    meta = {"command": ("python -m benchmarks.web_load " + " ".join(sys.argv[1:])).strip(),
            "machine": f"{cpu_model()}, {cores} cores (the server and the clients share them)",
            "date": time.strftime("%Y-%m-%d %H:%M")}
    out = Path(args.output_dir) / "WEB.md"
    replace_section(out, SECTION, section(rows, meta), title="# The web app")
    print(f"wrote {out} (section {SECTION})")
    return 0 if all(accounted(r) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
