"""The papers' own CIFAR-10 ResNets, loaded exactly into the lab's nets.

The published checkpoints are those of the most used PyTorch implementation of He et al.'s CIFAR nets
(akamaster/pytorch_resnet_cifar10, BSD 2-Clause): ResNet-20 ... ResNet-1202 with option A shortcuts, saved as
``{"state_dict": ..., "best_prec1": ...}`` with ``module.`` prefixes, file names ending in the start of the file's
sha256 (torch.hub's ``check_hash``).

Where option A's zeros go. The paper does not say. The lab pads the shortcut's new channels *after* the identity
channels (``[x, 0]``); that implementation pads half before and half after (``[0, x, 0]``). The lab keeps its
padding (every stored run, preset and asset stays valid, nothing is regenerated) and loads a published net by
permuting channels instead: a residual net computes the same function when every stage's channels are permuted
consistently (the convs' output and input channels, batch norm's, the classifier's inputs), because the
identity shortcut and the addition act channel by channel. :func:`channel_order` gives, per stage, which published
channel each lab channel is; the loaded net's logits equal the published net's to rounding
(tests/test_pretrained.py: within 1e-4 of the reference's own logits for every shipped checkpoint).
"""

from __future__ import annotations

import math
import os
import re
import threading
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from .config import NetConfig, setting, validate
from .i18n import F_, N_
from .models import ResNet
from .paths import home

