"""Standard sets: idx parsing (raw, gzip, corrupt), MNIST, CIFAR-10 (pickle and folders), faces."""

from __future__ import annotations

import gzip
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import data_or_skip

from pixelsmith.data import (
    CIFAR10,
    CIFAR10_CLASSES,
    MNIST,
    CIFAR10Folder,
    ClassFolder,
    FaceFolder,
    FashionMNIST,
    parse_utkface,
    read_idx,
)
from pixelsmith.data.standard import load_cifar_batch
from pixelsmith.errors import PixelsmithError
from pixelsmith.io import save_image


def idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    dtype = {0x08: ">u1", 0x0B: ">i2", 0x0D: ">f4"}[code]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(dtype).tobytes()


def write_idx(path: Path, array: np.ndarray, code: int = 0x08, gz: bool = False) -> Path:
    data = idx_bytes(array, code)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def test_read_idx_raw_and_gzip(tmp_path: Path) -> None:
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    for gz in (False, True):
        path = write_idx(tmp_path / f"x{gz}", images, gz=gz)
        out = read_idx(path)
        assert out.dtype == np.uint8 and np.array_equal(out, images)
    shorts = np.array([[-2, 300], [7, 0]], dtype=np.int16)
    out = read_idx(write_idx(tmp_path / "s", shorts, code=0x0B))
    assert out.dtype == np.int16 and np.array_equal(out, shorts)


@pytest.mark.parametrize("corrupt", ["magic", "type", "truncated", "trailing", "header",
                                     "gzip", "huge", "empty"])
def test_read_idx_rejects_corrupt_files(tmp_path: Path, corrupt: str) -> None:
    good = idx_bytes(np.zeros((3, 4, 4), dtype=np.uint8))
    data = {
        "magic": b"\x01" + good[1:],
        "type": good[:2] + b"\x07" + good[3:],
        "truncated": good[:-5],
        "trailing": good + b"\x00",
        "header": good[:9],
        "gzip": gzip.compress(good)[:-12],
        "huge": bytes([0, 0, 8, 2]) + struct.pack(">2I", 1 << 20, 1 << 20),
        "empty": b"",
    }[corrupt]
    path = tmp_path / "bad-idx"
    path.write_bytes(data)
    with pytest.raises(PixelsmithError) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def _fake_mnist(root: Path, n_train: int = 6, n_test: int = 4, gz: bool = True) -> None:
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(root / f"{prefix}-images-idx3-ubyte{'.gz' if gz else ''}",
                  rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), gz=gz)
        write_idx(root / f"{prefix}-labels-idx1-ubyte{'.gz' if gz else ''}",
                  np.arange(n, dtype=np.uint8) % 10, gz=gz)


def test_mnist_from_idx_files(tmp_path: Path) -> None:
    _fake_mnist(tmp_path / "gz", gz=True)
    _fake_mnist(tmp_path / "raw" / "raw", gz=False)  # torchvision's <root>/raw layout
    for root in (tmp_path / "gz", tmp_path / "raw"):
        train, test = MNIST(root, train=True), MNIST(root, train=False)
        assert (len(train), len(test)) == (6, 4)
        image, label = train[3]
        assert image.shape == (1, 28, 28) and image.dtype == torch.float32
        assert float(image.min()) >= 0 and float(image.max()) <= 1 and label == 3
    batch = torch.utils.data.default_collate([train[i] for i in range(4)])
    assert batch[0].shape == (4, 1, 28, 28) and batch[1].dtype == torch.int64


def test_mnist_checks_shapes_and_labels(tmp_path: Path) -> None:
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((3, 20, 20), np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(3, np.uint8))
    with pytest.raises(PixelsmithError, match="28 x 28"):
        MNIST(tmp_path, train=False)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((3, 28, 28), np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(2, np.uint8))
    with pytest.raises(PixelsmithError, match="3 images but 2 labels"):
        MNIST(tmp_path, train=False)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.full(3, 12, np.uint8))
    with pytest.raises(PixelsmithError, match="out of range"):
        MNIST(tmp_path, train=False)


