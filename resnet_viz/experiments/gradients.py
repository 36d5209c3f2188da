"""Gradient flow: gradient size layer by layer, plain vs residual, at init and during training.

At initialization the probes are one forward/backward pass (:func:`at_init`, instant, used by the
page and the CLI). :func:`run` also trains each net and probes it every ``probe_every`` steps on the
same fixed batch (heatmap layer x step), then measures the response std of every 3x3 conv on the
test set (He et al. 2016, Fig. 7). Probing never changes training (see :mod:`resnet_viz.probes`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch

from .. import cost as costs
from .. import landscape as land
from .. import pretrained
from ..config import DataConfig, NetConfig, TrainConfig, nested, setting, validate
from ..data import Dataset, load_dataset
from ..models import build_model
from ..probes import chain_product, describe_ratio, first_last_ratio, gradient_probe, probe_batch, response_stds
from ..i18n import N_
from ..protocol import VARIANT_WORDS, VARIANTS, Context, Effect, Experiment, Outcome, Quiz, check_variants
from ..train import fit
from . import lesion, register, training

PROBE_BATCH = 128
MAX_PROBES = 100
VANISHES, EXPLODES = 1e-2, 1e2  # first/last ratio beyond these: the gradient vanishes / explodes toward the input


@dataclass(frozen=True)
class Spec:
    """A gradient-flow experiment: the same nets with and without shortcuts."""

    depths: tuple[int, ...] = setting((56,), "CIFAR-family depths, e.g. 20,56,110 (6n+2)", low=8, high=1202,
                                      max_items=4)
    variants: tuple[str, ...] = setting(VARIANTS, "plain and/or residual, e.g. plain,residual", choices=VARIANTS,
                                        words=VARIANT_WORDS)
    probe_every: int = setting(10, "probe the gradients every this many training steps (and at step 0)", low=1,
                               high=1_000_000)
    init_only: bool = setting(False, "probe at initialization only (instant); no training", flag="--init-only",
                              label="at initialization only")
    net: NetConfig = nested(lambda: NetConfig(depth=56, width=8),
                            expose=("activation", "batchnorm", "block", "init", "width"))
    data: DataConfig = nested(DataConfig, expose=("name",))
    train: TrainConfig = nested(lambda: TrainConfig(steps=200, eval_every=0, precision="fp32"),
                                expose=("steps", "batch_size", "lr", "seed", "device", "precision"))
    source: pretrained.Source = nested(pretrained.Source, expose=("pretrained", "weights"))

    def __post_init__(self) -> None:
        validate(self)
        object.__setattr__(self, "depths", tuple(sorted(self.depths)))
        object.__setattr__(self, "variants", check_variants(self.variants))
        if not self.init_only and self.train.steps // self.probe_every > MAX_PROBES:
            raise ValueError(f"at most {MAX_PROBES} probes per run: steps / probe_every is "
                             f"{self.train.steps // self.probe_every}; raise probe_every to at least "
                             f"{-(-self.train.steps // MAX_PROBES)}")
        self.nets()  # validates every depth with the block

    def nets(self) -> list[NetConfig]:
        """One net per (depth, variant), shallow and plain first."""
        return [replace(self.net, depth=d, residual=v == "residual") for d in self.depths for v in self.variants]


def training_runs(spec: Spec) -> list[training.Spec]:
    if spec.init_only or spec.source.active:  # a published net is trained already
        return []
    return [training.Spec(net=net, data=spec.data, train=spec.train) for net in spec.nets()]


def cost(spec: Spec) -> float | None:
    """Predicted seconds: the training runs plus the probes (about one training step each); for a published net,
    one probe (a forward and backward pass of the batch) and the responses on its test images."""
    if spec.source.active:
        return lesion.published_seconds(spec.source, spec.train.device, lambda cfg: 3 * PROBE_BATCH + RESPONSE_IMAGES)
    base = costs.training_seconds(training_runs(spec))
    return None if base is None else base * (1 + 1 / spec.probe_every)


def _describe(net: NetConfig, variant: str) -> dict:
    return {"variant": variant, "depth": net.depth, "activation": net.activation, "batchnorm": net.batchnorm,
            "block": net.block, "init": net.init, "name": net.name}


def _variant(net: NetConfig) -> str:
    return "residual" if net.residual else "plain"


def _probe_summary(probe: dict) -> dict:
    return {"loss": probe["loss"], "layers": probe["layers"], "blocks": probe["blocks"],
            "chain_product": chain_product(probe["blocks"]), "first_last_ratio": first_last_ratio(probe["layers"])}


def at_init(spec: Spec, data: Dataset | None = None) -> dict:
    """Probes of every net at initialization, in float64 (vanishing gradients stay visible).

    Returns:
        ``{"runs": [{"variant", "depth", "activation", "batchnorm", "block", "init", "name", "loss",
        "layers": [{"index", "name", "grad_norm"}], "blocks": [{"block", "stage", "grad_in",
        "grad_out", "gain"}], "chain_product": [...], "first_last_ratio"}]}``
    """
    data = data or load_dataset(spec.data)
    x, y = probe_batch(data, PROBE_BATCH)
    runs = []
    for net in spec.nets():
        net = replace(net, in_channels=data.in_channels, num_classes=data.num_classes)
        model = build_model(net, seed=spec.train.seed)
        runs.append({**_describe(net, _variant(net)), **_probe_summary(gradient_probe(model, x, y, torch.float64))})
    return {"runs": runs}


def run(spec: Spec, ctx: Context | None = None) -> Outcome:
    """Probe at init; unless ``init_only``, train each net with probes every ``probe_every`` steps and
    measure the responses.

    Returns:
        Outcome with result ``{"status", "probe_images", "dataset", "seed", "runs": [{... as
        :func:`at_init` ..., and after training: "status", "message", "seconds", "final_train_error",
        "final_test_error", "checkpoints": {"steps": [...], "layer_names": [...], "grad_norms": [[per
        layer] per checkpoint], "loss": [...]}, "responses_init": [{"index", "name", "std"}],
        "responses_trained": [...]}]}`` and the trained weights named like ``plain_56``.
        Checkpoint probes run in float32 on the training model.
    """
    ctx = ctx or Context()
    if spec.source.active:
        return run_published(spec, ctx)
    data = load_dataset(spec.data)
    init = at_init(spec, data)
    head = {"probe_images": PROBE_BATCH, "dataset": spec.data.name, "seed": spec.train.seed}
    if spec.init_only:
        return Outcome({"status": "completed", **head, **init})
    x, y = probe_batch(data, PROBE_BATCH)
    nets = spec.nets()
    steps = spec.train.steps
    results, weights, status = [], {}, "completed"
    for i, net in enumerate(nets):
        net = replace(net, in_channels=data.in_channels, num_classes=data.num_classes)
        variant = _variant(net)
        model = build_model(net, seed=spec.train.seed)
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

        def report(rec: dict, i=i, variant=variant, net=net) -> None:
            extra = {}
            if rec["step"] % spec.probe_every == 0 or rec["step"] == steps:
                extra["grad_norms"] = probe(rec["step"])
            ctx.report({**rec, **extra, "run": net.name, "variant": variant, "depth": net.depth,
                        "done": rec["step"], "total": steps, "run_index": i, "runs": len(nets),
                        "fraction": (i + rec["step"] / steps) / len(nets)})

        fitted = fit(model, data, spec.train, callback=report, cancel=ctx.cancel)
        if fitted.status == "cancelled":
            status = "cancelled"
            break
        results.append({**init["runs"][i], "status": fitted.status, "message": fitted.message,
                        "seconds": fitted.seconds, "device": fitted.device, "precision": fitted.precision,
                        "final_train_error": fitted.final_train_error, "final_test_error": fitted.final_test_error,
                        "checkpoints": checkpoints, "responses_init": responses_init,
                        "responses_trained": response_stds(model, data.test_x)})
        weights[f"{variant}_{net.depth}"] = model.state_dict()
    return Outcome({"status": status, **head, "runs": results}, weights=weights)


RESPONSE_IMAGES = 500  # CIFAR-10 test images a published net's responses are measured on


def run_published(spec: Spec, ctx: Context) -> Outcome:
    """A published CIFAR-10 ResNet as trained: the gradient of every conv layer on a batch of CIFAR-10 training
    images (as the trained nets are probed during training here), and the std of every 3x3 conv's response on its
    test images (He et al. 2016, Fig. 7), all normalized as it was trained. Its initialization is not published, so
    there is no "at initialization"."""
    shared = lesion.open_published(spec.source, ctx)
    model = land.evaluation_copy(shared)  # probes switch modes and hook modules: never on the shared net
    x, y = pretrained.train_sample(PROBE_BATCH, spec.train.seed)
    test_x, _labels = pretrained.test_data(pretrained.Source(test_images=RESPONSE_IMAGES), spec.train.seed)
    ctx.report({"run": spec.source.name, "done": 1, "total": 2, "fraction": 0.5})
    probe = gradient_probe(model, x, y)
    run = {**_describe(model.cfg, "residual"), **_probe_summary(probe), "status": "completed", "message": "",
           "seconds": 0.0, "device": "cpu", "precision": "fp32", **lesion.published_fields(spec.source),
           "checkpoints": None, "responses_init": None, "responses_trained": response_stds(model, test_x)}
    ctx.report({"run": spec.source.name, "done": 2, "total": 2, "fraction": 1.0})
    return Outcome({"status": "completed", "probe_images": len(y), "response_images": len(test_x),
                    "dataset": "cifar10", "seed": spec.train.seed, "source": spec.source.name, "runs": [run]})


def summary(spec: Spec, outcome: Outcome) -> str:
    if spec.source.active:
        r = outcome.result["runs"][0]
        return "\n".join([
            f"{spec.source.name} as published, on {outcome.result['probe_images']} CIFAR-10 training images: "
            f"first/last block gradient {r['first_last_ratio']:.4g} ({describe_ratio(r['first_last_ratio'])})",
            f"mean response std of its 3x3 layers on {outcome.result['response_images']} test images: "
            f"{mean_response_std(r):.3f} (He et al. 2016, Fig. 7)"])
    lines = [f"gradient norms at initialization on {PROBE_BATCH} {spec.data.name} training images (float64)"
             f"{' (from the run store)' if outcome.from_store else ''}",
             f"{'net':<36}{'first/last block':>18}  gradient"]
    for r in outcome.result["runs"]:
        lines.append(f"{r['name']:<36}{r['first_last_ratio']:>18.4g}  {describe_ratio(r['first_last_ratio'])}")
    if not spec.init_only:
        lines.append(f"after {spec.train.steps} training steps:")
        for r in outcome.result["runs"]:
            error = "diverged" if r["final_train_error"] is None else f"{r['final_train_error']:.4f}"
            lines.append(f"  {r['name']:<34} train error {error}  mean response std {mean_response_std(r):.3f}")
    return "\n".join(lines)


def describe(rec: dict) -> str:
    if "run_index" not in rec:  # a published net: its download, then its probes
        return lesion.download_line(rec) or f"{rec['run']}: {rec['done']}/{rec['total']}"
    return f"Run {rec['run_index'] + 1}/{rec['runs']}: {rec['run']}, step {rec['done']}/{rec['total']}"


SMALLER = 0.05  # trained responses: the residual net's mean std at least this much below the plain net's


def mean_response_std(run: dict) -> float:
    """The mean over a trained run's 3x3 layers of their response std (He et al. 2016, Fig. 7)."""
    stds = [layer["std"] for layer in run["responses_trained"]]
    return sum(stds) / len(stds)


