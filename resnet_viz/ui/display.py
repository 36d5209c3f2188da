"""Display helpers every lesson view shares: charts and tables in the session's language, numbers as
people read them, the published tables, the predict-first question, and what a lesson shows of its
result (stored, partly stored, precomputed, or being trained).

Figures are built in the session's language (their builders call :func:`.lang._`), once per result
and language for every session (``st.cache_resource``), and never changed after that.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ..i18n import N_
from ..protocol import Experiment, made_on, partial_result, preset_command, preset_result
from .jobs import Panel
from . import classroom
from .lang import _, quiz_on

# the names and units a Chinese page may show in Latin letters (checked in the browser test)
SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
STATUS_WORDS = (N_("completed"), N_("diverged"), N_("cancelled"))  # a run's status, shown as a word
SCI_NOTE = N_("Numbers like 7.5 × 10⁻⁹ are written in powers of ten: 7.5 × 10⁻⁹ = 0.0000000075, and 1.2 × 10³ = 1,200.")


def chart(where: Any, fig: go.Figure, **kwargs: Any) -> None:
    """``where.plotly_chart(fig)`` at the column's width (figures are built in the session's language)."""
    where.plotly_chart(fig, **{"width": "stretch", **kwargs})


def table(where: Any, data: Any, column_config: dict | None = None, words: tuple[str, ...] = (), **kwargs: Any) -> None:
    """``where.dataframe`` with the column headers in the session's language, and the text cells of the
    columns named in ``words`` (variants, statuses) too; numbers stay as they are."""
    frame = data.copy() if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    for column in words:
        if column in frame:
            frame[column] = frame[column].map(lambda v: _(v) if isinstance(v, str) else v)
    config = {_(str(name)): value for name, value in (column_config or {}).items()}
    where.dataframe(frame.rename(columns=lambda c: _(str(c))), column_config=config,
                    **{"hide_index": True, "width": "stretch", **kwargs})


def small_table(where: Any, data: Any, formats: dict[str, Any] | None = None, words: tuple[str, ...] = ()) -> None:
    """A table of a few rows a class reads whole (``st.table``: headers wrap, nothing is cut off or
    scrolled away): headers and the text cells of ``words`` columns in the session's language, numbers
    written by ``formats`` (column -> a format string like "{:.3f}" or a function such as :func:`sci`)."""
    frame = data.copy() if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    for column in words:
        if column in frame:
            frame[column] = frame[column].map(lambda v: _(v) if isinstance(v, str) else v)
    for column, fmt in (formats or {}).items():
        if column in frame:
            write = fmt if callable(fmt) else fmt.format
            frame[column] = frame[column].map(lambda v: "–" if v is None or (isinstance(v, float) and math.isnan(v))
                                              else write(v))
    where.table(frame.rename(columns=lambda c: _(str(c))), hide_index=True)


def sci(value: float | None, digits: int = 3) -> str:
    """A number as a student reads it: 1,194 or 0.292 within 10⁻³..10⁵, else 7.45 × 10⁻⁹."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if value == 0:
        return "0"
    if 1e-3 <= abs(value) < 1e5:
        text = f"{value:,.{digits}g}" if abs(value) < 1000 else f"{value:,.0f}"
        return text
    exponent = math.floor(math.log10(abs(value)))
    mantissa = value / 10 ** exponent
    return f"{mantissa:.{max(1, digits - 1)}f} × 10{str(exponent).translate(SUPERSCRIPTS)}"


