"""The Gradient flow lesson: gradient size layer by layer at initialization (plain vs residual, batch
norm on or off, ReLU, sigmoid or tanh, original or pre-activation blocks), then during training.

Figures: (a) the gradient norm of every conv layer, (d) each block's gain and their running product
(the chain rule), (b) a layer x step heatmap during training, (c) the response std of every 3x3 conv.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from ...config import DataConfig, NetConfig
from ...experiments import gradients as gf
from ...figures import variant_line
from ...i18n import N_
from ...probes import describe_ratio
from ...protocol import made_on
from ..display import SCI_NOTE, chart, effect_notes, log_axis, quiz, sci, small_table
from ..jobs import dataset_ready, job_panel
from ..lang import _, language
from ..texts.gradient_flow import Gradients as T
from .ensembles import run_title

# lesson -> control values (the keys of the page's widgets); the selector shows the one the controls match
LESSONS = {
    N_("BN + ReLU: the paper's nets"): {"gf_bn": True, "gf_act": "relu", "gf_block": "basic"},
    N_("No BN, sigmoid: gradients vanish"): {"gf_bn": False, "gf_act": "sigmoid", "gf_block": "basic"},
    N_("No BN, sigmoid, pre-activation: the fix"): {"gf_bn": False, "gf_act": "sigmoid", "gf_block": "preact"},
}
OWN = N_("Your own settings")
HEADERS = (N_("net"), N_("status"), N_("train error"), N_("test error"), N_("mean response std"), N_("seconds"))
BLOCKS = {"basic": N_("original (activation after the addition)"), "preact": N_("pre-activation (nothing after it)"),
          "preact_bottleneck": N_("pre-activation bottleneck (ResNet-164, 9n+2)")}


def lesson_selector() -> None:
    """The lesson selector: picking one sets the controls; it shows the lesson the controls match now,
    or "Your own settings" once they match none (it never names a case the page does not show)."""
    for key, value in LESSONS[next(iter(LESSONS))].items():
        st.session_state.setdefault(key, value)
    current = {key: st.session_state.get(key) for key in ("gf_bn", "gf_act", "gf_block")}
    st.session_state["gf_lesson"] = next((name for name, values in LESSONS.items() if values == current), OWN)

    def picked() -> None:
        if st.session_state["gf_lesson"] in LESSONS:
            st.session_state.update(LESSONS[st.session_state["gf_lesson"]])

    st.selectbox(T.lesson, [*LESSONS, OWN], key="gf_lesson", help=T.lesson_help, format_func=_, on_change=picked)


def net_title(run: dict) -> str:
    """A probed net's name in the session's language, e.g. "plain-56 (pre-activation, no BN, sigmoid)"."""
    return NetConfig(depth=run["depth"], block=run["block"], residual=run["variant"] == "residual",
                     batchnorm=run["batchnorm"], activation=run["activation"], init=run["init"]).title(_)


# --- figures -----------------------------------------------------------------------------------------

def gradient_norms_figure(layers: pd.DataFrame) -> go.Figure:
    """(a) Gradient norm of every conv layer's weights, input side left, on a log axis.

    Args:
        layers: one row per (variant, layer) with variant, index, name, grad_norm.
    """
    fig = go.Figure()
    for variant, group in layers.groupby("variant", sort=True):
        group = group.sort_values("index")
        fig.add_scatter(x=group["index"], y=group["grad_norm"].where(group["grad_norm"] > 0), mode="lines+markers",
                        name=_(variant), line=variant_line(variant), marker=dict(size=4), customdata=group[["name"]],
                        hovertemplate="%{customdata[0]}<br>|dL/dW| = %{y:.3g}<extra>" + _(variant) + "</extra>")
    fig.update_layout(xaxis_title=_("conv layer (0 = input side)"), yaxis_title=_("gradient norm |dL/dW| (log)"),
                      legend_title=_("net"), margin=dict(t=30, b=10), height=380)
    log_axis(fig, layers["grad_norm"])
    return fig


def chain_rule_figure(blocks: pd.DataFrame) -> go.Figure:
    """(d) Per-block gradient gain ||dL/dx_in|| / ||dL/dx_out|| and its running product from the top.

    Args:
        blocks: one row per (variant, block) with variant, block, gain, chain_product.
    """
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.12,
                        subplot_titles=(_("gain of each block (1 = passes the gradient unchanged)"),
                                        _("running product from the output back = gradient reaching the block")))
    for variant, group in blocks.groupby("variant", sort=True):
        group = group.sort_values("block")
        for row, column in ((1, "gain"), (2, "chain_product")):
            fig.add_scatter(x=group["block"], y=group[column].where(group[column] > 0), name=_(variant),
                            legendgroup=variant, showlegend=row == 1, mode="lines+markers", marker=dict(size=4),
                            line=variant_line(variant), row=row, col=1,
                            hovertemplate=_("block %{{x}}: %{{y:.3g}}<extra>{variant}</extra>").format(
                                variant=_(variant)))
    for row in (1, 2):
        fig.add_hline(y=1, line=dict(color="black", width=1, dash="dot"), row=row, col=1)
    log_axis(fig, blocks["gain"], "yaxis")
    log_axis(fig, blocks["chain_product"], "yaxis2")
    fig.update_xaxes(title_text=_("block (0 = input side)"), row=2, col=1)
    fig.update_layout(legend_title=_("net"), margin=dict(t=40, b=10), height=540)
    return fig


def gradient_heatmap_figure(checkpoints: dict[str, dict]) -> go.Figure:
    """(b) log10 of each conv layer's gradient norm (rows) at each probed training step (columns).

    Args:
        checkpoints: variant -> {"steps", "layer_names", "grad_norms": [[per layer] per step]}.
            Exact zeros (float32 underflow) are left blank.
    """
    variants = [v for v in ("plain", "residual") if v in checkpoints]
    logs = {}
    for v in variants:
        grid = np.asarray(checkpoints[v]["grad_norms"], dtype=float).T  # (layers, steps)
        with np.errstate(divide="ignore", invalid="ignore"):
            logs[v] = np.where(grid > 0, np.log10(np.where(grid > 0, grid, 1.0)), np.nan)
    finite = np.concatenate([g[np.isfinite(g)] for g in logs.values()]) if logs else np.array([0.0])
    zmin, zmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    fig = make_subplots(rows=1, cols=max(1, len(variants)), shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=[_(v) for v in variants] or None)
    for col, v in enumerate(variants, start=1):
        c = checkpoints[v]
        fig.add_heatmap(z=logs[v], x=c["steps"], y=list(range(len(c["layer_names"]))), zmin=zmin, zmax=zmax,
                        colorscale="Viridis", showscale=col == len(variants),
                        colorbar=dict(title="log10 |dL/dW|"), customdata=[[n] * len(c["steps"]) for n in c["layer_names"]],
                        hovertemplate=_("step %{x}<br>%{customdata}<br>log10 |dL/dW| = %{z:.2f}") +
                        f"<extra>{_(v)}</extra>", row=1, col=col)
        fig.update_xaxes(title_text=_("training step"), row=1, col=col)
    fig.update_yaxes(title_text=_("conv layer (0 = input side)"), row=1, col=1)
    fig.update_layout(margin=dict(t=40, b=10), height=420)
    return fig


def response_std_figure(responses: pd.DataFrame) -> go.Figure:
    """(c) Std of each 3x3 conv's response, in network order and sorted (He et al. 2016, Fig. 7).

    Args:
        responses: one row per (variant, layer) with variant, index, name, std, rank (0 = largest).
    """
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True,
                        subplot_titles=(_("in network order"), _("sorted by magnitude")))
    for variant, group in responses.groupby("variant", sort=True):
        for col, x in ((1, "index"), (2, "rank")):
            g = group.sort_values(x)
            fig.add_scatter(x=g[x], y=g["std"], mode="lines", name=_(variant), legendgroup=variant,
                            showlegend=col == 1, line=variant_line(variant), customdata=g[["name"]],
                            hovertemplate="%{customdata[0]}<br>std %{y:.3f}<extra>" + _(variant) + "</extra>",
                            row=1, col=col)
    fig.update_xaxes(title_text=_("3x3 layer (0 = input side)"), row=1, col=1)
    fig.update_xaxes(title_text=_("layer, largest response first"), row=1, col=2)
    fig.update_yaxes(title_text=_("std of response"), rangemode="tozero", row=1, col=1)
    fig.update_layout(legend_title=_("net"), margin=dict(t=40, b=10), height=360)
    return fig


# --- part 1: at initialization ---------------------------------------------------------------------------

@st.cache_data(max_entries=64, show_spinner=False)
def _at_init(spec_json: str, _spec: gf.Spec) -> dict:
    return gf.at_init(_spec)


def probe_at_init(spec: gf.Spec) -> dict:
    """The at-init probe of ``spec``, cached for everyone per net setting (not per training recipe)."""
    ident = json.dumps({"net": asdict(spec.net), "depths": spec.depths, "variants": spec.variants,
                        "data": asdict(spec.data), "seed": spec.train.seed})
    with st.spinner(_("Probing the nets at initialization...")):
        return _at_init(ident, spec)


@st.cache_resource(max_entries=64, show_spinner=False)
def _init_figures(ident: str, lang: str, _result: dict) -> tuple:
    return gradient_norms_figure(gf.layers_frame(_result)), chain_rule_figure(gf.blocks_frame(_result))


def at_init(result: dict, spec: gf.Spec) -> None:
    """Part 1: the question (``?quiz=1``), the first/last ratios, (a) and (d)."""
    if not quiz(gf.EXPERIMENT, result):
        return
    st.markdown(f"**{T.ratio_title}**")
    for col, r in zip(st.columns(len(result["runs"])), result["runs"]):
        ratio = r["first_last_ratio"]
        col.metric(net_title(r), sci(ratio), _(describe_ratio(ratio)), delta_color="off", delta_arrow="off",
                   border=True, help=T.ratio_help)
    st.caption(_(SCI_NOTE))
    effect_notes(gf.EXPERIMENT, result)
    norms, chain = _init_figures(json.dumps(asdict(spec.net)) + str(spec.depths), language(), result)
    chart(st, norms)
    st.caption(T.norms)
    chart(st, chain)
    st.caption(T.chain)


# --- part 2: during training ---------------------------------------------------------------------------

def live(records: list[dict]) -> None:
    """The heatmap so far, from the probes carried by the job's progress records."""
    checkpoints: dict[str, dict] = {}
    for r in records:
        if "grad_norms" in r:
            c = checkpoints.setdefault(r["variant"], {"steps": [], "grad_norms": [],
                                                      "layer_names": [str(i) for i in range(len(r["grad_norms"]))]})
            c["steps"].append(r["done"])
            c["grad_norms"].append(r["grad_norms"])
    if checkpoints:
        chart(st, gradient_heatmap_figure(checkpoints), key="live-heatmap")


