"""Residual nets as ensembles (Veit et al. 2016): train a plain and a residual net, then lesion them.

The two nets are ordinary "train" runs, trained through :func:`run_cached` so that they land in the
run store and are reused (by this experiment, the page's block toggles and the attribution page).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import torch

from .. import cost as costs
from .. import landscape as land
from .. import pretrained
from ..config import DataConfig, NetConfig, TrainConfig, nested, setting, validate
from ..data import load_dataset
from ..lesion import accuracy, adjacent_pairs, path_lengths, random_drops, random_swaps, shape_keeping_blocks, single_block
from ..pretrained import Source
from ..train import resolve_device
from ..models import ResNet
from ..i18n import N_
from ..protocol import STOCHASTIC, VARIANTS, Context, Effect, Experiment, Outcome, Preset, Quiz, made_on, run_cached
from . import register, training

# The lesson nets: the plain and residual twins that the ensembles, attributions and landscape pages
# share (trained once, stored, reused by all four experiments). Declared once, here.
NET = NetConfig(depth=56, width=8)
TRAIN = TrainConfig(steps=400, eval_every=100)


@dataclass(frozen=True)
class Spec:
    """A lesion experiment; ``train.seed`` also seeds the random lesions. With ``net.stochastic_depth``
    below 1, a third net is trained: the residual net with stochastic depth (Huang et al. 2016)."""

    samples: int = setting(8, "random draws per k for the drop and swap curves", low=1, high=100)
    max_k: int = setting(8, "the curves go from 0 to this many removed blocks or swaps", low=1, high=50)
    net: NetConfig = nested(lambda: NET, expose=("depth", "width", "stochastic_depth"))
    data: DataConfig = nested(DataConfig, expose=("name",))
    train: TrainConfig = nested(lambda: TRAIN, expose=("steps", "batch_size", "lr", "seed", "device",
                                                                          "precision"))
    source: Source = nested(Source, expose=("pretrained", "weights", "test_images"))

    def __post_init__(self) -> None:
        validate(self)


def pair(net: NetConfig, data: DataConfig, train: TrainConfig) -> list[training.Spec]:
    """The plain and the residual twin of a net as ordinary training runs (plain first); shared by the
    lesion and attribution experiments, so both use the same stored nets."""
    return [training.Spec(net=replace(net, residual=v == "residual", stochastic_depth=1.0), data=data, train=train)
            for v in VARIANTS]


def training_runs(spec: Spec) -> list[training.Spec]:
    """Plain, residual and, with stochastic depth, the residual net trained with it; none for a published net."""
    if spec.source.active:
        return []
    runs = pair(spec.net, spec.data, spec.train)
    if spec.net.stochastic_depth < 1:
        runs.append(training.Spec(net=spec.net, data=spec.data, train=spec.train))
    return runs


def variant_of(sub: training.Spec) -> str:
    """plain, residual or stochastic_depth."""
    return STOCHASTIC if sub.net.stochastic_depth < 1 else "residual" if sub.net.residual else "plain"


def trained_model(sub: training.Spec, weights: dict[str, torch.Tensor]) -> ResNet:
    """Rebuild a trained net of a training spec from its stored weights (CPU, eval mode)."""
    model = training.prepare(sub)[0]
    model.load_state_dict(weights)
    return model.eval()


def analyse(model: ResNet, x: torch.Tensor, y: torch.Tensor, spec: Spec, tick=None) -> dict:
    """Base accuracy, every single-block lesion, and the random drop and swap curves; ``tick()`` is called after
    each evaluation of the test images (progress; it may raise to stop)."""
    ks = range(0, min(spec.max_k, len(shape_keeping_blocks(model))) + 1)
    seed = spec.train.seed
    base = accuracy(model, x, y)
    if tick:
        tick()
    return {"base_test_accuracy": base, "single_block": single_block(model, x, y, tick),
            "random_k": random_drops(model, x, y, ks, spec.samples, seed, tick),
            "swaps": random_swaps(model, x, y, ks if adjacent_pairs(model) else [0], spec.samples, seed, tick)}


def blocks_of(spec: Spec) -> int:
    """How many blocks the lesioned net has (a published net's, or the configured one's)."""
    return sum((pretrained.net_config(spec.source) or spec.net).blocks_per_stage)


def evaluations(spec: Spec, blocks: int, keeping: int | None = None, swappable: bool = True) -> int:
    """How many times :func:`analyse` evaluates the test images of a residual net of ``blocks`` blocks, ``keeping``
    of which keep the shape (default: all but the two downsampling blocks), with or without neighbours to swap."""
    keeping = blocks - 2 if keeping is None else keeping
    drops = 1 + min(spec.max_k, keeping) * spec.samples
    return 1 + blocks + drops + (drops if swappable else 1)


DOWNLOAD = N_("download")  # the "what" of a progress record of a published net's download (done, total: bytes)


def download_line(rec: dict) -> str | None:
    """A download's progress record for people ("downloading cifar10-resnet110: 3.1 of 6.9 MB"); None for others."""
    if rec.get("what") != DOWNLOAD:
        return None
    total = f" of {rec['total'] / 1e6:.1f}" if rec.get("total") else ""
    return f"downloading {rec['run']}: {rec['done'] / 1e6:.1f}{total} MB"


