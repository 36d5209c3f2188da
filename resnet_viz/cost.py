"""Predicted seconds and memory of training runs, without training anything here.

``seconds = (3 x counted forward multiply-adds per image x images seen) / throughput``, where the
throughput (multiply-adds per second of training, forward and backward) is measured once in a
worker process, with the threads, precision and step function a job gets (:func:`calibrate`), and
kept in ``RESNET_VIZ_HOME/throughput.json``. The server only reads that file: it never times
training steps itself and never changes torch's process-wide thread count (it did both before,
once per distinct setting, as students moved sliders).

Memory is checked before anything starts, from the activations counted on the meta device, so that
a number a user typed cannot end in an out-of-memory kill.
"""

from __future__ import annotations

import functools
import json
import math
import os
import platform
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable

import torch

from .config import DataConfig, NetConfig, TrainConfig
from .data import TRAIN_SIZE, shape_of
from .host import job_threads
from .i18n import N_
from .paths import home

CALIBRATION_WIDTHS = (4, 8, 16, 32)  # throughput grows with width (bigger matrices): measured per width


def _net_for(net: NetConfig, data: DataConfig) -> NetConfig:
    channels, _, classes = shape_of(data)
    return replace(net, in_channels=channels, num_classes=classes)


@functools.lru_cache(maxsize=256)
def forward_macs(net: NetConfig, data: DataConfig) -> int:
    """Counted multiply-adds of one forward pass of one image (``torch.utils.flop_counter``)."""
    from .counting import count

    return count(_net_for(net, data), shape_of(data)[1])["macs"]


@functools.lru_cache(maxsize=256)
def activation_elements(net: NetConfig, data: DataConfig) -> int:
    """Elements of every module output for one image, counted on the meta device (no memory, no math)."""
    from .models import ResNet

    size = shape_of(data)[1]
    total = 0

    def hook(module, inputs, output) -> None:
        nonlocal total
        if isinstance(output, torch.Tensor):
            total += output[0].numel()

    with torch.device("meta"):
        model = ResNet(_net_for(net, data))
        handles = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]
        model(torch.zeros(1, shape_of(data)[0], size, size))
    for h in handles:
        h.remove()
    return total


def _device_key(device: str) -> str:
    from .train import resolve_device, resolve_precision

    resolved = resolve_device(device)
    threads = job_threads() if resolved.type == "cpu" else 0
    return (f"{resolved.type}|{resolve_precision('auto', resolved)}|{threads} threads|torch {torch.__version__}|"
            f"{platform.machine()}")


def _file() -> Path:
    return home() / "throughput.json"


def throughput(device: str = "auto") -> dict[int, float] | None:
    """Measured training multiply-adds per second by first-stage width on this host, or None when no
    worker has measured it yet (:func:`calibrate`)."""
    try:
        table = json.loads(_file().read_text()).get(_device_key(device))
    except (OSError, ValueError, AttributeError):
        return None
    if not isinstance(table, dict) or not table:
        return None
    return {int(w): float(r) for w, r in table.items()}


def _rate(table: dict[int, float], width: int) -> float:
    """Throughput at ``width``: interpolated in log-width between the measured widths."""
    ws = sorted(table)
    if width <= ws[0]:
        return table[ws[0]]
    if width >= ws[-1]:
        return table[ws[-1]]
    for lo, hi in zip(ws, ws[1:]):
        if lo <= width <= hi:
            t = math.log(width / lo) / math.log(hi / lo)
            return table[lo] ** (1 - t) * table[hi] ** t
    return table[ws[-1]]


def _train_images(data: DataConfig) -> int:
    return min(data.train_limit or TRAIN_SIZE[data.name], TRAIN_SIZE[data.name])


