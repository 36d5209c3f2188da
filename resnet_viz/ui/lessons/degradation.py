"""The Degradation lesson (He et al. 2016, Fig. 1 and 6): its figures and views.

Figures: training error vs step (one colour per depth, plain dashed, residual solid) and the final
errors vs depth, each with the median and a band over seeds.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from ...experiments import degradation as deg
from ...figures import VARIANT_COLORS, VARIANT_DASH, depth_color, rgba
from ...i18n import N_
from ...protocol import build, run_name
from .. import guard
from ..display import Shown, chart, curve_hover, lesson_result, published_table, table, training_error_chart
from ..jobs import job_panel
from ..lang import _, language
from ..texts.degradation import Degradation as T
from ..widgets import control

SMOOTH = 10  # steps in the moving average of the curves
HEADERS = (N_("variant"), N_("depth"), N_("seed"), N_("status"))  # the table's columns shown as they are named


# --- figures -----------------------------------------------------------------------------------------

def training_curves_figure(history: pd.DataFrame, smooth: int = SMOOTH) -> go.Figure:
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
        color = depth_color(depths, depth)
        per_seed = (group.sort_values("step").groupby("seed")["train_error"]
                    .transform(lambda s: s.rolling(smooth, min_periods=1).mean()))
        frame = group.assign(smoothed=per_seed).groupby("step")["smoothed"].agg(["median", "min", "max"])
        name = run_name(variant, depth)
        if group["seed"].nunique() > 1:
            fig.add_scatter(x=list(frame.index) + list(frame.index[::-1]),
                            y=list(frame["max"]) + list(frame["min"][::-1]), fill="toself", mode="lines",
                            fillcolor=rgba(color, 0.15), line=dict(width=0), hoverinfo="skip",
                            showlegend=False, legendgroup=name)
        fig.add_scatter(x=frame.index, y=frame["median"], mode="lines", name=name, legendgroup=name,
                        line=dict(color=color, dash=VARIANT_DASH[variant], width=2.5 if variant == "residual" else 2),
                        hovertemplate=curve_hover(name))
    return training_error_chart(fig, smooth, _("net"), 420)


def error_vs_depth_figure(summary: pd.DataFrame) -> go.Figure:
    """Final training and test error (full splits, eval mode) vs depth, plain vs residual; with
    several seeds per net the median and a band from the lowest to the highest seed.

    Args:
        summary: one row per run with variant, depth, seed, final_train_error, final_test_error.
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=(_("training error"), _("test error")), shared_yaxes=True)
    for col, metric in enumerate(("final_train_error", "final_test_error"), start=1):
        for variant, group in summary.groupby("variant", sort=True):
            stats = group.groupby("depth")[metric].agg(["median", "min", "max"]).sort_index()
            color = VARIANT_COLORS[variant]
            if group["seed"].nunique() > 1:
                fig.add_scatter(x=list(stats.index) + list(stats.index[::-1]),
                                y=list(stats["max"]) + list(stats["min"][::-1]), fill="toself", mode="lines",
                                fillcolor=rgba(color, 0.18), line=dict(width=0), hoverinfo="skip", showlegend=False,
                                legendgroup=variant, row=1, col=col)
            fig.add_scatter(
                x=stats.index, y=stats["median"], mode="lines+markers", name=_(variant), legendgroup=variant,
                showlegend=col == 1, line=dict(color=color, dash=VARIANT_DASH[variant]),
                customdata=list(zip(stats["min"], stats["max"])),
                hovertemplate=_("{variant}-%{{x}}: median %{{y:.3f}} (seeds %{{customdata[0]:.3f}} to "
                                "%{{customdata[1]:.3f}})<extra></extra>").format(variant=_(variant)), row=1, col=col)
        fig.update_xaxes(title_text=_("depth (layers)"), tickvals=sorted(summary["depth"].unique().tolist()),
                         row=1, col=col)
    fig.update_yaxes(title_text=_("error"), rangemode="tozero", row=1, col=1)
    fig.update_layout(legend_title=_("net"), margin=dict(t=40, b=10), height=360)
    return fig


# --- the recipe ------------------------------------------------------------------------------------

def sweep_host() -> bool:
    """Does this server sweep (Ray configured by the host, or a GPU)? Then the page offers the sweep
    button and the paper's recipes."""
    from ...backends import ray_address
    from .. import accelerated

    return guard(ray_address) is not None or accelerated()


def recipe_choice(where: Any) -> str:
    """The recipe control (lesson / the paper's / its short version) on hosts that sweep; "lesson" elsewhere."""
    if not sweep_host():
        return "lesson"
    return control(where, "radio", "recipe", T.recipe, list(deg.RECIPES), "lesson", help=T.recipe_help,
                   format_func=lambda r: T.recipe_names[list(deg.RECIPES).index(r)])


