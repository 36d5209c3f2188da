"""Gradient flow: gradient size layer by layer, plain vs residual, at init and during training.

At initialization the probes are one forward/backward pass (:func:`at_init`, instant, used by the
page and the CLI). :func:`run` also trains each net and probes it every ``probe_every`` steps on the
same fixed batch (heatmap layer x step), then measures the response std of every 3x3 conv on the
test set (He et al. 2016, Fig. 7). Probing never changes training (see :mod:`resnet_viz.probes`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

import torch

from ..config import ACTIVATIONS, DATASET_NAMES, INITS, DataConfig, NetConfig, TrainConfig
from ..data import Dataset, load_dataset
from ..models import build_model
from ..probes import chain_product, first_last_ratio, gradient_probe, probe_batch, response_stds
from ..train import fit
from . import VARIANTS, Outcome, Progress, check_variants, check_width
PROBE_BATCH = 128
MAX_PROBES = 100


@dataclass(frozen=True)
class Spec:
    """A gradient-flow experiment: the same net with and without shortcuts.

    Args:
        dataset: dataset name (default "digits", offline).
        depth: CIFAR-family depth (6n+2 for basic/preact blocks).
        variants: "plain" and/or "residual".
        activation: "relu", "sigmoid" or "tanh".
        batchnorm: BN after every conv.
        block: "basic" (original, activation after the addition) or "preact" (nothing after it).
        init: "he" or "xavier".
        width: first-stage channels.
        steps: SGD steps of the training part of :func:`run` (lr constant, momentum 0.9).
        batch_size, lr: the training recipe.
        probe_every: probe the gradients every this many steps (and at step 0).
        seed: init and batch order.
        device: "auto", "cpu", "cuda" or "mps".
    """

    dataset: str = "digits"
    depth: int = 56
    variants: tuple[str, ...] = VARIANTS
    activation: str = "relu"
    batchnorm: bool = True
    block: str = "basic"
    init: str = "he"
    width: int = 8
    steps: int = 200
    batch_size: int = 128
    lr: float = 0.1
    probe_every: int = 10
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        if isinstance(self.variants, list):
            object.__setattr__(self, "variants", tuple(self.variants))
        if self.dataset not in DATASET_NAMES:
            raise ValueError(f"dataset must be one of {', '.join(DATASET_NAMES)}; got {self.dataset!r}")
        object.__setattr__(self, "variants", check_variants(self.variants))
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}; got {self.activation!r}")
        if self.init not in INITS:
            raise ValueError(f"init must be one of {', '.join(INITS)}; got {self.init!r}")
        if not isinstance(self.batchnorm, bool):
            raise ValueError(f"batchnorm must be true or false; got {self.batchnorm!r}")
        check_width(self.width)
        if isinstance(self.probe_every, bool) or not isinstance(self.probe_every, int) or self.probe_every < 1:
            raise ValueError(f"probe_every must be a whole number of steps >= 1; got {self.probe_every!r}")
        self.train_config()  # validates steps, batch size, lr, device
        if self.steps // self.probe_every > MAX_PROBES:
            raise ValueError(f"at most {MAX_PROBES} probes per run: steps / probe_every is "
                             f"{self.steps // self.probe_every}; raise probe_every to at least "
                             f"{-(-self.steps // MAX_PROBES)}")
        self.nets()  # validates depth, block, width

    def nets(self) -> list[NetConfig]:
        return [NetConfig(depth=self.depth, block=self.block, residual=v == "residual", width=self.width,
                          batchnorm=self.batchnorm, activation=self.activation, init=self.init)
                for v in self.variants]

    def train_config(self) -> TrainConfig:
        return TrainConfig(steps=self.steps, batch_size=self.batch_size, lr=self.lr, eval_every=0,
                           seed=self.seed, device=self.device, precision="fp32")


def _describe(net: NetConfig, variant: str) -> dict:
    return {"variant": variant, "depth": net.depth, "activation": net.activation, "batchnorm": net.batchnorm,
            "block": net.block, "init": net.init, "name": net.name}


def _variant(net: NetConfig) -> str:
    return "residual" if net.residual else "plain"


def _probe_summary(probe: dict) -> dict:
    return {"loss": probe["loss"], "layers": probe["layers"], "blocks": probe["blocks"],
            "chain_product": chain_product(probe["blocks"]), "first_last_ratio": first_last_ratio(probe["layers"])}


def at_init(spec: Spec, data: Dataset | None = None) -> dict:
    """Probes of every variant at initialization, in float64 (vanishing gradients stay visible).

    Returns:
        ``{"runs": [{"variant", "depth", "activation", "batchnorm", "block", "init", "name", "loss",
        "layers": [{"index", "name", "grad_norm"}], "blocks": [{"block", "stage", "grad_in",
        "grad_out", "gain"}], "chain_product": [...], "first_last_ratio"}]}``
    """
    data = data or load_dataset(DataConfig(spec.dataset))
    x, y = probe_batch(data, PROBE_BATCH)
    runs = []
    for net in spec.nets():
        net = replace(net, in_channels=data.in_channels, num_classes=data.num_classes)
        model = build_model(net, seed=spec.seed)
        runs.append({**_describe(net, _variant(net)), **_probe_summary(gradient_probe(model, x, y, torch.float64))})
    return {"runs": runs}


def run(spec: Spec, progress: Progress | None = None, cancel: threading.Event | None = None) -> Outcome:
    """Probe at init, train each variant with probes every ``probe_every`` steps, measure responses.

    Returns:
        Outcome with result ``{"status", "runs": [{... as :func:`at_init` ..., "status", "message",
        "seconds", "final_train_error", "final_test_error", "checkpoints": {"steps": [...],
        "layer_names": [...], "grad_norms": [[per layer] per checkpoint], "loss": [...]},
        "responses_init": [{"index", "name", "std"}], "responses_trained": [...]}]}`` and the trained
        weights named like ``plain_56``. Checkpoint probes run in float32 on the training model.
    """
    data = load_dataset(DataConfig(spec.dataset))
    init = at_init(spec, data)
    x, y = probe_batch(data, PROBE_BATCH)
    train_cfg = spec.train_config()
    nets = spec.nets()
    results, weights, status = [], {}, "completed"
    for i, net in enumerate(nets):
        net = replace(net, in_channels=data.in_channels, num_classes=data.num_classes)
        variant = _variant(net)
        model = build_model(net, seed=spec.seed)
        responses_init = response_stds(model, data.test_x)
        checkpoints = {"steps": [], "layer_names": [l["name"] for l in init["runs"][i]["layers"]],
                       "grad_norms": [], "loss": []}

        def probe(step: int) -> list[float]:
            p = gradient_probe(model, x, y)
            checkpoints["steps"].append(step)
            checkpoints["grad_norms"].append([l["grad_norm"] for l in p["layers"]])
            checkpoints["loss"].append(p["loss"])
            return checkpoints["grad_norms"][-1]

        probe(0)

        def report(rec: dict, i=i, variant=variant) -> None:
            extra = {}
            if rec["step"] % spec.probe_every == 0 or rec["step"] == spec.steps:
                extra["grad_norms"] = probe(rec["step"])
            if progress is not None:
                progress({**rec, **extra, "run": net.name, "variant": variant, "depth": net.depth,
                          "done": rec["step"], "total": spec.steps, "run_index": i, "runs": len(nets),
                          "fraction": (i + rec["step"] / spec.steps) / len(nets)})

        fitted = fit(model, data, train_cfg, callback=report, cancel=cancel)
        if fitted.status == "cancelled":
            status = "cancelled"
            break
        results.append({**init["runs"][i], "status": fitted.status, "message": fitted.message,
                        "seconds": fitted.seconds, "device": fitted.device,
                        "final_train_error": fitted.final_train_error, "final_test_error": fitted.final_test_error,
                        "checkpoints": checkpoints, "responses_init": responses_init,
                        "responses_trained": response_stds(model, data.test_x)})
        weights[f"{variant}_{net.depth}"] = model.state_dict()
    return Outcome({"status": status, "runs": results}, weights=weights)


def estimate_seconds(spec: Spec) -> float:
    """Seconds :func:`run` should take here: the degradation estimate for the same nets and steps
    (timed from a few real steps) plus the probes (about one training step each)."""
    from . import degradation

    base = degradation.estimate_seconds(degradation.Spec(
        dataset=spec.dataset, depths=(spec.depth,), variants=spec.variants, width=spec.width, steps=spec.steps,
        batch_size=spec.batch_size, block=spec.block, device=spec.device))
    return base * (1 + 1 / spec.probe_every)


__all__ = ["PROBE_BATCH", "Spec", "VARIANTS", "at_init", "estimate_seconds", "run"]


# --- tidy tables for the figures -------------------------------------------------------------------

def layers_frame(result: dict):
    """One row per (run, conv layer): variant, index, name, grad_norm."""
    import pandas as pd

    return pd.DataFrame.from_records([{"variant": r["variant"], **l} for r in result["runs"] for l in r["layers"]],
                                     columns=["variant", "index", "name", "grad_norm"])


def blocks_frame(result: dict):
    """One row per (run, block): variant, block, stage, grad_in, grad_out, gain, chain_product."""
    import pandas as pd

    rows = [{"variant": r["variant"], **b, "chain_product": p}
            for r in result["runs"] for b, p in zip(r["blocks"], r["chain_product"])]
    return pd.DataFrame.from_records(rows, columns=["variant", "block", "stage", "grad_in", "grad_out", "gain",
                                                    "chain_product"])


def responses_frame(result: dict, which: str = "responses_trained"):
    """One row per (run, 3x3 conv): variant, index, name, std, and rank (0 = largest std)."""
    import pandas as pd

    rows = []
    for r in result["runs"]:
        ranked = sorted(r[which], key=lambda l: -l["std"])
        rank = {l["index"]: k for k, l in enumerate(ranked)}
        rows += [{"variant": r["variant"], **l, "rank": rank[l["index"]]} for l in r[which]]
    return pd.DataFrame.from_records(rows, columns=["variant", "index", "name", "std", "rank"])
