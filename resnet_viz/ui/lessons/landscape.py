"""The landscape lesson: loss surfaces of a trained plain and residual net (Li et al. 2018, Fig. 5)
and the paths of a residual net that carry the gradient (Veit et al. 2016, Fig. 6).

Figures: (a) contours and (b) 3-D surfaces of the training loss over the plane of two
filter-normalized directions, (c) the 1-D line from initialization; the gradient through one path
by its length, and the share of the gradient each length carries.
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from ...config import DataConfig
from ...experiments import landscape as land
from ...experiments import paths as pa
from ...figures import variant_line
from ...i18n import N_
from ...pretrained import standard_error
from ...protocol import made_on
from ..display import SCI_NOTE, Shown, chart, lesson_result, log_axis, sci, small_table
from ..jobs import dataset_ready, job_panel
from ..lang import _, language
from ..texts.landscape import Landscape as T
from .ensembles import run_title
from ..texts.landscape import Paths as P

SURFACE_CAP = 10.0  # losses above this are drawn at it in the 3-D view (Li et al. clip their plots the same way)
HEADERS = (N_("net"), N_("train error"), N_("test error"), N_("loss at centre"), N_("curvature ratio"),
           N_("convex share"), N_("basin share"))  # the table's columns shown as they are named
STAGE_STYLE = {"init": dict(color="#7f7f7f", dash="dash"), "trained": dict(color="#d62728", dash="solid")}


def _log_ticks(low: float, high: float) -> tuple[list[float], list[str]]:
    """Tick positions on a log10 colour scale and their loss labels."""
    values = [v for v in (1e-4, 1e-3, 0.01, 0.1, 0.3, 1, 2.3, 5, 10, 100, 1e3, 1e4, 1e5) if low <= v <= high]
    return [math.log10(v) for v in values], [f"{v:g}" for v in values]


# --- figures: the surfaces -------------------------------------------------------------------------------

def landscape_contour_figure(runs: list[dict]) -> go.Figure:
    """(a) Contours of log10(loss) over the plane of the two directions, one panel per net, on one
    colour scale; the trained net sits at (0, 0) (Li et al. 2018, Fig. 5).

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
                        ncontours=30, showscale=i == len(runs), row=1, col=i, customdata=r["grid"]["loss"],
                        name=r["name"], colorbar=dict(title=_("loss"), tickvals=tickvals, ticktext=ticktext),
                        hovertemplate="a = %{x:.2f}, b = %{y:.2f}: " + _("loss") + " %{customdata:.3g}"
                                      "<extra>%{fullData.name}</extra>")
        fig.add_scatter(x=[0], y=[0], mode="markers", marker=dict(symbol="x", color="white", size=9),
                        showlegend=False, hoverinfo="skip", row=1, col=i)
        fig.update_xaxes(title_text=_("direction 1 (a)"), constrain="domain", row=1, col=i)
        fig.update_yaxes(title_text=_("direction 2 (b)") if i == 1 else None, scaleanchor=f"x{'' if i == 1 else i}",
                         constrain="domain", row=1, col=i)
    fig.update_layout(margin=dict(t=40, b=10), height=420)
    return fig


def landscape_surface_figure(runs: list[dict], cap: float = SURFACE_CAP) -> go.Figure:
    """(b) The same surfaces in 3-D, losses above ``cap`` drawn at ``cap``, one scene per net."""
    fig = make_subplots(rows=1, cols=len(runs), specs=[[{"type": "surface"}] * len(runs)],
                        subplot_titles=[r["name"] for r in runs], horizontal_spacing=0.02)
    for i, r in enumerate(runs, start=1):
        z = [[min(v, cap) if v == v else cap for v in row] for row in r["grid"]["loss"]]
        fig.add_surface(x=r["grid"]["x"], y=r["grid"]["y"], z=z, cmin=0, cmax=cap, colorscale="Viridis",
                        showscale=i == len(runs), colorbar=dict(title=_("loss")), name=r["name"],
                        customdata=r["grid"]["loss"],
                        hovertemplate="a = %{x:.2f}, b = %{y:.2f}: " + _("loss") + " %{customdata:.3g}"
                                      "<extra>%{fullData.name}</extra>", row=1, col=i)
    # short axis titles and the camera a little further back: the scene clips long titles at its edge
    scene = dict(xaxis_title="a", yaxis_title="b", zaxis=dict(title=_("loss"), range=[0, cap]),
                 camera=dict(eye=dict(x=1.9, y=1.9, z=1.2)))
    fig.update_layout(**{f"scene{'' if i == 1 else i}": scene for i in range(1, len(runs) + 1)},
                      margin=dict(t=40, b=0, l=0, r=0), height=460)
    return fig