def log_axis(fig: go.Figure, values: Any, axis: str = "yaxis", **kwargs: Any) -> None:
    """A log axis labelled only at powers of ten (10⁻⁹, 10⁻⁶, ...): plotly's own labels between the
    decades ("2", "5") read as 2 and 5 where they mean 0.2 or 5 × 10⁻⁹."""
    finite = [v for v in pd.Series(values, dtype=float).tolist() if v > 0 and math.isfinite(v)]
    low, high = (min(finite), max(finite)) if finite else (0.1, 10.0)
    span = math.log10(high) - math.log10(low)
    if span < 2:  # within two decades: 1-2-5 steps, each written out (0.2, 0.5, 1, 2)
        ticks = [m * 10 ** e for e in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
                 for m in (1, 2, 5) if low / 1.5 <= m * 10 ** e <= high * 1.5]
        fig.update_layout(**{axis: dict(type="log", tickvals=ticks, ticktext=[sci(t) for t in ticks], **kwargs)})
        return
    dtick = max(1, math.ceil(span / 8))  # at most about 9 labels
    fig.update_layout(**{axis: dict(type="log", dtick=dtick, exponentformat="power", showexponent="all",
                                    minor=dict(ticks="", showgrid=False), **kwargs)})


def published_table(published: Any, intro: str, note: str) -> None:
    """A paper's table, labelled as published (never as measured): intro, the table, source and note."""
    st.markdown(intro)
    rows = [{column: _(value) if isinstance(value, str) else f"{value:g}" for column, value in row.items()}
            for row in published.rows]
    frame = pd.DataFrame(rows, columns=list(published.columns) or None)
    st.table(frame.rename(columns=lambda c: _(str(c))), hide_index=True)
    st.caption(f"{published.source}. {note}")


def training_error_chart(fig: go.Figure, smooth: int, legend: str, height: int) -> go.Figure:
    """The axes every training-curve chart shares: step, the smoothed training error from 0 to 1."""
    fig.update_layout(xaxis_title=_("step"), yaxis_title=_("training error (moving average of {smooth} steps)").format(
        smooth=smooth), yaxis_range=[0, 1], legend_title=legend, margin=dict(t=30, b=10), height=height)
    return fig


def curve_hover(name: str) -> str:
    """The hover text of one training curve."""
    return _("{name}<br>step %{{x}}<br>training error %{{y:.3f}}<extra></extra>").format(name=name)


# --- predict before you look -------------------------------------------------------------------------

def quiz(experiment: Experiment, result: dict | None) -> bool:
    """Predict before you look: the lesson's question (``experiment.quiz``); True when the result may
    be shown. With ``?quiz=1`` each student answers alone and the result follows the answer; in class
    mode the page got here only after the teacher's reveal, and shows the class's answers. The right
    option is read from the result itself (``experiment.answer``), never typed in."""
    if experiment.quiz is None:
        return True
    if classroom.code() is not None:
        if classroom.teacher() is None:
            classroom.reveal(experiment, result)
        return True
    if not quiz_on():
        return True
    choice = classroom.solo_question(experiment)
    if choice is None:
        st.info(_("Make your prediction first: the result appears once you have."), icon=":material/quiz:")
        return False
    right = experiment.answer(result) if result is not None else None
    if right is None:
        st.info(_("Your prediction is noted: the result will tell (train it with the button above)."))
        return True
    ok, text = classroom.feedback(experiment, choice, right)
    (st.success if ok else st.warning)(text)
    return True


# --- the lesson's effect, judged on the result shown ---------------------------------------------------

def effect_notes(experiment: Experiment, result: dict) -> None:
    """What to look for, as measured: each headline effect of the lesson (the experiment's predicates,
    the same that ``bench/effects.py`` and the tests judge) said to hold or not in this result, with
    its numbers. A result where it does not hold is said so, never hidden."""
    if experiment.effects is None:
        return
    for effect in experiment.effects(result):
        numbers = ", ".join(f"{_(k)} {sci(v) if isinstance(v, float) else v}" for k, v in effect.numbers.items())
        if effect.holds:
            st.success(_("Measured here: {effect} ({numbers}).").format(effect=_(effect.name), numbers=numbers),
                       icon=":material/check_circle:")
        else:
            st.warning(_("Not in this run: {effect} ({numbers}). Small nets trained for a few hundred steps vary "
                         "from seed to seed and between fp32 and bf16: try another seed, or several.").format(
                effect=_(effect.name), numbers=numbers), icon=":material/help:")


