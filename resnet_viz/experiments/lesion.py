"""Residual nets as ensembles (Veit et al. 2016): train a plain and a residual net, then lesion them.

The two nets are ordinary "train" runs, trained through :func:`run_cached` so that they land in the
run store and are reused (by this experiment, the page's block toggles and the attribution page).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import torch

from ..config import DATASET_NAMES, DataConfig, NetConfig, TrainConfig
from ..data import load_dataset
from ..lesion import accuracy, adjacent_pairs, path_lengths, random_drops, random_swaps, shape_keeping_blocks, single_block
from ..models import ResNet, build_model
from ..store import RunStore
from . import VARIANTS, Outcome, Progress, check_width, run_cached, training

USES_STORE = True  # run() takes the store, to reuse and keep the trained nets


@dataclass(frozen=True)
class Spec:
    """A lesion experiment.

    Args:
        dataset: dataset name (default "digits", offline).
        depth: CIFAR-family depth of both nets (6n+2).
        width: first-stage channels.
        steps, batch_size, lr: the training recipe (momentum 0.9, weight decay 1e-4, constant lr).
        seed: init and batch order of both nets; also the seed of the random lesions.
        samples: random draws per k for the drop and swap curves.
        max_k: the curves go from 0 to this many dropped blocks or swaps.
        device: "auto", "cpu", "cuda" or "mps".
    """

    dataset: str = "digits"
    depth: int = 56
    width: int = 8
    steps: int = 400
    batch_size: int = 128
    lr: float = 0.1
    seed: int = 0
    samples: int = 8
    max_k: int = 8
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.dataset not in DATASET_NAMES:
            raise ValueError(f"dataset must be one of {', '.join(DATASET_NAMES)}; got {self.dataset!r}")
        check_width(self.width)
        for name, value, top in (("samples", self.samples, 100), ("max_k", self.max_k, 50)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
                raise ValueError(f"{name} must be a whole number from 1 to {top}; got {value!r}")
        self.train_specs()  # validates depth, steps, batch size, lr, device

    def train_specs(self) -> list[training.Spec]:
        """The plain and the residual net, as ordinary training runs (plain first)."""
        return [training.Spec(net=NetConfig(depth=self.depth, residual=v == "residual", width=self.width),
                              data=DataConfig(self.dataset),
                              train=TrainConfig(steps=self.steps, batch_size=self.batch_size, lr=self.lr,
                                                eval_every=100, seed=self.seed, device=self.device),
                              init_seed=self.seed)
                for v in VARIANTS]


PRESET = Spec()


def trained_model(sub: training.Spec, weights: dict[str, torch.Tensor]) -> ResNet:
    """Rebuild a trained net of a training spec from its stored weights (CPU, eval mode)."""
    model = training.prepare(sub)[0]
    model.load_state_dict(weights)
    return model.eval()


def analyse(model: ResNet, x: torch.Tensor, y: torch.Tensor, spec: Spec) -> dict:
    """Base accuracy, every single-block lesion, and the random drop and swap curves."""
    ks = range(0, min(spec.max_k, len(shape_keeping_blocks(model))) + 1)
    return {"base_test_accuracy": accuracy(model, x, y), "single_block": single_block(model, x, y),
            "random_k": random_drops(model, x, y, ks, spec.samples, spec.seed),
            "swaps": random_swaps(model, x, y, ks if adjacent_pairs(model) else [0], spec.samples, spec.seed)}


def run(spec: Spec, progress: Progress | None = None, cancel: threading.Event | None = None,
        store: RunStore | None = None) -> Outcome:
    """Train (or reuse) the plain and the residual net, then lesion both.

    Returns:
        Outcome with result ``{"status", "blocks", "path_lengths": [{"length", "paths", "share"}],
        "runs": [{"variant", "depth", "base_test_accuracy", "single_block": [{"block", "stage",
        "droppable", "changes_shape", "test_accuracy"}], "random_k": [{"k", "mean_test_accuracy",
        "std", "samples"}], "swaps": [...], "train_key", "final_train_error", "final_test_error",
        "trained_now"}]}``. The weights stay with the training runs (``train_key``).
    """
    data = load_dataset(DataConfig(spec.dataset))
    subs = spec.train_specs()
    runs, status = [], "completed"
    for i, sub in enumerate(subs):
        variant = VARIANTS[i]

        def report(rec: dict, i=i, variant=variant) -> None:
            if progress is not None:
                progress({**rec, "variant": variant, "depth": spec.depth, "run_index": i, "runs": len(subs),
                          "fraction": (i + 0.85 * rec["done"] / rec["total"]) / len(subs)})

        trained = run_cached("train", sub, store, progress=report, cancel=cancel)
        if trained.result["status"] == "cancelled":
            status = "cancelled"
            break
        weights = store.load_weights(trained.key) if trained.from_store else trained.weights["model"]
        model = trained_model(sub, weights)
        r = trained.result
        runs.append({"variant": variant, "depth": spec.depth, **analyse(model, data.test_x, data.test_y, spec),
                     "train_key": trained.key, "final_train_error": r["final_train_error"],
                     "final_test_error": r["final_test_error"], "trained_now": not trained.from_store})
        if progress is not None:
            progress({"run": f"lesions of {variant}-{spec.depth}", "variant": variant, "depth": spec.depth,
                      "run_index": i, "runs": len(subs), "done": spec.steps, "total": spec.steps,
                      "fraction": (i + 1) / len(subs)})
    n = len(runs[-1]["single_block"]) if runs else 0
    return Outcome({"status": status, "blocks": n, "path_lengths": path_lengths(n) if n else [], "runs": runs})


def estimate_seconds(spec: Spec) -> float:
    """Training time of the two nets (timed from real steps, as the degradation estimate) plus the
    lesions: about (1 + number of blocks + 2 x max_k x samples) test-set evaluations per net."""
    from . import degradation

    train = degradation.estimate_seconds(degradation.Spec(dataset=spec.dataset, depths=(spec.depth,), width=spec.width,
                                                          steps=spec.steps, batch_size=spec.batch_size,
                                                          device=spec.device))
    blocks = 3 * (spec.depth - 2) // 6
    evals = 2 * (1 + blocks + 2 * spec.max_k * spec.samples)
    return train + evals * _eval_seconds(spec)


def _eval_seconds(spec: Spec) -> float:
    """Seconds of one test-set evaluation of the net, timed once (after a warm-up)."""
    import time

    data = load_dataset(DataConfig(spec.dataset))
    model = build_model(NetConfig(depth=spec.depth, width=spec.width, in_channels=data.in_channels,
                                  num_classes=data.num_classes), seed=0)
    accuracy(model, data.test_x, data.test_y)
    start = time.perf_counter()
    accuracy(model, data.test_x, data.test_y)
    return time.perf_counter() - start


__all__ = ["PRESET", "Spec", "analyse", "estimate_seconds", "run", "trained_model"]