def training_seconds(runs: Iterable[Any]) -> float | None:
    """Predicted seconds of training runs (objects with ``net``, ``data``, ``train``: an experiment's
    ``training_runs``) one after another (None before the throughput is known).

    Per run: 3 x forward MACs x batch x steps (training), plus forward passes over the test split at
    each checkpoint and over both splits at the end, divided by the measured throughput.
    """
    runs = list(runs)
    if not runs:
        return 0.0
    table = throughput(runs[0].train.device)
    if table is None:
        return None
    total = 0.0
    for run in runs:
        net, data, train = run.net, run.data, run.train
        macs = forward_macs(net, data)
        n_train = _train_images(data)
        n_test = max(1, n_train // 3)
        checkpoints = (train.steps // train.eval_every) if train.eval_every else 0
        images = 3 * train.steps * min(train.batch_size, n_train) + (checkpoints + 1) * n_test + n_train
        total += images * macs / _rate(table, net.width)
    return total


def forward_seconds(net: NetConfig, data: DataConfig, images: int, device: str = "auto") -> float | None:
    """Predicted seconds of ``images`` forward passes (evaluation) of a net; None before calibration."""
    table = throughput(device)
    if table is None:
        return None
    return images * forward_macs(net, data) / _rate(table, net.width)


def calibrate(device: str = "auto", steps: int = 3) -> dict[int, float]:
    """Measure training throughput here, as a job trains (same step function, precision, memory
    format and threads), and save it for the server to read. Run in a worker process: it sets
    torch's thread count to the job's.

    Returns:
        width -> training multiply-adds per second.
    """
    from .data import load_dataset
    from .models import build_model
    from .train import resolve_device, time_steps

    resolved = resolve_device(device)
    if resolved.type == "cpu":
        torch.set_num_threads(job_threads())
    data_cfg = DataConfig("synthetic")
    data = load_dataset(data_cfg)
    table = {}
    for width in CALIBRATION_WIDTHS:
        net = NetConfig(depth=14, width=width)
        model = build_model(_net_for(net, data_cfg), seed=0)
        seconds = time_steps(model, data, 128, resolved, steps=steps)
        table[width] = 3 * 128 * forward_macs(net, data_cfg) / seconds
    save_throughput(table, device)
    return table


def save_throughput(table: dict[int, float], device: str = "auto") -> None:
    """Record a measured throughput table for this host (atomically)."""
    from .store import _write_json

    path = _file()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        known = json.loads(path.read_text())
        known = known if isinstance(known, dict) else {}
    except (OSError, ValueError):
        known = {}
    known[_device_key(device)] = {str(w): r for w, r in table.items()}
    known["measured"] = time.time()
    _write_json(path, known)


# --- memory -----------------------------------------------------------------------------------------

BYTES_PER_ACTIVATION = 4 * 4  # fp32, and about four saved tensors per output in training (conv, BN, act, add)


def available_memory(device: str = "auto") -> int:
    """Bytes free for a run: the GPU's free memory, else MemAvailable of this machine."""
    from .train import resolve_device

    resolved = resolve_device(device)
    if resolved.type == "cuda":
        return int(torch.cuda.mem_get_info(resolved)[0])
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))


def memory_bytes(net: NetConfig, data: DataConfig, train: TrainConfig) -> int:
    """Peak bytes one training run needs: the dataset in memory, weights with gradients and momentum,
    and the activations of one batch kept for the backward pass."""
    channels, size, _ = shape_of(data)
    n_train = _train_images(data)
    dataset = (n_train * 4 // 3) * channels * size * size * 4 * 2  # both splits; resizing keeps a copy
    batch = min(train.batch_size, n_train)
    activations = batch * activation_elements(net, data) * BYTES_PER_ACTIVATION
    params = forward_params(net, data) * 4 * 3
    return dataset + activations + params


@functools.lru_cache(maxsize=256)
def forward_params(net: NetConfig, data: DataConfig) -> int:
    from .models import ResNet

    with torch.device("meta"):
        return sum(p.numel() for p in ResNet(_net_for(net, data)).parameters())


def check_memory(runs: list[Any]) -> None:
    """Raise ValueError (with what to change) when training runs (objects with ``net``, ``data``,
    ``train``) would not fit in this machine's memory, counting those that train at once
    (:func:`resnet_viz.train.parallel_workers`)."""
    from .train import parallel_workers, resolve_device

    if not runs:
        return
    device = runs[0].train.device
    need = sorted((memory_bytes(r.net, r.data, r.train) for r in runs), reverse=True)
    peak = sum(need[:parallel_workers(len(runs), resolve_device(device))])
    free = available_memory(device)
    if peak > 0.8 * free:
        net, data, train = runs[0].net, runs[0].data, runs[0].train
        raise ValueError(f"this run would need about {peak / 2**30:.1f} GB of memory (batch {train.batch_size}, "
                         f"width {net.width}, depth up to {max(r.net.depth for r in runs)}, {shape_of(data)[1]} px "
                         f"images), but this machine has {free / 2**30:.1f} GB free; pick a smaller batch size, "
                         "width, depth or image size")


def describe(seconds: float | None) -> str:
    """Text for an estimate that may not be known yet."""
    from .units import format_duration

    if seconds is None:
        return N_("an estimate follows in a moment (this server is measuring its speed)")
    return format_duration(seconds)


__all__ = ["activation_elements", "calibrate", "check_memory", "forward_macs", "forward_seconds", "memory_bytes",
           "save_throughput", "throughput", "training_seconds"]
