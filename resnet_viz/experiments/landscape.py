"""The loss surface of a trained plain and residual net around its minimum (Li et al. 2018, Fig. 5).

The nets are the ensembles page's: the plain and residual twin trained by :func:`lesion.pair`, reused
from the run store. Around each, the training loss on a fixed subset over a grid in the plane of two
filter-normalized random directions (the same seed for both nets), and the 1-D line from the net's
initialization to its trained weights (Goodfellow et al. 2015).
"""

from __future__ import annotations

import functools
import math
import threading
import time
from dataclasses import dataclass, replace

import torch

from .. import cost as costs
from .. import landscape as land
from .. import pretrained
from ..config import DataConfig, NetConfig, TrainConfig, nested, setting, validate
from ..data import load_dataset
from ..i18n import N_
from ..protocol import VARIANTS, Context, Effect, Experiment, Outcome, Preset, Published, Quiz, check_variants, made_on, run_name
from ..train import resolve_device, run_parallel
from . import lesion, register, training

ALPHAS = tuple(round(-0.25 + 0.05 * i, 2) for i in range(31))  # the 1-D line, a little beyond both ends
BN_IMAGES = 512  # training images that set the BN statistics along the 1-D line

# Li et al. 2018, Fig. 5: CIFAR-10 test error (%) of the nets whose surfaces it shows.
PUBLISHED = Published(
    rows=tuple({"depth": d, "ResNet test error (%)": r, "no shortcuts test error (%)": p}
               for d, r, p in ((20, 7.37, 8.18), (56, 5.89, 13.31), (110, 5.79, 16.44))),
    source=("Li, Xu, Taylor, Studer, Goldstein 2018, Visualizing the Loss Landscape of Neural Nets, Fig. 5 "
            "(CIFAR-10 test error %, ResNet vs the same net without skip connections)"),
    columns=(N_("depth"), N_("ResNet test error (%)"), N_("no shortcuts test error (%)")))


@dataclass(frozen=True)
class Spec:
    """A loss-landscape experiment; ``train.seed`` also seeds the directions and the image subset.
    The net, data and training defaults are the lesion experiment's, so both use the same trained nets."""

    variants: tuple[str, ...] = setting(VARIANTS, "nets to map: plain, residual or both", choices=VARIANTS)
    grid: int = setting(21, "points per axis of the surface (odd, so the trained net is its centre); 21 is "
                            "441 points, up to 51 on a GPU", low=5, high=51)
    span: float = setting(1.0, "the surface covers [-span, span] along each direction", low=0.1, high=5.0)
    images: int = setting(256, "training images the loss is measured on (a fixed, seeded subset)", low=16, high=4096)
    net: NetConfig = nested(lambda: lesion.NET, expose=("depth", "width"))
    data: DataConfig = nested(DataConfig, expose=("name",))
    train: TrainConfig = nested(lambda: lesion.TRAIN, expose=("steps", "batch_size", "lr", "seed", "device",
                                                                                "precision"))
    source: pretrained.Source = nested(pretrained.Source, expose=("pretrained", "weights"))

    def __post_init__(self) -> None:
        validate(self)
        object.__setattr__(self, "variants", check_variants(self.variants))
        if self.grid % 2 == 0:
            raise ValueError(f"grid must be odd, so that the trained net is its centre point; got {self.grid}")
        if not self.net.residual:
            raise ValueError("the template net is residual; choose plain and residual with variants")


def training_runs(spec: Spec) -> list[training.Spec]:
    """The lesion experiment's plain and residual twins, those of ``variants``; none for a published net."""
    if spec.source.active:
        return []
    return [sub for sub in lesion.pair(spec.net, spec.data, spec.train) if lesion.variant_of(sub) in spec.variants]


