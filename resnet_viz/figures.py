"""Pure plotly builders: a tidy DataFrame in, a ``go.Figure`` out. No streamlit, no torch."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .i18n import F_


def stage_cost_figure(df: pd.DataFrame) -> go.Figure:
    """Stacked bars of parameters and multiply-adds per stage.

    Args:
        df: one row per stage with columns ``stage``, ``params``, ``macs``.
    """
    fig = go.Figure()
    totals = {"params": df["params"].sum(), "macs": df["macs"].sum()}
    for _, row in df.iterrows():
        shares = [row["params"] / max(totals["params"], 1), row["macs"] / max(totals["macs"], 1)]
        fig.add_bar(
            name=row["stage"], x=["parameters", "multiply-adds"], y=[100 * s for s in shares],
            customdata=[[f"{row['params']:,}"], [f"{row['macs']:,}"]],
            hovertemplate="%{fullData.name}: %{customdata[0]} (%{y:.1f}%)<extra></extra>",
        )
    fig.update_layout(barmode="stack", yaxis_title="share of the net (%)", legend_title="stage",
                      margin=dict(t=30, b=10), height=360)
    return fig


DEPTH_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
VARIANT_DASH = {"plain": "dash", "residual": "solid", "stochastic_depth": "dot"}
VARIANT_COLORS = {"plain": "#7f7f7f", "residual": "#d62728", "stochastic_depth": "#1f77b4"}


def _depth_color(depths: list[int], depth: int) -> str:
    return DEPTH_COLORS[sorted(depths).index(depth) % len(DEPTH_COLORS)]


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def training_curves_figure(history: pd.DataFrame, smooth: int = 10) -> go.Figure:
    """Training error vs step, one colour per depth, plain dashed and residual solid (He et al. Fig. 6).

    Args:
        history: tidy per-step rows with variant, depth, seed, step, train_error.
        smooth: moving-average window over steps (the batch error of one step is noisy).

    With several seeds the line is their median and a band spans their min..max (He et al. report
    "best (mean +- std) over 5 runs"; the median is not pulled by one unlucky seed).
    """
    fig = go.Figure()
    depths = sorted(history["depth"].unique().tolist()) if len(history) else []
    for (variant, depth), group in history.groupby(["variant", "depth"], sort=True):
        color = _depth_color(depths, depth)
        per_seed = (group.sort_values("step").groupby("seed")["train_error"]
                    .transform(lambda s: s.rolling(smooth, min_periods=1).mean()))
        frame = group.assign(smoothed=per_seed).groupby("step")["smoothed"].agg(["median", "min", "max", "count"])
        name = f"{'ResNet' if variant == 'residual' else 'plain'}-{depth}"
        if group["seed"].nunique() > 1:
            fig.add_scatter(x=list(frame.index) + list(frame.index[::-1]),
                            y=list(frame["max"]) + list(frame["min"][::-1]), fill="toself", mode="lines",
                            fillcolor=_rgba(color, 0.15), line=dict(width=0), hoverinfo="skip",
                            showlegend=False, legendgroup=name)
        fig.add_scatter(x=frame.index, y=frame["median"], mode="lines", name=name, legendgroup=name,
                        line=dict(color=color, dash=VARIANT_DASH[variant], width=2.5 if variant == "residual" else 2),
                        hovertemplate=F_("{name}<br>step %{{x}}<br>training error %{{y:.3f}}<extra></extra>", name=name))
    fig.update_layout(xaxis_title="step", yaxis_title=F_("training error (moving average of {smooth} steps)", smooth=smooth),
                      yaxis_range=[0, 1], legend_title="net", margin=dict(t=30, b=10), height=420)
    return fig


def error_vs_depth_figure(summary: pd.DataFrame) -> go.Figure:
    """Final training and test error (full splits, eval mode) vs depth, plain vs residual.

    Args:
        summary: one row per run with variant, depth, seed, final_train_error, final_test_error.

    With several seeds per net the line is the median over seeds and a band spans the lowest to the
    highest seed.
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=("training error", "test error"), shared_yaxes=True)
    for col, metric in enumerate(("final_train_error", "final_test_error"), start=1):
        for variant, group in summary.groupby("variant", sort=True):
            stats = group.groupby("depth")[metric].agg(["median", "min", "max"]).sort_index()
            color = VARIANT_COLORS[variant]
            if group["seed"].nunique() > 1:
                fig.add_scatter(x=list(stats.index) + list(stats.index[::-1]),
                                y=list(stats["max"]) + list(stats["min"][::-1]), fill="toself", mode="lines",
                                fillcolor=_rgba(color, 0.18), line=dict(width=0), hoverinfo="skip", showlegend=False,
                                legendgroup=variant, row=1, col=col)
            fig.add_scatter(
                x=stats.index, y=stats["median"], mode="lines+markers", name=variant, legendgroup=variant,
                showlegend=col == 1, line=dict(color=color, dash=VARIANT_DASH[variant]),
                customdata=list(zip(stats["min"], stats["max"])),
                hovertemplate=F_("{variant}-%{{x}}: median %{{y:.3f}} (seeds %{{customdata[0]:.3f}} to "
                                 "%{{customdata[1]:.3f}})<extra></extra>", variant=variant), row=1, col=col)
        fig.update_xaxes(title_text="depth (layers)", tickvals=sorted(summary["depth"].unique().tolist()),
                         row=1, col=col)
    fig.update_yaxes(title_text="error", rangemode="tozero", row=1, col=1)
    fig.update_layout(legend_title="variant", margin=dict(t=40, b=10), height=360)
    return fig


