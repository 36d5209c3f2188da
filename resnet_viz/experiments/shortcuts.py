"""Why identity? Shortcut kinds of He et al. 2016b (Table 1), trained at one depth with one recipe.

ResNet is the Highway network (Srivastava et al. 2015) with its gate fixed open: y = T(x)·F(x) +
(1 - T(x))·x contains the identity as one setting, yet the gated nets did not do better. He et al.
2016b's answer: through L blocks, whatever multiplies the shortcut multiplies the gradient that the
shortcuts carry back, as a product (0.5^27 ~ 7e-9 through ResNet-56's 27 blocks). This experiment
trains the identity and the chosen variants side by side, and measures that factor on every net.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .. import cost as costs
from ..config import DataConfig, NetConfig, TrainConfig, nested, setting, validate
from ..probes import probe_batch, shortcut_gradient_factor
from ..protocol import Context, Outcome
from . import training

NAME = "shortcuts"
HELP = "identity vs scaled, gated, 1x1-conv and dropout shortcuts at one depth (He et al. 2016b, Table 1)"
DESCRIPTION = ("Train residual nets whose shortcuts are the identity, scaled by λ, gated like a Highway network, "
               "1x1 convolutions or dropped out, at one depth with one recipe; report their errors and the "
               "gradient factor the shortcuts carry from the last block back to the first.")
VARIANTS = ("identity", "scaling", "gating", "shortcut_gating", "conv1x1", "dropout")
GATED = ("gating", "shortcut_gating")
MAX_RUNS = 10
PROBE_IMAGES = 128

# He et al. 2016b, Table 1: ResNet-110 (original unit) on CIFAR-10, test error %; "fail" = above 20%.
PUBLISHED = [
    {"variant": "identity", "setting": "", "test_error": "6.61"},
    {"variant": "scaling", "setting": "λ = 0.5 on the shortcut", "test_error": "fail"},
    {"variant": "scaling", "setting": "λ = 0.5 on the shortcut, 0.5 on F", "test_error": "12.35"},
    {"variant": "gating", "setting": "b_g = 0 to -5", "test_error": "fail"},
    {"variant": "gating", "setting": "b_g = -6", "test_error": "8.70"},
    {"variant": "gating", "setting": "b_g = -7", "test_error": "9.81"},
    {"variant": "shortcut_gating", "setting": "b_g = 0", "test_error": "12.86"},
    {"variant": "shortcut_gating", "setting": "b_g = -6", "test_error": "6.91"},
    {"variant": "conv1x1", "setting": "", "test_error": "12.22"},
    {"variant": "dropout", "setting": "p = 0.5", "test_error": "fail"},
]
PUBLISHED_SOURCE = "He, Zhang, Ren, Sun 2016b, Identity Mappings in Deep Residual Networks, Table 1 (ResNet-110, CIFAR-10)"


@dataclass(frozen=True)
class Spec:
    """The variants, each trained with the same data, batch order, initial seed and recipe.

    ``net`` is the template: its depth, width, block, scale and dropout apply to every variant; each
    gated variant is trained once per value of ``gate_biases``.
    """

    variants: tuple[str, ...] = setting(VARIANTS, "shortcut kinds to train, e.g. identity,scaling,gating",
                                        choices=VARIANTS)
    gate_biases: tuple[float, ...] = setting((0.0, -6.0), "b_g of the gated variants; one run per value, e.g. 0,-6",
                                             low=-30.0, high=30.0, option="gate_bias", label="gate bias")
    net: NetConfig = nested(lambda: NetConfig(depth=56, width=8),
                            expose=("depth", "width", "block", "scale", "scale_branch", "dropout"))
    data: DataConfig = nested(DataConfig, expose=("name",))
    train: TrainConfig = nested(TrainConfig, expose=("steps", "batch_size", "lr", "seed", "eval_every", "device"))

    def __post_init__(self) -> None:
        validate(self)
        order = [v for v in VARIANTS if v in self.variants]  # one order, so equal choices are equal specs
        if len(order) != len(self.variants):
            raise ValueError(f"variants must be different kinds; got {self.variants!r}")
        if len(set(self.gate_biases)) != len(self.gate_biases):
            raise ValueError(f"gate biases must be different numbers; got {self.gate_biases!r}")
        object.__setattr__(self, "variants", tuple(order))
        object.__setattr__(self, "gate_biases", tuple(sorted(self.gate_biases, reverse=True)))
        if not self.net.residual:
            raise ValueError("shortcut kinds need shortcuts: the template net must be residual")
        n = len(training_runs(self))
        if n > MAX_RUNS:
            raise ValueError(f"at most {MAX_RUNS} runs per experiment; these variants and gate biases make {n}")


def _net(spec: Spec, variant: str, gate_bias: float) -> NetConfig:
    if variant == "conv1x1":  # a 1x1 projection in every block: option C
        return replace(spec.net, shortcut="C", shortcut_kind="identity")
    return replace(spec.net, shortcut_kind=variant, gate_bias=gate_bias)


def runs_of(spec: Spec) -> list[tuple[str, float | None]]:
    """(variant, gate bias or None) per run, in the order trained."""
    return [(v, b) for v in spec.variants for b in (spec.gate_biases if v in GATED else (None,))]


def training_runs(spec: Spec) -> list[training.Spec]:
    return [training.Spec(net=_net(spec, v, 0.0 if b is None else b), data=spec.data, train=spec.train)
            for v, b in runs_of(spec)]


PRESET = Spec()


def cost(spec: Spec) -> float | None:
    return costs.training_seconds(training_runs(spec))


def expected_factor(net: NetConfig, variant: str) -> float | None:
    """The product of the shortcut multipliers over the net's blocks where it is a constant: 1 for
    the identity, λ^L for scaling, (1 - p)^L for dropout (its expectation); None where it depends on
    the data (gates, 1x1 convolutions)."""
    blocks = sum(net.blocks_per_stage)
    return {"identity": 1.0, "scaling": net.scale ** blocks, "dropout": (1 - net.dropout) ** blocks}.get(variant)


def label(variant: str, gate_bias: float | None, net: NetConfig) -> str:
    """A run's name for people, e.g. "gating, b_g = -6"."""
    if variant in GATED:
        return f"{variant.replace('_', ' ')}, b_g = {gate_bias:g}"
    if variant == "scaling":
        return f"scaling, λ = {net.scale:g}" + (" (F x 1-λ)" if net.scale_branch else "")
    if variant == "dropout":
        return f"dropout, p = {net.dropout:g}"
    return {"conv1x1": "1x1 conv"}.get(variant, variant)


