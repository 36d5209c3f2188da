"""The Class page: make or join a class, the teacher's board, and a student's part of the class's figure.

The board (teacher key only) shows the student link with its QR code, how many joined and answered,
the live counts of every lesson's question with Open / Close / Reveal / Reset, and a sweep the class
trains together: each student is handed the next unit, and the class's figure fills in as units are
stored (every run a point, the median and the band per net), downloadable as CSV and as the sweep's
result. Everything live is redrawn every 2 s in a fragment, without a reload.
"""

from __future__ import annotations

import html
import io
import json
import time
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from .. import experiments
from .. import sweep as sweeps
from ..classroom import EXPIRES_DEFAULT, EXPIRES_MAX, NotTeacher, links
from ..config import cifar_depths
from ..figures import VARIANT_COLORS, VARIANT_DASH, rgba
from ..i18n import N_
from ..jobs import ACTIVE, QueueFull
from ..protocol import build, preset_result, run_name, stored_result
from ..units import format_duration
from . import guard, lesson_pages, run_store
from .classroom import classroom, counts_figure, info, member, teacher
from .display import chart
from .jobs import job_manager
from .lang import _, language, public_address

BOARD_SECONDS = 2.0  # the board redraws its counts and the class's figure this often
STATE_WORDS = {"open": N_("open: answers are taken"), "closed": N_("closed: no more answers, result hidden"),
               "revealed": N_("revealed")}
SWEEP_KIND = "degradation"  # the sweep a class trains together: Fig. 6, depths x {plain, residual} x seeds


def questions() -> list:
    """The lessons whose page asks a question, in the pages' order."""
    pages = lesson_pages()
    found = [e for e in experiments.EXPERIMENTS.values() if e.quiz is not None and e.name in pages]
    return sorted(found, key=lambda e: pages[e.name][0])


def qr_png(text: str) -> bytes:
    """A QR code of ``text`` as a PNG (segno)."""
    import segno

    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="png", scale=8, border=2)
    return out.getvalue()


# --- no class yet: make one, or join one ----------------------------------------------------------------

def start() -> None:
    """Make a class (the teacher) or type a code (a student)."""
    left, right = st.columns(2)
    with left.form("create-class"):
        st.subheader(_("Make a class"))
        title = st.text_input(_("Title (optional)"), max_chars=80, placeholder=_("e.g. Deep learning, week 5"))
        hours = st.number_input(_("The class ends after (hours)"), min_value=0.5, max_value=float(EXPIRES_MAX),
                                value=EXPIRES_DEFAULT, step=0.5,
                                help=_("then it is deleted with its answers; the runs its students trained stay"))
        if st.form_submit_button(_("Make the class"), type="primary", icon=":material/add:"):
            created = guard(classroom().create, title, hours)
            st.session_state["_rv_new_key"] = created.teacher_key
            st.query_params["class"] = created.code
            st.query_params["key"] = created.teacher_key
            st.rerun()
    with right.form("join-class"):
        st.subheader(_("Join a class"))
        typed = st.text_input(_("Class code"), max_chars=12, placeholder="K7M2QX")
        if st.form_submit_button(_("Join"), icon=":material/login:"):
            st.query_params["class"] = typed.strip().upper()
            st.rerun()


# --- the teacher's board ---------------------------------------------------------------------------------

def board() -> None:
    """The teacher's board of this session's class."""
    found, key = info(), teacher()
    base, local = public_address()
    student, teacher_link = links(base, found.code, key, language())
    st.subheader(found.title or _("Class {code}").format(code=found.code))
    left, right = st.columns([3, 1])
    with left:
        st.markdown(_("Class code: **{code}** · ends {when} (in {left})").format(
            code=found.code, when=time.strftime("%H:%M", time.localtime(found.expires)),
            left=_(format_duration(found.expires - time.time()))))
        st.markdown(_("**Students' link** (the QR code is the same link):"))
        st.code(student, language=None, wrap_lines=True)
        if local:
            st.warning(_("This address only works on this computer: students' devices cannot open it. Set "
                         "RESNET_VIZ_PUBLIC_URL (or Streamlit's browser.serverAddress) to the address they reach."),
                       icon=":material/wifi_off:")
        with st.expander(_("Your teacher link (keep it private)"), icon=":material/key:",
                         expanded="_rv_new_key" in st.session_state):
            st.code(teacher_link, language=None, wrap_lines=True)
            st.caption(_("It opens this board on any device. The key is taken out of the address bar, so a projected "
                         "page does not show it; after a reload, open this link again."))
    right.image(qr_png(student), caption=_("Scan to join"), width="stretch")
    st.session_state.pop("_rv_new_key", None)
    st.fragment(run_every=BOARD_SECONDS)(_live)(found.code, key)
    _sweep_settings(found, key)
    st.fragment(run_every=BOARD_SECONDS)(_class_figure)(found.code)
    _manage(found.code, key)


