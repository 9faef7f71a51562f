"""The web server's guards: which Host headers it answers, how large an upload may be, and how
an upload becomes pixels (pixelsmith's own reader, the content deciding the format).

No name sent by a client is ever used as a path: uploads are written under names the server
chooses, and the client's file name only shapes the download name offered back (cleaned).
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

from pixelsmith.errors import PixelsmithError

#: Host names that mean "this machine": the server always answers to these.
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")
DEFAULT_MAX_UPLOAD_BYTES = 50 * 1024 * 1024
#: Room for the form fields and multipart framing on top of the files themselves.
FORM_OVERHEAD_BYTES = 1024 * 1024
_CHUNK = 1 << 20


class UploadTooLarge(PixelsmithError):
    """A request body or uploaded file above the byte limit (HTTP 413)."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or address to bind to) is reachable only from this machine."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def allowed_hosts(bind_host: str, extra: tuple[str, ...] | list[str] = ()) -> list[str]:
    """Host header values to accept (against DNS rebinding): loopback names, the bound address
    when it is a specific one, and any names given with ``--allow-host``."""
    hosts = list(LOOPBACK_NAMES)
    if bind_host not in ("0.0.0.0", "::", "") and bind_host not in hosts:
        hosts.append(bind_host)
    hosts.extend(h for h in extra if h not in hosts)
    return hosts


class BodyLimit:
    """ASGI middleware: a request body above ``max_bytes`` is refused with 413, whether the
    client announced its length (refused before reading) or streamed it (refused once the
    count passes the limit, before the rest is read)."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = int(max_bytes)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await _refuse(send, self.max_bytes)
            return
        seen = 0
        limit = self.max_bytes

        async def counted():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    from fastapi import HTTPException

                    raise HTTPException(413, _too_large(limit))
            return message

        await self.app(scope, counted, send)


def _too_large(limit: int) -> str:
    return f"request is larger than the limit of {limit / 1e6:.1f} MB"


async def _refuse(send, limit: int) -> None:
    import json

    body = json.dumps({"detail": _too_large(limit)}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def read_upload(upload, max_bytes: int, what: str = "upload") -> bytes:
    """All bytes of an uploaded file, or :class:`UploadTooLarge` past ``max_bytes``."""
    parts, total = [], 0
    while True:
        chunk = await upload.read(_CHUNK)
        if not chunk:
            break
        total += len(chunk)
        if total > max_bytes:
            raise UploadTooLarge(f"{what} is larger than the limit of {max_bytes / 1e6:.1f} MB")
        parts.append(chunk)
    if total == 0:
        raise PixelsmithError(f"{what} is empty")
    return b"".join(parts)


def decode_upload(path: Path, max_pixels: int, what: str = "upload"):
    """Decode an uploaded image with :func:`pixelsmith.io.load_image` (Pillow's sniffing of
    the content decides the format; the file has no suffix). Errors name ``what``, not the
    server's temporary path."""
    from pixelsmith.io import load_image

    try:
        return load_image(path, max_pixels=max_pixels)
    except PixelsmithError as exc:
        message = str(exc).replace(str(path), what).replace("(raise it with --max-pixels)", "")
        raise PixelsmithError(message.strip()) from None


def clean_stem(client_name: str | None) -> str:
    """The stem of a client's file name reduced to safe characters, for download names only."""
    stem = Path(client_name).stem if client_name else ""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._")[:60] or "image"


def one_line(message: str, limit: int = 300) -> str:
    """The first line of an error message, shortened: what the page shows."""
    line = (str(message).strip().splitlines() or [""])[0]
    return line if len(line) <= limit else line[: limit - 3] + "..."