def trained(result: dict) -> None:
    """Part 2's result: (b) the heatmap, (c) the responses and the table."""
    first = result["runs"][0]
    st.caption(T.measured.format(device=f"{first['device']}, {first.get('precision', 'fp32')}"))
    effect_notes(gf.EXPERIMENT, result)
    chart(st, gradient_heatmap_figure({r["variant"]: r["checkpoints"] for r in result["runs"]}))
    st.caption(T.heatmap)
    chart(st, response_std_figure(gf.responses_frame(result)))
    st.caption(T.responses)
    rows = [{"net": net_title(r), "status": r["status"], "train error": r["final_train_error"],
             "test error": r["final_test_error"],
             "mean response std": gf.mean_response_std(r),
             "seconds": r["seconds"]} for r in result["runs"]]
    small_table(st, rows, words=("status",), formats={"train error": "{:.3f}", "test error": "{:.3f}",
                                                     "mean response std": "{:.3f}", "seconds": "{:.1f}"})
    for r in result["runs"]:
        if r["message"]:
            st.warning(f"{net_title(r)}: {_(r['message'])}")


def during_training(spec: gf.Spec) -> None:
    """Part 2: the job panel (train and probe in the background) and its stored result."""
    panel = job_panel("gradients", spec, live=live, button=T.button, what=T.what.format(every=spec.probe_every),
                      prose=(T.title, T.rule, T.explanation_init, T.explanation_chain))
    if panel.stored is not None:
        trained(panel.stored.result)