def _live(class_code: str, key: str) -> None:
    """Joined, answered, and every question's counts with its buttons (redrawn every 2 s)."""
    room = classroom()
    states = room.states(class_code)
    pages = lesson_pages()
    c1, c2 = st.columns(2)
    c1.metric(_("Joined"), room.members(class_code), border=True)
    answered = {e.name: sum(room.counts(class_code, e.name, len(e.quiz.options))) for e in questions()}
    c2.metric(_("Answers"), sum(answered.values()), border=True, help=_("all questions together"))
    names = room.nicknames(class_code)
    if names:  # shown as text (a table's cells), never as markdown or HTML
        with st.expander(_("Nicknames ({n})").format(n=len(names)), icon=":material/badge:"):
            st.dataframe(pd.DataFrame({_("nickname"): names}), hide_index=True, width="stretch", height=min(400, 38 + 35 * len(names)))
    grid = st.columns(2)
    for i, experiment in enumerate(questions()):
        quiz, state = experiment.quiz, states.get(experiment.name, "open")
        counts = room.counts(class_code, experiment.name, len(quiz.options))
        with grid[i % 2].container(border=True):
            st.markdown(f"**{_(pages[experiment.name][1])}** · {_(STATE_WORDS[state])} · "
                        + _("{n} answered").format(n=answered[experiment.name]))
            st.caption(_(quiz.question))
            right = _right_option(experiment.name) if state == "revealed" else None
            chart(st, counts_figure(experiment, counts, right), config={"displayModeBar": False},
                  key=f"board-{experiment.name}")
            if state == "revealed":
                st.caption(_("The right option, read from the result of the lesson's settings: {option}.").format(
                    option=_(quiz.options[right])) if right is not None else
                    _("Each student's page reads the right option from the result it shows."))
            b = st.columns(4)
            for col, (label, new) in zip(b, ((N_("Open"), "open"), (N_("Close"), "closed"), (N_("Reveal"), "revealed"))):
                if col.button(_(label), key=f"{new}-{experiment.name}", disabled=state == new, width="stretch",
                              type="primary" if new == "revealed" else "secondary"):
                    _act(room.set_state, class_code, experiment.name, new, key)
            if b[3].button(_("Reset"), key=f"reset-{experiment.name}", width="stretch",
                           help=_("forget this question's answers and open it again")):
                _act(room.reset, class_code, experiment.name, key)


def _act(action, *args) -> None:
    try:
        action(*args)
    except NotTeacher as exc:
        st.error(_(str(exc)), icon=":material/key_off:")
        return
    st.rerun()


@st.cache_data(ttl=60, show_spinner=False)
def _right_option(name: str) -> int | None:
    """The option the result of the lesson's own settings (stored, else shipped) bears out."""
    experiment = experiments.get(name)
    if not experiment.presets:
        return None
    spec = experiment.presets[0].spec
    found = stored_result(experiment, spec, run_store())
    result = found.result if found is not None else preset_result(experiment.presets[0])
    return experiment.answer(result) if result is not None else None



# --- the sweep the class trains together -------------------------------------------------------------------

def class_sweep(class_code: str) -> tuple[Any, Any, list, dict] | None:
    """(experiment, spec, [(unit, result or None)], its settings) of the class's sweep, or None."""
    found = classroom().get(class_code)
    if not found or not found.sweep:
        return None
    return (*sweeps.of_settings(run_store(), found.sweep["kind"], found.sweep["values"]), found.sweep["values"])


