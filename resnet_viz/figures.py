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