def test_missing_sets_name_the_path_and_the_download(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIXELSMITH_DATA", str(tmp_path))
    with pytest.raises(PixelsmithError) as info:
        FashionMNIST()
    message = str(info.value)
    assert str(tmp_path / "digits" / "FashionMNIST") in message
    assert "fetch('fashion-mnist'" in message and "\n" not in message
    with pytest.raises(PixelsmithError, match=r"fetch\('cifar10'"):
        CIFAR10()
    with pytest.raises(PixelsmithError, match="UTKFace"):
        FaceFolder()
    with pytest.raises(PixelsmithError, match="cifar10"):
        CIFAR10Folder()


def test_real_mnist_test_set() -> None:
    root = data_or_skip("digits/MNIST")
    test = MNIST(root, train=False)
    assert len(test) == 10_000
    counts = torch.bincount(test.labels, minlength=10).tolist()
    assert counts == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    mean = float(test.images.float().mean())
    assert mean == pytest.approx(33.7912, abs=1e-3)
    image, label = test[0]
    assert image.shape == (1, 28, 28) and label == 7


# -- CIFAR-10 ----------------------------------------------------------------------------------
def _fake_cifar(root: Path, per_batch: int = 3) -> Path:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        labels = [int(v) for v in rng.integers(0, 10, per_batch)]
        batch = {b"batch_label": b"fake", b"labels": labels,
                 b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                 b"filenames": [b"x.png"] * per_batch}
        with open(folder / name, "wb") as handle:
            pickle.dump(batch, handle, protocol=2)
    return folder


def test_cifar10_pickle_batches(tmp_path: Path) -> None:
    folder = _fake_cifar(tmp_path)
    train, test = CIFAR10(tmp_path, train=True), CIFAR10(folder, train=False)
    assert (len(train), len(test)) == (15, 3)
    image, label = test[1]
    assert image.shape == (3, 32, 32) and image.dtype == torch.float32 and 0 <= label < 10
    with open(folder / "test_batch", "rb") as handle:
        raw = pickle.load(handle, encoding="bytes")
    red = raw[b"data"][1, :1024].reshape(32, 32)  # rows of the red plane come first
    assert np.array_equal((image[0] * 255).round().numpy().astype(np.uint8), red)


def test_cifar10_refuses_code_and_foreign_names(tmp_path: Path) -> None:
    folder = _fake_cifar(tmp_path)
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    with open(folder / "test_batch", "wb") as handle:
        pickle.dump({b"data": Exploit(), b"labels": []}, handle, protocol=2)
    with pytest.raises(PixelsmithError, match="refusing"):
        CIFAR10(tmp_path, train=False)
    assert not marker.exists()
    (folder / "other.pkl").write_bytes(b"")
    with pytest.raises(PixelsmithError, match="not a CIFAR-10 batch"):
        load_cifar_batch(folder / "other.pkl")


def test_class_folders_label_by_sorted_name(tmp_path: Path) -> None:
    for name in ("zebra", "ant", "moth"):
        for i in range(2):
            save_image(tmp_path / name / f"{i}.png", torch.rand(1, 3, 8, 8))
    data = ClassFolder(tmp_path)
    assert data.classes == ("ant", "moth", "zebra")
    assert [data[i][1] for i in range(len(data))] == [0, 0, 1, 1, 2, 2]
    assert data[0][0].shape == (3, 8, 8)
    with pytest.raises(PixelsmithError, match="not the 10 CIFAR-10 classes"):
        CIFAR10Folder(tmp_path)


def test_real_cifar10_test_folder() -> None:
    root = data_or_skip("cifar10/test")
    data = CIFAR10Folder(root)
    assert len(data) == 10_000 and data.classes == CIFAR10_CLASSES
    for index in (0, 4_999, 9_999):
        image, label = data[index]
        assert image.shape == (3, 32, 32) and label == index // 1000


# -- faces -------------------------------------------------------------------------------------
def test_parse_utkface_names() -> None:
    assert parse_utkface("26_1_2_20170116174525125.jpg.chip.jpg") == {
        "age": 26, "gender": 1, "race": 2}
    assert parse_utkface("61_1_20170109142408075.jpg.chip.jpg") == {
        "age": 61, "gender": 1, "race": -1}
    assert parse_utkface("000001.jpg") == {"age": -1, "gender": -1, "race": -1}


def test_face_folder_crops_resizes_and_labels(tmp_path: Path) -> None:
    names = ["30_0_1_2017.jpg.chip.jpg", "8_1_0_2017.jpg.chip.jpg", "celeb.png"]
    for i, name in enumerate(names):
        save_image(tmp_path / name, torch.rand(1, 3, 50, 40 + i))
    faces = FaceFolder(tmp_path, size=16, label="gender")
    assert len(faces) == 3
    labels = {faces.images.paths[i].name: faces[i][1] for i in range(3)}
    assert labels == {"30_0_1_2017.jpg.chip.jpg": 0, "8_1_0_2017.jpg.chip.jpg": 1, "celeb.png": -1}
    assert all(faces[i][0].shape == (3, 16, 16) for i in range(3))
    cropped = FaceFolder(tmp_path, size=8, crop=20)
    assert cropped[0][0].shape == (3, 8, 8) and cropped[0][1] == -1
    with pytest.raises(ValueError, match="label"):
        FaceFolder(tmp_path, label="smile")


def test_real_utkface_items() -> None:
    root = data_or_skip("faces/UTKFace")
    faces = FaceFolder(root, size=64, label="age")
    assert len(faces) > 1000
    image, age = faces[0]
    assert image.shape == (3, 64, 64) and 0 <= age <= 120
    assert all(a["gender"] in (0, 1) for a in faces.attributes[:200])