def _decades_from_level(ratio: float) -> float:
    """How many powers of ten a first/last gradient ratio is from 1 (infinite for 0)."""
    return abs(math.log10(ratio)) if ratio > 0 else math.inf


def effects(result: dict) -> list[Effect]:
    """Gradient flow: at initialization the residual net's first/last gradient ratio is at least ten
    times closer to 1 (level) than the plain net's, at every depth; after training (when trained), the
    residual net's 3x3 responses are smaller on average (He et al. 2016, Fig. 7)."""
    found = []
    by = {(r["variant"], r["depth"]): r for r in result["runs"]}
    for depth in sorted({d for _, d in by}):
        plain, residual = by.get(("plain", depth)), by.get(("residual", depth))
        if plain is None or residual is None:
            continue
        p, q = plain["first_last_ratio"], residual["first_last_ratio"]
        found.append(Effect(N_("at initialization the residual net's gradient stays closer to level than the plain "
                               "net's"), _decades_from_level(q) + 1 <= _decades_from_level(p),
                            {f"plain-{depth}": p, f"ResNet-{depth}": q},
                            "decades from 1: ResNet + 1 <= plain"))
        if plain.get("responses_trained") and residual.get("responses_trained"):
            mp, mr = mean_response_std(plain), mean_response_std(residual)
            found.append(Effect(N_("after training the residual net's responses are smaller than the plain net's"),
                                mr + SMALLER <= mp, {f"plain-{depth}": mp, f"ResNet-{depth}": mr},
                                f"mean std: ResNet + {SMALLER:g} <= plain"))
    return found


