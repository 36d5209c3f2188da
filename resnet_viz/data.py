"""Datasets, loaded whole into memory as tensors.

Batches are index slices of these tensors (airbench style): no DataLoader, no workers. Images are
float32 ``(N, C, H, W)`` standardized with the training split's per-channel mean and std; labels are
int64 ``(N,)``.
"""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .config import DataConfig
from .paths import data_dir


class DatasetUnavailable(ValueError):
    """A dataset's files are missing (offline); the message says where to put which files."""


@dataclass(frozen=True)
class Dataset:
    """A dataset in memory. Shared through a cache: treat the tensors as read-only."""

    name: str
    train_x: torch.Tensor  # (N, C, H, W) float32
    train_y: torch.Tensor  # (N,) int64
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: tuple[str, ...]

    @property
    def in_channels(self) -> int:
        return self.train_x.shape[1]

    @property
    def image_size(self) -> int:
        return self.train_x.shape[-1]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def to(self, device: torch.device | str) -> "Dataset":
        return replace(self, **{k: getattr(self, k).to(device) for k in ("train_x", "train_y", "test_x", "test_y")})


# Raw loaders return uint8/float arrays (N, C, H, W) and labels, before resizing and standardizing.
Raw = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[str, ...]]

NATIVE_SIZE = {"digits": 16, "synthetic": 16, "mnist": 28, "fashion_mnist": 28, "cifar10": 32}
CHANNELS = {"digits": 1, "synthetic": 3, "mnist": 1, "fashion_mnist": 1, "cifar10": 3}
CLASSES = {"digits": 10, "synthetic": 10, "mnist": 10, "fashion_mnist": 10, "cifar10": 10}
TRAIN_SIZE = {"digits": 1347, "synthetic": 2000, "mnist": 60000, "fashion_mnist": 60000, "cifar10": 50000}


def shape_of(cfg: DataConfig) -> tuple[int, int, int]:
    """(channels, image side, classes) of a dataset, known without loading it."""
    return CHANNELS[cfg.name], cfg.image_size or NATIVE_SIZE[cfg.name], CLASSES[cfg.name]
DIGIT_CLASSES = tuple(str(i) for i in range(10))


def _digits(cfg: DataConfig, root: Path) -> Raw:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()  # 1,797 real 8x8 handwritten digits, shipped inside scikit-learn
    x = bunch.images.astype(np.float32)[:, None] / 16.0
    y = bunch.target.astype(np.int64)
    # A fixed split (not cfg.seed): results stay comparable across every run of the lab.
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    return xtr, ytr, xte, yte, DIGIT_CLASSES


def _synthetic(cfg: DataConfig, root: Path, n_train: int = 2000, n_test: int = 500) -> Raw:
    """Ten classes of smooth random colour prototypes plus pixel noise, generated from the seed."""
    g = torch.Generator().manual_seed(cfg.seed)
    size = cfg.image_size or NATIVE_SIZE["synthetic"]
    protos = F.interpolate(torch.randn(10, 3, 4, 4, generator=g), size=(size, size), mode="bilinear",
                           align_corners=False)
    protos = protos / protos.flatten(1).std(1).view(-1, 1, 1, 1)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = torch.randint(0, 10, (n,), generator=g)
        x = protos[y] + 1.5 * torch.randn(n, 3, size, size, generator=g)
        return x.numpy(), y.numpy()

    xtr, ytr = draw(n_train)
    xte, yte = draw(n_test)
    return xtr, ytr, xte, yte, tuple(f"pattern {i}" for i in range(10))


_TORCHVISION_FILES = {
    "mnist": ("MNIST/raw", ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                            "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]),
    "fashion_mnist": ("FashionMNIST/raw", ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                           "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]),
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)]
                + ["test_batch", "batches.meta"]),
}
_OFFICIAL = {"mnist": "the MNIST database (unzipped)", "fashion_mnist": "Zalando's Fashion-MNIST (unzipped)",
             "cifar10": "CIFAR-10 python version (cifar-10-python.tar.gz, extracted)"}