class _Stopped(Exception):
    pass


def open_published(source: Source, ctx: Context, share: float = 0.1) -> ResNet:
    """The published net of a lesson (shared: never changed, copy it to change anything), its download (where one
    is needed) reported as the first ``share`` of the progress bar."""
    def downloading(done: int, total: int) -> None:
        ctx.report({"run": source.name, "what": DOWNLOAD, "done": done, "total": total,
                    "fraction": share * done / total if total else 0.0})

    return pretrained.open_source(source, downloading)


def published_seconds(source: Source, device: str, images: Callable[[NetConfig], int]) -> float | None:
    """Predicted seconds of ``images(net)`` forward passes of a published net on CIFAR-10; None for a checkpoint file
    (its net is known only once read) or before the throughput is measured."""
    cfg = pretrained.net_config(source)
    return None if cfg is None else costs.forward_seconds(cfg, DataConfig("cifar10"), images(cfg), device)


def published_fields(source: Source) -> dict:
    """What every lesson's result on a published net says of it: its name, no training run of the lab's, and its
    reported test error (%, and as a fraction in the trained nets' "final_test_error")."""
    entry = source.entry
    return {"source": source.name, "train_key": None, "published_test_error": entry.test_error if entry else None,
            "final_train_error": None, "final_test_error": entry.test_error / 100 if entry else None}


def run_published(spec: Spec, ctx: Context) -> Outcome:
    """Lesion a published CIFAR-10 ResNet (or a checkpoint file) on a sample of CIFAR-10's test set."""
    source = spec.source
    name = source.name
    model = open_published(source, ctx)
    device = resolve_device(spec.train.device)
    if device.type != "cpu":  # a private copy on the accelerator; the shared net stays where it is
        model = land.evaluation_copy(model, device)
    x, y = pretrained.test_data(source, spec.train.seed)
    n = len(model.blocks)
    total = evaluations(spec, n, len(shape_keeping_blocks(model)), bool(adjacent_pairs(model)))
    done = [0]

    def tick() -> None:
        done[0] += 1
        ctx.report({"run": f"lesions of {name}", "done": done[0], "total": total,
                    "fraction": 0.1 + 0.9 * min(done[0] / total, 1.0)})
        if ctx.cancelled():
            raise _Stopped

    try:
        analysed = analyse(model, x, y, spec, tick)
    except _Stopped:
        return Outcome({"status": "cancelled", "blocks": n, "classes": 10, "path_lengths": [], "runs": []})
    run = {"variant": "residual", "depth": model.cfg.depth, **analysed, **published_fields(source),
           "test_images": len(y), "final_test_error": 1 - analysed["base_test_accuracy"], "trained_now": False,
           "device": str(device), "precision": "fp32", "stochastic_depth": 1.0}
    return Outcome({"status": "completed", "blocks": n, "classes": 10, "path_lengths": path_lengths(n), "runs": [run],
                    "source": name, "dataset": "cifar10", "test_images": len(y)})


def trained_pair(subs: list[training.Spec], ctx: Context, share: float = 1.0):
    """Train (or reuse from the store) each training spec; yields (index, spec, outcome, model), or
    stops after a cancelled one. Progress fractions run over ``share`` of the experiment."""
    for i, sub in enumerate(subs):
        def report(rec: dict, i=i, sub=sub) -> None:
            variant = variant_of(sub)
            ctx.report({**rec, "variant": variant, "depth": sub.net.depth, "run_index": i, "runs": len(subs),
                        "fraction": (i + share * rec["done"] / rec["total"]) / len(subs)})

        trained = run_cached(training.EXPERIMENT, sub, ctx.with_progress(report))
        if trained.result["status"] == "cancelled":
            return
        weights = ctx.store.load_weights(trained.key) if trained.from_store else trained.weights["model"]
        yield i, sub, trained, trained_model(sub, weights)