# --- part 3: the published nets ---------------------------------------------------------------------------

def published(spec: gf.Spec) -> None:
    """Part 3: a published CIFAR-10 ResNet probed as trained (its gradients and He et al.'s Fig. 7 responses)."""
    if not dataset_ready(DataConfig("cifar10"), stop=False):
        return
    panel = job_panel("gradients", spec, button=T.published_button, what=T.published_what)
    if panel.stored is None:
        return
    result = panel.stored.result
    run = result["runs"][0]
    name = run_title("residual", run["depth"], run["source"])
    st.caption(T.published_measured.format(device=made_on(result), name=name, probe=result["probe_images"],
                                           images=result["response_images"]))
    chart(st, gradient_norms_figure(gf.layers_frame(result)))
    ratio = run["first_last_ratio"]
    st.caption(T.published_norms.format(ratio=sci(ratio), words=_(describe_ratio(ratio))))
    chart(st, response_std_figure(gf.responses_frame(result)))
    st.caption(T.published_responses.format(mean=gf.mean_response_std(run)))


__all__ = ["BLOCKS", "LESSONS", "at_init", "chain_rule_figure", "during_training", "gradient_heatmap_figure",
           "gradient_norms_figure", "lesson_selector", "live", "net_title", "probe_at_init", "published", "response_std_figure",
           "trained"]