def _missing_message(name: str, root: Path) -> str:
    sub, files = _TORCHVISION_FILES[name]
    folder = root / sub
    missing = [f for f in files if not (folder / f).exists()]
    listed = ", ".join(missing or files)
    return (f"Dataset {name!r} is not available offline: put {listed} from {_OFFICIAL[name]} into "
            f"{folder} (set RESNET_VIZ_DATA to use another directory), or allow a download where there "
            f"is internet. The 'digits' and 'synthetic' datasets need no files.")


def _torchvision(name: str) -> Callable[[DataConfig, Path, bool], Raw]:
    def load(cfg: DataConfig, root: Path, download: bool = False) -> Raw:
        import torchvision.datasets as tvd

        cls = {"mnist": tvd.MNIST, "fashion_mnist": tvd.FashionMNIST, "cifar10": tvd.CIFAR10}[name]
        try:
            train = cls(str(root), train=True, download=download)
            test = cls(str(root), train=False, download=download)
        except (RuntimeError, OSError) as exc:  # torchvision: "Dataset not found..." / network errors
            raise DatasetUnavailable(_missing_message(name, root)) from exc

        def arrays(ds) -> tuple[np.ndarray, np.ndarray]:
            x = np.asarray(ds.data)
            x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)  # (N, C, H, W)
            return x.astype(np.float32) / 255.0, np.asarray(ds.targets, dtype=np.int64)

        xtr, ytr = arrays(train)
        xte, yte = arrays(test)
        return xtr, ytr, xte, yte, tuple(str(c) for c in train.classes)

    return load


_LOADERS: dict[str, Callable] = {
    "digits": _digits,
    "synthetic": _synthetic,
    "mnist": _torchvision("mnist"),
    "fashion_mnist": _torchvision("fashion_mnist"),
    "cifar10": _torchvision("cifar10"),
}


def check_available(cfg: DataConfig, root: str | Path | None = None) -> None:
    """Raise :class:`DatasetUnavailable` (naming the files and where they go) when a dataset's files are
    missing and may not be downloaded; looks at file names only, so a page can say it at once."""
    if cfg.name not in _TORCHVISION_FILES or os.environ.get("RESNET_VIZ_DOWNLOAD") == "1":
        return
    root = Path(root) if root else data_dir()
    sub, files = _TORCHVISION_FILES[cfg.name]
    if not all((root / sub / f).exists() for f in files):
        raise DatasetUnavailable(_missing_message(cfg.name, root))


# --- downloading CIFAR-10 (where there is internet) -----------------------------------------------

def _cifar10_source() -> tuple[str, str, str]:
    """(url, md5, archive name) as torchvision declares them; RESNET_VIZ_CIFAR10_URL points elsewhere (a
    mirror, or a test's local server)."""
    from torchvision.datasets import CIFAR10

    return os.environ.get("RESNET_VIZ_CIFAR10_URL", CIFAR10.url), CIFAR10.tgz_md5, CIFAR10.filename


def cifar10_url() -> str:
    return _cifar10_source()[0]


def online(url: str | None = None, timeout: float = 3.0) -> bool:
    """Can this machine reach the CIFAR-10 server? (A HEAD request; False offline, never raises.)"""
    import urllib.request

    try:
        request = urllib.request.Request(url or _cifar10_source()[0], method="HEAD")
        with urllib.request.urlopen(request, timeout=timeout):
            return True
    except Exception:  # noqa: BLE001 - any failure means: no download offered
        return False