def answer(result: dict) -> int | None:
    """The option of the page's question a result (at initialization) bears out: the plain net's
    first/last gradient ratio 0 vanishes, 1 stays within a factor of 100, 2 explodes."""
    plain = [r["first_last_ratio"] for r in result["runs"] if r["variant"] == "plain"]
    if not plain:
        return None
    return 0 if plain[0] < VANISHES else 2 if plain[0] > EXPLODES else 1


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


QUIZ = Quiz(
    question=N_("At initialization, how does the gradient of this lesson's plain net at its first layer compare with "
                "that at its last layer? (Its settings appear with the result.)"),
    options=(N_("much smaller: it vanishes toward the input"), N_("within a factor of 100"),
             N_("much larger: it explodes toward the input")),
    why=(N_("Through every layer the gradient is multiplied by that layer's Jacobian, so a deep plain net multiplies "
            "dozens of factors: here they are below 1 on the whole (as with sigmoid and no batch norm) and the product "
            "vanishes toward the input."),
         N_("Through every layer the gradient is multiplied by that layer's Jacobian: here the factors nearly cancel "
            "over these layers, so the first layer's gradient stays within a factor of 100 of the last one's. A deeper "
            "plain net multiplies more of them."),
         N_("Through every layer the gradient is multiplied by that layer's Jacobian, so a deep plain net multiplies "
            "dozens of factors: here each is a little above 1 on the whole (as with batch norm and ReLU) and the "
            "product grows toward the input.")),
    title=N_("Gradients through plain and residual nets"))


EXPERIMENT = register(Experiment(
    name="gradients", help="gradient norm of every conv layer, plain vs residual, at initialization and during training",
    Spec=Spec, run=run, cost=cost, training_runs=training_runs, summary=summary,
    description=("Measure the gradient norm of every conv layer's weights on one batch of real data, for plain and "
                 "residual nets: at initialization (float64), then, unless only the initialization is asked for, "
                 "every few steps of training, and the response std of every 3x3 conv after training (He et al. "
                 "2016, Fig. 7)."),
    describe=describe, answer=answer, effects=effects, quiz=QUIZ))

__all__ = ["EXPERIMENT", "PROBE_BATCH", "Spec", "VARIANTS", "answer", "at_init", "cost", "effects", "mean_response_std", "run",
           "training_runs"]
