"""Download the standard sets from their official sources, verified by checksum.

:func:`fetch` downloads each file with ``urllib`` to a temporary file beside its target,
checks it, and renames it into place atomically, so an interrupted or corrupt download never
leaves a file that looks complete. Offline it fails with a one-line :class:`PixelsmithError`
naming the folder where the files are expected.

``urllib`` and ``tarfile`` are imported when a download runs, not when this module loads.

Checksums, and where each one comes from:

- MNIST: sha256 of the DECOMPRESSED idx files, computed by us from the local copy in
  ``$PIXELSMITH_DATA/digits/MNIST``, whose decompressed md5s equal the official ones
  (6bbc9ace..., a25bea73..., 2646ac64..., 27ae3e4e...). We check the content, not the ``.gz``
  bytes, because mirrors (and the local copy) wrap the same content in different gzip headers.
- Fashion-MNIST: md5 of the ``.gz`` files as published by Zalando Research (and used by
  torchvision). No local copy here, so no sha256 could be computed.
- CIFAR-10: md5 of ``cifar-10-python.tar.gz`` as published on the CIFAR page. No local copy
  of the tarball, so no sha256.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pixelsmith.errors import PixelsmithError

CHUNK = 1 << 20

#: Folder of each set below $PIXELSMITH_DATA (``pixelsmith.settings.dataset_path``).
DEFAULT_FOLDERS = {
    "mnist": "digits/MNIST",
    "fashion-mnist": "digits/FashionMNIST",
    "cifar10": "cifar10",
    "faces": "faces/UTKFace",
}


@dataclass(frozen=True)
class Remote:
    """One file to download: its name, mirrors (tried in order) and the digests to check.

    ``md5`` / ``sha256`` are of the downloaded bytes; ``content_sha256`` of the gunzipped
    content (for ``.gz`` files whose wrapper varies between mirrors). At least one is needed.
    """

    filename: str
    urls: tuple[str, ...]
    md5: str | None = None
    sha256: str | None = None
    content_sha256: str | None = None

    def __post_init__(self) -> None:
        if not (self.md5 or self.sha256 or self.content_sha256):
            raise ValueError(f"{self.filename}: a download needs at least one checksum")


# The original site http://yann.lecun.com/exdb/mnist/ has often refused downloads (HTTP 403,
# or a login prompt) since about 2023; the PyTorch CI mirror serves the same files.
_MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
                  "http://yann.lecun.com/exdb/mnist/")
_MNIST_CONTENT_SHA256 = {  # sha256 of the decompressed files, computed from the local copy
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
_FASHION_MIRRORS = ("https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/"
                    "data/fashion/",
                    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/")
_FASHION_MD5 = {  # official md5 of the .gz files (Zalando Research); not verified locally
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"  # official; not verified locally
CIFAR10_MEMBERS = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4",
                   "data_batch_5", "test_batch", "batches.meta")

SOURCES: dict[str, tuple[Remote, ...]] = {
    "mnist": tuple(
        Remote(f"{stem}.gz", tuple(m + f"{stem}.gz" for m in _MNIST_MIRRORS),
               content_sha256=digest)
        for stem, digest in _MNIST_CONTENT_SHA256.items()
    ),
    "fashion-mnist": tuple(
        Remote(name, tuple(m + name for m in _FASHION_MIRRORS), md5=digest)
        for name, digest in _FASHION_MD5.items()
    ),
    "cifar10": (Remote("cifar-10-python.tar.gz", (CIFAR10_URL,), md5=CIFAR10_MD5),),
}


def _digest(chunks: Iterable[bytes], algorithm: str) -> str:
    hasher = hashlib.new(algorithm)
    for chunk in chunks:
        hasher.update(chunk)
    return hasher.hexdigest()


def _read_chunks(handle) -> Iterable[bytes]:
    while chunk := handle.read(CHUNK):
        yield chunk


def file_digest(path: str | Path, algorithm: str = "sha256", *, gunzip: bool = False) -> str:
    """Hex digest of a file, or of its gunzipped content with ``gunzip=True``."""
    opener = gzip.open if gunzip else open
    with opener(path, "rb") as handle:
        return _digest(_read_chunks(handle), algorithm)


def _problem(path: Path, remote: Remote, gz: bool, label: str) -> str | None:
    """None when ``path`` matches every digest of ``remote``, else what is wrong (one line).

    ``gz``: check ``content_sha256`` on the gunzipped bytes (else on the bytes as they are).
    """
    try:
        for algorithm, expected, gunzip in (
            ("md5", remote.md5, False),
            ("sha256", remote.sha256, False),
            ("sha256", remote.content_sha256, gz),
        ):
            if expected:
                actual = file_digest(path, algorithm, gunzip=gunzip)
                if actual != expected:
                    what = f"{algorithm} of the content" if gunzip else algorithm
                    return f"{label}: {what} is {actual}, expected {expected}"
    except (OSError, EOFError, zlib.error) as exc:
        return f"{label}: cannot read ({exc})"
    return None


def check_file(path: str | Path, remote: Remote) -> str | None:
    """None when the file at ``path`` matches every digest of ``remote``, else the problem.

    ``content_sha256`` is checked on the gunzipped content when ``path`` ends in ``.gz``.
    """
    path = Path(path)
    return _problem(path, remote, path.suffix == ".gz", path.name)


def download(remote: Remote, folder: str | Path, *, timeout: float = 60.0) -> Path:
    """Download ``remote`` into ``folder``: mirrors in order, verified, renamed atomically.

    Raises :class:`PixelsmithError` (one line) when no mirror gives a verified file.
    """
    import tempfile
    import urllib.error
    import urllib.request

    folder = Path(folder)
    target = folder / remote.filename
    gz = remote.filename.endswith(".gz")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PixelsmithError(f"cannot create {folder} ({exc.strerror or exc})") from None
    problems = []
    for url in remote.urls:
        if not url.startswith(("https://", "http://", "file://")):
            problems.append(f"{url}: unsupported URL scheme")
            continue
        try:
            fd, tmp_name = tempfile.mkstemp(prefix=f".{remote.filename}.", suffix=".part",
                                            dir=folder)
        except OSError as exc:
            raise PixelsmithError(f"cannot write to {folder} ({exc.strerror or exc})") from None
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as src:
                for chunk in _read_chunks(src):
                    out.write(chunk)
            problem = _problem(tmp, remote, gz, remote.filename)
            if problem is None:
                os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; data is for everyone to read
                os.replace(tmp, target)
                return target
            problems.append(f"{url}: {problem}")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            problems.append(f"{url}: {reason}")
        finally:
            if tmp.exists():
                tmp.unlink()
    raise PixelsmithError(
        f"could not download {remote.filename} ({'; '.join(problems)}); without network, "
        f"put the file there by hand: {target}"
    )


def _present(folder: Path, remote: Remote) -> bool:
    """Whether a verified copy of ``remote`` (or of its decompressed content) is in ``folder``."""
    candidates = [folder / remote.filename]
    if remote.filename.endswith(".gz") and remote.content_sha256:
        candidates.append(folder / remote.filename[:-3])
    for path in candidates:
        if path.is_file():
            plain = Remote(path.name, (), sha256=remote.content_sha256) if (
                path.suffix != ".gz" and remote.content_sha256) else remote
            if check_file(path, plain) is None:
                return True
    return False


def _extract_cifar(archive: Path, folder: Path) -> None:
    """Extract the known CIFAR-10 batch files (regular files, fixed names) from the tarball."""
    import tarfile

    from pixelsmith.io import atomic_output

    wanted = {f"cifar-10-batches-py/{name}": name for name in CIFAR10_MEMBERS}
    out_dir = folder / "cifar-10-batches-py"
    found = set()
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                name = wanted.get(member.name)
                if name is None or not member.isfile():
                    continue
                source = tar.extractfile(member)
                if source is None:
                    continue
                with atomic_output(out_dir / name) as tmp:
                    with open(tmp, "wb") as out:
                        for chunk in _read_chunks(source):
                            out.write(chunk)
                    os.chmod(tmp, 0o644)
                found.add(name)
    except (OSError, EOFError, tarfile.TarError) as exc:
        raise PixelsmithError(f"{archive}: cannot extract ({exc})") from None
    missing = sorted(set(CIFAR10_MEMBERS) - found)
    if missing:
        raise PixelsmithError(f"{archive}: archive lacks {', '.join(missing)}")


def default_root(name: str) -> Path:
    """Where set ``name`` is expected: ``$PIXELSMITH_DATA/<its folder>``."""
    from pixelsmith.settings import dataset_path

    if name not in DEFAULT_FOLDERS:
        raise PixelsmithError(f"unknown data set {name!r} (known: {', '.join(DEFAULT_FOLDERS)})")
    return dataset_path(DEFAULT_FOLDERS[name])


def fetch(name: str, root: str | Path | None = None, *, timeout: float = 60.0) -> Path:
    """Download set ``name`` (``"mnist"``, ``"fashion-mnist"``, ``"cifar10"``) into ``root``
    (default :func:`default_root`) unless verified copies are already there; returns ``root``.

    MNIST and Fashion-MNIST land as the four ``.gz`` idx files in ``root``; CIFAR-10 is
    extracted to ``root/cifar-10-batches-py/`` and its tarball removed.
    """
    if name not in SOURCES:
        raise PixelsmithError(f"no download for {name!r} (available: {', '.join(SOURCES)})")
    folder = Path(root) if root is not None else default_root(name)
    if name == "cifar10":
        batches = folder / "cifar-10-batches-py"
        if all((batches / n).is_file() for n in CIFAR10_MEMBERS):
            return folder
        archive = download(SOURCES[name][0], folder, timeout=timeout)
        _extract_cifar(archive, folder)
        archive.unlink()
        return folder
    for remote in SOURCES[name]:
        if not _present(folder, remote):
            download(remote, folder, timeout=timeout)
    return folder


def verify(name: str, root: str | Path | None = None) -> list[str]:
    """Problems with the local copy of set ``name`` (empty when every file checks out)."""
    if name not in SOURCES:
        raise PixelsmithError(f"no checksums for {name!r} (available: {', '.join(SOURCES)})")
    folder = Path(root) if root is not None else default_root(name)
    if name == "cifar10":
        batches = folder / "cifar-10-batches-py"
        return [f"{batches / n}: missing" for n in CIFAR10_MEMBERS if not (batches / n).is_file()]
    return [f"{folder / r.filename}: missing or checksum mismatch"
            for r in SOURCES[name] if not _present(folder, r)]
