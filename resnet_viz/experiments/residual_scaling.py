"""Residual scaling (Szegedy, Ioffe, Vanhoucke, Alemi 2017, Inception-ResNet, Sec. 3.3): x + a F(x).

Inception-ResNet's widest modules "died" early in training unless their residual branch was multiplied
by a small factor (0.1 to 0.3) before the addition. Without batch norm after the additions the reason can
be measured at initialization: each block adds a branch of about the size of its input, so the signal's
standard deviation grows block by block; a small a keeps it level. This experiment measures that growth
on the lab's nets and trains the same net with each a, every run with the same data, batch order, initial
seed and recipe.

The opposite case is Why identity?'s scaling of the *shortcut* (λx + F(x)): that multiplies the path the
gradient takes back through every block, and fails; scaling the *branch* leaves the shortcut whole.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from .. import cost as costs
from ..config import DataConfig, NetConfig, TrainConfig, nested, setting, validate
from ..i18n import N_
from ..probes import probe_batch
from ..protocol import Context, Effect, Experiment, Outcome, Preset, Published, made_on
from . import register, training

PROBE_IMAGES = 256
GROWTH, FAILS = 2.0, 0.3  # "grows": twice the smallest a's growth; "fails": 30 points of training error above it

PUBLISHED = Published(
    rows=({"what": N_("when the residual variants became unstable"), "published": N_("more than 1,000 filters")},
          {"what": N_("what happened"), "published": N_("the net \"died\" early in training: the layer before the "
                                                         "average pooling gave only zeros")},
          {"what": N_("the remedy"), "published": N_("multiply the residual branch by 0.1 to 0.3 before the addition")}),
    source="Szegedy, Ioffe, Vanhoucke, Alemi 2017, Inception-v4, Inception-ResNet and the Impact of Residual "
           "Connections on Learning, Sec. 3.3",
    columns=(N_("what"), N_("published")))


@dataclass(frozen=True)
class Spec:
    """The same residual net trained once per residual scale a, with one recipe and seed; ``net`` is the
    template (its ``residual_scale`` is set per run)."""

    scales: tuple[float, ...] = setting((1.0, 0.3, 0.1), "residual scales a to train, e.g. 1,0.3,0.1 (the branch "
                                                         "is multiplied by a before the addition)", low=0.0, high=1.0,
                                        low_open=True, max_items=4, label="residual scales")
    net: NetConfig = nested(lambda: NetConfig(width=8, batchnorm=False), expose=("depth", "width", "batchnorm"))
    data: DataConfig = nested(DataConfig, expose=("name",))
    train: TrainConfig = nested(lambda: TrainConfig(eval_every=0),
                                expose=("steps", "batch_size", "lr", "seed", "eval_every", "device", "precision"))

    def __post_init__(self) -> None:
        validate(self)
        object.__setattr__(self, "scales", tuple(sorted(self.scales, reverse=True)))
        if not self.net.residual:
            raise ValueError("residual scaling needs shortcuts: the net must be residual")


def training_runs(spec: Spec) -> list[training.Spec]:
    return [training.Spec(net=replace(spec.net, residual_scale=a), data=spec.data, train=spec.train)
            for a in spec.scales]


def cost(spec: Spec) -> float | None:
    return costs.training_seconds(training_runs(spec))


@torch.no_grad()
def signal_stds(model, x: torch.Tensor) -> list[float]:
    """Standard deviation of the forward signal after the stem and after every block (eval mode)."""
    stds: list[float] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: stds.append(out.double().std().item()))
             for m in (model.stem, *model.blocks)]
    was_training = model.training
    model.eval()
    try:
        model(x)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return stds


def run(spec: Spec, ctx: Context | None = None) -> Outcome:
    """Measure the signal's growth at initialization for each a, then train every net at once.

    Returns:
        Outcome with result ``{"status", "depth", "blocks", "batchnorm", "dataset", "runs": [{"scale",
        "status", "message", "final_train_error", "final_test_error", "final_train_loss", "stds_init",
        "growth_init", "seconds", "device", "precision", "history"}]}`` (``stds_init``: after the stem,
        then after each block; ``growth_init``: the last over the first) and the weights of every net.
    """
    ctx = ctx or Context()
    runs = training_runs(spec)
    prepared = [training.prepare(sub) for sub in runs]  # in order: the init seeds use the global generator
    x, _y = probe_batch(prepared[0][1], PROBE_IMAGES)
    init = [signal_stds(model, x) for model, _, _ in prepared]
    status, fitted = training.fit_all(runs, ctx, lambda sub: {"scale": sub.net.residual_scale}, prepared)
    result = {"status": status, "depth": spec.net.depth, "blocks": sum(spec.net.blocks_per_stage),
              "batchnorm": spec.net.batchnorm, "dataset": spec.data.name, "runs": []}
    weights = {}
    for sub, stds, (model, _net, f) in zip(runs, init, fitted):
        a = sub.net.residual_scale
        result["runs"].append({"scale": a, "status": f.status, "message": f.message,
                               "final_train_error": f.final_train_error, "final_test_error": f.final_test_error,
                               "final_train_loss": f.final_train_loss, "stds_init": stds,
                               "growth_init": stds[-1] / stds[0], "seconds": f.seconds, "device": f.device,
                               "precision": f.precision, "history": training.history(f)})
        weights[f"a{a:g}".replace(".", "p")] = model.state_dict()
    return Outcome(result, weights=weights)


def effects(result: dict) -> list[Effect]:
    """Without batch norm: the unscaled net's signal grows clearly more across the blocks at initialization
    than with the smallest a, and the unscaled net fails to train where the smallest a trains."""
    runs = {r["scale"]: r for r in result["runs"]}
    if result.get("batchnorm") or 1.0 not in runs or len(runs) < 2 or result.get("status") != "completed":
        return []
    small = min(runs)
    one, low = runs[1.0], runs[small]
    error = lambda r: 1.0 if r["final_train_error"] is None else r["final_train_error"]  # noqa: E731 - diverged
    return [Effect(N_("without batch norm, the unscaled residual net's signal grows across the blocks at "
                      "initialization (a = 1: at least twice the growth of the smallest a)"),
                   one["growth_init"] >= GROWTH * low["growth_init"],
                   {"a = 1": one["growth_init"], f"a = {small:g}": low["growth_init"]},
                   f"growth(a = 1) >= {GROWTH:g} x growth(a = {small:g})"),
            Effect(N_("without batch norm, the unscaled residual net fails to train where a small a trains"),
                   error(one) >= error(low) + FAILS,
                   {"a = 1": one["final_train_error"], f"a = {small:g}": low["final_train_error"]},
                   f"train error(a = 1) >= train error(a = {small:g}) + {FAILS:g}")]


def summary(spec: Spec, outcome: Outcome) -> str:
    result = outcome.result
    lines = [f"residual scaling on {spec.data.name}, depth {result['depth']} ({result['blocks']} blocks), "
             f"{'with' if result['batchnorm'] else 'without'} batch norm, {spec.train.steps} steps"
             f"{' (from the run store)' if outcome.from_store else ''}, {made_on(result)}: {result['status']}",
             f"{'a':>6}{'signal growth at init':>24}{'train error':>14}{'test error':>12}"]
    for r in result["runs"]:
        train, test = training.error_texts(r)
        lines.append(f"{r['scale']:>6g}{r['growth_init']:>23.3g}x{train:>14}{test:>12}")
        if r["message"]:
            lines.append(f"  {r['message']}")
    return "\n".join(lines)


def describe(rec: dict) -> str:
    return f"Run {rec['run_index'] + 1}/{rec['runs']}: a = {rec['scale']:g}, step {rec['done']}/{rec['total']}"


EXPERIMENT = register(Experiment(
    name="residual_scaling", help="x + a F(x) without batch norm: signal growth at initialization and training, "
                                  "per residual scale a (Szegedy et al. 2017, Sec. 3.3)",
    Spec=Spec, run=run, cost=cost, training_runs=training_runs, summary=summary,
    description=("Train one residual net once per residual scale a (the branch multiplied by a before the addition, "
                 "as in Inception-ResNet), by default without batch norm; report the growth of the forward signal "
                 "across the blocks at initialization and each net's errors."),
    describe=describe, presets=(Preset(Spec(), "residual_scaling_preset.json"),), effects=effects,
    published=PUBLISHED))

__all__ = ["EXPERIMENT", "PUBLISHED", "Spec", "cost", "effects", "run", "signal_stds", "training_runs"]