URL = "https://github.com/akamaster/pytorch_resnet_cifar10/raw/master/pretrained_models/{file}"
REPOSITORY = "akamaster/pytorch_resnet_cifar10 (Yerlan Idelbayev, BSD 2-Clause)"  # a name: the same in every language
SOURCE = f"{REPOSITORY}; He et al. 2016's CIFAR-10 recipe"
# The inputs those nets were trained on: pixels in [0, 1], then per channel (upstream's trainer).
NORMALIZATION = {"mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}


@dataclass(frozen=True)
class Published:
    """One published net: its file (name ends in the sha256 prefix), depth, parameters and reported test error (%)."""

    name: str
    file: str
    depth: int
    params: int
    test_error: float


PUBLISHED = {p.name: p for p in (
    Published("cifar10-resnet20", "resnet20-12fca82f.th", 20, 269_722, 8.27),
    Published("cifar10-resnet32", "resnet32-d509ac18.th", 32, 464_154, 7.37),
    Published("cifar10-resnet44", "resnet44-014dd654.th", 44, 658_586, 6.90),
    Published("cifar10-resnet56", "resnet56-4bfd9763.th", 56, 853_018, 6.61),
    Published("cifar10-resnet110", "resnet110-1d1ed7c2.th", 110, 1_727_962, 6.32),
    Published("cifar10-resnet1202", "resnet1202-f3b1deed.th", 1202, 19_421_274, 6.18),
)}


NAMES = tuple(PUBLISHED)
TRAINED_HERE = ""  # the source of a lesson's nets when no published net is chosen
SOURCE_WORDS = {TRAINED_HERE: N_("trained here"), **{p.name: F_("published ResNet-{depth}", depth=p.depth)
                                                    for p in PUBLISHED.values()}}


@dataclass(frozen=True)
class Source:
    """Where a lesson's trained net comes from: trained here (the default) or a published CIFAR-10 ResNet, by name
    or from a checkpoint file; a published net is measured on a fixed, seeded sample of CIFAR-10's test set."""

    pretrained: str = setting(TRAINED_HERE, "study a published CIFAR-10 ResNet instead of the nets trained here",
                              choices=(TRAINED_HERE, *NAMES), words=SOURCE_WORDS, label="Source")
    weights: str = setting("", "a checkpoint file in the published format to study instead of the nets trained here")
    test_images: int = setting(500, "CIFAR-10 test images a published net is measured on (a fixed, seeded sample)",
                               low=50, high=10_000)

    def __post_init__(self) -> None:
        validate(self)
        if self.pretrained and self.weights:
            raise ValueError("choose a published net or a checkpoint file, not both")

    @property
    def active(self) -> bool:
        return bool(self.pretrained or self.weights)

    @property
    def name(self) -> str:
        """The net's name as the lesson shows it: ``cifar10-resnet110`` or the checkpoint's file name."""
        return self.pretrained or Path(self.weights).name

    @property
    def entry(self) -> Published | None:
        """The published net chosen by name (None for a checkpoint file, or none chosen)."""
        return PUBLISHED.get(self.pretrained)

    @property
    def file(self) -> Path:
        """Where its checkpoint is (or will be, once downloaded)."""
        return folder() / self.entry.file if self.entry else Path(self.weights)


def net_config(source: Source) -> NetConfig | None:
    """The lab's NetConfig of a published net by name (what its costs are counted on); None for a checkpoint file,
    whose net is known only once it is read."""
    entry = source.entry
    return None if entry is None else NetConfig("cifar", entry.depth, width=16, shortcut="A", in_channels=3)


def standard_error(accuracy: float, n: int) -> float:
    """The standard error of an accuracy measured on n images (a binomial proportion)."""
    return math.sqrt(max(accuracy * (1 - accuracy), 0.0) / n) if n else float("nan")


def folder() -> Path:
    """Where published checkpoints are kept: ``RESNET_VIZ_HOME/pretrained`` (a teacher may put the files there)."""
    return home() / "pretrained"


def _read(path: Path) -> dict[str, torch.Tensor]:
    """A checkpoint's state dict (``state_dict`` or the dict itself, ``module.`` prefixes dropped), read with
    ``weights_only=True`` (no code runs). A file that is not one says so in one line."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ValueError(f"no checkpoint at {path}") from None
    except IsADirectoryError:
        raise ValueError(f"{path} is a folder: give the checkpoint file in it") from None
    except Exception as exc:  # noqa: BLE001 - truncated zip, pickle refused, not a torch file: all one message
        if "zip" in str(exc).lower() or "EOF" in str(exc):
            raise ValueError(f"{path.name} is truncated or damaged ({type(exc).__name__}); download it again") from None
        raise ValueError(f"{path.name} is not a PyTorch checkpoint ({type(exc).__name__})") from None
    state = data.get("state_dict", data) if isinstance(data, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path.name} holds no state dict of tensors: not a checkpoint of a net")
    return {re.sub(r"^module\.", "", k): v for k, v in state.items()}


def _config(state: dict[str, torch.Tensor], name: str) -> NetConfig:
    """The lab's NetConfig for a published CIFAR ResNet's state dict (3 stages of n basic blocks, option A)."""
    blocks = {}
    for key in state:
        m = re.match(r"^layer(\d)\.(\d+)\.conv1\.weight$", key)
        if m:
            blocks[int(m.group(1))] = max(blocks.get(int(m.group(1)), 0), int(m.group(2)) + 1)
    if sorted(blocks) != [1, 2, 3] or len(set(blocks.values())) != 1 or "conv1.weight" not in state or \
            "linear.weight" not in state:
        raise ValueError(f"{name} is not a CIFAR ResNet of He et al. (three stages of basic blocks, conv1 ... linear)")
    width = state["conv1.weight"].shape[0]
    return NetConfig("cifar", 6 * blocks[1] + 2, width=width, shortcut="A", in_channels=state["conv1.weight"].shape[1],
                     num_classes=state["linear.weight"].shape[0])


def channel_order(widths: tuple[int, ...]) -> list[torch.Tensor]:
    """Per stage, the published channel of each lab channel: stage 1 is as it is; where a stage doubles the
    channels, the published net puts the old channels in the middle ([0, x, 0]) and the lab first ([x, 0])."""
    orders = [torch.arange(widths[0])]
    for before, after in zip(widths, widths[1:]):
        pad = (after - before) // 2
        previous = orders[-1]
        orders.append(torch.cat([pad + previous, torch.arange(pad), torch.arange(pad + before, after)]))
    return orders


def _lab_name(key: str) -> str:
    key = re.sub(r"^conv1\.", "stem.0.", key)
    key = re.sub(r"^bn1\.", "stem.1.", key)
    key = re.sub(r"^layer(\d)\.", lambda m: f"stages.{int(m.group(1)) - 1}.", key)
    return re.sub(r"^linear\.", "fc.", key)


def to_lab(state: dict[str, torch.Tensor], cfg: NetConfig) -> dict[str, torch.Tensor]:
    """The published weights under the lab's names, each stage's channels in the lab's order."""
    widths = tuple(cfg.width * 2 ** i for i in range(3))
    order = channel_order(widths)
    out = {}
    for key, value in state.items():
        lab = _lab_name(key)
        m = re.match(r"^stages\.(\d)\.(\d+)\.(conv|bn)(\d)\.(\w+)$", lab)
        if lab.startswith("stem."):  # the stem's output is stage 1's channels: in order
            out[lab] = value
        elif lab == "fc.weight":
            out[lab] = value[:, order[2]]
        elif m:
            stage, block, kind, index = int(m.group(1)), int(m.group(2)), m.group(3), int(m.group(4))
            entering = order[stage] if block > 0 or stage == 0 else order[stage - 1]
            if kind == "conv" and index == 1:  # reads the block's input; its outputs are the block's own
                out[lab] = value[:, entering] if value.dim() == 4 else value
            elif kind == "conv" and index == 2:  # writes the stage's channels
                out[lab] = value[order[stage]]
            elif kind == "bn" and index == 2 and value.dim() == 1:
                out[lab] = value[order[stage]]
            else:
                out[lab] = value
        else:
            out[lab] = value
    return out


def load_file(path: str | Path, name: str | None = None) -> ResNet:
    """A published checkpoint file as the lab's ResNet, in eval mode; ``model.normalization`` holds the input
    normalization it was trained with.

    Raises:
        ValueError: one line on what is wrong with the file (missing, damaged, not a checkpoint, another net).
    """
    path = Path(path)
    state = _read(path)
    cfg = _config(state, name or path.name)
    model = ResNet(cfg)
    mapped = to_lab(state, cfg)
    expected = model.state_dict()
    for key in expected:  # checkpoints from before torch 0.4.1 have no BN step counter (unused in eval)
        if key.endswith("num_batches_tracked") and key not in mapped:
            mapped[key] = torch.zeros((), dtype=torch.long)
    missing = [k for k in expected if k not in mapped]
    extra = [k for k in mapped if k not in expected]
    wrong = [k for k in expected if k in mapped and mapped[k].shape != expected[k].shape]
    if missing or extra or wrong:
        raise ValueError(f"{path.name} does not fit {cfg.name}: " + "; ".join(
            f"{what} {', '.join(keys[:3])}" for what, keys in (("missing", missing), ("unexpected", extra),
                                                               ("other shapes", wrong)) if keys))
    model.load_state_dict(mapped, strict=True)
    model.eval()
    model.normalization = NORMALIZATION  # type: ignore[attr-defined]
    return model


def load(path_or_name: str | Path, download: bool | None = None,
         progress: Callable[[int, int], None] | None = None) -> ResNet:
    """A published CIFAR-10 ResNet by name (``cifar10-resnet20`` ... ``cifar10-resnet1202``) or from a file.

    By name: the file in :func:`folder` if a teacher put it there, else downloaded with torch.hub's
    ``download_url_to_file`` (the sha256 prefix in its name checked) when downloads are allowed (``download``, default
    ``RESNET_VIZ_DOWNLOAD=1``).

    Raises:
        ValueError: an unknown name; offline without the file (naming the file and the folder); a bad file.
    """
    text = str(path_or_name)
    if text not in PUBLISHED:
        if Path(text).suffix or os.sep in text:
            return load_file(text)
        raise ValueError(f"unknown published net {text!r}; available: {', '.join(PUBLISHED)} (or a checkpoint file)")
    entry = PUBLISHED[text]
    local = folder() / entry.file
    if local.is_file():
        return load_file(local, entry.name)
    if download is None:
        download = os.environ.get("RESNET_VIZ_DOWNLOAD") == "1"
    if not download:
        raise ValueError(F_("{name} is not on this server: put {file} into {folder} (from {url}), or allow downloads "
                            "(RESNET_VIZ_DOWNLOAD=1)", name=entry.name, file=entry.file, folder=str(folder()),
                            url=URL.format(file=entry.file)))
    return load_file(fetch(entry, progress), entry.name)


def _watch(target: Path, total: int | None, progress: Callable[[int, int], None], done: threading.Event) -> None:
    """Report the bytes torch.hub has written so far: it downloads into ``<target>.<uuid>.partial`` next to it."""
    while not done.wait(0.25):
        sizes = []
        for part in target.parent.glob(f"{target.name}.*.partial"):
            try:
                sizes.append(part.stat().st_size)
            except OSError:  # renamed into place meanwhile
                pass
        progress(max(sizes, default=0), total or 0)


def _length(url: str) -> int | None:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=5) as response:
            return int(response.headers.get("Content-Length") or 0) or None
    except (OSError, ValueError):
        return None