def interpolation_figure(runs: list[dict]) -> go.Figure:
    """(c) Training loss along the line from initialization (alpha 0) to the trained weights (alpha
    1), log axis; a cross marks each net's loss with its own BN running statistics."""
    fig = go.Figure()
    losses = []
    for r in runs:
        line = r["interpolation"]
        style = variant_line(r["variant"])
        losses += [max(v, 1e-6) for v in line["loss"]] + [max(r["centre_loss"], 1e-6)]
        fig.add_scatter(x=line["alpha"], y=[max(v, 1e-6) for v in line["loss"]], mode="lines+markers", name=r["name"],
                        line=style, marker=dict(size=4, color=style["color"]), customdata=line["accuracy"],
                        hovertemplate=_("alpha %{x:.2f}: loss %{y:.3g}, accuracy %{customdata:.3f}") +
                        "<extra>%{fullData.name}</extra>")
        fig.add_scatter(x=[1.0], y=[max(r["centre_loss"], 1e-6)], mode="markers", showlegend=False,
                        marker=dict(symbol="x", size=11, color=style["color"]),
                        hovertemplate=_("{name} with its running BN statistics: loss %{{y:.3g}}<extra></extra>").format(
                            name=r["name"]))
    fig.add_vline(x=0, line_dash="dot", line_color="#999", annotation_text=_("initialization"))
    fig.add_vline(x=1, line_dash="dot", line_color="#999", annotation_text=_("trained"))
    fig.update_layout(xaxis_title=_("alpha (0 = initialization, 1 = trained)"), legend=dict(orientation="h", y=-0.25),
                      margin=dict(t=30, b=10), height=360)
    log_axis(fig, losses, title=_("training loss"))
    return fig


# --- figures: the paths ----------------------------------------------------------------------------------

def path_gradient_figure(runs: list[dict]) -> go.Figure:
    """The gradient at the input through one path, by the number of residual branches on it (log
    axis; Veit et al. 2016, Fig. 6b); hover shows the spread over sampled paths."""
    fig = go.Figure()
    values = []
    for r in runs:
        rows = r["by_length"]
        values += [q["grad_norm_mean"] for q in rows]
        fig.add_scatter(x=[q["k"] for q in rows], y=[q["grad_norm_mean"] for q in rows], mode="lines+markers",
                        name=_(pa.STAGE_NAMES[r["stage"]]), line=STAGE_STYLE.get(r["stage"], {}), marker=dict(size=5),
                        customdata=[[q["grad_norm_std"], q["samples"]] for q in rows],
                        hovertemplate=_("k = %{x}: mean %{y:.3g}, std %{customdata[0]:.3g} over %{customdata[1]} "
                                        "paths") + "<extra>%{fullData.name}</extra>")
    fig.update_layout(xaxis_title=_("path length k (residual branches the gradient goes through)"),
                      legend_title=_("net"), margin=dict(t=30, b=10), height=360)
    log_axis(fig, values, title=_("gradient norm at the input"))
    return fig


