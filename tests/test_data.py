import os
import pickle
import struct

import numpy as np
import pytest
import torch
import torchvision

from resnet_viz.config import DataConfig
from resnet_viz.data import DatasetUnavailable, load_dataset


def test_digits_is_real_offline_data_with_a_fixed_split():
    d = load_dataset(DataConfig("digits"))
    assert d.train_x.shape == (1347, 1, 16, 16) and d.test_x.shape == (450, 1, 16, 16)
    assert d.train_x.dtype == torch.float32 and d.train_y.dtype == torch.int64
    assert set(d.train_y.tolist()) == set(range(10)) and d.classes == tuple("0123456789")
    # standardized with the training split's statistics
    assert abs(d.train_x.mean().item()) < 1e-4 and abs(d.train_x.std().item() - 1) < 1e-3
    again = load_dataset(DataConfig("digits", seed=5))  # the split does not depend on the seed
    assert torch.equal(d.test_y, again.test_y)


def test_limits_and_resizing():
    d = load_dataset(DataConfig("digits", image_size=32, train_limit=100, test_limit=50))
    assert d.train_x.shape == (100, 1, 32, 32) and d.test_x.shape == (50, 1, 32, 32)


def test_synthetic_is_seeded():
    a = load_dataset(DataConfig("synthetic", seed=1))
    b = load_dataset(DataConfig("synthetic", seed=1), root="/nonexistent")  # other cache entry
    c = load_dataset(DataConfig("synthetic", seed=2))
    assert a.train_x.shape == (2000, 3, 16, 16)
    assert torch.equal(a.train_x, b.train_x) and not torch.equal(a.train_x, c.train_x)


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10"])
def test_missing_files_give_a_clear_message_naming_directory_and_files(name, tmp_path):
    with pytest.raises(DatasetUnavailable) as err:
        load_dataset(DataConfig(name), root=tmp_path)
    msg = str(err.value)
    assert str(tmp_path) in msg
    assert ("t10k-images-idx3-ubyte" if "mnist" in name else "data_batch_1") in msg
    assert "digits" in msg  # and what works offline


def test_default_directory_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RESNET_VIZ_DATA", str(tmp_path / "sets"))
    with pytest.raises(DatasetUnavailable, match=str(tmp_path / "sets" / "MNIST" / "raw")):
        load_dataset(DataConfig("mnist"))


def _write_idx(folder, prefix, images, labels):
    folder.mkdir(parents=True, exist_ok=True)
    n, h, w = images.shape
    (folder / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, n, h, w) + images.tobytes())
    (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, n) + labels.tobytes())


@pytest.mark.parametrize("name,sub", [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_mnist_formats_load_through_torchvision(name, sub, tmp_path):
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (12, 28, 28), dtype=np.uint8)
    test = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)
    _write_idx(tmp_path / sub / "raw", "train", train, np.arange(12, dtype=np.uint8) % 10)
    _write_idx(tmp_path / sub / "raw", "t10k", test, np.arange(6, dtype=np.uint8))
    d = load_dataset(DataConfig(name), root=tmp_path)
    assert d.train_x.shape == (12, 1, 28, 28) and d.test_x.shape == (6, 1, 28, 28)
    assert d.train_y.tolist() == [i % 10 for i in range(12)]
    assert d.num_classes == 10
    # pixel order survives: standardization is monotonic within the split
    flat = torch.from_numpy(train.reshape(-1).astype(np.float32))
    assert torch.equal(torch.argsort(d.train_x.reshape(-1), stable=True), torch.argsort(flat, stable=True))


def test_cifar10_python_batches_load_through_torchvision(tmp_path, monkeypatch):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        batch = {"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8), "labels": [i % 10, (i + 1) % 10]}
        (folder / name).write_bytes(pickle.dumps(batch))
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": names}))
    # torchvision checks the official files' md5 sums (our tiny files cannot match); keep the parsing real
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda path, md5=None: os.path.isfile(path))
    d = load_dataset(DataConfig("cifar10"), root=tmp_path)
    assert d.train_x.shape == (10, 3, 32, 32) and d.test_x.shape == (2, 3, 32, 32)
    assert d.classes[0] == "airplane" and d.train_y.tolist()[:2] == [0, 1]


@pytest.mark.parametrize("kwargs,message", [
    (dict(name="imagenet"), "dataset must be one of digits, synthetic, mnist, fashion_mnist, cifar10"),
    (dict(image_size=4), "image_size must be 0 \\(native\\) or from 8 to 256"),
    (dict(train_limit=-1), "train_limit must be a whole number from 0 to"),
])
def test_bad_data_configs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DataConfig(**kwargs)


def test_cifar10_download_with_progress_and_checksum(tmp_path, served, monkeypatch):
    import hashlib

    from resnet_viz.data import Download, check_available, download_cifar10, online

    url, payload = served
    md5 = hashlib.md5(payload["data"]).hexdigest()
    root = tmp_path / "data"
    assert online(url) and not online("http://127.0.0.1:9/none", timeout=1)
    seen = []
    folder = download_cifar10(root, url, md5, chunk=256, progress=lambda done, total: seen.append((done, total)))
    assert folder == root / "cifar-10-batches-py" and sorted(p.name for p in folder.iterdir())[:2] == ["batches.meta",
                                                                                                       "data_batch_1"]
    assert seen[-1] == (len(payload["data"]), len(payload["data"])) and len(seen) > 3  # progress per chunk
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert not list(root.glob("*.part"))
    check_available(DataConfig("cifar10"), root)  # the files are where the loader looks
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda path, md5=None: os.path.isfile(path))
    assert load_dataset(DataConfig("cifar10"), root=root).train_x.shape == (10, 3, 32, 32)

    other = tmp_path / "other"
    with pytest.raises(DatasetUnavailable, match=r"damaged .* expected 0{32}\); nothing was kept"):
        download_cifar10(other, url, "0" * 32)
    assert not (other / "cifar-10-batches-py").exists() and not list(other.glob("*"))
    with pytest.raises(DatasetUnavailable, match="could not be downloaded .* put data_batch_1"):
        download_cifar10(other, "http://127.0.0.1:9/none", md5)

    job = Download(tmp_path / "threaded", url=url, md5=md5)  # what the page runs, with its progress bar
    job.thread.join(30)
    assert job.state == "done" and job.fraction == 1.0 and job.error == ""
    bad = Download(tmp_path / "bad", url=url, md5="1" * 32)
    bad.thread.join(30)
    assert bad.state == "failed" and "damaged" in bad.error
