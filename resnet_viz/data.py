"""Datasets, loaded whole into memory as tensors.

Batches are index slices of these tensors (airbench style): no DataLoader, no workers. Images are
float32 ``(N, C, H, W)`` standardized with the training split's per-channel mean and std; labels are
int64 ``(N,)``.
"""

from __future__ import annotations

import functools
import os
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
