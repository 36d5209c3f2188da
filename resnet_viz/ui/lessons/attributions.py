"""The What the nets look at lesson: Captum attributions of the lesson's trained plain and residual
nets, and which blocks matter (the gradient against deleting).

Figures: the input beside one map per net; per block, gradient x activation over the accuracy lost
when the block is removed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from ...experiments.attribution import METHOD_WORDS, TARGET_WORDS
from ...figures import VARIANT_COLORS
from ...i18n import N_
from .. import nets
from ..display import chart, small_table
from ..lang import _
from ..texts.attributions import Attributions as T
from .ensembles import run_title

GRID = 32  # test images in the grid
HEADERS = (N_("net"), N_("prediction"), N_("probability"), N_("explained class"), N_("correct"),
           N_("output change f(x) - f(black)"), N_("sum of attributions"), N_("convergence delta"), N_("steps"),
           N_("converged"))  # the table's columns shown as they are named
METHODS = METHOD_WORDS
TARGETS = TARGET_WORDS


# --- figures -----------------------------------------------------------------------------------------

def attribution_figure(image, maps: list[tuple[str, object, bool]]) -> go.Figure:
    """The input image, then one heatmap per (title, 2-D map, signed) side by side.

    Signed maps (Integrated Gradients) use a red-blue scale centred on 0 (red: evidence for the
    target class); unsigned ones (saliency, GradCAM) go from white to red.
    """
    titles = [_("input")] + [t for t, _m, _s in maps]
    fig = make_subplots(rows=1, cols=len(titles), subplot_titles=titles, horizontal_spacing=0.03)
    fig.add_heatmap(z=np.asarray(image), colorscale="gray", showscale=False, row=1, col=1,
                    hovertemplate="x %{x}, y %{y}: %{z:.2f}<extra></extra>")
    for col, (title, m, signed) in enumerate(maps, start=2):
        m = np.asarray(m, dtype=float)
        top = float(np.abs(m).max()) or 1.0
        fig.add_heatmap(z=m, colorscale="RdBu_r" if signed else "Reds", zmin=-top if signed else 0, zmax=top,
                        showscale=False, row=1, col=col, hovertemplate="x %{x}, y %{y}: %{z:.3g}<extra></extra>")
    for col in range(1, len(titles) + 1):
        fig.update_yaxes(autorange="reversed", scaleanchor=f"x{col if col > 1 else ''}", showticklabels=False,
                         row=1, col=col)
        fig.update_xaxes(showticklabels=False, row=1, col=col)
    fig.update_layout(margin=dict(t=40, b=10, l=10, r=10), height=300)
    return fig


def block_importance_figure(df: pd.DataFrame) -> go.Figure:
    """Per block, plain vs residual: gradient x activation importance (top) and the accuracy lost
    when the block is removed (bottom, from the lesion measurements).

    Args:
        df: one row per (variant, block) with variant, depth, block, importance, accuracy_drop (NaN
            where the block cannot be removed).
    """
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.12,
                        subplot_titles=(_("what the gradient says: |gradient x branch output|"),
                                        _("what deleting says: test accuracy lost without the block")))
    for variant, group in df.groupby("variant", sort=True):
        group = group.sort_values("block")
        name = run_title(variant, int(group["depth"].iloc[0]), group["source"].iloc[0] if "source" in group else None)
        for row, column in ((1, "importance"), (2, "accuracy_drop")):
            fig.add_bar(x=group["block"], y=group[column], name=name, legendgroup=variant, showlegend=row == 1,
                        marker_color=VARIANT_COLORS[variant], row=row, col=1,
                        hovertemplate=_("{variant}, block %{{x}}: %{{y:.3f}}<extra></extra>").format(variant=name))
    fig.update_xaxes(title_text=_("block (0 = input side)"), row=2, col=1)
    fig.update_layout(barmode="group", legend_title=_("net"), margin=dict(t=40, b=10), height=480)
    return fig


# --- views ---------------------------------------------------------------------------------------------

def net_name(p: nets.Pair, variant: str) -> str:
    """A net of the pair by name: plain-56, ResNet-56, published ResNet-110."""
    return run_title(variant, p.nets[variant].cfg.depth, p.spec.source.name if p.spec.source.active else None)


def image_grid(p: nets.Pair) -> None:
    """The first test images with each net's prediction; wrong ones marked."""
    y = p.data.test_y[:GRID].tolist()
    preds = nets.predictions(p, GRID)
    short = {v: _(N_("plain"))[0] if v == "plain" else _(N_("residual"))[0] for v in preds}
    captions = [_("#{index} label {label}").format(index=i, label=y[i]) + " · " + " ".join(
        f"{short[v]}:{ps[i]}{'' if ps[i] == y[i] else '✗'}" for v, ps in preds.items()) for i in range(GRID)]
    st.image([nets.image(p, i) for i in range(GRID)], caption=captions, width=72)
    wrong = ", ".join(f"{net_name(p, v)} {sum(a != b for a, b in zip(ps, y))}" for v, ps in preds.items())
    if p.spec.source.active:
        st.caption(T.published_grid.format(name=net_name(p, "residual"), n=GRID, wrong=wrong, residual=short["residual"]))
    else:
        st.caption(T.grid.format(n=GRID, wrong=wrong, plain=short.get("plain", "p"), residual=short.get("residual", "r")))