def spec_for(recipe: str, values: dict) -> deg.Spec:
    """The page's Spec: the widgets' values (None for a control the recipe hides), with the recipe's
    settings over them (its depths excepted); a bad combination is said on the page."""
    values = {k: v for k, v in values.items() if v is not None}
    fixed = {k: v for k, v in deg.RECIPES[recipe].items() if k != "depths"}
    if fixed:
        st.caption(T.recipe_note.format(dataset=fixed["dataset"], width=fixed["width"], steps=fixed["steps"],
                                        batch=fixed["batch_size"], lr=fixed["lr"]))
    return guard(build, deg.Spec, {**values, **fixed})


# --- the result ------------------------------------------------------------------------------------

def live(records: list[dict], max_points: int = 200) -> None:
    """The curves so far; each run thinned to about ``max_points`` steps to keep redraws cheap."""
    if records:
        per_run = max(1, records[-1]["total"] // max_points)
        records = [r for r in records if "variant" in r and (r["done"] % per_run == 0 or r["done"] == r["total"])]
        chart(st, training_curves_figure(deg.history_frame(records)), key="live-curves")


@st.cache_resource(max_entries=32, show_spinner=False)
def _figures(ident: str, lang: str, _result: dict) -> tuple:
    """Built once per result and language for every session (figures are never changed after this):
    building them was most of a warm page's time, and 60 students share one server."""
    history = deg.history_frame(deg.result_history(_result))
    summary = deg.summary_frame(_result)
    return (training_curves_figure(history), error_vs_depth_figure(summary), summary, history.to_csv(index=False),
            _curve_vs_table(history, summary))


def _curve_vs_table(history: pd.DataFrame, summary: pd.DataFrame) -> tuple[str, float, float] | None:
    """The run whose curve ends farthest from its table entry: (name, curve's end, table's error)."""
    found = None
    for (variant, depth, seed), group in history.groupby(["variant", "depth", "seed"]):
        end = float(group.sort_values("step")["train_error"].tail(SMOOTH).mean())
        row = summary[(summary["variant"] == variant) & (summary["depth"] == depth) & (summary["seed"] == seed)]
        if len(row) and pd.notna(row["final_train_error"].iloc[0]):
            final = float(row["final_train_error"].iloc[0])
            if found is None or abs(end - final) > abs(found[1] - found[2]):
                found = (run_name(variant, depth), end, final)
    return found


def draw(shown: Shown, spec: deg.Spec) -> None:
    """(a) curves, (b) error vs depth, (c) the table with CSV and TensorBoard downloads."""
    result = shown.result
    st.caption(shown.label)
    curves, errors, summary, csv, gap = _figures(shown.ident, language(), result)
    chart(st, curves)
    st.caption(T.curves)
    chart(st, errors)
    st.caption(T.errors)
    for r in result["runs"]:
        if r["status"] == "diverged":
            st.warning(f"{run_name(r['variant'], r['depth'])} (seed {r['seed']}): {_(r['message'])}")
    table(st, summary, words=("variant", "status"), column_config={
        "final_train_error": st.column_config.NumberColumn(_("train error"), format="%.4f"),
        "final_test_error": st.column_config.NumberColumn(_("test error"), format="%.4f"),
        "seconds": st.column_config.NumberColumn(_("seconds"), format="%.1f")})
    if gap is not None:
        st.caption(T.curve_vs_table.format(name=gap[0], curve=gap[1], table=gap[2], smooth=SMOOTH))
    st.download_button(T.csv, csv, file_name="degradation.csv", mime="text/csv", icon=":material/download:")
    _tensorboard_button(st, result, spec, "degradation")


def _tensorboard_button(where: Any, result: dict, spec: Any, name: str) -> None:
    """A download of the result's runs as TensorBoard event files (written when pressed)."""
    from ...tboard import zipped

    where.download_button(T.tensorboard, lambda: zipped(result, spec), file_name=f"{name}_tensorboard.zip",
                          mime="application/zip", icon=":material/insights:", help=T.tensorboard_help,
                          on_click="ignore", key=f"tensorboard-{name}")


def explanation() -> None:
    """The right column: what degradation is, and the paper's Table 6 labelled as published."""
    st.markdown(T.explanation)
    published_table(deg.TABLE6, T.published, T.published_note)


def results(spec: deg.Spec) -> None:
    """The left column: the job panel and the result (stored, precomputed, or the runs stored so far)."""
    panel = job_panel("degradation", spec, live=live, what=T.what, sweep=T.sweep if sweep_host() else "",
                      sweep_help=T.sweep_help, prose=(T.title, T.intro, T.explanation))
    lesson_result(panel, deg.EXPERIMENT, spec, T, lambda shown: draw(shown, shown.spec))


__all__ = ["draw", "error_vs_depth_figure", "explanation", "live", "recipe_choice", "results", "spec_for",
           "sweep_host", "training_curves_figure"]
