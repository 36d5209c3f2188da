"""Degradation (He et al. 2016, Fig. 1 and 6): training error vs depth, plain vs residual.

Every (seed x depth x variant) is trained with the same data, batch order, recipe and parameter
count (option A shortcuts add no weights), so the only difference between plain and residual is
the shortcut itself.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import torch

from ..config import DATASET_NAMES, DataConfig, NetConfig, TrainConfig, cifar_blocks_per_stage
from ..data import load_dataset
from ..models import build_model
from ..train import fit_many, resolve_device, time_steps
from . import VARIANTS, Outcome, Progress, check_variants, check_width, training
MAX_DEPTHS = 6
MAX_SEEDS = 5


@dataclass(frozen=True)
class Spec:
    """A degradation experiment.

    Args:
        dataset: a dataset name (default "digits", offline).
        depths: CIFAR-family depths to compare (6n+2 for basic/preact blocks, 9n+2 for bottleneck).
        variants: "plain" and/or "residual".
        width: first-stage channels.
        steps: SGD steps per run.
        batch_size: images per step.
        lr: learning rate (constant; momentum 0.9 and weight decay 1e-4 as in the paper).
        seeds: one run per seed for every depth and variant (init and batch order).
        block: "basic", "preact" or "bottleneck".
        shortcut: "A", "B" or "C" (residual runs only).
        eval_every: test-error checkpoint interval in steps.
        device: "auto", "cpu", "cuda" or "mps" (part of the spec: CPU and GPU results are kept apart).
    """

    dataset: str = "digits"
    depths: tuple[int, ...] = (20, 56)
    variants: tuple[str, ...] = VARIANTS
    width: int = 8
    steps: int = 300
    batch_size: int = 128
    lr: float = 0.1
    seeds: tuple[int, ...] = (0,)
    block: str = "basic"
    shortcut: str = "A"
    eval_every: int = 50
    device: str = "auto"

    def __post_init__(self) -> None:
        for name in ("depths", "variants", "seeds"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        if self.dataset not in DATASET_NAMES:
            raise ValueError(f"dataset must be one of {', '.join(DATASET_NAMES)}; got {self.dataset!r}")
        if not self.depths or len(self.depths) > MAX_DEPTHS or len(set(self.depths)) != len(self.depths):
            raise ValueError(f"depths must be 1 to {MAX_DEPTHS} different depths; got {self.depths!r}")
        for depth in self.depths:
            if not isinstance(depth, int) or isinstance(depth, bool):
                raise ValueError(f"depths must be whole numbers; got {depth!r}")
            cifar_blocks_per_stage(depth, self.block)
        if not self.seeds or len(self.seeds) > MAX_SEEDS or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be 1 to {MAX_SEEDS} different whole numbers; got {self.seeds!r}")
        object.__setattr__(self, "depths", tuple(sorted(self.depths)))
        object.__setattr__(self, "variants", check_variants(self.variants))
        check_width(self.width)
        self.runs()  # building the configs validates width, block, shortcut, steps, lr, ...

    def runs(self) -> list[training.Spec]:
        """One training spec per (seed, depth, variant), shallow and plain first."""
        data = DataConfig(self.dataset)
        return [
            training.Spec(
                net=NetConfig(depth=depth, block=self.block, residual=variant == "residual",
                              shortcut=self.shortcut, width=self.width),
                data=data,
                train=TrainConfig(steps=self.steps, batch_size=self.batch_size, lr=self.lr,
                                  eval_every=self.eval_every, seed=seed, device=self.device),
                init_seed=seed,
            )
            for seed in self.seeds for depth in self.depths for variant in self.variants
        ]


PRESET = Spec()  # the lesson: digits, plain and residual 20 vs 56, 300 steps (about a minute or two on a laptop CPU)


def _variant(run: training.Spec) -> str:
    return "residual" if run.net.residual else "plain"


def run(spec: Spec, progress: Progress | None = None, cancel: threading.Event | None = None) -> Outcome:
    """Train every (seed, depth, variant) of ``spec``; on a multi-core CPU several at once
    (:func:`resnet_viz.train.fit_many`), each exactly as it would train alone.

    Progress records carry the run's variant, depth and seed, its step metrics, and ``fraction``:
    the share of the whole experiment done, weighting each run by its depth (time per step grows
    about linearly with depth).

    Returns:
        Outcome with result ``{"runs": [{"variant", "depth", "seed", "status", "message",
        "final_train_error", "final_test_error", "final_train_loss", "seconds", "device",
        "precision", "history": [{"step", "train_loss", "train_error"[, "test_error"]}, ...]}, ...],
        "status"}`` and the weights of every run, named like ``plain_56_s0``.
    """
    runs = spec.runs()
    weights_of = [r.net.depth * r.train.steps for r in runs]
    total_weight = sum(weights_of)
    done = [0.0] * len(runs)
    lock = threading.Lock()
    prepared = [training.prepare(sub) for sub in runs]  # built in order: the init seeds use the global RNG
    jobs = []
    for i, (sub, (model, data, net)) in enumerate(zip(runs, prepared)):
        def report(rec: dict, i=i, sub=sub, name=net.name) -> None:
            with lock:  # runs may train in parallel threads: keep the reported fraction monotone
                done[i] = weights_of[i] * rec["step"] / sub.train.steps
                if progress is not None:
                    progress({**rec, "run": name, "done": rec["step"], "total": sub.train.steps,
                              "variant": _variant(sub), "depth": sub.net.depth, "seed": sub.init_seed,
                              "run_index": i, "runs": len(runs), "fraction": sum(done) / total_weight})
        jobs.append((model, data, sub.train, report))
    fitted = fit_many(jobs, cancel)
    results, weights = [], {}
    status = "cancelled" if any(f.status == "cancelled" for f in fitted) else "completed"
    for sub, (model, _, net), f in zip(runs, prepared, fitted):
        if status == "cancelled":
            break
        r = training.package(net, model, f).result
        variant, depth, seed = _variant(sub), sub.net.depth, sub.init_seed
        history = [{k: h[k] for k in ("step", "train_loss", "train_error", "test_error") if k in h}
                   for h in r["history"]]
        results.append({"variant": variant, "depth": depth, "seed": seed, "status": r["status"],
                        "message": r["message"], "final_train_error": r["final_train_error"],
                        "final_test_error": r["final_test_error"], "final_train_loss": r["final_train_loss"],
                        "seconds": r["seconds"], "device": r["device"], "precision": r["precision"],
                        "history": history})
        weights[f"{variant}_{depth}_s{seed}"] = model.state_dict()
    return Outcome({"status": status, "runs": results}, weights=weights)


_step_seconds: dict[tuple, float] = {}


def estimate_seconds(spec: Spec) -> float:
    """Seconds the experiment should take here, from timing a few real training steps per depth.

    Each distinct (depth, width, block, batch, image size, device) is timed once per process.
    """
    data = load_dataset(DataConfig(spec.dataset))
    device = resolve_device(spec.device)
    batch = min(spec.batch_size, len(data.train_y))
    total = 0.0
    for depth in spec.depths:
        key = (depth, spec.width, spec.block, batch, data.in_channels, data.image_size, str(device))
        if key not in _step_seconds:
            net = NetConfig(depth=depth, block=spec.block, width=spec.width, in_channels=data.in_channels,
                            num_classes=data.num_classes)
            _step_seconds[key] = _time_steps(build_model(net, seed=0).to(device), data, batch, device)
        per_run = _step_seconds[key] * spec.steps * 1.05  # + periodic test-error checkpoints
        total += per_run * len(spec.variants) * len(spec.seeds)
    return total


def _time_steps(model: torch.nn.Module, data, batch: int, device: torch.device, steps: int = 3) -> float:
    """Seconds of one training step, timed with the torch threads a background job gets."""
    from ..jobs import job_threads

    before = torch.get_num_threads()
    torch.set_num_threads(job_threads())
    try:
        return time_steps(model, data, batch, device, steps=steps)
    finally:
        torch.set_num_threads(before)


__all__ = ["PRESET", "Spec", "VARIANTS", "estimate_seconds", "run"]


# --- tidy tables: the contract between this experiment and the figures ---------------------------

def history_frame(records: list[dict]):
    """Per-step records (a result's run histories, or live job records) as a tidy DataFrame.

    Columns: variant, depth, seed, step, train_loss, train_error, test_error (NaN between checkpoints).
    """
    import pandas as pd

    cols = ["variant", "depth", "seed", "step", "train_loss", "train_error", "test_error"]
    return pd.DataFrame.from_records(records, columns=cols)


def result_history(result: dict) -> list[dict]:
    """Flatten a result's runs into per-step records with variant, depth and seed."""
    return [{"variant": r["variant"], "depth": r["depth"], "seed": r["seed"], **h}
            for r in result["runs"] for h in r["history"]]


def summary_frame(result: dict):
    """One row per run: variant, depth, seed, final train/test error (full splits, eval mode), seconds."""
    import pandas as pd

    cols = ["variant", "depth", "seed", "final_train_error", "final_test_error", "seconds", "status"]
    return pd.DataFrame.from_records([{c: r.get(c) for c in cols} for r in result["runs"]], columns=cols)
