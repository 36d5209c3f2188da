"""The From LeNet to ResNet lesson: the lineage counted layer by layer, and Inception-ResNet's residual scaling
trained live (:mod:`resnet_viz.experiments.residual_scaling`).

Tabs: LeNet-5, AlexNet, VGG, GoogLeNet, ResNet (He et al.'s Tables 2 and 3 labelled as published, and the
shallow nets' convergence measured on the Degradation lesson's runs), Inception-ResNet.
"""

from __future__ import annotations

import re

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ...counting import three_by_three
from ...experiments import degradation as dg
from ...experiments import residual_scaling as rs
from ...experiments import shortcut_options as so
from ...i18n import N_
from ...lineage import HE_TABLE2, HE_TABLE3, evaluate_formula, per_layer, shown_formula
from ...protocol import preset_result
from ..display import Shown, chart, curve_hover, lesson_result, log_axis, published_table, small_table, \
    training_error_chart
from ..jobs import job_panel
from ..takehome import code_view
from ..lang import _, language
from ..texts.lineage import Lineage as T
from .parameters import stage_name

COLUMNS = {"layer": N_("layer"), "output": N_("output"), "params": N_("parameters"), "fixed": N_("fixed"),
           "macs": N_("multiply-adds"), "formula": N_("by hand"), "agrees": N_("agrees")}
JOINS = {"add": N_("add"), "concatenate": N_("concatenate")}
NET_NAMES = {"LeNet-5 (full C3)": N_("LeNet-5 (full C3)"), "LeNet-5 (as built today)": N_("LeNet-5 (as built today)"),
             "AlexNet (two GPUs)": N_("AlexNet (two GPUs)"), "VGG-16 (GAP)": N_("VGG-16 (global average pooling)"),
             "Inception 3a": N_("Inception 3a (as built)"), "Inception 3a (naive)": N_("Inception 3a (naive)")}
# the words in the modules' names, shown in the session's language (conv1, fc6, inception3a stay names)
LAYER_WORDS = ((r"^branch(\d)$", N_("branch {n}")), (r"^pool$", N_("pool")), (r"^project$", N_("1x1 projection")),
               (r"^maxpool(\d)$", N_("max pool {n}")), (r"^avgpool \+ fc$", N_("average pool + fc")),
               (r"^output \(RBF\)$", N_("output (RBF)")), (r"^inception(\w+)$", "Inception {n}"))
COLORS = {1.0: "#d62728", 0.3: "#ff7f0e", 0.1: "#1f77b4"}
SMOOTH = 10
LEVELS = (0.5, 0.2, 0.1)  # training errors the shallow nets' convergence is timed to


@st.cache_data(max_entries=1, show_spinner=False)
def counted() -> dict:
    """Every count of the lesson (about 5 s once per server process)."""
    return per_layer()


def layer_name(name: str) -> str:
    """A layer's name as the tables show it: "branch1" as "分支 1" in Chinese; conv1, fc6 stay as they are."""
    for pattern, words in LAYER_WORDS:
        found = re.fullmatch(pattern, name)
        if found:
            return _(words).format(n=found.group(1) if found.groups() else "")
    return name


def net(name: str) -> dict:
    return next(n for n in counted()["nets"] if n["net"] == name)


# --- figures -----------------------------------------------------------------------------------------

def layer_share_figure(rows: list[dict]) -> go.Figure:
    """Each layer's share of the net's parameters and of its multiply-adds, side by side.

    Args:
        rows: ``layer_rows`` output (layer, params, macs).
    """
    frame = pd.DataFrame(rows)
    fig = go.Figure()
    for column, name, color in (("params", _("parameters"), "#1f77b4"), ("macs", _("multiply-adds"), "#ff7f0e")):
        share = 100 * frame[column] / max(frame[column].sum(), 1)
        fig.add_bar(x=frame["layer"], y=share, name=name, marker_color=color, customdata=frame[column],
                    hovertemplate="%{x}: %{customdata:,} (%{y:.1f}%)<extra>" + name + "</extra>")
    fig.update_layout(barmode="group", yaxis_title=_("share of the net (%)"), legend=dict(orientation="h", y=1.12),
                      margin=dict(t=30, b=10), height=340)
    return fig


