"""Degradation (He et al. 2016, Fig. 1 and 6): training error vs depth, plain vs residual.

Every (seed x depth x variant) is trained with the same data, batch order, recipe and parameter
count (option A shortcuts add no weights), so the only difference between plain and residual is
the shortcut itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import math
import statistics

from .. import cost as costs
from ..config import DataConfig, NetConfig, TrainConfig, nested, setting, validate
from ..i18n import N_
from ..protocol import (VARIANT_WORDS, VARIANTS, Context, Effect, Experiment, Outcome, Preset, Published, Quiz,
                        check_variants, made_on, run_name)
from . import register, training


@dataclass(frozen=True)
class Spec:
    """A degradation experiment: every (seed x depth x variant) with the same recipe.

    ``net`` is the template of every net (its depth and shortcut switch are set per run); ``train.seed``
    is replaced by each of ``seeds``.
    """

    depths: tuple[int, ...] = setting((20, 56), "CIFAR-family depths to compare, e.g. 20,56 (6n+2; 9n+2 "
                                                "for bottleneck blocks)", low=8, high=1202, max_items=6)
    variants: tuple[str, ...] = setting(VARIANTS, "plain and/or residual, e.g. plain,residual", choices=VARIANTS,
                                        words=VARIANT_WORDS)
    seeds: tuple[int, ...] = setting((0,), "one run per seed (init and batch order), e.g. 0,1,2", low=0,
                                     high=2**31 - 1, aliases=("--seed",), max_items=5)
    net: NetConfig = nested(lambda: NetConfig(width=8), expose=("width", "block", "shortcut", "stochastic_depth"))
    data: DataConfig = nested(DataConfig, expose=("name",))
    train: TrainConfig = nested(TrainConfig, expose=("steps", "batch_size", "lr", "schedule", "augment", "eval_every",
                                                     "device", "precision"))

    def __post_init__(self) -> None:
        validate(self)
        object.__setattr__(self, "depths", tuple(sorted(self.depths)))
        object.__setattr__(self, "variants", check_variants(self.variants))
        training_runs(self)  # building the nets validates each depth with the block


def training_runs(spec: Spec) -> list[training.Spec]:
    """One training spec per (seed, depth, variant), shallow and plain first; stochastic depth applies
    to the residual nets only."""
    def net(depth: int, variant: str) -> NetConfig:
        residual = variant == "residual"
        return replace(spec.net, depth=depth, residual=residual,
                       stochastic_depth=spec.net.stochastic_depth if residual else 1.0)

    return [training.Spec(net=net(depth, variant), data=spec.data, train=replace(spec.train, seed=seed))
            for seed in spec.seeds for depth in spec.depths for variant in spec.variants]


# Named sets of settings (``--recipe`` on the CLI, the recipe choice on the page); given options override them.
# "paper": He et al. 2016, Sec. 4.2 (CIFAR-10, batch 128, lr 0.1 /10 at 32k and 48k of 64k iterations, momentum
# 0.9, weight decay 1e-4, pad-4 crop + flip) for the nets of Fig. 6; the paper also holds out 5k training images
# and warms ResNet-110 up at lr 0.01, which this recipe does not. "paper_short": the same schedule over 8k
# iterations (about 20 epochs), for a lesson on a GPU.
PAPER = {"dataset": "cifar10", "depths": (20, 32, 44, 56), "width": 16, "steps": 64_000, "batch_size": 128, "lr": 0.1,
         "schedule": "step", "augment": True, "eval_every": 2000}
RECIPES: dict[str, dict] = {"lesson": {}, "paper": PAPER, "paper_short": {**PAPER, "steps": 8000, "eval_every": 500}}


def cost(spec: Spec) -> float | None:
    """Predicted seconds: the runs one after another (a job with one thread trains them in turn)."""
    return costs.training_seconds(training_runs(spec))


def _variant(run: training.Spec) -> str:
    return "residual" if run.net.residual else "plain"


def run_units(units: list[Spec], ctx: Context | None = None) -> list[Outcome]:
    """Train the runs of several units at once; on a multi-core CPU several in parallel
    (:func:`resnet_viz.train.fit_many`), each exactly as it would train alone.

    Progress records carry the run's variant, depth and seed, its step metrics, and ``fraction``:
    the share of all done, weighting each run by depth x steps (time per step grows about linearly
    with depth).

    Returns:
        One Outcome per unit, in order: ``{"status", "runs": [...]}`` as :func:`run`, with the
        unit's weights named like ``plain_56_s0``.
    """
    ctx = ctx or Context()
    runs = [sub for unit in units for sub in training_runs(unit)]
    _, fitted = training.fit_all(runs, ctx, lambda sub: {"variant": _variant(sub), "depth": sub.net.depth,
                                                               "seed": sub.train.seed})
    fitted = iter(zip(runs, fitted))
    outcomes = []
    for unit in units:
        rows, weights, cancelled = [], {}, False
        for sub, (model, net, f) in (next(fitted) for _ in training_runs(unit)):
            cancelled |= f.status == "cancelled"
            r = training.package(net, model, f).result
            variant, depth, seed = _variant(sub), sub.net.depth, sub.train.seed
            rows.append({"variant": variant, "depth": depth, "seed": seed, "status": r["status"],
                         "message": r["message"], "final_train_error": r["final_train_error"],
                         "final_test_error": r["final_test_error"], "final_train_loss": r["final_train_loss"],
                         "seconds": r["seconds"], "device": r["device"], "precision": r["precision"],
                         "history": training.history(f)})
            weights[f"{variant}_{depth}_s{seed}"] = model.state_dict()
        outcomes.append(Outcome({"status": "cancelled", "runs": []}) if cancelled
                        else Outcome({"status": "completed", "runs": rows}, weights=weights))
    return outcomes


def run(spec: Spec, ctx: Context | None = None) -> Outcome:
    """Train every (seed, depth, variant) of ``spec`` (its units at once, :func:`run_units`).

    Returns:
        Outcome with result ``{"runs": [{"variant", "depth", "seed", "status", "message",
        "final_train_error", "final_test_error", "final_train_loss", "seconds", "device",
        "precision", "history": [{"step", "train_loss", "train_error"[, "test_error"]}, ...]}, ...],
        "status"}`` and the weights of every run, named like ``plain_56_s0``.
    """
    units = split(spec)
    outcomes = run_units(units, ctx)
    weights = {name: state for o in outcomes for name, state in o.weights.items()}
    return Outcome(merge(spec, [o.result for o in outcomes]), weights=weights)


def split(spec: Spec) -> list[Spec]:
    """A sweep's units (:mod:`resnet_viz.sweep`): one Spec per (seed, depth, variant), each stored on
    its own and trained exactly as inside the whole spec."""
    return [replace(spec, depths=(depth,), seeds=(seed,), variants=(variant,))
            for seed in spec.seeds for depth in spec.depths for variant in spec.variants]


def merge(spec: Spec, results: list[dict]) -> dict:
    """The results of some of ``split(spec)``'s units as one result of ``spec`` (its runs in order)."""
    runs = [r for result in results for r in result["runs"]]
    order = {(s, d, v): i for i, (s, d, v) in enumerate((r.train.seed, r.net.depth, _variant(r))
                                                          for r in training_runs(spec))}
    runs.sort(key=lambda r: order.get((r["seed"], r["depth"], r["variant"]), len(order)))
    status = "completed" if all(result.get("status") == "completed" for result in results) else "cancelled"
    return {"status": status, "runs": runs}