def explanation(p: nets.Pair) -> None:
    """The methods, then what to look for in this pair (or in a published net, with CIFAR-10's classes)."""
    st.markdown(T.explanation)
    if p.spec.source.active:
        st.markdown(T.published.format(classes=", ".join(f"{i} {_(c)}" for i, c in enumerate(p.data.classes))))
    else:
        st.markdown(T.pair)


def maps_for_image(p: nets.Pair, index: int, method: str, target_mode: str, stage: int) -> None:
    """The maps of one test image by every net, with each net's prediction (and, for Integrated
    Gradients, its completeness check)."""
    rows = nets.maps(p, index, method, target_mode, stage)
    label = int(p.data.test_y[index])
    image = nets.image(p, index)
    image = image.mean(2) if image.ndim == 3 else image
    maps = [(_("{net}, class {target}").format(net=net_name(p, r["variant"]), target=r["target"]), r["map"],
             method == "integrated_gradients") for r in rows]
    chart(st, attribution_figure(image, maps))
    frame = []
    for r in rows:
        row = {"net": net_name(p, r["variant"]), "prediction": r["prediction"], "probability": r["probability"],
               "explained class": r["target"], "correct": r["prediction"] == label}
        if method == "integrated_gradients":
            row.update({"output change f(x) - f(black)": r["output_change"], "sum of attributions": r["attribution_sum"],
                        "convergence delta": r["convergence_delta"], "steps": r["steps"], "converged": r["converged"]})
            if not r["converged"]:
                st.warning(T.not_converged.format(net=net_name(p, r["variant"]), steps=r["steps"],
                                                  delta=r["convergence_delta"]))
        frame.append(row)
    small_table(st, pd.DataFrame(frame), formats={
        "probability": "{:.3f}", "output change f(x) - f(black)": "{:.3f}", "sum of attributions": "{:.3f}",
        "convergence delta": "{:.2g}", "correct": lambda ok: "✓" if ok else "✗", "converged": lambda ok: "✓" if ok else "✗"})
    st.caption(T.ig_caption.format(index=index, label=label) if method == "integrated_gradients" else
               T.other_caption.format(method=_(METHODS[method]), index=index, label=label))


def importance_vs_lesion(p: nets.Pair, n: int = 128) -> None:
    """Per block: gradient x activation against the accuracy lost by deleting it, with their rank correlation."""
    n = min(n, len(p.data.test_y))  # a published net's lesions may have used fewer test images
    rows = []
    for r in p.result["runs"]:
        for imp, les_row in zip(nets.importance(p, r["variant"], n), r["single_block"]):
            drop = None if les_row["test_accuracy"] is None else r["base_test_accuracy"] - les_row["test_accuracy"]
            rows.append({"variant": r["variant"], "depth": r["depth"], "source": r.get("source"), "block": imp["block"],
                         "importance": imp["importance"], "accuracy_drop": drop})
    df = pd.DataFrame(rows)
    df["accuracy_drop"] = df["accuracy_drop"].astype(float)
    chart(st, block_importance_figure(df))
    agree = [f"{net_name(p, variant)}: {g['importance'].rank().corr(g['accuracy_drop'].rank()):+.2f}"
             for variant, g in df.dropna(subset=["importance", "accuracy_drop"]).groupby("variant")]
    st.caption(T.blocks_caption.format(n=n, agree=", ".join(agree)))


__all__ = ["GRID", "METHODS", "TARGETS", "attribution_figure", "block_importance_figure", "explanation", "image_grid",
           "importance_vs_lesion", "maps_for_image", "take_home"]


def take_home(p: nets.Pair) -> None:
    """The pair's code and the attribution lesson as a notebook (the same nets, data and recipe)."""
    from ...experiments import attribution
    from ..takehome import take_home as both

    spec = attribution.Spec(net=p.spec.net, data=p.spec.data, train=p.spec.train, source=p.spec.source)
    both("attribution", spec, (T.title, T.intro, T.explanation, T.pair))