def signal_figure(result: dict) -> go.Figure:
    """(a) The forward signal's standard deviation after the stem and each block at initialization, one
    line per residual scale a (log scale)."""
    fig = go.Figure()
    values = []
    for r in result["runs"]:
        stds = r["stds_init"]
        values += stds
        name = f"a = {r['scale']:g}"
        fig.add_scatter(x=list(range(len(stds))), y=stds, mode="lines+markers", name=name,
                        line=dict(color=COLORS.get(r["scale"]), width=3 if r["scale"] == 1 else 2),
                        hovertemplate=_("after block %{x}: std %{y:.3g}") + f"<extra>{name}</extra>")
    log_axis(fig, values, title=_("standard deviation of the signal (log)"))
    fig.update_layout(xaxis_title=_("block (0: after the stem)"), legend_title=_("residual scale"),
                      margin=dict(t=30, b=10), height=340)
    return fig


def scaling_curves_figure(history: pd.DataFrame) -> go.Figure:
    """(b) Training error vs step, one line per residual scale a (history: scale, step, train_error)."""
    fig = go.Figure()
    for scale, group in history.groupby("scale", sort=False):
        group = group.sort_values("step")
        name = f"a = {scale:g}"
        fig.add_scatter(x=group["step"], y=group["train_error"].rolling(SMOOTH, min_periods=1).mean(), mode="lines",
                        name=name, line=dict(color=COLORS.get(scale), width=3 if scale == 1 else 2),
                        hovertemplate=curve_hover(name))
    return training_error_chart(fig, SMOOTH, _("residual scale"), 340)


# --- counted tables ------------------------------------------------------------------------------------

def layer_table(where, entry: dict) -> None:
    """A net's rows, whole (a class reads them all): output, parameters (and fixed numbers), multiply-adds,
    the hand formula and whether it gives the count."""
    fixed = any(r["fixed"] for r in entry["rows"])
    rows = []
    for r in entry["rows"] + [{"layer": None, "output": "", "params": entry["params"], "fixed": entry["fixed"],
                               "macs": entry["macs"], "formula": None}]:
        row = {"layer": _("total") if r["layer"] is None else layer_name(r["layer"]), "output": r["output"],
               "params": f"{r['params']:,}", "fixed": f"{r['fixed']:,}" if r["fixed"] else "",
               "macs": f"{r['macs']:,}", "formula": shown_formula(r["formula"]),
               "agrees": ("✓" if evaluate_formula(r["formula"]) == r["params"] else "✗") if r["formula"] else ""}
        if not fixed:
            del row["fixed"]
        rows.append(row)
    small_table(where, pd.DataFrame(rows).rename(columns=lambda c: _(COLUMNS[c])))


def code(names: tuple[str, ...], key: str) -> None:
    """The Code view of these lineage nets (their modules written out as standalone PyTorch)."""
    code_view({_(NET_NAMES.get(n, n)): n for n in names}, key)


def lenet_tab() -> None:
    paper, full, today = net("LeNet-5"), net("LeNet-5 (full C3)"), net("LeNet-5 (as built today)")
    left, right = st.columns([3, 2])
    with left:
        layer_table(st, paper)
        st.caption(T.columns_note)
        small_table(st, pd.DataFrame([{_("net"): _(NET_NAMES.get(n["net"], n["net"])), _("parameters"): f"{n['params']:,}",
                                       _("multiply-adds"): f"{n['macs']:,}"} for n in (paper, full, today)]))
        code(("LeNet-5", "LeNet-5 (full C3)"), "lenet")
    right.markdown(T.lenet.format(trainable=paper["params"], fixed=paper["fixed"], full=full["params"],
                                  today=today["params"]))


