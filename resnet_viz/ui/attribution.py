"""View pieces of the attributions page: which nets, the image grid, maps, block importance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from .. import attribution as attr
from ..experiments import lesion as les
from ..figures import attribution_figure, block_importance_figure
from ..store import RunStore
from . import lesion as lesion_view

METHOD_LABELS = {"saliency": "Saliency", "integrated_gradients": "Integrated Gradients", "gradcam": "GradCAM"}
GRID = 32  # test images in the grid

EXPLANATION = """
**Saliency** is the size of the gradient of the class score with respect to each pixel: where a
small change would move the score most. **Integrated Gradients** adds up gradients along a path
from a black image to this one; its maps sum to the change of the score (completeness), and the
*convergence delta* says how far the numerical integral is from that. **GradCAM** weighs a stage's
feature maps by their average gradient: a coarse map of *where* the stage looked, upsampled.

Plain and residual nets were trained with the same recipe on the same data. Look for whether the
residual net's evidence sits on the strokes of the digit, and where the (degraded) plain net looks.
"""


def sources(store: RunStore) -> dict[str, tuple[les.Spec, dict, RunStore | None]]:
    """Label -> (lesion spec, lesion result, store or None for the shipped preset)."""
    found = {}
    preset = lesion_view.load_preset(les.PRESET)
    if preset is not None:
        found["Lesson nets (shipped): plain-56 and ResNet-56, width 8, 400 steps"] = (les.PRESET, preset, None)
    for run in store.runs("lesion"):
        try:
            spec = les.Spec(**run.spec)
        except (TypeError, ValueError):
            continue
        found[f"Trained here: depth {spec.depth}, width {spec.width}, {spec.steps} steps ({run.key[:8]})"] = (spec, run.result, store)
    return found


def image_grid(models: dict, dataset) -> None:
    """The first test images with each net's prediction; wrong ones marked."""
    x, y = dataset.test_x[:GRID], dataset.test_y[:GRID]
    with models.lock:  # shared by every session (ui.lesion.SharedNets)
        preds = {v: attr.predictions(m, x).argmax(1) for v, m in models.items()}
    images, captions = [], []
    for i in range(GRID):
        marks = " ".join(f"{v[0]}:{int(p[i])}{'' if p[i] == y[i] else '✗'}" for v, p in preds.items())
        images.append(_to_display(x[i]))
        captions.append(f"#{i} label {int(y[i])} · {marks}")
    st.image(images, caption=captions, width=72)
    wrong = {v: int((p != y).sum()) for v, p in preds.items()}
    st.caption(f"Predictions of the plain (p) and residual (r) net; ✗ marks a wrong one. Wrong among these {GRID}: "
               + ", ".join(f"{v} {n}" for v, n in wrong.items()) + ".")


def _to_display(img) -> np.ndarray:
    a = img.detach().float().numpy()
    a = a.mean(0) if a.shape[0] != 3 else a.transpose(1, 2, 0)
    return (a - a.min()) / (a.max() - a.min() + 1e-8)


def maps_for_image(models: dict, dataset, index: int, method: str, target_mode: str, stage: int) -> None:
    x = dataset.test_x[index:index + 1]
    label = int(dataset.test_y[index])
    maps, rows = [], []
    for variant, model in models.items():
        with models.lock:  # Captum hooks the shared net while it runs
            probs = attr.predictions(model, x)[0]
            predicted = int(probs.argmax())
            target = predicted if target_mode == "predicted" else label if target_mode == "label" else int(target_mode)
            out = attr.attribution_map(model, x, target, method, stage)
        name = f"{'ResNet' if variant == 'residual' else 'plain'}, class {target}"
        maps.append((name, out["map"].numpy(), method == "integrated_gradients"))
        row = {"net": variant, "prediction": predicted, "probability": float(probs[predicted]),
               "explained class": target, "correct": predicted == label}
        if method == "integrated_gradients":
            row.update({"output change f(x) - f(black)": out["output_change"],
                        "sum of attributions": out["attribution_sum"], "convergence delta": out["convergence_delta"]})
        rows.append(row)
    st.plotly_chart(attribution_figure(_to_display(x[0]) if x.shape[1] != 3 else _to_display(x[0]).mean(2), maps),
                    width="stretch")
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.caption(f"{METHOD_LABELS[method]} maps of test image #{index}, label {label}. " + (
        "Red: pixels that raise the class score, blue: lower it. Completeness: the sum of attributions equals the "
        "output change up to the convergence delta." if method == "integrated_gradients" else
        "Darker red: more influence on the class score."))


@st.cache_data(max_entries=8, show_spinner="Computing gradient x activation for every block...")
def _importance(source: str, variant: str, n: int, _model, _x, _y) -> list[dict]:
    """Cached per (source, variant, n); the underscored arguments are not hashed."""
    return attr.block_importance(_model, _x[:n], _y[:n])


def importance_vs_lesion(models: dict, result: dict, dataset, source: str, n: int = 128) -> None:
    rows = []
    for r in result["runs"]:
        with models.lock:
            importance = _importance(source, r["variant"], n, models[r["variant"]], dataset.test_x, dataset.test_y)
        for imp, les_row in zip(importance, r["single_block"]):
            drop = None if les_row["test_accuracy"] is None else r["base_test_accuracy"] - les_row["test_accuracy"]
            rows.append({"variant": r["variant"], "block": imp["block"], "importance": imp["importance"],
                         "accuracy_drop": drop})
    df = pd.DataFrame(rows)
    df["accuracy_drop"] = df["accuracy_drop"].astype(float)
    st.plotly_chart(block_importance_figure(df), width="stretch")
    agree = []
    for variant, g in df.dropna().groupby("variant"):
        rho = g["importance"].rank().corr(g["accuracy_drop"].rank())
        agree.append(f"{variant}: {rho:+.2f}")
    st.caption(f"Per block, on {n} test images (the labels' logits). Rank correlation between the two panels "
               f"(1 = they order the blocks the same way): {', '.join(agree)}. For a residual block, zeroing its "
               "branch output *is* deleting it, so the gradient gives a first-order prediction of the lesion; for a "
               "plain block, zeroing the branch cuts the only path, which is why its scores say little about "
               "deleting it (plain blocks become identities when deleted).")