def fetch(entry: Published, progress: Callable[[int, int], None] | None = None, url: str | None = None) -> Path:
    """Download a published checkpoint into :func:`folder` with torch.hub, its sha256 prefix checked (the file appears
    only once it matches); ``progress(bytes_done, bytes_total)`` is called as it arrives (total 0 where the server does
    not say). Only downloaded: :func:`load_file` reads it."""
    folder().mkdir(parents=True, exist_ok=True)
    url = url or URL.format(file=entry.file)
    done = threading.Event()
    if progress is not None:
        total = _length(url)
        threading.Thread(target=_watch, args=(folder() / entry.file, total, progress, done), daemon=True).start()
    try:
        torch.hub.download_url_to_file(url, str(folder() / entry.file), progress=False,
                                       hash_prefix=torch.hub.HASH_REGEX.search(entry.file).group(1))
    except RuntimeError as exc:  # torch.hub: 'invalid hash value (expected "…", got "…")'
        raise ValueError(f"the download of {entry.file} does not match its hash: {exc}") from None
    except OSError as exc:
        raise ValueError(f"cannot download {entry.file} ({exc}); put the file into {folder()}") from None
    finally:
        done.set()
    return folder() / entry.file


_LOCK = threading.Lock()


def open_source(source: Source, progress: Callable[[int, int], None] | None = None) -> ResNet:
    """The net of a :class:`Source` (a published name or a checkpoint file), shared and never changed (eval mode).

    Loaded once per process (a lock keeps two sessions from downloading the same file at once).
    Raises ValueError as :func:`load` does."""
    with _LOCK:
        model = _CACHE.get(_key(source))
        if model is None:
            # a checkpoint file is read as a file whatever its name (no suffix, or a folder, says so)
            model = load_file(source.weights) if source.weights else load(source.pretrained, progress=progress)
            _CACHE.clear()  # one net at a time: a ResNet-1202 is 78 MB
            _CACHE[_key(source)] = model  # after a download: the file's time now
        return model