def alexnet_tab() -> None:
    split = counted()["alexnet_split"]
    entry = net("AlexNet (two GPUs)")
    left, right = st.columns([3, 2])
    with left:
        layer_table(st, entry)
        chart(st, layer_share_figure(entry["rows"]))
        st.caption(T.columns_note)
        code(("AlexNet (two GPUs)",), "alexnet")
    right.markdown(T.alexnet.format(**split))


def vgg_tab() -> None:
    fc, v16, v19 = counted()["vgg16_fc"], net("VGG-16"), net("VGG-19")
    left, right = st.columns([3, 2])
    with left:
        layer_table(st, v16)
        chart(st, layer_share_figure(v16["rows"]))
        st.caption(T.columns_note)
        code(("VGG-16", "VGG-16 (GAP)", "VGG-19"), "vgg")
    right.markdown(T.vgg.format(total=fc["total"], fc=fc["fc"], fc_share=fc["fc_share"], gap=fc["gap_total"],
                                vgg16_g=v16["macs"] / 1e9, vgg16_yi=round(v16["macs"] / 1e8),
                                vgg19_g=v19["macs"] / 1e9, vgg19_yi=round(v19["macs"] / 1e8)))
    right.markdown(T.stacked)
    rows = []
    for item in counted()["stacked_3x3"]:
        r = three_by_three(64, item["layers"])
        rows.append({_("stack"): _("{n} x 3x3").format(n=item["layers"]),
                     _("weights"): f"{item['stacked_per_c2']}C² = {r['stacked']['weights']:,}",
                     _("one conv"): f"{item['kernel']}x{item['kernel']}: {item['single_per_c2']}C² = "
                                    f"{r['single']['weights']:,}",
                     _("receptive field"): f"{r['stacked']['receptive_field']} / {r['single']['receptive_field']}"})
    small_table(right, pd.DataFrame(rows))
    right.caption(_("C = 64 channels."))


def googlenet_tab() -> None:
    inc, goog = counted()["inception_3a"], counted()["googlenet"]
    left, right = st.columns([3, 2])
    with left:
        for variant, title in (("naive", N_("Module 3a, naive")), ("reduced", N_("Module 3a, with 1x1 reductions")),
                               ("full", N_("Module 3a, as built (with the pool projection)"))):
            st.markdown(f"**{_(title)}**")
            entry = {"rows": inc[variant]["rows"], "params": inc[variant]["weights"], "macs": inc[variant]["macs"],
                     "fixed": 0}
            layer_table(st, entry)
        code(("Inception 3a", "Inception 3a (naive)"), "inception")
    right.markdown(T.googlenet.format(naive=inc["naive"]["weights"], naive_out=inc["naive"]["out_channels"],
                                      reduced=inc["reduced"]["weights"], share=inc["reduced_share"],
                                      full=inc["full"]["weights"], full_out=inc["full"]["out_channels"],
                                      aux1=goog["aux"]["aux1"], aux2=goog["aux"]["aux2"], params=goog["params"],
                                      alexnet=net("AlexNet (two GPUs)")["params"], ratio=goog["alexnet_ratio"],
                                      bn_share=goog["batchnorm"] / goog["params"]))


def shallow_convergence() -> pd.DataFrame | None:
    """Steps until the smoothed training error of plain-20 and ResNet-20 first reaches each of ``LEVELS``,
    from the Degradation lesson's shipped result (None when it lacks depth 20)."""
    preset = dg.EXPERIMENT.presets[0]
    result = preset_result(preset)
    if result is None:
        return None
    rows = [{"net": f"{'ResNet' if r['variant'] == 'residual' else 'plain'}-20", "final": r["final_train_error"],
             **{level: dg.steps_to(r["history"], level, SMOOTH) for level in LEVELS}}
            for r in result["runs"] if r["depth"] == 20 and r["history"]]
    return pd.DataFrame(rows) if rows else None