# --- what a lesson shows of its result ----------------------------------------------------------------

@dataclass(frozen=True)
class Shown:
    """A result a lesson draws: the result, a line saying where it comes from, an id for the figure
    caches, whether it was made with exactly the page's settings (the quiz reads only those), and
    the spec it was made with."""

    result: dict
    label: str
    ident: str
    exact: bool
    spec: Any = None


def measured_line(texts: Any, result: dict) -> str:
    """"Measured on this server (device, precision): N runs, S s of training." for a result's runs."""
    runs = result.get("runs", [])
    return texts.measured.format(device=made_on(result), runs=len(runs), seconds=sum(r.get("seconds", 0) for r in runs))


def shown_result(panel: Panel, experiment: Experiment, spec: Any, texts: Any,
                 measured: Callable[[dict], str] | None = None) -> tuple[Shown | None, str | None]:
    """What the lesson shows for ``spec``: (a result to draw or None, a note to show above it or None).

    In order: the stored result; the shipped preset made with exactly these settings; the runs of
    these settings already stored (the rest is what Train trains); the shipped preset of the lesson,
    labelled as made with other settings (so that changing a setting never leaves the column blank,
    also while a run starts)."""
    measured = measured or (lambda r: measured_line(texts, r))
    if panel.stored is not None:
        return Shown(panel.stored.result, measured(panel.stored.result), panel.stored.key, True, spec), None
    exact = experiment.preset_for(spec)
    if exact is not None and (result := preset_result(exact)) is not None:
        label = texts.preset_label.format(command=preset_command(experiment, exact)) + f" ({made_on(result)})"
        return Shown(result, label, f"preset:{exact.file}", True, exact.spec), texts.preset
    from .jobs import job_manager

    partial = partial_result(experiment, spec, job_manager().store)
    if partial is not None:
        result, done, total = partial
        note = _("{done} of the {total} runs of these settings are stored and shown; the button trains the other "
                 "{missing}.").format(done=done, total=total, missing=total - done)
        return Shown(result, measured(result), f"partial:{panel.key}:{done}", False, spec), note
    for other in experiment.presets:
        result = preset_result(other)
        if result is not None:
            command = preset_command(experiment, other)
            note = _("Nothing is stored for these settings yet. Shown meanwhile: the lesson's precomputed result, made "
                     "with other settings (`{command}`).").format(command=command)
            label = texts.preset_label.format(command=command) + f" ({made_on(result)})"
            return Shown(result, label, f"preset:{other.file}", False, other.spec), note
    return None, None


def lesson_result(panel: Panel, experiment: Experiment, spec: Any, texts: Any,
                  draw: Callable[[Shown], None], measured: Callable[[dict], str] | None = None) -> None:
    """The result column of a lesson that trains in the background: the question first (``?quiz=1``),
    then what :func:`shown_result` finds, drawn by ``draw``; while a job runs, that result stays
    below the live progress, folded away once the live curves are there."""
    shown, note = shown_result(panel, experiment, spec, texts, measured)
    if not quiz(experiment, shown.result if shown is not None and shown.exact else None):
        return
    if shown is None:
        if not panel.active:
            st.info(texts.not_trained)
        return
    if panel.active:
        with st.expander(_("Meanwhile: {label}").format(label=shown.label), expanded=not panel.records):
            draw(shown)
        return
    if note:
        st.info(note, icon=":material/history:")
    effect_notes(experiment, shown.result)
    draw(shown)


__all__ = ["SCI_NOTE", "Shown", "chart", "curve_hover", "effect_notes", "training_error_chart", "lesson_result", "log_axis", "measured_line", "published_table", "quiz", "sci",
           "shown_result", "small_table", "table"]