class Download:
    """Downloading CIFAR-10's archive into the data directory in a thread, for a page's progress bar:
    read ``fraction``, ``done_bytes``/``total_bytes``, ``state`` ("running", "done", "failed",
    "cancelled") and ``error``. The archive's MD5 (torchvision's) is checked before it is extracted; a
    mismatch or a broken transfer leaves nothing behind."""

    def __init__(self, root: str | Path | None = None, url: str | None = None, md5: str | None = None,
                 chunk: int = 1 << 20) -> None:
        source_url, source_md5, self.filename = _cifar10_source()
        self.root, self.url, self.md5 = Path(root) if root else data_dir(), url or source_url, md5 or source_md5
        self.chunk = chunk
        self.done_bytes, self.total_bytes = 0, 0
        self.state, self.error = "running", ""
        self.cancel = threading.Event()
        self.thread = threading.Thread(target=self._run, name="resnet-viz-download", daemon=True)
        self.thread.start()

    @property
    def fraction(self) -> float:
        return self.done_bytes / self.total_bytes if self.total_bytes else 0.0

    def _run(self) -> None:
        try:
            download_cifar10(self.root, self.url, self.md5, self.chunk, self._progress, self.cancel)
            self.state = "done"
        except DownloadCancelled:
            self.state = "cancelled"
        except Exception as exc:  # noqa: BLE001 - shown on the page
            self.state, self.error = "failed", str(exc)

    def _progress(self, done: int, total: int) -> None:
        self.done_bytes, self.total_bytes = done, total


class DownloadCancelled(Exception):
    pass