OPTION_COLORS = {"plain": "#1f77b4", "A": "#d62728", "B": "#ff7f0e", "C": "#2ca02c"}


def option_label(variant: str, depth: int) -> str:
    return f"plain-{depth}" if variant == "plain" else _("ResNet-{depth}, option {option}").format(depth=depth,
                                                                                               option=variant)


def options_curves_figure(history: pd.DataFrame) -> go.Figure:
    """Training error vs step, one line per net and seed (history: variant, label, seed, step, train_error)."""
    fig = go.Figure()
    for (label, seed), group in history.groupby(["label", "seed"], sort=False):
        group = group.sort_values("step")
        variant = group["variant"].iloc[0]
        fig.add_scatter(x=group["step"], y=group["train_error"].rolling(SMOOTH, min_periods=1).mean(), mode="lines",
                        name=label, legendgroup=label, showlegend=bool(seed == history["seed"].min()),
                        line=dict(color=OPTION_COLORS.get(variant), width=2), hovertemplate=curve_hover(label))
    return training_error_chart(fig, SMOOTH, _("net"), 340)


@st.cache_resource(max_entries=32, show_spinner=False)
def _options_figure(ident: str, lang: str, _result: dict) -> go.Figure:
    """Built once per result and language for every session (never changed after this)."""
    depth = _result["depth"]
    return options_curves_figure(pd.DataFrame.from_records(
        [{"variant": r["variant"], "label": option_label(r["variant"], depth), "seed": r["seed"], **h}
         for r in _result["runs"] for h in r["history"]], columns=["variant", "label", "seed", "step", "train_error"]))