def run(spec: Spec, ctx: Context | None = None) -> Outcome:
    """Train every variant (in parallel where the machine allows) and measure the shortcut gradient
    factor of each net at initialization and after training.

    Returns:
        Outcome with result ``{"status", "depth", "blocks", "dataset", "runs": [{"variant", "label",
        "gate_bias", "depth", "status", "message", "final_train_error", "final_test_error",
        "shortcut_gradient_factor", "shortcut_gradient_factor_init", "expected_factor",
        "block_factors", "seconds", "device", "history": [...]}]}`` and the weights of every run.
    """
    ctx = ctx or Context()
    runs = training_runs(spec)
    pairs = runs_of(spec)
    prepared = [training.prepare(sub) for sub in runs]  # every spec has at least one variant
    x, y = probe_batch(prepared[0][1], PROBE_IMAGES)
    init = [shortcut_gradient_factor(model, x, y) for model, _, _ in prepared]
    tag = {id(sub): {"variant": v, "gate_bias": b, "depth": sub.net.depth, "label": label(v, b, sub.net)}
           for sub, (v, b) in zip(runs, pairs)}
    status, fitted = training.fit_all(runs, ctx, lambda sub: tag[id(sub)], prepared)
    results, weights = [], {}
    for (variant, bias), (model, net, f), start in zip(pairs, fitted, init):
        if status == "cancelled":
            break
        trained = shortcut_gradient_factor(model.cpu(), x, y)
        results.append({"variant": variant, "label": label(variant, bias, net), "gate_bias": bias, "depth": net.depth,
                        "status": f.status, "message": f.message, "final_train_error": f.final_train_error,
                        "final_test_error": f.final_test_error, "shortcut_gradient_factor": trained["factor"],
                        "shortcut_gradient_factor_init": start["factor"],
                        "expected_factor": expected_factor(net, variant), "block_factors": trained["blocks"],
                        "seconds": f.seconds, "device": f.device, "history": training.history(f)})
        weights[variant if bias is None else f"{variant}_b{bias:g}".replace("-", "m").replace(".", "p")] = model.state_dict()
    blocks = sum(spec.net.blocks_per_stage)
    return Outcome({"status": status, "depth": spec.net.depth, "blocks": blocks, "dataset": spec.data.name,
                    "runs": results}, weights=weights)


def summary(spec: Spec, outcome: Outcome) -> str:
    result = outcome.result
    lines = [f"shortcut kinds on {spec.data.name}, depth {spec.net.depth} ({result['blocks']} blocks), "
             f"{spec.train.steps} steps{' (from the run store)' if outcome.from_store else ''}: {result['status']}",
             f"{'shortcut':<28}{'train error':>12}{'test error':>12}{'shortcut factor':>17}{'product of λs':>15}"]
    for r in result["runs"]:
        train, test = training.error_texts(r)
        expected = "data-dependent" if r["expected_factor"] is None else f"{r['expected_factor']:.3g}"
        lines.append(f"{r['label']:<28}{train:>12}{test:>12}{r['shortcut_gradient_factor']:>17.3g}{expected:>15}")
        if r["message"]:
            lines.append(f"  {r['message']}")
    return "\n".join(lines)


def describe(rec: dict) -> str:
    return f"Run {rec['run_index'] + 1}/{rec['runs']}: {rec['run']}, step {rec['done']}/{rec['total']}"


__all__ = ["PRESET", "PUBLISHED", "Spec", "VARIANTS", "cost", "expected_factor", "run", "runs_of", "training_runs"]