def _sweep_settings(found, key: str) -> None:
    experiment = experiments.get(SWEEP_KIND)
    with st.expander(_("A figure the class trains together (He et al. Fig. 6)"), icon=":material/groups:",
                     expanded=not found.sweep):
        st.caption(_("Each student who opens the class link is handed the next run: a plain or residual net of one "
                     "depth and seed, trained on this server with the Degradation lesson's settings. The figure "
                     "below fills in as the runs finish; runs already stored count at once."))
        with st.form("sweep"):
            c1, c2 = st.columns([3, 1])
            values = found.sweep["values"] if found.sweep else {}
            depths = c1.multiselect(_("Depths"), cifar_depths("basic", up_to=110),
                                    default=values.get("depths", [20, 32, 44, 56]))
            seeds = c2.number_input(_("Seeds"), 1, 5, len(values.get("seeds", [0, 1, 2])))
            if st.form_submit_button(_("Hand out this sweep"), type="primary", icon=":material/send:"):
                chosen = {"depths": sorted(depths), "seeds": list(range(int(seeds)))}
                guard(build, experiment.Spec, chosen)
                _act(classroom().set_sweep, found.code, key, SWEEP_KIND, chosen)


def sweep_figure(rows: pd.DataFrame) -> go.Figure:
    """Every student's run a point (final training error vs depth); per net the median line and a band
    from the lowest to the highest seed."""
    fig = go.Figure()
    for variant, group in rows.groupby("variant", sort=True):
        color = VARIANT_COLORS.get(variant, "#666")
        stats = group.groupby("depth")["final_train_error"].agg(["median", "min", "max"]).sort_index()
        if len(stats):
            fig.add_scatter(x=list(stats.index) + list(stats.index[::-1]), y=list(stats["max"]) + list(stats["min"][::-1]),
                            fill="toself", mode="lines", fillcolor=rgba(color, 0.15), line=dict(width=0),
                            hoverinfo="skip", showlegend=False, legendgroup=variant)
            fig.add_scatter(x=stats.index, y=stats["median"], mode="lines", name=_("{variant}: median").format(
                variant=_(variant)), legendgroup=variant, line=dict(color=color, dash=VARIANT_DASH.get(variant, "solid")))
        offset = -0.6 if variant == "plain" else 0.6
        fig.add_scatter(x=group["depth"] + offset, y=group["final_train_error"], mode="markers", name=_(variant),
                        legendgroup=variant, showlegend=False, marker=dict(color=color, size=9, line=dict(width=1, color="white")),
                        customdata=list(zip(group["seed"], group["by"].map(html.escape))),  # a nickname is text
                        hovertemplate=_("{variant}-%{{x:.0f}}, seed %{{customdata[0]}}: %{{y:.3f}} (by %{{customdata[1]}})"
                                        "<extra></extra>").format(variant=_(variant)))
    fig.update_xaxes(tickvals=sorted(rows["depth"].unique().tolist()))
    fig.update_layout(xaxis_title=_("depth (layers)"), yaxis_title=_("final training error"), height=380,
                      yaxis_rangemode="tozero", legend_title=_("net"), margin=dict(t=20, b=10))
    return fig


def _class_figure(class_code: str) -> None:
    """The class's figure, filling in (redrawn every 2 s)."""
    swept = class_sweep(class_code)
    if swept is None:
        return
    experiment, spec, units, values = swept
    who = {a["unit"]: a["nickname"] or "–" for a in classroom().assignments(class_code)}
    rows = pd.DataFrame(sweeps.run_rows(units, who))
    done = sum(r is not None for _u, r in units)
    st.markdown(_("**The class's figure:** {done} of {total} runs stored, {out} handed out.").format(
        done=done, total=len(units), out=len(who)))
    st.progress(done / max(1, len(units)))
    if len(rows):
        rows = rows.dropna(subset=["final_train_error"])
    if len(rows):
        chart(st, sweep_figure(rows), key="class-figure")
        c1, c2 = st.columns(2)
        c1.download_button(_("Download the runs (CSV)"), rows.to_csv(index=False), file_name=f"class_{class_code}.csv",
                           mime="text/csv", icon=":material/download:", on_click="ignore")
        merged = experiment.merge(spec, [r for _u, r in units if r is not None])
        result = {**merged, "summary": sweeps.summarize(merged["runs"]), "spec": values}
        c2.download_button(_("Download the sweep's result (JSON)"), json.dumps(result, indent=1, default=str),
                           file_name=f"class_{class_code}_sweep.json", mime="application/json",
                           icon=":material/data_object:", on_click="ignore")
    else:
        st.info(_("No run is stored yet: the points appear here as the students' runs finish."))


