"""The Parameters and compute lesson: exact parameters and multiply-adds, counted from the real modules.

Tabs: your net (per stage, with its architecture drawn as in the paper's Fig. 3), basic vs
bottleneck, the family beside the published counts, the lineage, and why 3x3.
"""

from __future__ import annotations

import re

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ...config import BLOCK_WORDS, BLOCKS, BOTTLENECKS, IMAGENET_DEPTHS, SHORTCUT_KINDS, SHORTCUTS, NetConfig, cifar_depths
from ...counting import block_cost, count, family_rows, preact_rows, three_by_three
from ...diagram import architecture_dot
from ...i18n import N_
from ...lineage import ERROR_SOURCE, lineage_table
from .. import guard
from ..display import chart, table
from ..lang import _, declare
from ..texts.parameters import Parameters as T
from ..widgets import control

FAMILIES = {"cifar": N_("CIFAR (32 px)"), "imagenet": N_("ImageNet (224 px)")}
FAMILY_RANGES = {"cifar": "CIFAR ResNet-20..1202", "imagenet": "ImageNet ResNet-18..152"}
METRICS = {"params": N_("parameters"), "macs": N_("multiply-adds")}
KINDS = {"identity": N_("identity"), "scaling": N_("scaling"), "gating": N_("gating"),
         "shortcut_gating": N_("shortcut gating"), "dropout": N_("dropout")}
HEADERS = (N_("stage"), N_("block"), N_("part"), N_("formula"), N_("parameters"), N_("net"), N_("source"),
           N_("year"), N_("depth"), N_("image size"), N_("paper"), N_("counted from"), N_("note"),
           N_("family"), N_("variant"))  # the tables' columns shown as they are named
# every control of the page's tabs, so that a link to a closed tab's setting is not called ignored
CONTROLS = ("family", "block", "depth", "width", "residual", "shortcut", "kind", "channels", "bottleneck_width",
            "in_channels", "block_shortcut", "table_family", "variants", "stage_chart", "c")


STAGES = {"stem": N_("stem"), "head": N_("head")}


def stage_name(stage: str) -> str:
    """"stem", "stage2", "head" in the session's language."""
    found = re.fullmatch(r"stage(\d+)", stage)
    return _("stage {n}").format(n=found.group(1)) if found else _(STAGES.get(stage, stage))


# --- figures -----------------------------------------------------------------------------------------

def stage_cost_figure(df: pd.DataFrame) -> go.Figure:
    """Stacked bars of each stage's share of the parameters and of the multiply-adds.

    Args:
        df: one row per stage with columns ``stage``, ``params``, ``macs``.
    """
    fig = go.Figure()
    totals = {"params": df["params"].sum(), "macs": df["macs"].sum()}
    for _i, row in df.iterrows():
        shares = [row["params"] / max(totals["params"], 1), row["macs"] / max(totals["macs"], 1)]
        fig.add_bar(name=stage_name(row["stage"]), x=[_("parameters"), _("multiply-adds")], y=[100 * s for s in shares],
                    customdata=[[f"{row['params']:,}"], [f"{row['macs']:,}"]],
                    hovertemplate="%{fullData.name}: %{customdata[0]} (%{y:.1f}%)<extra></extra>")
    fig.update_layout(barmode="stack", yaxis_title=_("share of the net (%)"), legend_title=_("stage"),
                      margin=dict(t=30, b=10), height=360)
    return fig


def block_cost_figure(costs: list[dict]) -> go.Figure:
    """Stacked bars of a block's weights: one segment per conv, then BN and shortcut.

    Args:
        costs: block_cost() results; each becomes one bar labelled by kind and channels.
    """
    fig = go.Figure()
    names = [_("{kind}, {channels} channels").format(kind=_(c["kind"]), channels=c["channels"]) for c in costs]
    segments: dict[str, list[int]] = {}
    for i, c in enumerate(costs):
        parts = [(_("conv {n} ({k}x{k})").format(n=j + 1, k=conv["kernel"]), conv["weights"])
                 for j, conv in enumerate(c["convs"])]
        parts += [(_("batch norm"), c["bn_params"]), (_("shortcut"), c["shortcut_params"])]
        for label, value in parts:
            segments.setdefault(label, [0] * len(costs))[i] = value
    for label, values in segments.items():
        fig.add_bar(name=label, x=names, y=values, hovertemplate=f"{label}: %{{y:,}}<extra></extra>")
    fig.update_layout(barmode="stack", yaxis_title=_("parameters"), legend_title=_("part"), margin=dict(t=30, b=10),
                      height=340)
    return fig


