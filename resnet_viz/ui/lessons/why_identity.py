"""The Why identity? lesson (He et al. 2016b, Table 1): residual nets whose shortcuts are the identity,
scaled, gated, 1x1 convolutions or dropped out, trained side by side.

Figures: (a) the training curves, one line per shortcut; (c) the gradient factor the shortcuts carry
from the last block to the first, measured at initialization and after training, beside the product
of the λ's where it is a constant.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ...cost import describe as describe_estimate
from ...experiments import shortcuts as sc
from ...i18n import N_
from ...protocol import build
from .. import guard
from ..display import (SCI_NOTE, Shown, chart, curve_hover, lesson_result, log_axis, published_table, sci, small_table,
                       training_error_chart)
from ..jobs import job_panel
from ..lang import _, language
from ..texts.why_identity import WhyIdentity as T
from ..widgets import control

COLORS = {"identity": "#d62728", "scaling": "#ff7f0e", "gating": "#1f77b4", "shortcut_gating": "#17becf",
          "conv1x1": "#9467bd", "dropout": "#7f7f7f"}
SMOOTH = 10
FACTORS = ("shortcut_gradient_factor_init", "shortcut_gradient_factor", "expected_factor")
COLUMNS = {"label": N_("shortcut"), "final_train_error": N_("train error"), "final_test_error": N_("test error"),
           "shortcut_gradient_factor_init": N_("factor at init"), "shortcut_gradient_factor": N_("factor trained"),
           "expected_factor": N_("product of λ's")}  # the table's columns


def run_label(run: dict, spec: sc.Spec) -> str:
    """A run's name in the session's language, e.g. "门控, b_g = -6"."""
    return sc.label(run["variant"], run["gate_bias"], spec.net, tr=_)


# --- figures -----------------------------------------------------------------------------------------

def shortcut_curves_figure(history: pd.DataFrame, smooth: int = SMOOTH) -> go.Figure:
    """(a) Training error vs step, one line per run (identity thick and red).

    Args:
        history: tidy per-step rows with variant, label (in the session's language), step, train_error.
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
                        name=label, line=dict(color=COLORS.get(variant, "#333"), dash=dash,
                                              width=3 if variant == "identity" else 2),
                        hovertemplate=curve_hover(label))
    return training_error_chart(fig, smooth, _("shortcut"), 400)


def shortcut_factor_figure(runs: pd.DataFrame) -> go.Figure:
    """(c) The gradient the shortcuts carry from the last block to the first, relative to identity
    shortcuts (log scale): at initialization, after training, and the product of the λ's where it
    is a constant.

    Args:
        runs: one row per run with label, shortcut_gradient_factor_init, shortcut_gradient_factor,
            expected_factor (NaN where it depends on the data).
    """
    fig = go.Figure()
    floor = 1e-30  # a log axis cannot show 0
    for column, name, symbol in (("shortcut_gradient_factor_init", _("measured at initialization"), "circle"),
                                 ("shortcut_gradient_factor", _("measured after training"), "diamond"),
                                 ("expected_factor", _("product of the λ's (formula)"), "line-ew-open")):
        values = runs[column].astype(float)
        fig.add_scatter(x=runs["label"], y=values.clip(lower=floor), mode="markers", name=name,
                        marker=dict(symbol=symbol, size=14 if symbol.startswith("line") else 10,
                                    line=dict(width=3 if symbol.startswith("line") else 1)),
                        customdata=values, hovertemplate="%{x}: %{customdata:.3g}<extra>" + name + "</extra>")
    values = pd.concat([runs[c].astype(float) for c in ("shortcut_gradient_factor_init", "shortcut_gradient_factor",
                                                         "expected_factor")])
    log_axis(fig, values.clip(lower=floor), title=_("shortcut gradient factor (first block / last)"))
    fig.update_layout(legend=dict(orientation="h", y=-0.45), xaxis_tickangle=-30, margin=dict(t=30, b=10), height=460)
    return fig


# --- the lesson, or Table 1 in full ----------------------------------------------------------------------

