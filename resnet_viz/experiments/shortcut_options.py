"""Shortcut options A, B and C at one depth, beside the plain net (He et al. 2016, Sec. 3.3, Tables 2 and 3).

A pads the new channels of a shape-changing shortcut with zeros (no weights), B uses a 1x1 projection where
the shape changes, C a projection in every block. He et al. found all three far better than the plain net
and the differences between them small (ImageNet, 34 layers); here they train at once with one recipe,
seed and batch order on the lab's data. With the ImageNet family (its 7x7 stem, on images resized to suit
it) the same experiment is Table 2's comparison: plain-18 and plain-34 against ResNet-18 and ResNet-34 (A).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, replace

from .. import cost as costs
from ..config import SHORTCUTS, DataConfig, NetConfig, TrainConfig, nested, setting, validate
from ..counting import count
from ..i18n import N_
from ..lineage import HE_TABLE3
from ..protocol import Context, Effect, Experiment, Outcome, Preset, made_on
from . import register, training
from .degradation import LEVEL, steps_to

MARGIN = 0.05  # "clearly better": 5 points of training error below the plain net
OPTION_WORDS = {"A": N_("option A (zero-padding)"), "B": N_("option B (projection where the shape changes)"),
                "C": N_("option C (projection everywhere)")}


@dataclass(frozen=True)
class Spec:
    """The plain net and the residual net with each chosen shortcut option, per seed, one recipe."""

    options: tuple[str, ...] = setting(SHORTCUTS, "shortcut options to train, e.g. A,B,C", choices=SHORTCUTS,
                                       max_items=3, words=OPTION_WORDS, label="shortcut options")
    plain: bool = setting(True, "also train the plain net of the same depth", flag="--no-plain", label="plain net")
    seeds: tuple[int, ...] = setting((0,), "one run per seed, e.g. 0,1,2", low=0, high=2**31 - 1, aliases=("--seed",),
                                     max_items=3)
    net: NetConfig = nested(lambda: NetConfig(depth=56, width=8), expose=("family", "depth", "width"))
    data: DataConfig = nested(DataConfig, expose=("name", "image_size"))
    train: TrainConfig = nested(lambda: TrainConfig(eval_every=0),
                                expose=("steps", "batch_size", "lr", "eval_every", "device", "precision"))

    def __post_init__(self) -> None:
        validate(self)
        object.__setattr__(self, "options", tuple(o for o in SHORTCUTS if o in self.options))
        training_runs(self)  # building the nets checks the depth against the family


def variants(spec: Spec) -> list[str]:
    return (["plain"] if spec.plain else []) + list(spec.options)


def training_runs(spec: Spec) -> list[training.Spec]:
    def net(variant: str) -> NetConfig:
        return NetConfig(spec.net.family, spec.net.depth, width=spec.net.width, residual=variant != "plain",
                         shortcut="A" if variant == "plain" else variant)

    return [training.Spec(net=net(v), data=spec.data, train=replace(spec.train, seed=seed))
            for seed in spec.seeds for v in variants(spec)]


def cost(spec: Spec) -> float | None:
    return costs.training_seconds(training_runs(spec))


def run(spec: Spec, ctx: Context | None = None) -> Outcome:
    """Train every (seed, variant) at once.

    Returns:
        Outcome with result ``{"status", "family", "depth", "dataset", "image_size", "runs": [{"variant"
        ("plain", "A", "B", "C"), "seed", "params", "status", "message", "final_train_error", "final_test_error",
        "steps_to_0.1", "seconds", "device", "precision", "history"}]}`` (``steps_to_0.1``: the first step where
        the 10-step average of the training error is at most 0.1, None if never) and every net's weights.
    """
    ctx = ctx or Context()
    runs = training_runs(spec)
    names = {id(sub): ("plain" if not sub.net.residual else sub.net.shortcut) for sub in runs}
    status, fitted = training.fit_all(runs, ctx, lambda sub: {"variant": names[id(sub)], "seed": sub.train.seed})
    result = {"status": status, "family": spec.net.family, "depth": spec.net.depth, "dataset": spec.data.name,
              "image_size": spec.data.image_size, "runs": []}
    weights = {}
    for sub, (model, net, f) in zip(runs, fitted):
        variant = names[id(sub)]
        result["runs"].append({"variant": variant, "seed": sub.train.seed, "params": count(net)["params"],
                               "status": f.status, "message": f.message, "final_train_error": f.final_train_error,
                               "final_test_error": f.final_test_error,
                               "steps_to_0.1": steps_to(training.history(f), LEVEL), "seconds": f.seconds,
                               "device": f.device, "precision": f.precision, "history": training.history(f)})
        weights[f"{variant.lower()}_s{sub.train.seed}"] = model.state_dict()
    return Outcome(result, weights=weights)


def medians(result: dict) -> dict[str, float]:
    """Median final training error per variant over seeds (a diverged run counts as 1)."""
    by: dict[str, list[float]] = {}
    for r in result["runs"]:
        by.setdefault(r["variant"], []).append(1.0 if r["final_train_error"] is None else r["final_train_error"])
    return {v: statistics.median(e) for v, e in by.items()}


SHALLOW = 20  # at this depth and below, Table 2: the plain net is about as accurate as the residual one


def effects(result: dict) -> list[Effect]:
    """Deep (more than ``SHALLOW`` layers): the residual nets whose shortcuts are identities (A, and B, which
    projects only where the shape changes) train clearly better than the plain net of the same depth. Shallow:
    the plain net trains about as well as they do (He et al. Table 2 at 18 layers). Medians over seeds.

    Option C is left out of the predicate and shown beside it: with a projection in every block it puts weights
    on every shortcut's path, and on the lab's short recipe it trains more slowly, by an amount that varies
    with the seed and the precision (docs/lessons.md has the numbers)."""
    med, depth = medians(result), result.get("depth")
    judged = [o for o in ("A", "B") if o in med] or [o for o in ("C",) if o in med]
    if "plain" not in med or not judged or result.get("status") != "completed":
        return []
    numbers = {(f"plain-{depth}" if v == "plain" else f"ResNet-{depth} {v}"): med[v] for v in ["plain", *judged]}
    if depth <= SHALLOW:
        return [Effect(N_("at this shallow depth the plain net trains about as well as the residual nets"),
                       all(med["plain"] <= med[o] + MARGIN for o in judged), numbers,
                       f"plain <= option {' and '.join(judged)} + {MARGIN}")]
    return [Effect(N_("the residual nets with identity shortcuts train clearly better than the plain net"),
                   all(med[o] + MARGIN <= med["plain"] for o in judged), numbers,
                   f"option {' and '.join(judged)} <= plain - {MARGIN}")]


def summary(spec: Spec, outcome: Outcome) -> str:
    result = outcome.result
    size = f" at {spec.data.image_size} px" if spec.data.image_size else ""
    lines = [f"shortcut options on {spec.data.name}{size}, {spec.net.family} family, depth {spec.net.depth}, "
             f"{spec.train.steps} steps"
             f"{' (from the run store)' if outcome.from_store else ''}, {made_on(result)}: {result['status']}",
             f"{'net':<14}{'seed':>6}{'parameters':>12}{'train error':>13}{'test error':>12}{'steps to 0.1':>16}"]
    for r in result["runs"]:
        train, test = training.error_texts(r)
        name = f"plain-{spec.net.depth}" if r["variant"] == "plain" else f"ResNet-{spec.net.depth} {r['variant']}"
        reached = r.get("steps_to_0.1")
        lines.append(f"{name:<14}{r['seed']:>6}{r['params']:>12,}{train:>13}{test:>12}{reached if reached else '-':>16}")
    return "\n".join(lines)


def describe(rec: dict) -> str:
    return f"Run {rec['run_index'] + 1}/{rec['runs']}: {rec['variant']}, seed {rec['seed']}, step {rec['done']}/{rec['total']}"


EXPERIMENT = register(Experiment(
    name="shortcut_options", help="shortcut options A, B and C beside the plain net at one depth (He et al. 2016, "
                                  "Table 3)", Spec=Spec, run=run, cost=cost, training_runs=training_runs,
    summary=summary, description=("Train the plain net and the residual net with shortcut options A (zero-padding), "
                                  "B (projection where the shape changes) and C (projection everywhere) at one depth "
                                  "with one recipe; report each net's parameters and errors."),
    describe=describe, presets=(Preset(Spec(), "shortcut_options_preset.json"),
                                Preset(Spec(net=replace(Spec().net, family="imagenet", depth=18, width=16),
                                            data=DataConfig(image_size=64)), "shortcut_options_preset_imagenet18.json")),
    effects=effects, published=HE_TABLE3))

__all__ = ["EXPERIMENT", "Spec", "cost", "effects", "medians", "run", "training_runs", "variants"]
