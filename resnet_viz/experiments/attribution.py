"""What do the nets look at (Captum): attribute a trained net's predictions on the first test images.

The net is the same stored "train" run the lesion experiment uses (:func:`lesion.pair`), so maps and
the per-block gradient x activation can be set beside the lesion results of the same model.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import attribution as attr
from .. import cost as costs
from .. import pretrained
from ..config import DataConfig, NetConfig, TrainConfig, nested, setting, validate
from ..data import load_dataset
from ..i18n import N_
from ..protocol import VARIANT_WORDS, VARIANTS, Context, Effect, Experiment, Outcome, made_on
from . import lesion, register, training


METHOD_WORDS = {"saliency": N_("Saliency"), "integrated_gradients": N_("Integrated Gradients"), "gradcam": "GradCAM"}
TARGET_WORDS = {"label": N_("the true label"), "predicted": N_("each net's prediction")}


@dataclass(frozen=True)
class Spec:
    """An attribution experiment on one trained net."""

    variant: str = setting("residual", "which net of the pair to explain", choices=tuple(reversed(VARIANTS)),
                           words=VARIANT_WORDS)
    method: str = setting("integrated_gradients", "attribution method", choices=attr.METHODS, words=METHOD_WORDS)
    target: str = setting("label", "which class to explain: the true label or the net's prediction",
                          choices=("label", "predicted"), words=TARGET_WORDS)
    n_images: int = setting(8, "the first this many test images", low=1, high=1000)
    net: NetConfig = nested(lambda: lesion.NET, expose=("depth", "width"))
    data: DataConfig = nested(DataConfig, expose=("name",))
    train: TrainConfig = nested(lambda: lesion.TRAIN, expose=("steps", "seed", "device", "precision"))
    source: pretrained.Source = nested(pretrained.Source, expose=("pretrained", "weights"))

    def __post_init__(self) -> None:
        validate(self)
        if self.source.active and self.variant != "residual":
            raise ValueError("no plain net is published: a published net is a residual net")


def training_runs(spec: Spec) -> list[training.Spec]:
    if spec.source.active:  # a published net: nothing to train
        return []
    return [lesion.pair(spec.net, spec.data, spec.train)[VARIANTS.index(spec.variant)]]


def cost(spec: Spec) -> float | None:
    """Training the net (when not stored) plus about 3 x 1024 forward passes per image (IG at most)."""
    if spec.source.active:
        return lesion.published_seconds(spec.source, spec.train.device, lambda cfg: spec.n_images * 3 * 1024)
    train = costs.training_seconds(training_runs(spec))
    maps = costs.forward_seconds(spec.net, spec.data, spec.n_images * 3 * 1024, spec.train.device)
    return None if train is None or maps is None else train + maps


def run(spec: Spec, ctx: Context | None = None) -> Outcome:
    """Attribute the first ``n_images`` test images and score every block.

    Returns:
        Outcome with result ``{"status", "model", "variant", "method", "train_key", "images": [{"index",
        "label", "prediction", "target", "convergence_delta", "output_change", "attribution_sum",
        "ig_steps", "converged", "map"}], "block_importance": [{"block", "stage", "importance"}]}``;
        "map" is the (H, W) attribution of the chosen method.
    """
    ctx = ctx or Context()
    if spec.source.active:  # a published net, on CIFAR-10's first test images (normalized as it was trained)
        model = lesion.open_published(spec.source, ctx)
        x, y = pretrained.first_test_images(spec.n_images)
        made = {"train_key": None, "device": "cpu", "precision": "fp32", "source": spec.source.name}
    else:
        sub = training_runs(spec)[0]
        trained = next(lesion.trained_pair([sub], ctx), None)
        if trained is None:
            return Outcome({"status": "cancelled", "images": [], "block_importance": []})
        _, _, outcome, model = trained
        data = load_dataset(sub.data)
        x, y = data.test_x[:spec.n_images], data.test_y[:spec.n_images]
        made = {"train_key": outcome.key, "device": outcome.result["device"], "precision": outcome.result["precision"]}
    predicted = attr.predictions(model, x).argmax(1)
    images = []
    for i in range(len(y)):
        if ctx.cancelled():
            return Outcome({"status": "cancelled", "images": [], "block_importance": []})
        target = int(predicted[i]) if spec.target == "predicted" else int(y[i])
        xi = x[i:i + 1]
        ig = attr.integrated_gradients(model, xi, target)
        chosen = ig if spec.method == "integrated_gradients" else attr.attribution_map(model, xi, target, spec.method)
        images.append({"index": i, "label": int(y[i]), "prediction": int(predicted[i]), "target": target,
                       "convergence_delta": ig["convergence_delta"], "output_change": ig["output_change"],
                       "attribution_sum": ig["attribution_sum"], "ig_steps": ig["steps"],
                       "converged": ig["converged"], "map": chosen["map"].tolist()})
        ctx.report({"run": f"attributions of {model.cfg.name}", "done": i + 1, "total": len(y),
                    "fraction": (i + 1) / len(y)})
    return Outcome({"status": "completed", "model": model.cfg.name, "variant": spec.variant, "method": spec.method,
                    **made, "images": images,
                    "block_importance": attr.block_importance(model, x, y)})


def write_files(spec: Spec, result: dict, out: Path) -> dict:
    """One PNG per image next to the JSON (input | map), named ``<stem>_<index>.png``; the result's
    images get their file name as "png"."""
    import torch

    test_x = pretrained.first_test_images(spec.n_images)[0] if spec.source.active else load_dataset(spec.data).test_x
    images = []
    for row in result["images"]:
        png = out.parent / f"{out.stem}_{row['index']}.png"
        png.write_bytes(attr.map_png(test_x[row["index"]], torch.tensor(row["map"])))
        images.append({**row, "png": png.name})
    return {**result, "images": images}


def summary(spec: Spec, outcome: Outcome) -> str:
    r = outcome.result
    data = f"{spec.source.name}, CIFAR-10" if spec.source.active else spec.data.name
    lines = [f"{r.get('model', '?')} on {data} ({'from the run store' if outcome.from_store else 'computed now'}),"
             f" {spec.method}, {len(r['images'])} test images, nets trained on {made_on(r)}"]
    for row in r["images"]:
        note = "" if row["converged"] else "  NOT CONVERGED: the sum misses f(x)-f(black) by more than 1%"
        lines.append(f"  #{row['index']}: label {row['label']} predicted {row['prediction']}  f(x)-f(black) "
                     f"{row['output_change']:8.3f}  IG sum {row['attribution_sum']:8.3f}  delta "
                     f"{row['convergence_delta']:.2e} ({row['ig_steps']} steps){note}")
    return "\n".join(lines)


def effects(result: dict) -> list[Effect]:
    """Attribution: Integrated Gradients is complete on every image (the attributions add up to the
    output change within 1%)."""
    images = result.get("images") or []
    if not images:
        return []
    worst = max(abs(i["convergence_delta"]) / max(abs(i["output_change"]), 1e-12) for i in images)
    return [Effect(N_("Integrated Gradients adds up to the output change on every image"),
                   all(i["converged"] for i in images), {N_("images"): len(images), N_("largest relative delta"): worst},
                   "every image converged (delta within 1%)")]


EXPERIMENT = register(Experiment(
    name="attribution", help="Captum attributions of a trained net, with PNG maps", Spec=Spec, run=run, cost=cost,
    training_runs=training_runs, summary=summary,
    description=("Train (or reuse from the run store) a net, then attribute its predictions on the first test "
                 "images (Integrated Gradients with a completeness check, saliency or GradCAM) and score every block "
                 "by gradient x activation of its branch output."),
    aliases=("attribute",), write_files=write_files, effects=effects))

__all__ = ["EXPERIMENT", "Spec", "cost", "run", "training_runs", "write_files"]
