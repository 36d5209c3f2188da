"""The Residual nets as ensembles lesson (Veit, Wilber, Belongie 2016): remove blocks of a trained
plain and residual net and watch the test accuracy.

Figures: (a) accuracy after removing each single block, (b) after removing k random blocks, (c) after
k random swaps of neighbouring blocks, (d) the Binomial(n, 1/2) distribution of path lengths.
"""

from __future__ import annotations

import time

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ...experiments import lesion as les
from ...figures import VARIANT_COLORS, rgba, variant_line
from ...i18n import N_
from ...config import DataConfig
from ...lesion import central_range, check_removable, path_lengths
from ...pretrained import PUBLISHED, REPOSITORY, TEST_SET, standard_error
from ...protocol import STOCHASTIC, made_on
from .. import nets
from ..display import chart, effect_notes, quiz
from ..jobs import dataset_ready, job_panel
from ..lang import _, language
from ..texts.ensembles import Ensembles as T

BIG_DROP = 0.1  # a block whose removal costs the residual net more than this is named on the page


def run_title(variant: str, depth: int, source: str | None = None) -> str:
    """A net of the lesson by name, in the session's language: plain-56, ResNet-56, ResNet-56 + stochastic depth,
    published ResNet-110 (``source``: a published net's name), or a checkpoint file's name with its depth."""
    if source:
        return _("published ResNet-{depth}").format(depth=depth) if source in PUBLISHED else f"{source} (ResNet-{depth})"
    if variant == STOCHASTIC:
        return _("ResNet-{depth} + stochastic depth").format(depth=depth)
    return f"{'ResNet' if variant == 'residual' else 'plain'}-{depth}"


# --- figures -----------------------------------------------------------------------------------------

def lesion_single_figure(rows: pd.DataFrame, chance: float) -> go.Figure:
    """(a) Test accuracy after removing each single block, plain vs residual (Veit et al. Fig. 3).

    Args:
        rows: one row per (variant, block) with variant, depth, block, stage, changes_shape, test_accuracy
            (NaN where the block cannot be removed) and base_test_accuracy.
        chance: accuracy of guessing (1 / classes), drawn as a dotted line.
    """
    fig = go.Figure()
    for variant, group in rows.groupby("variant", sort=True):
        group = group.sort_values("block")
        name = run_title(variant, int(group["depth"].iloc[0]), group["source"].iloc[0] if "source" in group else None)
        fig.add_scatter(x=group["block"], y=group["test_accuracy"], mode="lines+markers", name=name,
                        line=variant_line(variant), marker=dict(size=6),
                        hovertemplate=_("{variant}: without block %{{x}}, accuracy %{{y:.3f}}<extra></extra>").format(
                            variant=name))
        fig.add_hline(y=group["base_test_accuracy"].iloc[0], line=dict(color=VARIANT_COLORS[variant], width=1, dash="dot"),
                      annotation_text=_("{variant}, all blocks").format(variant=name), annotation_position="top left")
        blocked = group[group["test_accuracy"].isna()]
        if len(blocked):
            fig.add_scatter(x=blocked["block"], y=[0.0] * len(blocked), mode="markers",
                            name=_("{variant}: cannot remove").format(variant=name),
                            marker=dict(symbol="x", size=10, color=VARIANT_COLORS[variant]),
                            hovertemplate=_("block %{x} changes the shape: a plain net cannot lose it") + "<extra></extra>")
    for b in rows.loc[rows["changes_shape"].astype(bool), "block"].unique():
        fig.add_vline(x=b, line=dict(color="#bbbbbb", width=1, dash="dash"))
    fig.add_hline(y=chance, line=dict(color="black", width=1, dash="dot"), annotation_text=_("chance"),
                  annotation_position="bottom right")
    fig.update_layout(xaxis_title=_("block removed (0 = input side; dashed: downsampling blocks)"),
                      yaxis_title=_("test accuracy"), yaxis_range=[0, 1.02], legend_title=_("net"),
                      margin=dict(t=30, b=10), height=400)
    return fig