def family_stages_figure(rows: pd.DataFrame, metric: str = "params") -> go.Figure:
    """Per net, each stage's share of its parameters (or multiply-adds), as 100% stacked bars.

    Shares rather than totals, because ResNet-1202 is 70x ResNet-20; totals are in the hover.

    Args:
        rows: one row per (net, stage) with net, stage, params, macs.
        metric: "params" or "macs".
    """
    fig = go.Figure()
    order = list(dict.fromkeys(rows["net"]))
    totals = rows.groupby("net")[metric].sum()
    for stage, group in rows.groupby("stage", sort=False):
        group = group.set_index("net").reindex(order)
        share = 100 * group[metric] / totals.reindex(order)
        fig.add_bar(name=stage_name(stage), x=order, y=share, customdata=group[metric],
                    hovertemplate=f"{stage_name(stage)}: %{{customdata:,}} (%{{y:.1f}}%)<extra>%{{x}}</extra>")
    fig.update_layout(barmode="stack", yaxis_title=_("share of the net's {what} (%)").format(what=_(METRICS[metric])),
                      legend_title=_("stage"), margin=dict(t=30, b=10), height=380)
    return fig


def lineage_figure(frame: pd.DataFrame) -> go.Figure:
    """Parameters vs multiply-adds (both log), marker size = depth.

    Args:
        frame: lineage_table() rows (net, year, depth, params, macs, top1_error).
    """
    fig = go.Figure()
    resnet = frame["net"].str.startswith("ResNet")
    for is_resnet, group in frame.groupby(resnet, sort=False):
        family = _("ResNet (2015)") if is_resnet else _("before ResNet")
        error = group["top1_error"].map(lambda e: _("none (an MNIST net)") if pd.isna(e) else f"{e:.1f}%")
        fig.add_scatter(x=group["macs"], y=group["params"], mode="markers+text", name=family, text=group["net"],
                        textposition="middle right" if is_resnet else "top center",
                        marker=dict(size=8 + group["depth"] ** 0.5 * 3, opacity=0.75,
                                    color="#d62728" if is_resnet else "#1f77b4"),
                        customdata=list(zip(group["year"], group["depth"], error)),
                        hovertemplate=_("%{text} (%{customdata[0]}), %{customdata[1]} layers<br>%{y:,} parameters<br>"
                                        "%{x:,} multiply-adds<br>top-1 error %{customdata[2]}") + "<extra></extra>")
    fig.update_layout(xaxis_type="log", yaxis_type="log", xaxis_exponentformat="power", yaxis_exponentformat="power",
                      xaxis_dtick=1, yaxis_dtick=1, xaxis_title=_("multiply-adds per image (log)"),
                      yaxis_title=_("parameters (log)"), legend_title="", margin=dict(t=30, b=10), height=460)
    return fig


# --- tab: your net -----------------------------------------------------------------------------------

def net_tab() -> None:
    """The controls of one net and what it costs."""
    declare(*CONTROLS)
    c1, c2, c3, c4 = st.columns(4)
    family = control(c1, "radio", "family", N_("Family"), ["cifar", "imagenet"], "cifar",
                     format_func=lambda f: _(FAMILIES[f]))
    cifar = family == "cifar"
    block = control(c2, "selectbox", "block", N_("Block"), list(BLOCKS), "basic", format_func=lambda b: _(BLOCK_WORDS[b]),
                    help=N_("basic and pre-activation: depth 6n+2; bottlenecks: 9n+2")) if cifar else "auto"
    depth = (control(c3, "select_slider", "depth", N_("Depth"), cifar_depths(block), 29 if block in BOTTLENECKS else 20)
             if cifar else control(c2, "select_slider", "depth", N_("Depth"), list(IMAGENET_DEPTHS), 50, key="depth-in"))
    width = control(c4 if cifar else c3, "number_input", "width", N_("Width (first-stage channels)"), None,
                    16 if cifar else 64, low=1, high=256, key=f"width-{family}")
    residual = control(c1, "toggle", "residual", N_("Shortcuts (residual)"), None, True)
    shortcut = control(c2, "radio", "shortcut", N_("Shortcut option"), list(SHORTCUTS), "A" if cifar else "B",
                       key=f"shortcut-{family}", disabled=not residual,
                       help=N_("A: zero-padded identity; B: 1x1 projection where the shape changes; C: projection "
                               "everywhere"))
    kind = control(c3, "selectbox", "kind", N_("Shortcut kind"), list(SHORTCUT_KINDS), "identity",
                   format_func=lambda k: _(KINDS[k]), disabled=not residual, help=T.kind_help)
    net = guard(NetConfig, family=family, depth=depth, block=block, residual=residual, shortcut=shortcut,
                width=int(width), num_classes=10 if cifar else 1000, shortcut_kind=kind if residual else "identity")
    net_cost(net)