# --- gradient flow ---------------------------------------------------------------------------------


def _variant_line(variant: str) -> dict:
    return dict(color=VARIANT_COLORS[variant], dash=VARIANT_DASH[variant], width=2.5 if variant == "residual" else 2)


def gradient_norms_figure(layers: pd.DataFrame) -> go.Figure:
    """(a) Gradient norm of every conv layer's weights, input side left, on a log axis.

    Args:
        layers: one row per (variant, layer) with variant, index, name, grad_norm.
    """
    fig = go.Figure()
    for variant, group in layers.groupby("variant", sort=True):
        group = group.sort_values("index")
        fig.add_scatter(x=group["index"], y=group["grad_norm"].where(group["grad_norm"] > 0), mode="lines+markers",
                        name=variant, line=_variant_line(variant), marker=dict(size=4), customdata=group[["name"]],
                        hovertemplate="%{customdata[0]}<br>|dL/dW| = %{y:.3g}<extra>" + variant + "</extra>")
    fig.update_layout(xaxis_title="conv layer (0 = input side)", yaxis_title="gradient norm |dL/dW| (log)",
                      yaxis_type="log", yaxis_exponentformat="power", legend_title="net", margin=dict(t=30, b=10),
                      height=380)
    return fig


def chain_rule_figure(blocks: pd.DataFrame) -> go.Figure:
    """(d) Per-block gradient gain ||dL/dx_in|| / ||dL/dx_out|| and its running product from the top.

    Args:
        blocks: one row per (variant, block) with variant, block, gain, chain_product.
    """
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("gain of each block (1 = passes the gradient unchanged)",
                                        "running product from the output back = gradient reaching the block"))
    for variant, group in blocks.groupby("variant", sort=True):
        group = group.sort_values("block")
        for row, column in ((1, "gain"), (2, "chain_product")):
            fig.add_scatter(x=group["block"], y=group[column].where(group[column] > 0), name=variant,
                            legendgroup=variant, showlegend=row == 1, mode="lines+markers", marker=dict(size=4),
                            line=_variant_line(variant), row=row, col=1,
                            hovertemplate=F_("block %{{x}}: %{{y:.3g}}<extra>{variant}</extra>", variant=variant))
    fig.add_hline(y=1, line=dict(color="black", width=1, dash="dot"), row=1, col=1)
    fig.add_hline(y=1, line=dict(color="black", width=1, dash="dot"), row=2, col=1)
    fig.update_yaxes(type="log", exponentformat="power")
    fig.update_xaxes(title_text="block (0 = input side)", row=2, col=1)
    fig.update_layout(legend_title="net", margin=dict(t=40, b=10), height=520)
    return fig