def lesion_curve_figure(curves: pd.DataFrame, x_title: str, chance: float) -> go.Figure:
    """(b)/(c) Mean test accuracy (band: +- 1 std over random draws) vs k removed blocks or swaps.

    Args:
        curves: one row per (variant, k) with variant, depth, k, mean_test_accuracy, std.
        x_title: the x axis's title (an English message id).
    """
    fig = go.Figure()
    for variant, group in curves.groupby("variant", sort=True):
        group = group.sort_values("k")
        color = VARIANT_COLORS[variant]
        name = run_title(variant, int(group["depth"].iloc[0]), group["source"].iloc[0] if "source" in group else None)
        upper = (group["mean_test_accuracy"] + group["std"]).clip(upper=1)
        lower = (group["mean_test_accuracy"] - group["std"]).clip(lower=0)
        fig.add_scatter(x=list(group["k"]) + list(group["k"][::-1]), y=list(upper) + list(lower[::-1]),
                        fill="toself", mode="lines", fillcolor=rgba(color, 0.15), line=dict(width=0), hoverinfo="skip",
                        showlegend=False, legendgroup=variant)
        fig.add_scatter(x=group["k"], y=group["mean_test_accuracy"], mode="lines+markers", name=name,
                        legendgroup=variant, line=variant_line(variant), customdata=group["std"],
                        hovertemplate=_("{variant}: k = %{{x}}, accuracy %{{y:.3f}} ± %{{customdata:.3f}}"
                                        "<extra></extra>").format(variant=name))
    fig.add_hline(y=chance, line=dict(color="black", width=1, dash="dot"), annotation_text=_("chance"),
                  annotation_position="bottom right")
    fig.update_layout(xaxis_title=_(x_title), yaxis_title=_("test accuracy"), yaxis_range=[0, 1.02],
                      legend=dict(orientation="h", y=-0.3), margin=dict(t=30, b=10), height=360)
    return fig


def path_length_figure(dist: pd.DataFrame, band: tuple[int, int] | None = None) -> go.Figure:
    """(d) How many of the 2^n paths pass through k blocks: Binomial(n, 1/2) (Veit et al. Fig. 6a).

    Args:
        dist: one row per length with length, paths, share.
        band: a range of lengths to shade (e.g. where 95% of the paths lie).
    """
    fig = go.Figure()
    fig.add_bar(x=dist["length"], y=100 * dist["share"], customdata=dist["paths"].map(lambda p: f"{p:,}"),
                marker_color="#d62728", name=_("paths"),
                hovertemplate=_("%{customdata} paths through %{x} blocks (%{y:.2f}% of all)") + "<extra></extra>")
    if band is not None:
        fig.add_vrect(x0=band[0] - 0.5, x1=band[1] + 0.5, fillcolor="#d62728", opacity=0.08, line_width=0)
    fig.update_layout(xaxis_title=_("path length (blocks a path goes through)"), yaxis_title=_("share of all paths (%)"),
                      showlegend=False, margin=dict(t=30, b=10), height=320)
    return fig


@st.cache_resource(max_entries=32, show_spinner=False)
def _figures(ident: str, lang: str, chance: float, _result: dict) -> tuple:
    """Built once per result and language for every session (never changed after this)."""
    runs = _result["runs"]
    rows = pd.DataFrame([{"variant": r["variant"], "depth": r["depth"], "base_test_accuracy": r["base_test_accuracy"],
                          "source": r.get("source"), **b} for r in runs for b in r["single_block"]])
    rows["test_accuracy"] = rows["test_accuracy"].astype(float)
    drops = pd.DataFrame([{"variant": r["variant"], "depth": r["depth"], "source": r.get("source"), **k}
                          for r in runs for k in r["random_k"]])
    swaps = pd.DataFrame([{"variant": r["variant"], "depth": r["depth"], "source": r.get("source"), **k}
                          for r in runs for k in r["swaps"]])
    return (lesion_single_figure(rows, chance), lesion_curve_figure(drops, N_("blocks removed at random (k)"), chance),
            lesion_curve_figure(swaps, N_("neighbour swaps (k)"), chance))


@st.cache_resource(max_entries=32, show_spinner=False)
def _path_figure(n: int, lang: str) -> tuple:
    dist = path_lengths(n)
    lo, hi = central_range(dist)
    return path_length_figure(pd.DataFrame(dist), (lo, hi)), lo, hi, sum(d["share"] for d in dist[lo:hi + 1])


# --- views ---------------------------------------------------------------------------------------------

def block_toggles(p: nets.Pair) -> None:
    """A row of block toggles; the test accuracy of every net updates as blocks are removed."""
    result = p.result
    n = result["blocks"]
    downsampling = {b["block"] for b in result["runs"][-1]["single_block"] if b["changes_shape"]}
    chosen = st.pills(T.toggles, list(range(n)), selection_mode="multi",
                      format_func=lambda b: f"{b}↓" if b in downsampling else str(b), key="lesion_blocks")
    st.markdown(f"**{T.toggles_metric}**")
    cols = st.columns(len(p.nets))
    start = time.perf_counter()
    for col, (variant, model) in zip(cols, p.nets.items()):
        run = next(r for r in result["runs"] if r["variant"] == variant)
        name, base = run_title(variant, run["depth"], run.get("source")), run["base_test_accuracy"]
        try:
            check_removable(model, chosen)
        except ValueError as exc:
            col.metric(name, _("cannot run"), border=True)
            col.caption(_(str(exc)))
            continue
        acc = nets.lesion_accuracy(p, variant, tuple(chosen))
        col.metric(name, f"{acc:.3f}", _("{change} vs all blocks").format(change=f"{acc - base:+.3f}"), border=True)
    st.caption(T.toggles_caption.format(removed=len(chosen), n=n, images=len(p.data.test_y),
                                        seconds=time.perf_counter() - start))