def effective_paths_figure(runs: list[dict]) -> go.Figure:
    """Share of the paths of each length (grey bars, Binomial(n, 1/2)) against the share of the
    gradient they carry (paths x one path's gradient; Veit et al. 2016, Fig. 6c); the shaded band is
    the shortest range of lengths that carries 90% of the trained net's gradient."""
    fig = go.Figure()
    if runs:
        first = runs[0]["effective"]["by_length"]
        fig.add_bar(x=[q["k"] for q in first], y=[100 * q["path_share"] for q in first], name=_("paths"),
                    marker_color="#cccccc", hovertemplate=_("k = %{x}: %{y:.2f}% of the paths") + "<extra></extra>")
    for r in runs:
        rows = r["effective"]["by_length"]
        fig.add_scatter(x=[q["k"] for q in rows], y=[100 * q["gradient_share"] for q in rows], mode="lines+markers",
                        name=_("gradient ({stage})").format(stage=_(pa.STAGE_NAMES[r["stage"]])),
                        line=STAGE_STYLE.get(r["stage"], {}), marker=dict(size=5),
                        hovertemplate=_("k = %{x}: %{y:.2f}% of the gradient") + "<extra>%{fullData.name}</extra>")
    trained = [r for r in runs if r["stage"] == "trained"]
    if trained:
        lo, hi = trained[0]["effective"]["effective_range"]
        fig.add_vrect(x0=lo - 0.5, x1=hi + 0.5, fillcolor="#d62728", opacity=0.08, line_width=0,
                      annotation_text=_("effective paths"), annotation_position="top left")
        fig.add_vline(x=trained[0]["effective"]["typical_length"], line_dash="dot", line_color="#555",
                      annotation_text=_("typical path"), annotation_position="top right")
    fig.update_layout(xaxis_title=_("path length k"), yaxis_title=_("share (%)"), barmode="overlay",
                      legend=dict(orientation="h", y=-0.25), margin=dict(t=30, b=10), height=360)
    return fig


# --- views: the surfaces ---------------------------------------------------------------------------------

@st.cache_resource(max_entries=16, show_spinner=False)
def _landscape_figures(ident: str, lang: str, _result: dict) -> tuple:
    """Built once per result and language for every session (never changed after this)."""
    runs = _result["runs"]
    frame = pd.DataFrame.from_records([
        {"net": r["name"], "train error": r["final_train_error"], "test error": r["final_test_error"],
         "loss at centre": r["numbers"]["centre_loss"], "curvature ratio": r["numbers"]["curvature_ratio"],
         "convex share": r["numbers"]["convex_share"], "basin share": r["numbers"]["basin_share"]} for r in runs])
    line = interpolation_figure(runs) if all(r.get("interpolation") for r in runs) else None
    return landscape_contour_figure(runs), landscape_surface_figure(runs), line, frame