def net_cost(net: NetConfig) -> None:
    """Metrics, per-stage table and chart, and the architecture of one net."""
    counted = count(net)
    m1, m2, m3 = st.columns([2, 1, 1])  # the net's name is the longest ("ResNet-20 (bottleneck, gating b_g=0)")
    m1.metric(_("Net"), net.title(_))
    m2.metric(_("Parameters"), f"{counted['params']:,}")
    m3.metric(_("Multiply-adds per {size} px image").format(size=counted["image_size"]),
              f"{counted['macs'] / 1e6:,.1f} M")
    take_home(net)
    df = pd.DataFrame(counted["stages"])
    left, right = st.columns([3, 2])
    chart(left, stage_cost_figure(df))
    left.caption(T.stages)
    shown = df.assign(stage=df["stage"].map(stage_name))
    table(right, shown, column_config={
        "params": st.column_config.NumberColumn(_("parameters"), format="localized"),
        "macs": st.column_config.NumberColumn(_("multiply-adds"), format="localized")})
    right.download_button(_("Download CSV"), df.to_csv(index=False), file_name=f"{net.name}-stages.csv", mime="text/csv")
    st.subheader(T.architecture_title)
    n_stages = len(net.blocks_per_stage)
    few = sum(net.blocks_per_stage) <= 12
    expanded = st.multiselect(_("Stages drawn block by block"), list(range(1, n_stages + 1)),
                              default=list(range(1, n_stages + 1)) if few else [1],
                              format_func=lambda s: _("stage {n}").format(n=s),
                              help=_("collapse stages of deep nets into one box"))
    left, right = st.columns([2, 1])
    left.graphviz_chart(architecture_dot(net, [s - 1 for s in expanded], tr=_), width="content")
    right.markdown(T.architecture)


def take_home(net: NetConfig) -> None:
    """The net's code and, for a CIFAR-family net (the family the lab trains), a notebook that trains it."""
    from ...experiments import training
    from ..takehome import code_view, notebook_button

    code_view({net.title(_): net}, "params")
    if net.family == "cifar":
        guard(notebook_button, "train", training.Spec(net=net), (T.title, T.intro))


# --- tab: basic vs bottleneck ----------------------------------------------------------------------------