def live_options(records: list[dict], max_points: int = 200) -> None:
    if records:
        every = max(1, records[-1]["total"] // max_points)
        rows = [{"variant": r["variant"], "label": r["variant"], "seed": r["seed"], "step": r["done"],
                 "train_error": r["train_error"]} for r in records
                if "train_error" in r and (r["done"] % every == 0 or r["done"] == r["total"])]
        chart(st, options_curves_figure(pd.DataFrame(rows)), key="live-options")


def draw_options(shown: Shown) -> None:
    result = shown.result
    st.caption(shown.label)
    chart(st, _options_figure(shown.ident, language(), result))
    med = so.medians(result)
    params = {r["variant"]: r["params"] for r in result["runs"]}
    reached = {v: [r.get("steps_to_0.1") for r in result["runs"] if r["variant"] == v] for v in med}
    frame = pd.DataFrame([{_("net"): option_label(v, result["depth"]), _("parameters"): f"{params[v]:,}",
                           _("train error"): e, _("steps to {level}").format(level=dg.LEVEL): _steps(reached[v])}
                          for v, e in med.items()])
    small_table(st, frame, formats={_("train error"): "{:.3f}"})
    st.caption(T.options_table)


def _steps(found: list[int | None]) -> str:
    """The median of the runs' steps to a level, "–" where most never got there."""
    if any(f is None for f in found):
        found = [f if f is not None else float("inf") for f in found]
    value = pd.Series(found, dtype=float).median()
    return "–" if value == float("inf") else f"{value:g}"


def options_view(spec: so.Spec) -> None:
    panel = job_panel("shortcut_options", spec, live=live_options, what=T.options_what,
                      prose=(T.options_title, T.options))
    lesson_result(panel, so.EXPERIMENT, spec, T, draw_options)


def resnet_tab(options: so.Spec | None = None) -> None:
    left, right = st.columns([3, 2])
    with left:
        st.markdown(T.resnet)
        frame = shallow_convergence()
        if frame is None:
            st.info(T.shallow_none)
        else:
            shown = frame.rename(columns={"net": _("net"), "final": _("final training error"),
                                          **{lv: _("steps to {level}").format(level=lv) for lv in LEVELS}})
            small_table(st, shown, formats={_("final training error"): "{:.3f}"})
            st.caption(T.shallow_note.format(source=_("the Degradation lesson's precomputed result")))
    with right:
        published_table(HE_TABLE2, T.published_2, T.published_note)
        published_table(HE_TABLE3, T.published_3, "")
    st.markdown(T.resnet_stages)
    rows = [{_("net"): n, **{stage_name(r["layer"]): f"{r['params']:,}" for r in net(n)["rows"]},
             _("total"): f"{net(n)['params']:,}"} for n in ("ResNet-18", "ResNet-34")]
    small_table(st, pd.DataFrame(rows))
    if options is not None:
        st.subheader(T.options_title)
        st.markdown(T.options)
        options_view(options)


# --- Inception-ResNet: the block, concatenate or add, residual scaling trained -------------------------

def inception_resnet_counts() -> None:
    st.markdown(T.inception_resnet)
    layer_table(st, net("Inception-ResNet-A"))
    code(("Inception-ResNet-A",), "inception_resnet")
    both = counted()["concat_or_add"]
    st.markdown(T.concat.format(blocks=both["blocks"], channels=both["input_channels"]))
    rows = [{_("join"): _(JOINS[r["join"]]), _("channels after each module"): " → ".join(map(str, r["channels"])),
             _("parameters of the modules"): f"{r['params']:,}", _("the next 3x3 conv: parameters"):
                 f"{r['next_conv_params']:,}", _("its multiply-adds"): f"{r['next_conv_macs']:,}"} for r in both["rows"]]
    small_table(st, pd.DataFrame(rows))
    st.caption(T.concat_note)


@st.cache_resource(max_entries=32, show_spinner=False)
def _figures(ident: str, lang: str, _result: dict) -> tuple:
    """Built once per result and language for every session (never changed after this)."""
    history = pd.DataFrame.from_records([{"scale": r["scale"], **h} for r in _result["runs"] for h in r["history"]],
                                        columns=["scale", "step", "train_error"])
    return signal_figure(_result), scaling_curves_figure(history)


def live(records: list[dict], max_points: int = 200) -> None:
    """The training curves so far, one line per residual scale."""
    if records:
        every = max(1, records[-1]["total"] // max_points)
        rows = [{"scale": r["scale"], "step": r["done"], "train_error": r["train_error"]} for r in records
                if "train_error" in r and (r["done"] % every == 0 or r["done"] == r["total"])]
        chart(st, scaling_curves_figure(pd.DataFrame(rows)), key="live-scaling")


def draw(shown: Shown) -> None:
    """(a) the signal at initialization, (b) the training curves, (c) the table."""
    result = shown.result
    st.caption(shown.label)
    signal, curves = _figures(shown.ident, language(), result)
    chart(st, signal)
    st.caption(T.signal.format(images=rs.PROBE_IMAGES))
    chart(st, curves)
    st.caption(T.curves)
    frame = pd.DataFrame([{"a": f"{r['scale']:g}", _("signal growth at init"): f"{r['growth_init']:.3g}x",
                           _("train error"): r["final_train_error"], _("test error"): r["final_test_error"]}
                          for r in result["runs"]])
    small_table(st, frame, formats={_("train error"): "{:.3f}", _("test error"): "{:.3f}"})
    st.caption(T.table)
    for r in result["runs"]:
        if r["status"] == "diverged":
            st.warning(f"a = {r['scale']:g}: {_(r['message'])}")


def explanation() -> None:
    st.markdown(T.scaling)
    published_table(rs.PUBLISHED, T.published, "")


def results(spec: rs.Spec) -> None:
    panel = job_panel("residual_scaling", spec, live=live, what=T.what, prose=(T.title, T.scaling))
    lesson_result(panel, rs.EXPERIMENT, spec, T, draw)


__all__ = ["alexnet_tab", "counted", "draw", "explanation", "googlenet_tab", "inception_resnet_counts", "layer_share_figure",
           "layer_table", "lenet_tab", "live", "resnet_tab", "results", "scaling_curves_figure", "shallow_convergence",
           "signal_figure", "vgg_tab"]