def gradient_heatmap_figure(checkpoints: dict[str, dict]) -> go.Figure:
    """(b) log10 of each conv layer's gradient norm (rows) at each probed training step (columns).

    Args:
        checkpoints: variant -> {"steps", "layer_names", "grad_norms": [[per layer] per step]}.
            Exact zeros (float32 underflow) are left blank.
    """
    import numpy as np
    variants = [v for v in ("plain", "residual") if v in checkpoints]
    logs = {}
    for v in variants:
        grid = np.asarray(checkpoints[v]["grad_norms"], dtype=float).T  # (layers, steps)
        with np.errstate(divide="ignore", invalid="ignore"):
            logs[v] = np.where(grid > 0, np.log10(np.where(grid > 0, grid, 1.0)), np.nan)
    finite = np.concatenate([g[np.isfinite(g)] for g in logs.values()]) if logs else np.array([0.0])
    zmin, zmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    fig = make_subplots(rows=1, cols=max(1, len(variants)), shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=variants or None)
    for col, v in enumerate(variants, start=1):
        c = checkpoints[v]
        fig.add_heatmap(z=logs[v], x=c["steps"], y=list(range(len(c["layer_names"]))), zmin=zmin, zmax=zmax,
                        colorscale="Viridis", showscale=col == len(variants),
                        colorbar=dict(title="log10 |dL/dW|"), customdata=[[n] * len(c["steps"]) for n in c["layer_names"]],
                        hovertemplate="step %{x}<br>%{customdata}<br>log10 |dL/dW| = %{z:.2f}<extra>" + v + "</extra>",
                        row=1, col=col)
        fig.update_xaxes(title_text="training step", row=1, col=col)
    fig.update_yaxes(title_text="conv layer (0 = input side)", row=1, col=1)
    fig.update_layout(margin=dict(t=40, b=10), height=420)
    return fig


def response_std_figure(responses: pd.DataFrame) -> go.Figure:
    """(c) Std of each 3x3 conv's response, in network order and sorted (He et al. 2016, Fig. 7).

    Args:
        responses: one row per (variant, layer) with variant, index, name, std, rank (0 = largest).
    """
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, subplot_titles=("in network order", "sorted by magnitude"))
    for variant, group in responses.groupby("variant", sort=True):
        for col, x in ((1, "index"), (2, "rank")):
            g = group.sort_values(x)
            fig.add_scatter(x=g[x], y=g["std"], mode="lines", name=variant, legendgroup=variant,
                            showlegend=col == 1, line=_variant_line(variant), customdata=g[["name"]],
                            hovertemplate="%{customdata[0]}<br>std %{y:.3f}<extra>" + variant + "</extra>",
                            row=1, col=col)
    fig.update_xaxes(title_text="3x3 layer (0 = input side)", row=1, col=1)
    fig.update_xaxes(title_text="layer, largest response first", row=1, col=2)
    fig.update_yaxes(title_text="std of response", rangemode="tozero", row=1, col=1)
    fig.update_layout(legend_title="net", margin=dict(t=40, b=10), height=360)
    return fig


# --- parameters and compute ------------------------------------------------------------------------