def fixed_subset(data, images: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``images`` training images and labels chosen with ``seed`` (every net and point sees these)."""
    order = torch.randperm(len(data.train_x), generator=torch.Generator().manual_seed(seed))[:images]
    return data.train_x[order], data.train_y[order]


def run(spec: Spec, ctx: Context | None = None) -> Outcome:
    """Train (or reuse) the nets, then map the loss around each.

    Returns:
        Outcome with result ``{"status", "depth", "dataset", "grid_points", "span", "images", "seed",
        "runs": [{"variant", "depth", "name", "grid": {"x", "y", "loss", "accuracy"}, "interpolation":
        {"alpha", "loss", "accuracy"}, "numbers": {"curvature_ratio", "convex_share", "basin_share",
        "centre_loss", "max_loss"}, "curvature_ratio", "centre_loss", "train_key", "final_train_error",
        "final_test_error", "surface_seconds", "seconds", "device"}]}`` (seconds: surface and line) and, per net, the two directions (``directions_<variant>``:
        ``x.<parameter>`` and ``y.<parameter>``), so that the surface can be checked or redrawn.
    """
    ctx = ctx or Context()
    if spec.source.active:
        return run_published(spec, ctx)
    data = load_dataset(spec.data)
    device = resolve_device(spec.train.device)
    x, y = (t.to(device) for t in fixed_subset(data, spec.images, spec.train.seed))
    bn_x = fixed_subset(data, BN_IMAGES, spec.train.seed)[0].to(device)
    axis = land.grid_axis(spec.grid, spec.span)
    subs = training_runs(spec)
    share = 0.5  # of the progress bar: training (or loading) the nets, then their surfaces
    trained = list(lesion.trained_pair(subs, ctx.with_progress(
        lambda rec: ctx.report({**rec, "fraction": share * rec["fraction"]})), share=1.0))
    done = [0.0] * len(trained)
    lock = threading.Lock()

    # the initial nets of the 1-D line, built here one after another: building draws from torch's global
    # generator, which parallel threads would share (their draws would interleave, the line would differ)
    initials = [training.prepare(sub)[0] for _, sub, _, _ in trained]

    def surface(i: int, sub: training.Spec, fitted: Outcome, model) -> tuple[dict, dict] | None:
        variant = lesion.variant_of(sub)
        name = run_name(variant, spec.net.depth)
        total = spec.grid ** 2 + len(ALPHAS)

        def report(points: int, what: str) -> None:
            with lock:  # the nets may be mapped in parallel threads: keep the fraction monotone
                done[i] = points / total
                ctx.report({"run": name, "what": what, "variant": variant, "depth": spec.net.depth, "run_index": i,
                            "runs": len(subs), "done": points, "total": total,
                            "fraction": share + (1 - share) * sum(done) / len(subs)})

        start = time.perf_counter()
        model = model.to(device)
        d1, d2 = land.directions(model, spec.train.seed)
        grid = land.loss_surface(model, d1, d2, x, y, axis, axis, cancel=ctx.cancel,
                                 progress=lambda points, _: report(points, N_("loss surface")))
        if grid is None:
            return None
        surface_seconds = time.perf_counter() - start
        initial = initials[i].to(device)
        line = land.interpolation(land.recompute_batchnorm(initial, bn_x), model, x, y, ALPHAS)
        report(total, N_("1-D line"))
        numbers = land.surface_numbers(grid, axis, axis, chance_loss=math.log(data.num_classes))
        r = fitted.result
        run = {"variant": variant, "depth": spec.net.depth, "name": name,
               "grid": {"x": axis, "y": axis, **grid}, "interpolation": line, "numbers": numbers,
               "curvature_ratio": numbers["curvature_ratio"], "centre_loss": numbers["centre_loss"],
               "train_key": fitted.key, "final_train_error": r["final_train_error"],
               "final_test_error": r["final_test_error"], "surface_seconds": surface_seconds,
               "seconds": time.perf_counter() - start, "device": str(device), "precision": r["precision"]}
        return run, {**{f"x.{k}": t for k, t in d1.items()}, **{f"y.{k}": t for k, t in d2.items()}}

    # the nets are independent: on a multi-core CPU each maps its surface on its own core (measured on
    # the 2-core development machine: 1.37x faster than one after another with both cores each)
    mapped = run_parallel([functools.partial(surface, *item) for item in trained], device)
    found = [m for m in mapped if m is not None]
    runs = [run for run, _ in found]
    weights = {f"directions_{run['variant']}": directions for run, directions in found}
    status = "completed" if len(runs) == len(subs) else "cancelled"
    return Outcome({"status": status, "depth": spec.net.depth, "dataset": spec.data.name, "grid_points": spec.grid,
                    "span": spec.span, "images": spec.images, "seed": spec.train.seed, "runs": runs}, weights=weights)


def run_published(spec: Spec, ctx: Context) -> Outcome:
    """The loss surface around a published CIFAR-10 ResNet, on a fixed sample of CIFAR-10's training images
    (normalized as it was trained). No 1-D line: the net's initialization is not published."""
    shared = lesion.open_published(spec.source, ctx)
    device = resolve_device(spec.train.device)
    x, y = (t.to(device) for t in pretrained.train_sample(spec.images, spec.train.seed))
    model = land.evaluation_copy(shared, device)  # the shared net is never moved or changed
    depth = model.cfg.depth
    axis = land.grid_axis(spec.grid, spec.span)
    name = run_name("residual", depth)
    start = time.perf_counter()

    def report(points: int, total: int) -> None:
        ctx.report({"run": name, "what": N_("loss surface"), "variant": "residual", "depth": depth, "run_index": 0,
                    "runs": 1, "done": points, "total": total, "fraction": 0.1 + 0.9 * points / total})

    d1, d2 = land.directions(model, spec.train.seed)
    grid = land.loss_surface(model, d1, d2, x, y, axis, axis, cancel=ctx.cancel, progress=report)
    if grid is None:
        return Outcome({"status": "cancelled", "runs": []})
    seconds = time.perf_counter() - start
    numbers = land.surface_numbers(grid, axis, axis, chance_loss=math.log(10))
    run = {"variant": "residual", "depth": depth, "name": name, "grid": {"x": axis, "y": axis, **grid},
           "interpolation": None, "numbers": numbers, "curvature_ratio": numbers["curvature_ratio"],
           "centre_loss": numbers["centre_loss"], **lesion.published_fields(spec.source), "surface_seconds": seconds,
           "seconds": seconds, "device": str(device), "precision": "fp32"}
    directions = {**{f"x.{k}": t for k, t in d1.items()}, **{f"y.{k}": t for k, t in d2.items()}}
    return Outcome({"status": "completed", "depth": depth, "dataset": "cifar10", "grid_points": spec.grid,
                    "span": spec.span, "images": len(y), "seed": spec.train.seed, "source": spec.source.name,
                    "runs": [run]}, weights={"directions_residual": directions})


def cost(spec: Spec) -> float | None:
    """Training the nets (when not stored yet) plus one forward pass of the subset per grid point and
    two per point of the line (BN statistics, then the loss); for a published net, its grid alone."""
    if spec.source.active:
        return lesion.published_seconds(spec.source, spec.train.device, lambda cfg: spec.images * spec.grid ** 2)
    train = costs.training_seconds(training_runs(spec))
    images = len(spec.variants) * (spec.images * spec.grid ** 2 + (spec.images + BN_IMAGES) * len(ALPHAS))
    surface = costs.forward_seconds(spec.net, spec.data, images, spec.train.device)
    return None if train is None or surface is None else train + surface


def summary(spec: Spec, outcome: Outcome) -> str:
    result = outcome.result
    if spec.source.active:
        head = (f"loss surface of {spec.source.name} on {result.get('images', spec.images)} CIFAR-10 training images, grid {spec.grid}x{spec.grid}"
                f" on [-{spec.span:g}, {spec.span:g}]: {result['status']}")
        return "\n".join([head] + [f"curvature ratio {r['numbers']['curvature_ratio']:.4g}, convex share "
                                    f"{r['numbers']['convex_share']:.3f}, basin share {r['numbers']['basin_share']:.3f}, "
                                    f"loss at centre {r['numbers']['centre_loss']:.4f}, {r['surface_seconds']:.1f} s"
                                    for r in result["runs"]])
    lines = [f"loss surfaces on {spec.data.name}, depth {spec.net.depth}, grid {spec.grid}x{spec.grid} on "
             f"[-{spec.span:g}, {spec.span:g}], {spec.images} training images"
             f"{' (from the run store)' if outcome.from_store else ''}, {made_on(result)}: {result['status']}",
             f"{'net':<12}{'loss at centre':>16}{'curvature ratio':>17}{'convex share':>14}{'basin share':>13}"
             f"{'surface s':>11}"]
    for r in result["runs"]:
        n = r["numbers"]
        lines.append(f"{r['name']:<12}{n['centre_loss']:>16.4f}{n['curvature_ratio']:>17.4g}{n['convex_share']:>14.3f}"
                     f"{n['basin_share']:>13.3f}{r['surface_seconds']:>11.1f}")
    lines.append("curvature ratio: mean |min/max curvature| where the surface curves down (0 = a convex bowl); "
                 "basin share: part of the grid around the minimum below chance loss")
    return "\n".join(lines)


def describe(rec: dict) -> str:
    if (line := lesion.download_line(rec)) is not None:
        return line
    what = f"{rec['what']} of " if rec.get("what") else ""
    return f"Net {rec['run_index'] + 1}/{rec['runs']}: {what}{rec['run']}, {rec['done']}/{rec['total']}"


FOLDED = 2.0  # "more folded": at least twice the residual surface's curvature ratio


def effects(result: dict) -> list[Effect]:
    """The landscape: the plain net's surface is clearly more folded (a curvature ratio at least twice
    the residual net's) around its minimum (Li et al. 2018)."""
    ratio = {r["variant"]: r["numbers"]["curvature_ratio"] for r in result["runs"]}
    if len(ratio) < 2:
        return []
    depth = result["depth"]
    return [Effect(N_("the plain net's loss surface is clearly more folded than the residual net's"),
                   ratio["plain"] >= FOLDED * ratio["residual"],
                   {f"plain-{depth}": ratio["plain"], f"ResNet-{depth}": ratio["residual"]},
                   f"curvature ratio: plain >= {FOLDED:g} x ResNet")]


def answer(result: dict) -> int | None:
    """The option of the page's question a result bears out: 0 the plain net's surface is less folded
    (a lower curvature ratio), 1 the residual net's."""
    ratio = {r["variant"]: r["numbers"]["curvature_ratio"] for r in result["runs"]}
    if len(ratio) < 2:
        return None
    return 0 if ratio["plain"] < ratio["residual"] else 1


QUIZ = Quiz(
    question=N_("Around its minimum, which net's loss surface will be smoother (less folded)?"),
    options=(N_("the plain net's"), N_("the residual net's")),
    why=(N_("In this result the plain net's surface came out smoother: the curvature ratio above says how folded each "
            "surface is. Li et al. saw the difference grow with depth and almost vanish for shallow nets: try a deeper "
            "pair."),
         N_("Li et al. found the skip connections keep the surface from turning chaotic as the net gets deeper; the "
            "curvature ratio above says how folded each surface is.")),
    title=N_("Loss surfaces of plain and residual nets"))


EXPERIMENT = register(Experiment(
    name="landscape", help="loss surfaces of trained plain and residual nets around their minimum (Li et al. 2018)",
    Spec=Spec, run=run, cost=cost, training_runs=training_runs, summary=summary,
    description=("Train (or reuse from the run store) a plain and a residual net of one depth, then measure the "
                 "training loss over a grid in the plane of two filter-normalized random directions around each "
                 "trained net, and along the line from its initialization to its trained weights."),
    describe=describe, answer=answer, effects=effects, published=PUBLISHED, quiz=QUIZ,
    presets=tuple(Preset(Spec(net=replace(lesion.NET, depth=depth)), f"landscape_preset_{depth}.json")
                  for depth in (20, 56))))

__all__ = ["ALPHAS", "EXPERIMENT", "PUBLISHED", "Spec", "answer", "cost", "fixed_subset", "run", "training_runs"]