def run(spec: Spec, ctx: Context | None = None) -> Outcome:
    """Train (or reuse) the plain and the residual net, then lesion both.

    Returns:
        Outcome with result ``{"status", "blocks", "path_lengths": [{"length", "paths", "share"}],
        "runs": [{"variant", "depth", "base_test_accuracy", "single_block": [{"block", "stage",
        "droppable", "changes_shape", "test_accuracy"}], "random_k": [{"k", "mean_test_accuracy",
        "std", "samples"}], "swaps": [...], "train_key", "final_train_error", "final_test_error",
        "trained_now", "stochastic_depth"}]}`` (plain, residual and, with stochastic depth, the
        residual net trained with it). The weights stay with the training runs (``train_key``).
    """
    ctx = ctx or Context()
    if spec.source.active:
        return run_published(spec, ctx)
    data = load_dataset(spec.data)
    subs = training_runs(spec)
    runs = []
    for i, sub, trained, model in trained_pair(subs, ctx, share=0.85):
        variant = variant_of(sub)
        r = trained.result
        runs.append({"variant": variant, "depth": spec.net.depth, **analyse(model, data.test_x, data.test_y, spec),
                     "train_key": trained.key, "final_train_error": r["final_train_error"],
                     "final_test_error": r["final_test_error"], "trained_now": not trained.from_store,
                     "device": r["device"], "precision": r["precision"],
                     "stochastic_depth": sub.net.stochastic_depth})
        ctx.report({"run": f"lesions of {variant}-{spec.net.depth}", "variant": variant, "depth": spec.net.depth,
                    "run_index": i, "runs": len(subs), "done": spec.train.steps, "total": spec.train.steps,
                    "fraction": (i + 1) / len(subs)})
    status = "completed" if len(runs) == len(subs) else "cancelled"
    n = len(runs[-1]["single_block"]) if runs else 0
    return Outcome({"status": status, "blocks": n, "classes": data.num_classes,
                    "path_lengths": path_lengths(n) if n else [], "runs": runs})