def block_cost_figure(costs: list[dict]) -> go.Figure:
    """Stacked bars of a block's weights: one segment per conv, then BN and shortcut.

    Args:
        costs: block_cost() results; each becomes one bar labelled by kind and channels.
    """
    fig = go.Figure()
    names = [F_("{kind}, {channels} channels", kind=c["kind"], channels=c["channels"]) for c in costs]
    segments: dict[str, list[int]] = {}
    for i, c in enumerate(costs):
        parts = [(F_("conv {n} ({k}x{k})", n=j + 1, k=conv["kernel"]), conv["weights"]) for j, conv in enumerate(c["convs"])]
        parts += [("BN", c["bn_params"]), ("shortcut", c["shortcut_params"])]
        for label, value in parts:
            segments.setdefault(label, [0] * len(costs))[i] = value
    for label, values in segments.items():
        fig.add_bar(name=label, x=names, y=values, hovertemplate=F_("{label}: %{{y:,}}<extra></extra>", label=label))
    fig.update_layout(barmode="stack", yaxis_title="parameters", legend_title="part", margin=dict(t=30, b=10),
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
        fig.add_bar(name=stage, x=order, y=share, customdata=group[metric],
                    hovertemplate=F_("{stage}: %{{customdata:,}} (%{{y:.1f}}%)<extra>%{{x}}</extra>", stage=stage))
    what = "parameters" if metric == "params" else "multiply-adds"
    fig.update_layout(barmode="stack", yaxis_title=F_("share of the net's {what} (%)", what=what), legend_title="stage",
                      margin=dict(t=30, b=10), height=380)
    return fig


def lineage_figure(table: pd.DataFrame) -> go.Figure:
    """Parameters vs multiply-adds (both log), marker size = depth, colour = year.

    Args:
        table: lineage_table() rows (net, year, depth, params, macs, top1_error).
    """
    fig = go.Figure()
    for family, group in table.assign(family=table["net"].str.startswith("ResNet").map(
            {True: "ResNet (2015)", False: "before ResNet"})).groupby("family", sort=False):
        error = group["top1_error"].map(lambda e: "n/a (MNIST net)" if pd.isna(e) else f"{e:.1f}%")
        fig.add_scatter(x=group["macs"], y=group["params"], mode="markers+text", name=family, text=group["net"],
                        textposition="middle right" if family.startswith("ResNet") else "top center",
                        marker=dict(size=8 + group["depth"] ** 0.5 * 3, opacity=0.75,
                                    color="#d62728" if family.startswith("ResNet") else "#1f77b4"),
                        customdata=list(zip(group["year"], group["depth"], error)),
                        hovertemplate="%{text} (%{customdata[0]}), %{customdata[1]} layers<br>%{y:,} parameters<br>"
                                      "%{x:,} multiply-adds<br>top-1 error %{customdata[2]}<extra></extra>")
    fig.update_layout(xaxis_type="log", yaxis_type="log", xaxis_exponentformat="power", yaxis_exponentformat="power",
                      xaxis_dtick=1, yaxis_dtick=1,
                      xaxis_title="multiply-adds per image (log)", yaxis_title="parameters (log)",
                      legend_title="", margin=dict(t=30, b=10), height=460)
    return fig


# --- residual nets as ensembles ------------------------------------------------------------------

def lesion_single_figure(rows: pd.DataFrame, chance: float) -> go.Figure:
    """(a) Test accuracy after removing each single block, plain vs residual (Veit et al. Fig. 3).

    Args:
        rows: one row per (variant, block) with variant, block, stage, changes_shape, test_accuracy
            (NaN where the block cannot be removed) and base_test_accuracy.
        chance: accuracy of guessing (1 / classes), drawn as a dotted line.
    """
    fig = go.Figure()
    for variant, group in rows.groupby("variant", sort=True):
        group = group.sort_values("block")
        fig.add_scatter(x=group["block"], y=group["test_accuracy"], mode="lines+markers", name=variant,
                        line=_variant_line(variant), marker=dict(size=6),
                        hovertemplate=F_("{variant}: without block %{{x}}, accuracy %{{y:.3f}}<extra></extra>", variant=variant))
        fig.add_hline(y=group["base_test_accuracy"].iloc[0], line=dict(color=VARIANT_COLORS[variant], width=1, dash="dot"),
                      annotation_text=F_("{variant}, all blocks", variant=variant), annotation_position="top left")
        blocked = group[group["test_accuracy"].isna()]
        if len(blocked):
            fig.add_scatter(x=blocked["block"], y=[0.0] * len(blocked), mode="markers",
                            name=F_("{variant}: cannot remove", variant=variant),
                            marker=dict(symbol="x", size=10, color=VARIANT_COLORS[variant]),
                            hovertemplate="block %{x} changes the shape: a plain net cannot lose it<extra></extra>")
    for b in rows.loc[rows["changes_shape"].astype(bool), "block"].unique():
        fig.add_vline(x=b, line=dict(color="#bbbbbb", width=1, dash="dash"))
    fig.add_hline(y=chance, line=dict(color="black", width=1, dash="dot"), annotation_text="chance",
                  annotation_position="bottom right")
    fig.update_layout(xaxis_title="block removed (0 = input side; dashed: downsampling blocks)",
                      yaxis_title="test accuracy", yaxis_range=[0, 1.02], legend_title="net",
                      margin=dict(t=30, b=10), height=400)
    return fig


def lesion_curve_figure(curves: pd.DataFrame, x_title: str, chance: float) -> go.Figure:
    """(b)/(c) Mean test accuracy (band: +- 1 std over random draws) vs k removed blocks or swaps.

    Args:
        curves: one row per (variant, k) with variant, k, mean_test_accuracy, std.
    """
    fig = go.Figure()
    for variant, group in curves.groupby("variant", sort=True):
        group = group.sort_values("k")
        color = VARIANT_COLORS[variant]
        upper = (group["mean_test_accuracy"] + group["std"]).clip(upper=1)
        lower = (group["mean_test_accuracy"] - group["std"]).clip(lower=0)
        fig.add_scatter(x=list(group["k"]) + list(group["k"][::-1]), y=list(upper) + list(lower[::-1]),
                        fill="toself", mode="lines", fillcolor=_rgba(color, 0.15), line=dict(width=0), hoverinfo="skip",
                        showlegend=False, legendgroup=variant)
        fig.add_scatter(x=group["k"], y=group["mean_test_accuracy"], mode="lines+markers", name=variant,
                        legendgroup=variant, line=_variant_line(variant), customdata=group["std"],
                        hovertemplate=F_("{variant}: k = %{{x}}, accuracy %{{y:.3f}} ± %{{customdata:.3f}}<extra></extra>",
                                         variant=variant))
    fig.add_hline(y=chance, line=dict(color="black", width=1, dash="dot"), annotation_text="chance",
                  annotation_position="bottom right")
    fig.update_layout(xaxis_title=x_title, yaxis_title="test accuracy", yaxis_range=[0, 1.02], legend_title="net",
                      margin=dict(t=30, b=10), height=340)
    return fig


def path_length_figure(dist: pd.DataFrame, band: tuple[int, int] | None = None) -> go.Figure:
    """(d) How many of the 2^n paths pass through k blocks: Binomial(n, 1/2) (Veit et al. Fig. 6a).

    Args:
        dist: one row per length with length, paths, share.
        band: a range of lengths to shade (e.g. where 95% of the paths lie).
    """
    fig = go.Figure()
    fig.add_bar(x=dist["length"], y=100 * dist["share"], customdata=dist["paths"].map(lambda p: f"{p:,}"),
                marker_color="#d62728", name="paths",
                hovertemplate="%{customdata} paths through %{x} blocks (%{y:.2f}% of all)<extra></extra>")
    if band is not None:
        fig.add_vrect(x0=band[0] - 0.5, x1=band[1] + 0.5, fillcolor="#d62728", opacity=0.08, line_width=0)
    fig.update_layout(xaxis_title="path length (blocks a path goes through)", yaxis_title="share of all paths (%)",
                      showlegend=False, margin=dict(t=30, b=10), height=320)
    return fig


# --- attributions --------------------------------------------------------------------------------

def attribution_figure(image, maps: list[tuple[str, object, bool]]) -> go.Figure:
    """The input image, then one heatmap per (title, 2-D map, signed) side by side.

    Signed maps (Integrated Gradients) use a red-blue scale centred on 0 (red: evidence for the
    target class); unsigned ones (saliency, GradCAM) go from white to red.
    """
    import numpy as np
    titles = ["input"] + [t for t, _, _ in maps]
    fig = make_subplots(rows=1, cols=len(titles), subplot_titles=titles, horizontal_spacing=0.03)
    fig.add_heatmap(z=np.asarray(image), colorscale="gray", showscale=False, row=1, col=1,
                    hovertemplate="x %{x}, y %{y}: %{z:.2f}<extra>input</extra>")
    for col, (title, m, signed) in enumerate(maps, start=2):
        m = np.asarray(m, dtype=float)
        top = float(np.abs(m).max()) or 1.0
        fig.add_heatmap(z=m, colorscale="RdBu_r" if signed else "Reds", zmin=-top if signed else 0, zmax=top,
                        showscale=False, row=1, col=col, hovertemplate="x %{x}, y %{y}: %{z:.3g}<extra>" + title + "</extra>")
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
        df: one row per (variant, block) with variant, block, importance, accuracy_drop (NaN where
            the block cannot be removed).
    """
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.1,
                        subplot_titles=("what the gradient says: |gradient x branch output|",
                                        "what deleting says: test accuracy lost without the block"))
    for variant, group in df.groupby("variant", sort=True):
        group = group.sort_values("block")
        for row, column in ((1, "importance"), (2, "accuracy_drop")):
            fig.add_bar(x=group["block"], y=group[column], name=variant, legendgroup=variant, showlegend=row == 1,
                        marker_color=VARIANT_COLORS[variant], row=row, col=1,
                        hovertemplate=F_("{variant}, block %{{x}}: %{{y:.3f}}<extra></extra>", variant=variant))
    fig.update_xaxes(title_text="block (0 = input side)", row=2, col=1)
    fig.update_layout(barmode="group", legend_title="net", margin=dict(t=40, b=10), height=480)
    return fig


# --- why identity? (He et al. 2016b, Table 1) ------------------------------------------------------

SHORTCUT_COLORS = {"identity": "#d62728", "scaling": "#ff7f0e", "gating": "#1f77b4", "shortcut_gating": "#17becf",
                   "conv1x1": "#9467bd", "dropout": "#7f7f7f"}


def shortcut_curves_figure(history: pd.DataFrame, smooth: int = 10) -> go.Figure:
    """Training error vs step, one line per shortcut variant (identity thick and solid).

    Args:
        history: tidy per-step rows with variant, label, step, train_error.
        smooth: moving-average window over steps.
    """
    fig = go.Figure()
    dashes = ["solid", "dash", "dot", "dashdot"]
    seen: dict[str, int] = {}
    for label, group in history.groupby("label", sort=False):
        variant = group["variant"].iloc[0]
        dash = dashes[seen.get(variant, 0) % len(dashes)]
        seen[variant] = seen.get(variant, 0) + 1
        group = group.sort_values("step")
        fig.add_scatter(x=group["step"], y=group["train_error"].rolling(smooth, min_periods=1).mean(), mode="lines",
                        name=label, line=dict(color=SHORTCUT_COLORS.get(variant, "#333"), dash=dash,
                                              width=3 if variant == "identity" else 2),
                        hovertemplate=F_("{label}<br>step %{{x}}<br>training error %{{y:.3f}}<extra></extra>", label=label))
    fig.update_layout(xaxis_title="step", yaxis_title=F_("training error (moving average of {smooth} steps)", smooth=smooth),
                      yaxis_range=[0, 1], legend_title="shortcut", margin=dict(t=30, b=10), height=400)
    return fig


def shortcut_factor_figure(runs: pd.DataFrame) -> go.Figure:
    """The gradient the shortcuts carry from the last block to the first, relative to identity
    shortcuts (log scale): measured at initialization and after training, and the product of the
    λ's where it is a constant.

    Args:
        runs: one row per run with label, variant, shortcut_gradient_factor_init,
            shortcut_gradient_factor, expected_factor (NaN where data-dependent).
    """
    fig = go.Figure()
    floor = 1e-30  # a log axis cannot show 0
    for column, name, symbol in (("shortcut_gradient_factor_init", "measured at initialization", "circle"),
                                 ("shortcut_gradient_factor", "measured after training", "diamond"),
                                 ("expected_factor", "product of the λ's (formula)", "line-ew-open")):
        values = runs[column].astype(float)
        fig.add_scatter(x=runs["label"], y=values.clip(lower=floor), mode="markers", name=name,
                        marker=dict(symbol=symbol, size=14 if symbol.startswith("line") else 10,
                                    line=dict(width=3 if symbol.startswith("line") else 1)),
                        customdata=values, hovertemplate="%{x}: %{customdata:.3g}<extra>" + name + "</extra>")
    fig.update_layout(yaxis_type="log", yaxis_title="shortcut gradient factor (first block / last)",
                      legend=dict(orientation="h", y=-0.3), margin=dict(t=30, b=10), height=400)
    return fig


# --- loss landscapes and paths --------------------------------------------------------------------

SURFACE_CAP = 10.0  # losses above this are drawn at it in the 3-D view (Li et al. clip their plots the same way)


def _log_ticks(low: float, high: float) -> tuple[list[float], list[str]]:
    """Tick positions on a log10 colour scale and their loss labels."""
    values = [v for v in (1e-4, 1e-3, 0.01, 0.1, 0.3, 1, 2.3, 5, 10, 100, 1e3, 1e4, 1e5) if low <= v <= high]
    return [math.log10(v) for v in values], [f"{v:g}" for v in values]


def landscape_contour_figure(runs: list[dict]) -> go.Figure:
    """Contours of log10(loss) over the plane of the two directions, one panel per net, on one colour
    scale; the trained net sits at (0, 0) (Li et al. 2018, Fig. 5).

    Args:
        runs: the landscape experiment's runs (variant, name, grid: x, y, loss).
    """
    fig = make_subplots(rows=1, cols=len(runs), subplot_titles=[r["name"] for r in runs], horizontal_spacing=0.08)
    logs = [[[math.log10(max(v, 1e-6)) for v in row] for row in r["grid"]["loss"]] for r in runs]
    low = min(min(min(row) for row in z) for z in logs) if logs else 0.0
    high = max(max(max(row) for row in z) for z in logs) if logs else 1.0
    tickvals, ticktext = _log_ticks(10 ** low, 10 ** high)
    for i, (r, z) in enumerate(zip(runs, logs), start=1):
        fig.add_contour(x=r["grid"]["x"], y=r["grid"]["y"], z=z, zmin=low, zmax=high, colorscale="Viridis",
                        ncontours=30, showscale=i == len(runs), row=1, col=i,
                        customdata=r["grid"]["loss"], name=r["name"],
                        colorbar=dict(title="loss", tickvals=tickvals, ticktext=ticktext),
                        hovertemplate="a = %{x:.2f}, b = %{y:.2f}: loss %{customdata:.3g}<extra>%{fullData.name}</extra>")
        fig.add_scatter(x=[0], y=[0], mode="markers", marker=dict(symbol="x", color="white", size=9),
                        showlegend=False, hoverinfo="skip", row=1, col=i)
        fig.update_xaxes(title_text="direction 1", constrain="domain", row=1, col=i)
        fig.update_yaxes(title_text="direction 2" if i == 1 else None, scaleanchor=f"x{'' if i == 1 else i}",
                         constrain="domain", row=1, col=i)
    fig.update_layout(margin=dict(t=40, b=10), height=420)
    return fig


def landscape_surface_figure(runs: list[dict], cap: float = SURFACE_CAP) -> go.Figure:
    """The same surfaces in 3-D, losses above ``cap`` drawn at ``cap``, one scene per net."""
    fig = make_subplots(rows=1, cols=len(runs), specs=[[{"type": "surface"}] * len(runs)],
                        subplot_titles=[r["name"] for r in runs], horizontal_spacing=0.02)
    for i, r in enumerate(runs, start=1):
        z = [[min(v, cap) if v == v else cap for v in row] for row in r["grid"]["loss"]]
        fig.add_surface(x=r["grid"]["x"], y=r["grid"]["y"], z=z, cmin=0, cmax=cap, colorscale="Viridis",
                        showscale=i == len(runs), colorbar=dict(title="loss"), name=r["name"],
                        customdata=r["grid"]["loss"],
                        hovertemplate="a = %{x:.2f}, b = %{y:.2f}: loss %{customdata:.3g}<extra>%{fullData.name}</extra>",
                        row=1, col=i)
    scene = dict(xaxis_title="direction 1", yaxis_title="direction 2", zaxis=dict(title="loss", range=[0, cap]),
                 camera=dict(eye=dict(x=1.6, y=1.6, z=1.0)))
    fig.update_layout(**{f"scene{'' if i == 1 else i}": scene for i in range(1, len(runs) + 1)},
                      margin=dict(t=40, b=0, l=0, r=0), height=460)
    return fig


def interpolation_figure(runs: list[dict]) -> go.Figure:
    """Training loss along the line from initialization (alpha 0) to the trained weights (alpha 1),
    log axis; a cross marks each net's loss with its own BN running statistics (the surface's centre)."""
    fig = go.Figure()
    for r in runs:
        line = r["interpolation"]
        style = _variant_line(r["variant"])
        fig.add_scatter(x=line["alpha"], y=[max(v, 1e-6) for v in line["loss"]], mode="lines+markers", name=r["name"],
                        line=style, marker=dict(size=4, color=style["color"]), customdata=line["accuracy"],
                        hovertemplate="alpha %{x:.2f}: loss %{y:.3g}, accuracy %{customdata:.3f}<extra>%{fullData.name}"
                                      "</extra>")
        fig.add_scatter(x=[1.0], y=[max(r["centre_loss"], 1e-6)], mode="markers", showlegend=False,
                        marker=dict(symbol="x", size=11, color=style["color"]),
                        hovertemplate=F_("{name} with its running BN statistics: loss %{{y:.3g}}<extra></extra>", name=r["name"]))
    fig.add_vline(x=0, line_dash="dot", line_color="#999", annotation_text="init")
    fig.add_vline(x=1, line_dash="dot", line_color="#999", annotation_text="trained")
    fig.update_layout(xaxis_title="alpha (0 = initialization, 1 = trained)", yaxis_type="log",
                      yaxis_title="training loss", yaxis_exponentformat="e", legend=dict(orientation="h", y=-0.25),
                      margin=dict(t=30, b=10),
                      height=360)
    return fig


STAGE_STYLE = {"init": dict(color="#7f7f7f", dash="dash"), "trained": dict(color="#d62728", dash="solid")}


def path_gradient_figure(runs: list[dict]) -> go.Figure:
    """The gradient at the input through one path, by the number of residual branches on it (log
    axis; Veit et al. 2016, Fig. 6b); hover shows the spread over sampled paths."""
    fig = go.Figure()
    for r in runs:
        rows = r["by_length"]
        fig.add_scatter(x=[q["k"] for q in rows], y=[q["grad_norm_mean"] for q in rows], mode="lines+markers",
                        name=r["stage"], line=STAGE_STYLE.get(r["stage"], {}), marker=dict(size=5),
                        customdata=[[q["grad_norm_std"], q["samples"]] for q in rows],
                        hovertemplate="k = %{x}: mean %{y:.3g}, std %{customdata[0]:.3g} over %{customdata[1]} paths"
                                      "<extra>%{fullData.name}</extra>")
    fig.update_layout(xaxis_title="path length k (residual branches the gradient goes through)", yaxis_type="log",
                      yaxis_title="gradient norm at the input", yaxis_exponentformat="e", legend_title="net",
                      margin=dict(t=30, b=10),
                      height=360)
    return fig


def effective_paths_figure(runs: list[dict]) -> go.Figure:
    """Share of the paths of each length (grey bars, Binomial(n, 1/2)) against the share of the
    gradient they carry (paths x one path's gradient; Veit et al. 2016, Fig. 6c); the shaded band is
    the shortest range of lengths that carries 90% of the trained net's gradient."""
    fig = go.Figure()
    if runs:
        first = runs[0]["effective"]["by_length"]
        fig.add_bar(x=[q["k"] for q in first], y=[100 * q["path_share"] for q in first], name="paths",
                    marker_color="#cccccc", hovertemplate="k = %{x}: %{y:.2f}% of the paths<extra></extra>")
    for r in runs:
        rows = r["effective"]["by_length"]
        fig.add_scatter(x=[q["k"] for q in rows], y=[100 * q["gradient_share"] for q in rows], mode="lines+markers",
                        name=F_("gradient ({stage})", stage=r["stage"]), line=STAGE_STYLE.get(r["stage"], {}), marker=dict(size=5),
                        hovertemplate="k = %{x}: %{y:.2f}% of the gradient<extra>%{fullData.name}</extra>")
    trained = [r for r in runs if r["stage"] == "trained"]
    if trained:
        lo, hi = trained[0]["effective"]["effective_range"]
        fig.add_vrect(x0=lo - 0.5, x1=hi + 0.5, fillcolor="#d62728", opacity=0.08, line_width=0,
                      annotation_text="effective paths", annotation_position="top left")
        fig.add_vline(x=trained[0]["effective"]["typical_length"], line_dash="dot", line_color="#555",
                      annotation_text="typical path", annotation_position="top right")
    fig.update_layout(xaxis_title="path length k", yaxis_title="share (%)", barmode="overlay",
                      legend=dict(orientation="h", y=-0.25), margin=dict(t=30, b=10), height=360)
    return fig