def _manage(class_code: str, key: str) -> None:
    """Export the answers; delete the class."""
    with st.expander(_("Answers and the end of the class"), icon=":material/settings:"):
        options = {e.name: list(e.quiz.options) for e in questions()}
        st.download_button(_("Download every answer (CSV)"), lambda: classroom().export_csv(class_code, key, options),
                           file_name=f"class_{class_code}_answers.csv", mime="text/csv", on_click="ignore",
                           icon=":material/download:")
        sure = st.checkbox(_("Yes, delete this class with all its answers"))
        if st.button(_("Delete the class"), disabled=not sure, icon=":material/delete:"):
            _act(classroom().delete, class_code, key)


# --- a student's view of the class ------------------------------------------------------------------------

def student() -> None:
    """What a student sees on the Class page: the questions' pages and their part of the class's figure."""
    found = info()
    st.subheader(found.title or _("Class {code}").format(code=found.code))
    st.markdown(_("You are in class **{code}**. Open a lesson: its question waits there. Your nickname (optional) is "
                  "in the sidebar.").format(code=found.code))
    pages = lesson_pages()
    params = {"class": found.code, "me": member(), "lang": language()}
    for experiment in questions():
        try:
            st.page_link(pages[experiment.name][0], label=_(pages[experiment.name][1]), icon=":material/quiz:",
                         query_params=params)
        except st.errors.StreamlitAPIException:  # a page run on its own (AppTest)
            st.markdown(f"- {_(pages[experiment.name][1])}")
    st.fragment(run_every=BOARD_SECONDS)(_my_unit)(found.code)


def _unit_name(unit) -> str:
    part = unit.spec
    return _("{net}, seed {seed}").format(net=run_name(part.variants[0], part.depths[0]), seed=part.seeds[0])


def _my_unit(class_code: str) -> None:
    """This student's unit of the class's sweep: stored, training (with its progress), or waiting."""
    swept = class_sweep(class_code)
    if swept is None:
        return
    _experiment, _spec, units, _values = swept
    finished = {i for i, (_u, r) in enumerate(units) if r is not None}
    index = classroom().assign(class_code, member(), len(units), finished)
    with st.container(border=True):
        st.markdown("**" + _("Your part of the class's figure") + "**")
        mine = [a["unit"] for a in classroom().assignments(class_code) if a["member"] == member() and a["unit"] in finished]
        if mine:
            st.caption(_("Stored so far: {runs}. When your run is stored you are handed the next one.").format(
                runs=", ".join(_unit_name(units[i][0]) for i in mine)))
        if index is None:
            st.success(_("Every run of the class's figure is stored: look at the teacher's board."))
            return
        unit, _result = units[index]
        name = _unit_name(unit)
        manager = job_manager()
        key = manager.store.key(unit.kind, unit.spec)
        job = manager.get(key)
        if job is None or job.state not in ACTIVE:
            try:
                job = manager.submit(unit.kind, unit.spec)
            except QueueFull:
                waiting = {i for i in range(len(units)) if i not in finished}
                place = classroom().waiting_before(class_code, member(), waiting) + 1
                st.info(_("{name}: waiting for room in this server's queue; you are number {place} of the class's runs "
                          "waiting. It starts by itself: keep this page open.").format(name=name, place=place),
                        icon=":material/hourglass_top:")
                return
            except ValueError as exc:
                st.error(_(str(exc)), icon=":material/error:")
                return
        snap = job.snapshot()
        if snap["state"] == "queued":
            text = _("{name}: waiting in the queue (position {position})").format(
                name=name, position=manager.position(key) or 1)
        else:
            text = _("{name}: training, about {duration} left").format(name=name, duration=_(format_duration(snap["eta"])))
        st.progress(min(1.0, snap["fraction"]), text=text)


__all__ = ["board", "class_sweep", "qr_png", "questions", "start", "student", "sweep_figure"]