def block_tab() -> None:
    """The basic-vs-bottleneck tab: its controls (in the URL like every page's) and the calculator."""
    declare(*CONTROLS)
    c1, c2, c3, c4 = st.columns(4)
    channels = control(c1, "select_slider", "channels", N_("Channels"), [16, 32, 64, 128, 256, 512, 1024, 2048], 256)
    width = control(c2, "select_slider", "bottleneck_width", N_("Bottleneck width (3x3 channels)"),
                    [channels // 8, channels // 4, channels // 2], channels // 4,
                    help=N_("the paper uses a quarter of the channels"))
    in_channels = control(c3, "select_slider", "in_channels", N_("Input channels"), [channels // 2, channels], channels,
                          help=N_("half the channels: the first block of a stage, whose shortcut must change the shape"))
    shortcut = control(c4, "radio", "block_shortcut", N_("Shortcut option"), list(SHORTCUTS), "B")
    guard(block_calculator, channels, width, in_channels, shortcut)


def block_calculator(channels: int, width: int, in_channels: int, shortcut: str) -> None:
    basic = block_cost("basic", channels, in_channels=in_channels, shortcut=shortcut)
    bottleneck = block_cost("bottleneck", channels, bottleneck_width=width, in_channels=in_channels, shortcut=shortcut)
    pair = block_cost("basic", channels // 4) if channels % 4 == 0 and channels >= 4 else None
    c1, c2, c3 = st.columns(3)
    c1.metric(_("Basic block, {channels} channels").format(channels=channels), f"{basic['conv_weights']:,}",
              help=_("conv weights"), border=True)
    c2.metric(_("Bottleneck ({width}-d 3x3), {channels} channels").format(width=width, channels=channels),
              f"{bottleneck['conv_weights']:,}",
              _("{ratio}x fewer").format(ratio=f"{basic['conv_weights'] / bottleneck['conv_weights']:.2f}"),
              delta_arrow="off", border=True)
    if pair is not None:
        c3.metric(_("Basic block, {channels} channels").format(channels=channels // 4), f"{pair['conv_weights']:,}",
                  _("{ratio}x the bottleneck").format(ratio=f"{pair['conv_weights'] / bottleneck['conv_weights']:.2f}"),
                  delta_color="off", delta_arrow="off", border=True,
                  help=_("the paper's pairing: a basic block of a quarter of the channels costs about what the "
                         "bottleneck does"))
    rows = [{"block": f"{_(c['kind'])} ({c['channels']})", "part": conv["name"], "formula": conv["formula"],
             "parameters": conv["weights"]} for c in (basic, bottleneck) for conv in c["convs"]]
    rows += [{"block": f"{_(c['kind'])} ({c['channels']})", "part": _(part), "formula": formula, "parameters": c[key]}
             for c in (basic, bottleneck)
             for part, key, formula in ((N_("batch norm"), "bn_params", _("2 per channel (scale, shift)")),
                                        (N_("shortcut"), "shortcut_params", _shortcut_formula(c, shortcut)))]
    left, right = st.columns([3, 2])
    table(left, pd.DataFrame(rows), column_config={"parameters": st.column_config.NumberColumn(format="localized")})
    chart(right, block_cost_figure([basic, bottleneck] + ([pair] if pair else [])))
    st.markdown(T.bottleneck)


def _shortcut_formula(cost: dict, shortcut: str) -> str:
    if cost["in_channels"] == cost["channels"] and shortcut != "C":
        return _("identity: no weights")
    if shortcut == "A":
        return _("zero-padded identity (option A): no weights")
    return _("{shape} projection + BN").format(shape=f"1x1x{cost['in_channels']}x{cost['channels']}")


# --- tab: the family ---------------------------------------------------------------------------------

@st.cache_data(max_entries=16, show_spinner=False)
def _family_rows(family: str, variants: tuple[str, ...]) -> list[dict]:
    return [row for v in variants for row in family_rows(family, v)]


def family_tab() -> None:
    """Every depth of a family beside the published counts, each stage's share, the CSV."""
    declare(*CONTROLS)
    c1, c2, c3 = st.columns([1, 2, 1])
    family = control(c1, "radio", "table_family", N_("Family"), ["cifar", "imagenet"], "cifar",
                     format_func=FAMILY_RANGES.get)
    variants = control(c2, "multiselect", "variants", N_("Variants"), ["plain", "A", "B", "C"],
                       ("plain", "A" if family == "cifar" else "B"),
                       format_func=lambda v: _("plain") if v == "plain" else _("option {option}").format(option=v),
                       key=f"variants-{family}", help=N_("plain: no shortcuts; A, B, C: the residual net's shortcut option"))
    metric = control(c3, "radio", "stage_chart", N_("Stage chart"), ["params", "macs"], "params",
                     format_func=lambda m: _(METRICS[m]))
    if variants:
        family_view(family, tuple(variants), metric)
    else:
        st.info(T.pick_variant)
    if family == "cifar":
        st.subheader(T.preact_title)
        table(st, pd.DataFrame(_preact_table()), words=("source",), column_config={
            "params": st.column_config.NumberColumn(_("parameters (counted)"), format="localized"),
            "published_params": st.column_config.NumberColumn(_("parameters (published)"), format="localized"),
            "params_diff_pct": st.column_config.NumberColumn(_("diff %"), format="%+.2f"),
            "macs": st.column_config.NumberColumn(_("multiply-adds (counted)"), format="localized")})
        st.caption(T.preact_note)


def family_view(family: str, variants: tuple[str, ...], metric: str) -> None:
    rows = _family_rows(family, variants)
    frame = pd.DataFrame([{k: v for k, v in r.items() if k != "stages"} for r in rows])
    cols = ["net", "params", "published_params", "params_diff_pct", "macs", "published_macs", "macs_diff_pct", "source"]
    if "torchvision_params" in frame:
        cols.insert(3, "torchvision_params")
    table(st, frame[cols], words=("source",), column_config={
        "params": st.column_config.NumberColumn(_("parameters (counted)"), format="localized"),
        "published_params": st.column_config.NumberColumn(_("parameters (published)"), format="localized"),
        "torchvision_params": st.column_config.NumberColumn(_("torchvision constructor (counted)"), format="localized"),
        "params_diff_pct": st.column_config.NumberColumn(_("diff %"), format="%+.2f"),
        "macs": st.column_config.NumberColumn(_("multiply-adds (counted)"), format="localized"),
        "published_macs": st.column_config.NumberColumn(_("multiply-adds (published)"), format="localized"),
        "macs_diff_pct": st.column_config.NumberColumn(_("diff %"), format="%+.2f")})
    st.caption(T.family_published)
    stages = pd.DataFrame([{"net": r["net"], **s} for r in rows for s in r["stages"]])
    chart(st, family_stages_figure(stages, metric))
    st.caption(T.family_stages)
    st.download_button(_("Download CSV (nets and stages)"), stages.merge(frame.drop(columns=["params", "macs"]), on="net")
                       .to_csv(index=False), file_name=f"resnet-{family}-family.csv", mime="text/csv",
                       icon=":material/download:")


@st.cache_data(max_entries=1, show_spinner=False)
def _preact_table() -> list[dict]:
    return [{k: r[k] for k in ("net", "params", "published_params", "params_diff_pct", "macs", "source")}
            for r in preact_rows()]


# --- tabs: lineage and 3x3 ---------------------------------------------------------------------------

@st.cache_data(max_entries=1, show_spinner=False)
def _lineage() -> pd.DataFrame:
    return pd.DataFrame(lineage_table())


def lineage_tab() -> None:
    declare(*CONTROLS)
    frame = _lineage()
    chart(st, lineage_figure(frame))
    st.caption(T.lineage.format(source=ERROR_SOURCE))
    shown = frame.rename(columns={"image_size": "image size", "counted_from": "counted from"})
    table(st, shown, words=("note", "counted from"), column_config={
        "params": st.column_config.NumberColumn(_("parameters"), format="localized"),
        "macs": st.column_config.NumberColumn(_("multiply-adds"), format="localized"),
        "top1_error": st.column_config.NumberColumn(_("top-1 error % (published)"), format="%.2f"),
        "top5_error": st.column_config.NumberColumn(_("top-5 error % (published)"), format="%.2f")})
    macs = frame.set_index("net")["macs"]
    st.markdown(T.lineage_read.format(resnet=macs["ResNet-152"] / 1e9, vgg=macs["VGG-16"] / 1e9))


def three_by_three_tab() -> None:
    declare(*CONTROLS)
    channels = control(st, "select_slider", "c", N_("Channels C"), [16, 32, 64, 128, 256, 512], 64)
    r = three_by_three(channels)
    c1, c2 = st.columns(2)
    for col, title, key in ((c1, N_("Three 3x3 convs, {channels} channels"), "stacked"),
                            (c2, N_("One 7x7 conv, {channels} channels"), "single")):
        field = r[key]["receptive_field"]
        col.metric(_(title).format(channels=channels), _("{count} weights").format(count=f"{r[key]['weights']:,}"),
                   _("receptive field {n}x{n} (measured)").format(n=field), delta_color="off", delta_arrow="off",
                   border=True)
    st.markdown(T.three_numbers.format(c=channels, stacked=27 * channels ** 2, single=49 * channels ** 2,
                                       ratio=r["ratio"]))
    st.markdown(T.three)


__all__ = ["block_cost_figure", "block_tab", "family_stages_figure", "family_tab", "lineage_figure", "lineage_tab",
           "net_tab", "stage_cost_figure", "take_home", "three_by_three_tab"]
