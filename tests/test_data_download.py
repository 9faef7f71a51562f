"""Downloads: verification, atomic rename, failures. Only file:// URLs: no network in tests."""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
from conftest import data_or_skip

from pixelsmith.data import CIFAR10, download
from pixelsmith.data.download import SOURCES, Remote, check_file, fetch, verify
from pixelsmith.errors import PixelsmithError


def _serve(tmp_path: Path, name: str, data: bytes) -> str:
    source = tmp_path / "server" / name
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(data)
    return source.as_uri()


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".part")]


def test_download_verifies_and_renames(tmp_path: Path) -> None:
    data = b"pixelsmith test payload" * 100
    url = _serve(tmp_path, "payload.bin", data)
    remote = Remote("payload.bin", (url,), sha256=hashlib.sha256(data).hexdigest(),
                    md5=hashlib.md5(data).hexdigest())
    target = download.download(remote, tmp_path / "out")
    assert target == tmp_path / "out" / "payload.bin" and target.read_bytes() == data
    assert _leftovers(target.parent) == []
    assert check_file(target, remote) is None
    assert target.stat().st_mode & 0o777 == 0o644


def test_checksum_mismatch_leaves_nothing_and_tries_mirrors(tmp_path: Path) -> None:
    good, bad = b"the right bytes", b"the wrong bytes"
    bad_url = _serve(tmp_path, "bad.bin", bad)
    remote = Remote("file.bin", (bad_url,), sha256=hashlib.sha256(good).hexdigest())
    out = tmp_path / "out"
    with pytest.raises(PixelsmithError) as info:
        download.download(remote, out)
    assert "sha256" in str(info.value) and "\n" not in str(info.value)
    assert not (out / "file.bin").exists() and _leftovers(out) == []
    good_url = _serve(tmp_path, "good.bin", good)
    mirrored = Remote("file.bin", (bad_url, good_url), sha256=remote.sha256)
    assert download.download(mirrored, out).read_bytes() == good


def test_gz_content_is_checked_after_decompression(tmp_path: Path) -> None:
    content = b"idx content" * 50
    url = _serve(tmp_path, "x.gz", gzip.compress(content, mtime=0))
    remote = Remote("x.gz", (url,), content_sha256=hashlib.sha256(content).hexdigest())
    target = download.download(remote, tmp_path / "out")
    assert gzip.decompress(target.read_bytes()) == content
    broken = Remote("y.gz", (_serve(tmp_path, "y.gz", b"not gzip"),),
                    content_sha256=remote.content_sha256)
    with pytest.raises(PixelsmithError, match="y.gz"):
        download.download(broken, tmp_path / "out")


def test_offline_fails_with_one_line_naming_the_folder(tmp_path: Path) -> None:
    missing = (tmp_path / "nowhere" / "file.gz").as_uri()
    remote = Remote("file.gz", (missing, "ftp://example.invalid/file.gz"), md5="0" * 32)
    with pytest.raises(PixelsmithError) as info:
        download.download(remote, tmp_path / "expected")
    message = str(info.value)
    assert str(tmp_path / "expected") in message and "\n" not in message


def test_fetch_skips_verified_files_and_downloads_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {"one.bin": b"1" * 10, "two.bin": b"2" * 20}
    remotes = tuple(Remote(name, (_serve(tmp_path, name, data),),
                           sha256=hashlib.sha256(data).hexdigest())
                    for name, data in files.items())
    monkeypatch.setitem(SOURCES, "toy", remotes)
    root = tmp_path / "toy"
    root.mkdir()
    (root / "one.bin").write_bytes(files["one.bin"])
    assert verify("toy", root) == [f"{root / 'two.bin'}: missing or checksum mismatch"]
    (tmp_path / "server" / "one.bin").unlink()  # would fail if fetch downloaded it again
    assert fetch("toy", root) == root
    assert verify("toy", root) == []
    with pytest.raises(PixelsmithError, match="no download"):
        fetch("imagenet", root)


def _cifar_tarball() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]
        for name in names + ["../escape", "readme.html"]:
            batch = {b"data": np.zeros((2, 3072), np.uint8), b"labels": [1, 2]}
            payload = pickle.dumps(batch, protocol=2)
            member = tarfile.TarInfo(f"cifar-10-batches-py/{name}" if "/" not in name else name)
            member.size = len(payload)
            tar.addfile(member, io.BytesIO(payload))
    return buffer.getvalue()


def test_fetch_cifar10_extracts_only_known_members(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    archive = _cifar_tarball()
    url = _serve(tmp_path, "cifar-10-python.tar.gz", archive)
    remote = Remote("cifar-10-python.tar.gz", (url,), md5=hashlib.md5(archive).hexdigest())
    monkeypatch.setitem(SOURCES, "cifar10", (remote,))
    root = tmp_path / "data"
    fetch("cifar10", root)
    extracted = sorted(p.name for p in (root / "cifar-10-batches-py").iterdir())
    assert "readme.html" not in extracted and len(extracted) == 7
    assert not (tmp_path / "escape").exists() and not (root / "cifar-10-python.tar.gz").exists()
    assert len(CIFAR10(root, train=False)) == 2
    assert verify("cifar10", root) == []


def test_registered_checksums_are_well_formed() -> None:
    assert len(SOURCES["mnist"]) == len(SOURCES["fashion-mnist"]) == 4
    for remotes in SOURCES.values():
        for remote in remotes:
            for digest, length in ((remote.md5, 32), (remote.sha256, 64),
                                   (remote.content_sha256, 64)):
                assert digest is None or (len(digest) == length and int(digest, 16) >= 0)
            assert remote.urls and all(u.startswith(("https://", "http://")) for u in remote.urls)
    assert any("ossci-datasets.s3.amazonaws.com/mnist/" in u for u in SOURCES["mnist"][0].urls)
    assert SOURCES["cifar10"][0].md5 == "c58f30108f718f92721af3b95e74349a"


def test_local_mnist_matches_the_registered_checksums() -> None:
    root = data_or_skip("digits/MNIST")
    assert verify("mnist", root) == []
