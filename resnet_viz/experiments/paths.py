"""Which paths carry the gradient of a residual net (Veit, Wilber, Belongie 2016, Sec. 6 and Fig. 6).

A residual net of n blocks unravels into 2^n paths whose lengths follow Binomial(n, 1/2), so a
typical path passes through n/2 residual branches. But the gradient of one path shrinks about
exponentially with its length, so the gradient of the whole net comes from much shorter paths: the
"effective paths". Measured on the residual net of the ensembles page, at initialization and trained.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import cost as costs
from .. import landscape as land
from .. import pretrained
from ..config import DataConfig, NetConfig, TrainConfig, nested, setting, validate
from ..data import load_dataset
from ..i18n import N_
from ..lesion import path_lengths
from ..protocol import Context, Effect, Experiment, Outcome, Preset, made_on
from ..train import resolve_device
from . import lesion, register, training
from .landscape import BN_IMAGES, fixed_subset

STAGES = ("init", "trained")
STAGE_NAMES = {"init": N_("the net at initialization"), "trained": N_("the trained net")}

PUBLISHED = N_("Veit, Wilber, Belongie 2016, Residual Networks Behave Like Ensembles of Relatively Shallow Networks, "
             "Fig. 6 (ResNet-110 on CIFAR-10, 54 blocks): the gradient of a path falls exponentially with its "
             "length; almost all of the gradient comes from paths through 5 to 17 blocks, while the typical path "
             "passes through 27")


@dataclass(frozen=True)
class Spec:
    """A paths experiment; ``train.seed`` also seeds the chosen blocks and images. Net, data and
    training defaults are the lesion experiment's, so it measures the ensembles page's residual net."""

    samples: int = setting(100, "random paths measured per path length", low=1, high=1000)
    images: int = setting(16, "training images per path (the gradient of their mean loss)", low=1, high=256)
    net: NetConfig = nested(lambda: lesion.NET, expose=("depth", "width"))
    data: DataConfig = nested(DataConfig, expose=("name",))
    train: TrainConfig = nested(lambda: lesion.TRAIN, expose=("steps", "batch_size", "lr", "seed", "device",
                                                                                "precision"))
    source: pretrained.Source = nested(pretrained.Source, expose=("pretrained", "weights"))

    def __post_init__(self) -> None:
        validate(self)
        if not self.net.residual:
            raise ValueError("paths need a residual net: a plain net has a single path")


def training_runs(spec: Spec) -> list[training.Spec]:
    """The lesion experiment's residual net; none for a published net."""
    if spec.source.active:
        return []
    return [lesion.pair(spec.net, spec.data, spec.train)[1]]


def run(spec: Spec, ctx: Context | None = None) -> Outcome:
    """Train (or reuse) the residual net; measure path gradients at initialization (BN statistics
    estimated on training images, since an untrained net has none of its own) and trained.

    Returns:
        Outcome with result ``{"status", "depth", "blocks", "dataset", "samples", "images",
        "path_lengths": [{"length", "paths", "share"}], "train_key", "final_train_error",
        "final_test_error", "runs": [{"stage": "init" | "trained", "by_length": [{"k",
        "grad_norm_mean", "grad_norm_std", "samples"}], "effective": {"by_length": [{"k",
        "path_share", "gradient_share"}], "typical_length", "effective_length",
        "effective_range"}}]}``.
    """
    ctx = ctx or Context()
    if spec.source.active:
        return run_published(spec, ctx)
    data = load_dataset(spec.data)
    device = resolve_device(spec.train.device)
    x, y = (t.to(device) for t in fixed_subset(data, spec.images, spec.train.seed))
    sub = training_runs(spec)[0]
    share = 0.6
    found = next(lesion.trained_pair([sub], ctx, share=share), None)
    if found is None:
        return Outcome({"status": "cancelled", "runs": []})
    _, _, trained, model = found
    initial = land.recompute_batchnorm(training.prepare(sub)[0].to(device),
                                       fixed_subset(data, BN_IMAGES, spec.train.seed)[0].to(device))
    n = len(model.blocks)
    runs = []
    for s, (stage, net) in enumerate(zip(STAGES, (initial, model.to(device)))):
        def report(done: int, total: int, s=s, stage=stage) -> None:
            ctx.report({"run": STAGE_NAMES[stage], "what": N_("paths"), "stage": stage, "run_index": s, "runs": len(STAGES),
                        "done": done, "total": total,
                        "fraction": share + (1 - share) * (s + done / total) / len(STAGES)})

        by_length = land.path_gradients(net, x, y, range(n + 1), spec.samples, spec.train.seed, report, ctx.cancel)
        if by_length is None:
            break
        runs.append({"stage": stage, "by_length": by_length, "effective": land.effective_paths(by_length, n)})
    r = trained.result
    return Outcome({"status": "completed" if len(runs) == len(STAGES) else "cancelled", "depth": spec.net.depth,
                    "blocks": n, "dataset": spec.data.name, "samples": spec.samples, "images": spec.images,
                    "path_lengths": path_lengths(n), "train_key": trained.key,
                    "final_train_error": r["final_train_error"], "final_test_error": r["final_test_error"],
                    "device": r["device"], "precision": r["precision"], "runs": runs})


