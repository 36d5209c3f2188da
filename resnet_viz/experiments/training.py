"""Train one net on one dataset: the building block of the bigger experiments."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Callable

from .. import cost as costs
from ..config import DataConfig, NetConfig, TrainConfig, nested, to_dict, validate
from ..data import load_dataset
from ..models import build_model
from ..protocol import Context, Experiment, Outcome, Progress
from ..train import FitResult, fit, fit_many
from . import register


@dataclass(frozen=True)
class Spec:
    """One training run; ``train.seed`` seeds the initialization and the batch order.
    ``net.in_channels``/``num_classes`` are taken from the dataset."""

    net: NetConfig = nested(NetConfig, expose=("depth", "block", "residual", "shortcut", "width", "activation",
                                               "batchnorm", "init", "shortcut_kind", "scale", "scale_branch",
                                               "gate_bias", "dropout", "stochastic_depth", "residual_scale"))
    data: DataConfig = nested(DataConfig, expose=("name", "image_size", "train_limit", "seed"))
    train: TrainConfig = nested(TrainConfig, expose=("steps", "batch_size", "lr", "momentum", "weight_decay",
                                                     "schedule", "eval_every", "seed", "device", "precision"))

    def __post_init__(self) -> None:
        validate(self)


def training_runs(spec: Spec) -> list[Spec]:
    return [spec]


def cost(spec: Spec) -> float | None:
    return costs.training_seconds([spec])


def prepare(spec: Spec):
    """Load the data and build the initialized net of a training spec: (model, data, net config)."""
    data = load_dataset(spec.data)
    net = replace(spec.net, in_channels=data.in_channels, num_classes=data.num_classes)
    return build_model(net, seed=spec.train.seed), data, net


def package(net, model, fitted) -> Outcome:
    """A fitted run as the experiment's Outcome (see :func:`run`)."""
    return Outcome({"net": to_dict(net), "name": net.name, **fitted.to_dict()}, weights={"model": model.state_dict()})


def reporter(net, total: int, progress: Progress | None):
    """The fit callback that turns step records into progress records with run, done and total."""
    def report(record: dict) -> None:
        if progress is not None:
            progress({"run": net.name, "done": record["step"], "total": total, **record})
    return report


def fit_all(runs: list[Spec], ctx: Context, tags: Callable[[Spec], dict],
            prepared: list | None = None) -> tuple[str, list[tuple]]:
    """Train several runs at once (:func:`resnet_viz.train.fit_many`: on a multi-core CPU several in
    parallel, each exactly as it would train alone), reporting progress.

    Progress records carry the run's name, its step metrics, ``tags(run)``, ``run_index``, ``runs``
    and ``fraction``: the share of everything done, weighting each run by depth x steps (time per
    step grows about linearly with depth).

    Args:
        runs: the training specs.
        ctx: progress and cancellation.
        tags: extra fields of a run's progress records (variant, depth, ...).
        prepared: (model, data, net) per run from :func:`prepare`, when the caller needs the nets
            before training (built in order: the init seeds use the global generator).

    Returns:
        ("completed" or "cancelled", [(model, net, FitResult)] per run).
    """
    weights_of = [r.net.depth * r.train.steps for r in runs]
    total_weight = sum(weights_of)
    done = [0.0] * len(runs)
    lock = threading.Lock()
    prepared = prepared if prepared is not None else [prepare(sub) for sub in runs]
    jobs = []
    for i, (sub, (model, data, net)) in enumerate(zip(runs, prepared)):
        def report(rec: dict, i=i, sub=sub, name=net.name) -> None:
            with lock:  # runs may train in parallel threads: keep the reported fraction monotone
                done[i] = weights_of[i] * rec["step"] / sub.train.steps
                ctx.report({**rec, "run": name, "done": rec["step"], "total": sub.train.steps, **tags(sub),
                            "run_index": i, "runs": len(runs), "fraction": sum(done) / total_weight})
        jobs.append((model, data, sub.train, report))
    fitted: list[FitResult] = fit_many(jobs, ctx.cancel)
    status = "cancelled" if any(f.status == "cancelled" for f in fitted) else "completed"
    return status, [(model, net, f) for (model, _, net), f in zip(prepared, fitted)]


def history(fitted: FitResult) -> list[dict]:
    """A run's per-step records with the fields the experiments keep (no learning rate)."""
    return [{k: h[k] for k in ("step", "train_loss", "train_error", "test_error") if k in h} for h in fitted.history]


def error_texts(r: dict) -> tuple[str, str]:
    """A run's final training and test error as printed in a summary table ("diverged" if it did)."""
    train = "diverged" if r["final_train_error"] is None else f"{r['final_train_error']:.4f}"
    return train, "" if r["final_test_error"] is None else f"{r['final_test_error']:.4f}"


def run(spec: Spec, ctx: Context | None = None) -> Outcome:
    """Train ``spec.net`` and return its history, final errors and weights.

    Returns:
        Outcome with result ``{"net", "status", "message", "final_train_error", "final_test_error",
        "final_train_loss", "seconds", "steps_done", "device", "precision", "history"}`` and weights
        ``{"model": state_dict}``.
    """
    ctx = ctx or Context()
    model, data, net = prepare(spec)
    fitted = fit(model, data, spec.train, callback=reporter(net, spec.train.steps, ctx.progress), cancel=ctx.cancel)
    return package(net, model, fitted)


def summary(spec: Spec, outcome: Outcome) -> str:
    r = outcome.result
    source = "from the run store" if outcome.from_store else f"trained on {r['device']} ({r['precision']})"
    lines = [f"{r['name']} on {spec.data.name}, {r['steps_done']} steps, {source}: status {r['status']}"]
    if r["message"]:
        lines.append(r["message"])
    if r["final_train_error"] is not None:
        lines.append(f"final train error {r['final_train_error']:.4f}  test error {r['final_test_error']:.4f}  "
                     f"({r['seconds']:.1f} s)")
    return "\n".join(lines)


EXPERIMENT = register(Experiment(
    name="train", help="train one plain or residual CIFAR-style net", Spec=Spec, run=run, cost=cost,
    training_runs=training_runs, summary=summary,
    description=("Train one net (CIFAR family) and report its errors; the run is stored in RESNET_VIZ_HOME and "
                 "reused when asked again.")))