MARGIN = 0.05  # "clearly worse": at least 5 points of training error


def _medians(result: dict) -> dict[tuple[str, int], float]:
    """(variant, depth) -> the median final training error over its seeds (diverged runs left out)."""
    errors: dict[tuple[str, int], list[float]] = {}
    for r in result["runs"]:
        if r["final_train_error"] is not None:
            errors.setdefault((r["variant"], r["depth"]), []).append(r["final_train_error"])
    return {k: statistics.median(v) for k, v in errors.items()}


LEVEL, FASTER, SMOOTH = 0.1, 10, 10  # shallow nets: steps to a training error of 0.1, 10 steps sooner, 10-step average


def steps_to(history: list[dict], level: float, smooth: int = SMOOTH) -> int | None:
    """The first step at which the training error, averaged over ``smooth`` steps, is at most ``level``
    (None if it never gets there)."""
    errors = [h["train_error"] for h in history if h.get("train_error") is not None]
    steps = [h["step"] for h in history if h.get("train_error") is not None]
    for i in range(smooth - 1, len(errors)):
        if sum(errors[i - smooth + 1:i + 1]) / smooth <= level:
            return steps[i]
    return None


def shallow_effect(result: dict) -> Effect | None:
    """At the shallowest depth the residual net converges faster (He et al. 2016, Sec. 4.1 and Fig. 4): it
    reaches a training error of ``LEVEL`` at least ``FASTER`` steps before the plain net (medians over seeds)."""
    depth = min((r["depth"] for r in result["runs"]), default=None)
    found = {}
    for variant in VARIANTS:
        steps = [steps_to(r["history"], LEVEL) for r in result["runs"] if r["variant"] == variant and r["depth"] == depth
                 and r.get("history")]
        if steps:
            found[variant] = statistics.median(s if s is not None else math.inf for s in steps)
    if len(found) < 2:
        return None
    plain, residual = found["plain"], found["residual"]
    return Effect(N_("at the shallowest depth the residual net reaches a low training error in fewer steps"),
                  residual + FASTER <= plain, {f"plain-{depth}": None if math.isinf(plain) else plain,
                                               f"ResNet-{depth}": None if math.isinf(residual) else residual},
                  f"steps to {LEVEL:g}: ResNet-{depth} + {FASTER} <= plain-{depth}")


