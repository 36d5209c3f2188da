"""Pure plotly builders: a tidy DataFrame in, a ``go.Figure`` out. No streamlit, no torch."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go


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
VARIANT_DASH = {"plain": "dash", "residual": "solid"}


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

    With several seeds the line is their mean and a band spans their min..max.
    """
    fig = go.Figure()
    depths = sorted(history["depth"].unique().tolist()) if len(history) else []
    for (variant, depth), group in history.groupby(["variant", "depth"], sort=True):
        color = _depth_color(depths, depth)
        per_seed = (group.sort_values("step").groupby("seed")["train_error"]
                    .transform(lambda s: s.rolling(smooth, min_periods=1).mean()))
        frame = group.assign(smoothed=per_seed).groupby("step")["smoothed"].agg(["mean", "min", "max", "count"])
        name = f"{'ResNet' if variant == 'residual' else 'plain'}-{depth}"
        if group["seed"].nunique() > 1:
            fig.add_scatter(x=list(frame.index) + list(frame.index[::-1]),
                            y=list(frame["max"]) + list(frame["min"][::-1]), fill="toself",
                            fillcolor=_rgba(color, 0.15), line=dict(width=0), hoverinfo="skip",
                            showlegend=False, legendgroup=name)
        fig.add_scatter(x=frame.index, y=frame["mean"], mode="lines", name=name, legendgroup=name,
                        line=dict(color=color, dash=VARIANT_DASH[variant], width=2.5 if variant == "residual" else 2),
                        hovertemplate=f"{name}<br>step %{{x}}<br>training error %{{y:.3f}}<extra></extra>")
    fig.update_layout(xaxis_title="step", yaxis_title=f"training error (moving average of {smooth} steps)",
                      yaxis_range=[0, 1], legend_title="net", margin=dict(t=30, b=10), height=420)
    return fig


def error_vs_depth_figure(summary: pd.DataFrame) -> go.Figure:
    """Final training and test error (full splits, eval mode) vs depth, plain vs residual.

    Args:
        summary: one row per run with variant, depth, seed, final_train_error, final_test_error.
    """
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("training error", "test error"), shared_yaxes=True)
    colors = {"plain": "#7f7f7f", "residual": "#d62728"}
    for col, metric in enumerate(("final_train_error", "final_test_error"), start=1):
        for variant, group in summary.groupby("variant", sort=True):
            stats = group.groupby("depth")[metric].agg(["mean", "min", "max"]).sort_index()
            fig.add_scatter(
                x=stats.index, y=stats["mean"], mode="lines+markers", name=variant, legendgroup=variant,
                showlegend=col == 1, line=dict(color=colors[variant], dash=VARIANT_DASH[variant]),
                error_y=dict(type="data", symmetric=False, array=stats["max"] - stats["mean"],
                             arrayminus=stats["mean"] - stats["min"], visible=group["seed"].nunique() > 1),
                hovertemplate=f"{variant}-%{{x}}: %{{y:.3f}}<extra></extra>", row=1, col=col)
        fig.update_xaxes(title_text="depth (layers)", tickvals=sorted(summary["depth"].unique().tolist()),
                         row=1, col=col)
    fig.update_yaxes(title_text="error", rangemode="tozero", row=1, col=1)
    fig.update_layout(legend_title="variant", margin=dict(t=40, b=10), height=360)
    return fig
