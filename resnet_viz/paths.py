"""Where the lab keeps things on disk. Only the host chooses these (environment), never a user."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """``RESNET_VIZ_HOME``, else the user's cache directory (``$XDG_CACHE_HOME`` or ~/.cache)/resnet-viz."""
    if os.environ.get("RESNET_VIZ_HOME"):
        return Path(os.environ["RESNET_VIZ_HOME"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "resnet-viz"


def data_dir() -> Path:
    """``RESNET_VIZ_DATA``, else ``home()/data``: where MNIST, Fashion-MNIST and CIFAR-10 files go."""
    if os.environ.get("RESNET_VIZ_DATA"):
        return Path(os.environ["RESNET_VIZ_DATA"]).expanduser()
    return home() / "data"


ASSETS = Path(__file__).resolve().parents[1] / "assets"  # precomputed results shipped with the lab (read-only)