def cost(spec: Spec) -> float | None:
    """Training time of the two nets plus the lesions: about (1 + blocks + 2 x max_k x samples)
    test-set evaluations per net (for a published net: of its test images; unknown for a checkpoint file)."""
    if spec.source.active:
        return published_seconds(spec.source, spec.train.device,
                                 lambda cfg: evaluations(spec, sum(cfg.blocks_per_stage)) * spec.source.test_images)
    train = costs.training_seconds(training_runs(spec))
    blocks = sum(spec.net.blocks_per_stage)
    evals = len(training_runs(spec)) * (1 + blocks + 2 * spec.max_k * spec.samples)
    test_images = max(1, costs.TRAIN_SIZE[spec.data.name] // 3)
    lesions = costs.forward_seconds(spec.net, spec.data, evals * test_images, spec.train.device)
    return None if train is None or lesions is None else train + lesions


def summary(spec: Spec, outcome: Outcome) -> str:
    result = outcome.result
    if spec.source.active:
        return _published_summary(spec, result)
    lines = [f"lesions on {spec.data.name}, depth {spec.net.depth}, {spec.train.steps} steps"
             f"{' (from the run store)' if outcome.from_store else ''}, {made_on(result)}: {result['status']}"]
    for r in result["runs"]:
        accs = [b["test_accuracy"] for b in r["single_block"] if b["test_accuracy"] is not None]
        median = median_after(r)
        lines.append(f"{r['variant']:<17} all blocks {r['base_test_accuracy']:.3f}   one block removed: median "
                     f"{float('nan') if median is None else median:.3f}, min {min(accs, default=float('nan')):.3f} "
                     f"over {len(accs)} removable blocks")
        lines.append(f"{'':<18}k random blocks removed: " + "  ".join(
            f"{k['k']}: {k['mean_test_accuracy']:.3f}" for k in r["random_k"]))
    return "\n".join(lines)


def _published_summary(spec: Spec, result: dict) -> str:
    lines = [f"lesions of {spec.source.name} on {spec.source.test_images} CIFAR-10 test images: {result['status']}"]
    for r in result["runs"]:
        base, n = r["base_test_accuracy"], r["test_images"]
        reported = r.get("published_test_error")
        lines.append(f"all blocks: accuracy {base:.3f} +- {pretrained.standard_error(base, n):.3f} (standard error)"
                     + (f"; reported test error {reported}% on all {pretrained.TEST_SET:,}" if reported is not None else ""))
        for b in r["single_block"]:
            mark = "  (downsampling)" if b["changes_shape"] else ""
            lines.append(f"  without block {b['block']:>3}: {b['test_accuracy']:.3f}{mark}")
        lines.append("k random blocks removed: " + "  ".join(f"{k['k']}: {k['mean_test_accuracy']:.3f}" for k in r["random_k"]))
    lines.append("no plain net is published: Veit et al. found that removing any single layer of a VGG net drops it "
                 "to chance")
    return "\n".join(lines)


def describe(rec: dict) -> str:
    return download_line(rec) or f"{rec['run']}: step {rec['done']}/{rec['total']}"


def median_after(run: dict) -> float | None:
    """Test accuracy left when one removable block is removed: the median over blocks."""
    accs = sorted(b["test_accuracy"] for b in run["single_block"] if b["test_accuracy"] is not None)
    return accs[len(accs) // 2] if accs else None


def _left(result: dict) -> dict[str, float] | None:
    """Plain and residual net -> :func:`median_after`; None unless both have removable blocks."""
    left = {r["variant"]: median_after(r) for r in result["runs"] if r["variant"] in VARIANTS}
    return left if len(left) == 2 and None not in left.values() else None


KEEPS, CHANCE = 0.1, 0.1  # the residual net keeps all but 10 points; the plain net ends within 10 points of chance


def effects(result: dict) -> list[Effect]:
    """Ensembles (Veit et al. 2016): with one block removed (the median over blocks) the residual net
    keeps nearly all of its test accuracy while the plain net falls to chance (a blind guess). Stated
    on what is left rather than on what is lost: a plain net that never trained has nothing to lose."""
    if result.get("source"):
        return _published_effects(result)
    left = _left(result)
    if left is None:
        return []
    runs = {r["variant"]: r for r in result["runs"] if r["variant"] in VARIANTS}
    depth, chance = runs["plain"]["depth"], 1 / result.get("classes", 10)
    plain, residual = left["plain"], left["residual"]
    base = runs["residual"]["base_test_accuracy"]
    return [Effect(N_("with one block removed the residual net keeps its accuracy and the plain net falls to chance"),
                   residual >= base - KEEPS and plain <= chance + CHANCE,
                   {f"plain-{depth}": plain, f"ResNet-{depth}": residual, N_("ResNet with all blocks"): base,
                    N_("chance"): chance},
                   f"median accuracy left: ResNet >= its base - {KEEPS}, plain <= chance + {CHANCE}")]


def _published_effects(result: dict) -> list[Effect]:
    """A published ResNet (no plain twin): with one block removed (the median over blocks) it keeps nearly all of its
    accuracy (Veit et al. Fig. 3a, ResNet-110 on CIFAR-10)."""
    if not result["runs"]:
        return []
    run = result["runs"][0]
    left, base = median_after(run), run["base_test_accuracy"]
    if left is None:
        return []
    return [Effect(N_("with one block removed the published ResNet keeps nearly all of its accuracy"),
                   left >= base - KEEPS, {N_("median accuracy with one block removed"): left,
                                          N_("all blocks"): base, N_("test images"): run["test_images"]},
                   f"median accuracy left >= all blocks - {KEEPS}")]


def answer(result: dict) -> int | None:
    """The option of the page's question a result bears out: 0 the plain net is left closer to chance
    with one block removed (the median over blocks), 1 the residual net."""
    left = _left(result)
    if left is None:
        return None
    return 0 if left["plain"] < left["residual"] else 1


QUIZ = Quiz(
    question=N_("Remove one block from each trained net (the median over all blocks): which net is left closer to "
                "chance, a blind guess?"),
    options=(N_("the plain net"), N_("the residual net")),
    why=(N_("A plain net is one path; a residual net of n blocks is 2^n paths, and removing a block leaves half of them, "
            "all paths it was trained with."),
         N_("In this result the residual net was left closer to chance: nets this small or this briefly trained need "
            "not depend on every block. Veit et al. measured the plain net (VGG) collapsing and the residual net "
            "barely changing.")),
    title=N_("Remove blocks from trained nets"))


EXPERIMENT = register(Experiment(
    name="lesion", help="remove blocks of trained plain and residual nets (Veit et al. 2016)", Spec=Spec, run=run,
    cost=cost, training_runs=training_runs, summary=summary,
    description=("Train (or reuse from the run store) a plain and a residual net of one depth, then measure test "
                 "accuracy with single blocks removed, k random blocks removed, and k random swaps of neighbouring "
                 "blocks."),
    describe=describe, presets=(Preset(Spec(), "lesion_preset.json"),), answer=answer, effects=effects, quiz=QUIZ))

__all__ = ["DOWNLOAD", "EXPERIMENT", "NET", "TRAIN", "Spec", "analyse", "answer", "blocks_of", "cost", "download_line",
           "effects", "evaluations", "median_after", "open_published", "pair", "published_fields", "published_seconds",
           "run", "run_published", "trained_model", "trained_pair", "training_runs", "variant_of"]