def effects(result: dict) -> list[Effect]:
    """Degradation: the deepest plain net ends with a clearly higher training error (median over seeds)
    than the shallowest plain net and than its residual twin; and at the shallowest depth the residual net
    gets to a low training error sooner (:func:`shallow_effect`)."""
    med = _medians(result)
    plain = sorted(d for v, d in med if v == "plain")
    shallow_faster = shallow_effect(result)
    if len(plain) < 2:
        return [shallow_faster] if shallow_faster else []
    shallow, deep = plain[0], plain[-1]
    numbers = {f"plain-{shallow}": med[("plain", shallow)], f"plain-{deep}": med[("plain", deep)]}
    holds = med[("plain", deep)] >= med[("plain", shallow)] + MARGIN
    rule = f"plain-{deep} >= plain-{shallow} + {MARGIN}"
    if ("residual", deep) in med:
        numbers[f"ResNet-{deep}"] = med[("residual", deep)]
        holds = holds and med[("plain", deep)] >= med[("residual", deep)] + MARGIN
        rule += f" and >= ResNet-{deep} + {MARGIN}"
    return [Effect(N_("the deeper plain net trains clearly worse than the shallower one and than its residual twin"),
                   holds, numbers, rule)] + ([shallow_faster] if shallow_faster else [])


def answer(result: dict) -> int | None:
    """The option of the page's question the result bears out: 0 the deeper plain net has the higher
    training error (the median over seeds), 1 the shallower; None without two plain depths."""
    med = _medians(result)
    plain = sorted(d for v, d in med if v == "plain")
    if len(plain) < 2:
        return None
    return 0 if med[("plain", plain[-1])] > med[("plain", plain[0])] else 1


QUIZ = Quiz(
    question=N_("Which net will have the higher *training* error after the same training: the shallower or the deeper "
                "plain net?"),
    options=(N_("the deeper plain net"), N_("the shallower plain net")),
    why=(N_("The deeper plain net could copy the shallower one and set its extra layers to identity, yet it fits its own "
            "training data worse: that is degradation, not overfitting."),
         N_("In this result the shallower plain net ended with the higher training error, so it shows no degradation: "
            "with few steps neither net has fitted its data yet, or the depths are too close. He et al. saw it between "
            "20 and 56 layers trained to the end.")),
    title=N_("Plain and residual nets of several depths"))

def summary(spec: Spec, outcome: Outcome) -> str:
    result = outcome.result
    lines = [f"degradation on {spec.data.name}, {spec.train.steps} steps, width {spec.net.width}"
             f"{' (from the run store)' if outcome.from_store else ''}, {made_on(result)}: {result['status']}",
             f"{'net':<16}{'seed':>5}{'train error':>13}{'test error':>12}{'seconds':>9}"]
    for r in result["runs"]:
        name = run_name(r["variant"], r["depth"])
        train, test = training.error_texts(r)
        lines.append(f"{name:<16}{r['seed']:>5}{train:>13}{test:>12}{r['seconds']:>9.1f}")
        if r["message"]:
            lines.append(f"  {r['message']}")
    return "\n".join(lines)


def describe(rec: dict) -> str:
    """One line of progress for people."""
    return f"Run {rec['run_index'] + 1}/{rec['runs']}: {run_name(rec['variant'], rec['depth'])}, seed {rec['seed']}, step {rec['done']}/{rec['total']}"




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


# He et al. 2016, Table 6: CIFAR-10 test error (%) of residual nets. No plain-net numbers were
# published for CIFAR (plain nets appear only as curves; "plain-110 is higher than 60%").
TABLE6 = Published(
    rows=tuple({"net": net, "test error (%)": error, "note": note} for net, error, note in (
        ("ResNet-20", 8.75, ""), ("ResNet-32", 7.51, ""), ("ResNet-44", 7.17, ""), ("ResNet-56", 6.97, ""),
        ("ResNet-110", 6.43, N_("best of 5 runs; mean 6.61 ± 0.16")),
        ("ResNet-1202", 7.93, N_("overfits: 19.4M parameters")))),
    source="He, Zhang, Ren, Sun 2016, Deep Residual Learning for Image Recognition, Table 6 (CIFAR-10)",
    columns=(N_("net"), N_("test error (%)"), N_("note")))

# the lesson: digits, plain and residual 20 vs 56, 300 steps (about a minute or two on a laptop CPU)
EXPERIMENT = register(Experiment(
    name="degradation", help="training error vs depth, plain vs residual (He et al. Fig. 6)", Spec=Spec, run=run,
    cost=cost, training_runs=training_runs, summary=summary,
    description=("Train plain and residual nets of several depths with one recipe and compare their training error "
                 "(He et al. 2016, Fig. 1 and 6)."),
    describe=describe, presets=(Preset(Spec(), "degradation_preset.json"),), recipes=RECIPES, split=split,
    merge=merge, run_units=run_units, answer=answer, effects=effects, published=TABLE6, quiz=QUIZ))

__all__ = ["EXPERIMENT", "RECIPES", "Spec", "TABLE6", "answer", "cost", "merge", "run", "run_units", "split",
           "training_runs"]