def run_published(spec: Spec, ctx: Context) -> Outcome:
    """The paths of a published CIFAR-10 ResNet, trained (its initialization is not published), on a fixed sample
    of CIFAR-10's training images normalized as it was trained."""
    shared = lesion.open_published(spec.source, ctx)
    device = resolve_device(spec.train.device)
    x, y = (t.to(device) for t in pretrained.train_sample(spec.images, spec.train.seed))
    n = len(shared.blocks)

    def report(done: int, total: int) -> None:
        ctx.report({"run": STAGE_NAMES["trained"], "what": N_("paths"), "stage": "trained", "run_index": 0, "runs": 1,
                    "done": done, "total": total, "fraction": 0.1 + 0.9 * done / total})

    # path_gradients works on its own copy on the images' device: the shared net is never moved or changed
    by_length = land.path_gradients(shared, x, y, range(n + 1), spec.samples, spec.train.seed, report, ctx.cancel)
    runs = [] if by_length is None else [{"stage": "trained", "by_length": by_length,
                                          "effective": land.effective_paths(by_length, n)}]
    return Outcome({"status": "completed" if runs else "cancelled", "depth": shared.cfg.depth, "blocks": n,
                    "dataset": "cifar10", "samples": spec.samples, "images": len(y), "path_lengths": path_lengths(n),
                    **lesion.published_fields(spec.source), "device": str(device), "precision": "fp32",
                    "runs": runs})


def cost(spec: Spec) -> float | None:
    """Training the net (when not stored yet) plus, per stage and path length, a forward and backward
    pass (about 3 forward passes) of samples x images; for a published net, the trained stage alone."""
    if spec.source.active:
        return lesion.published_seconds(spec.source, spec.train.device,
                                        lambda cfg: (sum(cfg.blocks_per_stage) + 1) * spec.samples * spec.images * 3)
    train = costs.training_seconds(training_runs(spec))
    blocks = sum(spec.net.blocks_per_stage)
    images = len(STAGES) * (blocks + 1) * spec.samples * spec.images * 3 + BN_IMAGES
    paths = costs.forward_seconds(spec.net, spec.data, images, spec.train.device)
    return None if train is None or paths is None else train + paths


def summary(spec: Spec, outcome: Outcome) -> str:
    result = outcome.result
    what = f"{spec.source.name} on CIFAR-10" if spec.source.active else f"ResNet-{spec.net.depth} on {spec.data.name}"
    lines = [f"paths of {what} ({result.get('blocks', '?')} blocks), "
             f"{spec.samples} paths per length{' (from the run store)' if outcome.from_store else ''}, {made_on(result)}: "
             f"{result['status']}"]
    for r in result["runs"]:
        e = r["effective"]
        lo, hi = e["effective_range"]
        lines.append(f"{r['stage']:<8} gradient of one path: k=0 {r['by_length'][0]['grad_norm_mean']:.3g}, "
                     f"k={r['by_length'][-1]['k']} {r['by_length'][-1]['grad_norm_mean']:.3g}; effective paths "
                     f"{lo}-{hi} blocks (90% of the gradient), mean {e['effective_length']:.1f}; typical path "
                     f"{e['typical_length']:g}")
    return "\n".join(lines)


def describe(rec: dict) -> str:
    if (line := lesion.download_line(rec)) is not None:
        return line
    what = f"{rec['what']} of " if rec.get("what") else ""
    return f"{what}{rec['run']}: {rec['done']}/{rec['total']}"


SHORTER = 2.0  # "shorter": at least two blocks shorter than the typical path


def effects(result: dict) -> list[Effect]:
    """The paths: the gradient-weighted length of the trained net's paths is clearly shorter than the
    typical path's (Veit et al. 2016, Fig. 6)."""
    trained = next((r["effective"] for r in result["runs"] if r["stage"] == "trained"), None)
    if trained is None:
        return []
    return [Effect(N_("the paths that carry the gradient are shorter than the typical path"),
                   trained["effective_length"] + SHORTER <= trained["typical_length"],
                   {N_("effective length"): trained["effective_length"], N_("typical length"): trained["typical_length"]},
                   f"effective + {SHORTER:g} <= typical")]


EXPERIMENT = register(Experiment(
    name="paths", help="the gradient through single paths of each length of a residual net, and the effective paths "
                       "(Veit et al. 2016)", Spec=Spec, run=run, cost=cost, training_runs=training_runs,
    summary=summary,
    description=("Train (or reuse from the run store) the residual net of one depth; at initialization and after "
                 "training, sample paths of each length k (the backward pass through the residual branch of k "
                 "random blocks and the shortcut of the others) and measure the gradient that reaches the input."),
    describe=describe, presets=(Preset(Spec(), "paths_preset.json"),), effects=effects))

__all__ = ["EXPERIMENT", "PUBLISHED", "STAGES", "Spec", "cost", "run", "training_runs"]