def lesion_result(result: dict, chance: float, ident: str) -> None:
    """(a) single blocks, (b) k random blocks, (c) k swaps; the blocks that cost the residual net most named."""
    single, drops, swaps = _figures(ident, language(), chance, result)
    chart(st, single)
    st.caption(T.single)
    residual = next((r for r in result["runs"] if r["variant"] == "residual"), None)
    if residual is not None:
        base = residual["base_test_accuracy"]
        costly = [b for b in residual["single_block"] if b["test_accuracy"] is not None
                  and base - b["test_accuracy"] > BIG_DROP]
        rest = [base - b["test_accuracy"] for b in residual["single_block"]
                if b["test_accuracy"] is not None and b not in costly]
        if costly:
            st.caption(T.costly.format(name=run_title("residual", residual["depth"], residual.get("source")),
                                       blocks=", ".join(f"{b['block']} ({b['test_accuracy']:.3f})" for b in costly),
                                       others=len(rest), most=max(rest, default=0.0)))
    c1, c2 = st.columns(2)
    chart(c1, drops)
    c1.caption(T.drops)
    chart(c2, swaps)
    c2.caption(T.swaps)


def path_view(n: int) -> None:
    """(d) the path lengths of a net of ``n`` blocks, computed."""
    figure, lo, hi, share = _path_figure(n, language())
    chart(st, figure)
    st.caption(T.paths.format(n=n, count=2 ** n, share=100 * share, lo=lo, hi=hi))


def published_results(spec: les.Spec) -> None:
    """The left column for a published net: what it is (source, reported error, sample and its standard error), the
    job panel, the lesion curves of the residual side, and the paper's plain side in words."""
    source = spec.source
    entry = source.entry
    n, typical = source.test_images, 1 - (entry.test_error / 100 if entry else 0.1)
    if entry is not None:
        st.markdown(T.published_about.format(name=run_title("residual", entry.depth, entry.name), source=REPOSITORY,
                                             error=entry.test_error, n=n, accuracy=typical, total=TEST_SET,
                                             se=standard_error(typical, n)))
    else:
        st.markdown(T.published_file_about.format(name=source.name, n=n, se=standard_error(typical, n)))
    if not dataset_ready(DataConfig("cifar10"), stop=False):  # offered for download where the server is online
        return
    panel = job_panel("lesion", spec, button=T.published_button, what=T.published_what)
    if panel.stored is None:
        if not panel.active:
            st.info(T.published_not_run)
        return
    result = panel.stored.result
    run = result["runs"][0]
    base = run["base_test_accuracy"]
    if entry is not None:
        st.caption(T.published_measured.format(accuracy=base, n=run["test_images"],
                                               se=standard_error(base, run["test_images"]),
                                               published=1 - entry.test_error / 100, total=TEST_SET))
    effect_notes(les.EXPERIMENT, result)
    st.info(T.no_plain, icon=":material/info:")
    st.subheader(T.toggles_title)
    from .. import run_store

    st.fragment(block_toggles)(nets.pair(spec, result, run_store()))
    lesion_result(result, 1.0 / result.get("classes", 10), panel.stored.key)


def results(spec: les.Spec) -> None:
    """The left column: the job panel, the question, the block toggles and the lesion curves of the
    stored pair, or of the shipped lesson nets."""
    preset = nets.load_preset(spec)
    panel = job_panel("lesion", spec, button=T.button_preset if preset else T.button, what=T.what,
                      prose=(T.title, T.intro, T.unraveled, T.why))
    result = panel.stored.result if panel.stored is not None else preset
    if result is None:
        if not panel.active:
            st.info(T.not_trained)
        return
    if not quiz(les.EXPERIMENT, result):
        return
    if panel.stored is not None:
        st.caption(T.measured.format(device=made_on(result), keys=", ".join(r["train_key"] for r in result["runs"])))
    else:
        st.info(T.preset.format(command=nets.PRESET_COMMAND), icon=":material/history:")
    effect_notes(les.EXPERIMENT, result)
    st.subheader(T.toggles_title)
    from .. import run_store

    pair = nets.pair(spec, result, run_store() if panel.stored is not None else None)
    st.fragment(block_toggles)(pair)
    lesion_result(result, 1.0 / pair.data.num_classes, pair.id)


def explanation(blocks: int) -> None:
    """The right column: the unraveled view, (d), why a plain net collapses, stochastic depth."""
    st.markdown(T.unraveled)
    path_view(blocks)
    st.markdown(f":material/landscape: [{T.paths_link}](./Landscape)")  # a page_link fails where a page runs alone
    st.markdown(T.why)
    st.markdown(T.stochastic)


__all__ = ["block_toggles", "explanation", "lesion_curve_figure", "lesion_result", "lesion_single_figure",
           "path_length_figure", "path_view", "results", "run_title"]