def recipe_choice(where: Any) -> str:
    """The run to set up: the lesson (within minutes on a class's CPU) or Table 1 in full, each named with
    its estimate on this server."""
    names = dict(zip(sc.RECIPES, T.recipe_names))

    def name(recipe: str) -> str:
        seconds = sc.cost(build(sc.Spec, sc.RECIPES[recipe]))
        return names[recipe] if seconds is None else T.recipe_estimated.format(name=names[recipe],
                                                                              estimate=_(describe_estimate(seconds)))
    return control(where, "radio", "recipe", T.recipe, list(sc.RECIPES), "lesson", help=T.recipe_help,
                   format_func=name)


def spec_for(recipe: str, values: dict) -> sc.Spec:
    """The page's Spec: the widgets' values (None for a control the recipe hides) under the recipe's
    settings; a bad combination is said on the page."""
    fixed = sc.RECIPES[recipe]
    if fixed:
        st.caption(T.recipe_note)
    return guard(build, sc.Spec, {**{k: v for k, v in values.items() if v is not None}, **fixed})


# --- views ---------------------------------------------------------------------------------------------

def _table(result: dict, spec: sc.Spec) -> pd.DataFrame:
    cols = ["variant", "final_train_error", "final_test_error", "shortcut_gradient_factor_init",
            "shortcut_gradient_factor", "expected_factor", "seconds"]
    frame = pd.DataFrame.from_records([{c: r.get(c) for c in cols} for r in result["runs"]], columns=cols)
    frame.insert(0, "label", [run_label(r, spec) for r in result["runs"]])
    return frame.astype({"expected_factor": float})  # None (data-dependent) shows as a blank


@st.cache_resource(max_entries=32, show_spinner=False)
def _figures(ident: str, lang: str, _result: dict, _spec: sc.Spec) -> tuple:
    """Built once per result and language for every session (never changed after this)."""
    history = pd.DataFrame.from_records([{"variant": r["variant"], "label": run_label(r, _spec), **h}
                                         for r in _result["runs"] for h in r["history"]],
                                        columns=["variant", "label", "step", "train_error"])
    frame = _table(_result, _spec)
    return shortcut_curves_figure(history), shortcut_factor_figure(frame), frame


def live(spec: sc.Spec):
    """The curves so far, one line per run, labelled as in the finished result."""
    def draw_live(records: list[dict], max_points: int = 200) -> None:
        if records:
            per_run = max(1, records[-1]["total"] // max_points)
            rows = [{"variant": r["variant"], "label": run_label(r, spec), "step": r["done"],
                     "train_error": r["train_error"]}
                    for r in records if "train_error" in r and (r["done"] % per_run == 0 or r["done"] == r["total"])]
            chart(st, shortcut_curves_figure(pd.DataFrame(rows)), key="live-shortcuts")
    return draw_live


def draw(shown: Shown, spec: sc.Spec) -> None:
    """(a) the curves, (b) the table of final errors and shortcut factors, (c) the factors."""
    result = shown.result
    st.caption(shown.label)
    curves, factors, frame = _figures(shown.ident, language(), result, spec)
    chart(st, curves)
    st.caption(T.curves)
    for r in result["runs"]:
        if r["status"] == "diverged":
            st.warning(f"{run_label(r, spec)}: {_(r['message'])}")
    shown_frame = frame.drop(columns=["variant", "seconds"]).rename(columns=COLUMNS)
    small_table(st, shown_frame, formats={COLUMNS["final_train_error"]: "{:.3f}", COLUMNS["final_test_error"]: "{:.3f}",
                                          **{COLUMNS[c]: sci for c in FACTORS}})
    st.caption(T.table.format(blocks=result["blocks"], depth=result["depth"]) + " " + _(SCI_NOTE))
    chart(st, factors)
    st.caption(T.factors.format(blocks=result["blocks"]))


def explanation() -> None:
    """The right column: the argument, and Table 1 labelled as published."""
    st.markdown(T.explanation)
    published_table(sc.PUBLISHED, T.published, T.published_note)


def results(spec: sc.Spec) -> None:
    """The left column: the job panel and the result (stored, precomputed, or the runs stored so far)."""
    panel = job_panel("shortcuts", spec, live=live(spec), what=T.what, prose=(T.title, T.intro, T.explanation))
    lesson_result(panel, sc.EXPERIMENT, spec, T, lambda shown: draw(shown, shown.spec))


__all__ = ["draw", "explanation", "live", "recipe_choice", "results", "run_label", "spec_for", "shortcut_curves_figure", "shortcut_factor_figure"]