_CACHE: dict[tuple, ResNet] = {}


def _key(source: Source) -> tuple:
    """A net's key in the cache: its name or file and the file's modification time (a replaced checkpoint is read
    again; 0 before it is downloaded)."""
    try:
        stamp = source.file.stat().st_mtime
    except OSError:
        stamp = 0.0
    return source.pretrained or source.weights, stamp


def test_data(source: Source, seed: int = 0, root: str | Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``source.test_images`` CIFAR-10 test images (a sample fixed by ``seed``) and labels, normalized as the
    published nets were trained (:data:`NORMALIZATION`); raises DatasetUnavailable offline without the files."""
    from .data import cifar10_images

    return cifar10_images(source.test_images, seed, NORMALIZATION["mean"], NORMALIZATION["std"], root=root)


TEST_SET = 10_000  # images in CIFAR-10's test set, on which the published errors were measured
CLASSES = (N_("airplane"), N_("automobile"), N_("bird"), N_("cat"), N_("deer"), N_("dog"), N_("frog"), N_("horse"),
           N_("ship"), N_("truck"))  # CIFAR-10's, in the order of its labels


def first_test_images(n: int, root: str | Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10's first ``n`` test images and labels, normalized as the published nets were trained."""
    from .data import cifar10_images

    return cifar10_images(n, 0, NORMALIZATION["mean"], NORMALIZATION["std"], root=root, first=True)


def train_sample(images: int, seed: int = 0, root: str | Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``images`` CIFAR-10 training images (a sample fixed by ``seed``), normalized as the published nets were
    trained: what a loss surface or a path's gradient of a published net is measured on."""
    from .data import cifar10_images

    return cifar10_images(images, seed, NORMALIZATION["mean"], NORMALIZATION["std"], train=True, root=root)


__all__ = ["CLASSES", "NAMES", "NORMALIZATION", "PUBLISHED", "Published", "REPOSITORY", "SOURCE", "Source",
           "TEST_SET", "TRAINED_HERE", "channel_order", "fetch", "first_test_images", "folder", "load", "load_file",
           "net_config", "open_source", "standard_error", "test_data", "to_lab", "train_sample"]