def landscape_measured(result: dict) -> str:
    runs = result["runs"]
    if result.get("source"):
        centre = runs[0]["grid"]["accuracy"][len(runs[0]["grid"]["y"]) // 2][len(runs[0]["grid"]["x"]) // 2]
        return T.published_measured.format(device=made_on(result), name=run_title("residual", result["depth"], result["source"]),
                                           points=result["grid_points"] ** 2, images=result["images"],
                                           seconds=sum(r["surface_seconds"] for r in runs), accuracy=centre,
                                           se=standard_error(centre, result["images"]))
    return T.measured.format(device=made_on(result), nets=len(runs), points=result["grid_points"] ** 2,
                             seconds=sum(r["surface_seconds"] for r in runs))


def draw_surfaces(shown: Shown) -> None:
    """The numbers, contours, 3-D surfaces, the 1-D line and the table."""
    result = shown.result
    st.caption(shown.label)
    for label, key, fmt, tip in ((T.metric_curvature, "curvature_ratio", "{:.3g}", T.metric_curvature_help),
                                 (T.metric_basin, "basin_share", "{:.1%}", T.metric_basin_help)):
        for column, r in zip(st.columns(len(result["runs"])), result["runs"]):
            column.metric(label.format(name=r["name"]), fmt.format(r["numbers"][key]), help=tip)
    contour, surface, line, frame = _landscape_figures(shown.ident, language(), result)
    chart(st, contour)
    st.caption(T.contour.format(images=result["images"], grid=result["grid_points"], span=result["span"]))
    chart(st, surface)
    st.caption(T.surface.format(cap=SURFACE_CAP))
    if line is not None:  # a published net has no 1-D line: its initialization is not published
        chart(st, line)
        st.caption(T.line_caption)
    small_table(st, frame, formats={"train error": "{:.4f}", "test error": "{:.4f}", "loss at centre": "{:.4f}",
                                    "curvature ratio": "{:.3f}", "convex share": "{:.3f}", "basin share": "{:.3f}"})
    st.caption(T.table)


def surfaces(spec: land.Spec) -> None:
    """The surface tab's left column: the job panel and the result."""
    if spec.source.active and not dataset_ready(DataConfig("cifar10"), stop=False):  # its CIFAR-10 images
        return
    panel = job_panel("landscape", spec, button=T.button, what=T.what, prose=(T.title, T.intro, T.explanation))
    lesson_result(panel, land.EXPERIMENT, spec, T, draw_surfaces, landscape_measured)


def landscape_published() -> None:
    """Li et al. 2018, Fig. 5, labelled as published."""
    from ..display import published_table

    published_table(land.PUBLISHED, T.published, T.published_note)


# --- views: the paths ------------------------------------------------------------------------------------

@st.cache_resource(max_entries=16, show_spinner=False)
def _paths_figures(ident: str, lang: str, _result: dict) -> tuple:
    return path_gradient_figure(_result["runs"]), effective_paths_figure(_result["runs"])


def draw_paths(shown: Shown) -> None:
    """The effective paths as numbers, the gradient by path length and the effective-path plot."""
    result = shown.result
    st.caption(shown.label)
    stages = {r["stage"]: r["effective"] for r in result["runs"]}
    if "trained" in stages:
        trained = stages["trained"]
        lo, hi = trained["effective_range"]
        c1, c2, c3 = st.columns(3)
        c1.metric(P.metric_effective, P.value_range.format(lo=lo, hi=hi),
                  help=P.metric_effective_help.format(n=result["blocks"]))
        since = {}  # how training moved it; a published net has no initialization to compare with
        if "init" in stages:
            change = trained["effective_length"] - stages["init"]["effective_length"]
            since = {"delta": P.value_since_init.format(change=change), "delta_color": "off",
                     "delta_arrow": "down" if change < 0 else "up"}
        c2.metric(P.metric_mean, f"{trained['effective_length']:.1f}", help=P.metric_mean_help, **since)
        c3.metric(P.metric_typical, f"{trained['typical_length']:g}", help=P.metric_typical_help)
    gradient, effective = _paths_figures(shown.ident, language(), result)
    chart(st, gradient)
    first = result["runs"][0]["by_length"] if result["runs"] else []
    numbers = P.gradient_numbers.format(short=sci(first[0]["grad_norm_mean"]), k=first[-1]["k"],
                                        long=sci(first[-1]["grad_norm_mean"])) if first else ""
    st.caption(P.gradient.format(samples=result["samples"], images=result["images"]) + " " + numbers + " " +
               _(SCI_NOTE) + (" " + P.init_note if "init" in stages else ""))
    chart(st, effective)
    st.caption(P.effective.format(n=result["blocks"]))


def paths(spec: pa.Spec) -> None:
    """The paths tab's left column: the job panel and the result."""
    if spec.source.active and not dataset_ready(DataConfig("cifar10"), stop=False):  # its CIFAR-10 images
        return
    panel = job_panel("paths", spec, button=P.button, what=P.what, prose=(T.paths_tab, P.explanation))
    lesson_result(panel, pa.EXPERIMENT, spec, P, draw_paths, lambda r: P.published_measured.format(
        device=made_on(r), name=run_title("residual", r["depth"], r["source"]), images=r["images"]) if r.get("source") else
        P.measured.format(device=made_on(r), depth=r["depth"], key=r["train_key"]))


def paths_published() -> None:
    st.markdown(P.published.format(source=_(pa.PUBLISHED)))


__all__ = ["draw_paths", "draw_surfaces", "effective_paths_figure", "interpolation_figure", "landscape_contour_figure",
           "landscape_published", "landscape_surface_figure", "path_gradient_figure", "paths", "paths_published",
           "surfaces"]
