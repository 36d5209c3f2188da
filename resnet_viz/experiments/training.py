"""Train one net on one dataset: the building block of the bigger experiments."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

from ..config import DataConfig, NetConfig, TrainConfig, to_dict
from ..data import load_dataset
from ..models import build_model
from ..train import fit
from . import Outcome, Progress


@dataclass(frozen=True)
class Spec:
    """One training run. ``net.in_channels``/``num_classes`` are taken from the dataset."""

    net: NetConfig = field(default_factory=NetConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    init_seed: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.init_seed, int) or self.init_seed < 0:
            raise ValueError(f"init_seed must be a whole number >= 0; got {self.init_seed!r}")


def prepare(spec: Spec):
    """Load the data and build the initialized net of a training spec: (model, data, net config)."""
    data = load_dataset(spec.data)
    net = replace(spec.net, in_channels=data.in_channels, num_classes=data.num_classes)
    return build_model(net, seed=spec.init_seed), data, net


def package(net, model, fitted) -> Outcome:
    """A fitted run as the experiment's Outcome (see :func:`run`)."""
    return Outcome({"net": to_dict(net), "name": net.name, **fitted.to_dict()}, weights={"model": model.state_dict()})


def reporter(net, total: int, progress: Progress | None):
    """The fit callback that turns step records into progress records with run, done and total."""
    def report(record: dict) -> None:
        if progress is not None:
            progress({"run": net.name, "done": record["step"], "total": total, **record})
    return report


def run(spec: Spec, progress: Progress | None = None, cancel: threading.Event | None = None) -> Outcome:
    """Train ``spec.net`` and return its history, final errors and weights.

    Returns:
        Outcome with result ``{"net", "status", "message", "final_train_error", "final_test_error",
        "final_train_loss", "seconds", "steps_done", "device", "precision", "history"}`` and weights
        ``{"model": state_dict}``.
    """
    model, data, net = prepare(spec)
    fitted = fit(model, data, spec.train, callback=reporter(net, spec.train.steps, progress), cancel=cancel)
    return package(net, model, fitted)