def download_cifar10(root: str | Path | None = None, url: str | None = None, md5: str | None = None,
                     chunk: int = 1 << 20, progress: Callable[[int, int], None] | None = None,
                     cancel=None) -> Path:
    """Download CIFAR-10 (python version), check its MD5, extract it into ``root`` (the data directory).

    Args:
        progress: called with (bytes so far, total bytes) after every chunk.
        cancel: an Event; when set, the download stops and leaves nothing behind.

    Returns:
        The extracted folder (``root/cifar-10-batches-py``).

    Raises:
        DatasetUnavailable: the server cannot be reached, the transfer broke, or the checksum differs.
    """
    import hashlib
    import tarfile
    import urllib.request

    source_url, source_md5, name = _cifar10_source()
    url, md5 = url or source_url, md5 or source_md5
    root = Path(root) if root else data_dir()
    root.mkdir(parents=True, exist_ok=True)
    part = root / (name + ".part")
    digest = hashlib.md5()
    try:
        with urllib.request.urlopen(url, timeout=30) as response, open(part, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            while block := response.read(chunk):
                if cancel is not None and cancel.is_set():
                    raise DownloadCancelled()
                out.write(block)
                digest.update(block)
                done += len(block)
                if progress is not None:
                    progress(done, total or done)
        if digest.hexdigest() != md5:
            raise DatasetUnavailable(f"the downloaded CIFAR-10 archive is damaged (MD5 {digest.hexdigest()}, expected "
                                     f"{md5}); nothing was kept. Try again.")
        with tarfile.open(part, "r:gz") as archive:
            if hasattr(tarfile, "data_filter"):
                archive.extractall(root, filter="data")  # no absolute paths, links or devices from an archive
            else:  # Python before 3.10.12 / 3.11.4: the same rule by hand
                members = archive.getmembers()
                if any(m.name.startswith("/") or ".." in Path(m.name).parts or not (m.isfile() or m.isdir())
                       for m in members):
                    raise DatasetUnavailable("the CIFAR-10 archive holds unexpected entries; nothing was extracted")
                archive.extractall(root, members=members)
    except OSError as exc:
        raise DatasetUnavailable(f"CIFAR-10 could not be downloaded from {url} ({exc}); nothing was kept. "
                                 + _missing_message("cifar10", root)) from None
    finally:
        part.unlink(missing_ok=True)
    _load_cached.cache_clear()
    return root / _TORCHVISION_FILES["cifar10"][0]


def list_datasets() -> list[str]:
    return list(_LOADERS)


def _subset(x: np.ndarray, y: np.ndarray, limit: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    if not limit or limit >= len(y):
        return x, y
    idx = np.random.default_rng(seed).permutation(len(y))[:limit]
    return x[idx], y[idx]


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    if x.shape[-1] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


def load_dataset(cfg: DataConfig = DataConfig(), root: str | Path | None = None,
                 download: bool | None = None) -> Dataset:
    """Load a dataset whole into memory (cached per config and directory).

    Args:
        cfg: which dataset, size and subsets.
        root: directory of the torchvision datasets (default :func:`resnet_viz.paths.data_dir`).
        download: let torchvision download missing files (needs internet); default: the
            ``RESNET_VIZ_DOWNLOAD`` environment variable ("1" allows it), else no.

    Raises:
        DatasetUnavailable: files missing offline; the message names the directory and files.
    """
    if download is None:
        download = os.environ.get("RESNET_VIZ_DOWNLOAD") == "1"
    return _load_cached(cfg, Path(root) if root else data_dir(), download)


def cifar10_images(limit: int, seed: int, mean: tuple[float, ...], std: tuple[float, ...], train: bool = False,
                   root: str | Path | None = None, download: bool | None = None,
                   first: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """``limit`` images of CIFAR-10's test set (or training set: ``train``), a sample fixed by ``seed`` (the whole
    split when ``limit`` reaches its size; the first ``limit`` images with ``first``), and their labels; pixels in [0, 1] normalized per channel with the given
    ``mean`` and ``std`` (a published net's own), at 32x32.

    Raises:
        DatasetUnavailable: the files are missing offline (the message names them and the folder).
    """
    if download is None:
        download = os.environ.get("RESNET_VIZ_DOWNLOAD") == "1"
    return _cifar10_images(limit, None if first else seed, tuple(mean), tuple(std), train,
                           Path(root) if root else data_dir(), download)


@functools.lru_cache(maxsize=4)
def _cifar10_images(limit: int, seed: int | None, mean: tuple, std: tuple, train: bool, root: Path, download: bool):
    import torchvision.datasets as tvd

    try:
        split = tvd.CIFAR10(str(root), train=train, download=download)
    except (RuntimeError, OSError) as exc:
        raise DatasetUnavailable(_missing_message("cifar10", root)) from exc
    x, y = np.asarray(split.data), np.asarray(split.targets, dtype=np.int64)
    x, y = (x[:limit], y[:limit]) if seed is None else _subset(x, y, limit, seed)  # then to floats
    x = x.transpose(0, 3, 1, 2).astype(np.float32) / 255.0
    m = torch.tensor(mean).view(1, -1, 1, 1)
    s = torch.tensor(std).view(1, -1, 1, 1)
    return ((torch.from_numpy(np.ascontiguousarray(x)) - m) / s).contiguous(), torch.from_numpy(np.ascontiguousarray(y))


@functools.lru_cache(maxsize=8)
def _load_cached(cfg: DataConfig, root: Path, download: bool) -> Dataset:
    if cfg.name in _TORCHVISION_FILES:
        xtr, ytr, xte, yte, classes = _LOADERS[cfg.name](cfg, root, download)
    else:
        xtr, ytr, xte, yte, classes = _LOADERS[cfg.name](cfg, root)
    xtr, ytr = _subset(xtr, ytr, cfg.train_limit, cfg.seed)
    xte, yte = _subset(xte, yte, cfg.test_limit, cfg.seed + 1)
    size = cfg.image_size or NATIVE_SIZE[cfg.name]
    train_x = _resize(torch.from_numpy(np.ascontiguousarray(xtr)), size)
    test_x = _resize(torch.from_numpy(np.ascontiguousarray(xte)), size)
    mean = train_x.mean(dim=(0, 2, 3), keepdim=True)
    std = train_x.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    return Dataset(
        name=cfg.name,
        train_x=((train_x - mean) / std).contiguous(),
        train_y=torch.from_numpy(np.ascontiguousarray(ytr)),
        test_x=((test_x - mean) / std).contiguous(),
        test_y=torch.from_numpy(np.ascontiguousarray(yte)),
        classes=classes,
    )
