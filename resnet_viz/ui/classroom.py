"""Class mode: any page opened with ``?class=CODE`` (:mod:`resnet_viz.classroom` holds the classes).

A student's page in class mode joins the class (anonymously: a random member id kept in the page's
link as ``me=``, an optional nickname), and every lesson with a question asks it for the whole class:
while the teacher has it open or closed, the page shows a neutral title, the question and the
student's stored answer, and nothing that gives the answer away (no intro, no "what to look for", no
result, no training); it watches the question's state every 2 s and shows everything once the
teacher reveals it, with the class's answers and the right option read from the result on the page.

The teacher's key (from the teacher's link, ``key=``) is kept in the session and taken out of the
address bar, so that a projected page does not show it.
"""

from __future__ import annotations

import re
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from ..classroom import Classroom, ClassInfo, NotTeacher, default_path
from ..figures import VARIANT_COLORS
from ..protocol import Experiment
from .lang import CLASS as CODE, TEACHER, _, declare, finish_page, quiz_on

MEMBER, PROBLEM = "_rv_member", "_rv_class_problem"
MEMBER_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
WATCH_SECONDS = 2.0  # a student's page looks for the teacher's reveal this often


@st.cache_resource
def _classroom(path: str) -> Classroom:
    return Classroom(path)


def classroom() -> Classroom:
    """The server's classes (one SQLite database in RESNET_VIZ_HOME, shared by every session)."""
    return _classroom(str(default_path()))


def begin() -> None:
    """Every page run: enter class mode from the link (``class=``, ``me=``, ``key=``) or keep the
    session's class, and write the class and the member back into the link (so a reload and a copied
    link stay in the class)."""
    state = st.session_state
    state[PROBLEM] = None
    raw = st.query_params.get("class")
    if raw is not None:
        info = classroom().get(raw)
        if info is None:
            state[PROBLEM] = _("There is no class {code} on this server: check the code (6 letters and digits), or ask "
                               "the teacher for the link again (a class ends after the hours its teacher chose). The "
                               "page works as usual meanwhile.").format(code=str(raw)[:12])
            for name in (CODE, TEACHER):
                state.pop(name, None)
            del st.query_params["class"]
        elif state.get(CODE) != info.code:
            state[CODE] = info.code
            state.pop(TEACHER, None)
    code = state.get(CODE)
    if code is None:
        return
    if classroom().get(code) is None:  # expired or deleted while the session was open
        state[PROBLEM] = _("Class {code} has ended.").format(code=code)
        for name in (CODE, TEACHER):
            state.pop(name, None)
        return
    key = st.query_params.get("key")
    if key is not None:
        del st.query_params["key"]  # never left in a projected address bar
        if classroom().is_teacher(code, key):
            state[TEACHER] = key
        else:
            state[PROBLEM] = _("This key is not the teacher key of class {code}: the page is shown as a student sees "
                               "it. Open the teacher link you got when you made the class.").format(code=code)
    if st.query_params.get("class") != code:
        st.query_params["class"] = code
    if not teacher():
        me = st.query_params.get("me")
        me = me if me and MEMBER_ID.match(me) else state.get(MEMBER) or Classroom.new_member()
        state[MEMBER] = me
        if st.query_params.get("me") != me:
            st.query_params["me"] = me
        if classroom().nickname(code, me) is None:
            classroom().join(code, me)


def code() -> str | None:
    """The class this session is in, or None."""
    return st.session_state.get(CODE)


def info() -> ClassInfo | None:
    return classroom().get(code()) if code() else None


def member() -> str | None:
    return st.session_state.get(MEMBER) if code() else None


def teacher() -> str | None:
    """The teacher key when this session is the class's teacher, else None."""
    return st.session_state.get(TEACHER) if code() else None


def link_params() -> dict[str, str]:
    """What a link to another page carries in class mode (the class and this student's member id)."""
    if not code():
        return {}
    return {"class": code(), **({"me": member()} if member() else {})}


def problem() -> str | None:
    return st.session_state.get(PROBLEM)


def sidebar_box() -> None:
    """In the sidebar: the class, and the student's optional nickname."""
    found = info()
    if found is None:
        return
    with st.sidebar.container(border=True):
        st.markdown(_("**Class {code}**").format(code=found.code))
        if found.title:
            st.text(found.title)
        if teacher():
            st.caption(_("You are this class's teacher."))
            return
        st.text_input(_("Nickname (optional)"), value=classroom().nickname(found.code, member()) or "",
                      max_chars=24, key="_rv_nickname", on_change=_rename,
                      help=_("shown to the class on the teacher's board; nothing else about you is stored"))


def _rename() -> None:
    classroom().join(code(), member(), st.session_state.get("_rv_nickname", ""))


def withheld(experiment: Experiment) -> bool:
    """Is this lesson's question asked and its answer not to be shown yet: in a class, for a student
    until the teacher reveals it; with ``?quiz=1`` alone, until the student has answered?"""
    if experiment.quiz is None:
        return False
    if code() is None:
        return quiz_on() and st.session_state.get(solo_key(experiment)) is None
    return teacher() is None and classroom().state(code(), experiment.name) != "revealed"


def solo_key(experiment: Experiment) -> str:
    """The widget key of a lesson's question asked with ``?quiz=1`` (one student alone)."""
    return f"quiz-{experiment.name}"


def solo_question(experiment: Experiment) -> int | None:
    """The question and its radio with ``?quiz=1`` (the same widget before and after the answer)."""
    st.markdown("**" + _("Predict before you look.") + "** " + _(experiment.quiz.question))
    options = [_(o) for o in experiment.quiz.options]
    return st.radio(_("Your prediction"), range(len(options)), format_func=lambda i: options[i], index=None,
                    key=solo_key(experiment))


def title(texts: Any, experiment: Experiment, *intro: str) -> None:
    """The page's title and intro; while the class's question is open or closed, a neutral title only."""
    if withheld(experiment):
        st.title(_(experiment.quiz.title))
        return
    st.title(texts.title)
    for text in intro:
        st.markdown(text)


def question(experiment: Experiment) -> None:
    """Before the reveal (class mode) or the answer (``?quiz=1``): the question and this student's
    answer, and the page ends here (nothing of the lesson that would give the answer away is drawn,
    nor its controls)."""
    if not withheld(experiment):
        return
    # The lesson's controls are drawn after the answer (or the reveal), not before: a page redrawn by the
    # reveal then builds them from the link, where redrawing existing ones lost a multiselect's value in
    # about 1 run in 12 (measured in Chromium). The link's settings wait for them, without a note.
    declare(*st.query_params.keys())
    if code() is None:  # ?quiz=1, alone: the question first, the lesson once it is answered
        solo_question(experiment)
        st.info(_("Make your prediction first: the result appears once you have."), icon=":material/quiz:")
        finish_page()
        st.stop()
    quiz, page, room = experiment.quiz, experiment.name, classroom()
    state = room.state(code(), page)
    options = [_(o) for o in quiz.options]
    with st.container(border=True):
        st.markdown("**" + _("A question for the class.") + "** " + _(quiz.question))
        mine = room.answer_of(code(), page, member())
        st.radio(_("Your prediction"), range(len(options)), index=mine, format_func=lambda i: options[i],
                 key=f"quiz-class-{page}-{state}", on_change=_answer, args=(experiment, f"quiz-class-{page}-{state}"),
                 disabled=state != "open")
        failed = st.session_state.pop(f"_rv_answer_problem-{page}", None)
        if failed:
            st.error(failed, icon=":material/error:")
        elif mine is not None and state == "open":
            st.success(_("Your answer is stored: {option}. You can change it until the teacher closes the "
                         "question.").format(option=options[mine]), icon=":material/how_to_vote:")
        elif state == "open":
            st.info(_("Choose an answer. The result appears here when the teacher reveals it."), icon=":material/quiz:")
        else:
            st.info(_("The teacher has closed the question; the result appears when they reveal it."),
                    icon=":material/lock:")
    _watch(code(), page, state)
    finish_page()
    st.stop()


def _answer(experiment: Experiment, key: str) -> None:
    choice = st.session_state.get(key)
    if choice is None:
        return
    try:
        classroom().answer(code(), experiment.name, member(), int(choice), len(experiment.quiz.options))
    except ValueError as exc:
        st.session_state[f"_rv_answer_problem-{experiment.name}"] = _(str(exc))


def _watch(class_code: str, page: str, state: str) -> None:
    """Every 2 s: has the teacher changed the question's state? Then the whole page again."""
    @st.fragment(run_every=WATCH_SECONDS)
    def watch() -> None:
        if classroom().state(class_code, page) != state:
            st.rerun()

    watch()


def feedback(experiment: Experiment, choice: int | None, right: int) -> tuple[bool | None, str]:
    """What a student is told once the result is known: (right or not, None without an answer; the
    text). The explanation is the one written for the option the result bears out, so it never
    contradicts the result on the screen."""
    quiz = experiment.quiz
    measured = _("Measured here: {answer}.").format(answer=_(quiz.options[right])) + " " + _(quiz.why[right])
    if choice is None:
        return None, measured
    verdict = _("Your prediction was right.") if choice == right else _("The measurement says otherwise.")
    return choice == right, f"{verdict} {measured}"


def reveal(experiment: Experiment, result: dict | None) -> None:
    """After the reveal: the class's answers, the right option read from the result on this page, and
    this student's verdict."""
    quiz, room = experiment.quiz, classroom()
    right = experiment.answer(result) if result is not None else None
    counts = room.counts(code(), experiment.name, len(quiz.options))
    with st.container(border=True):
        st.markdown("**" + _("The class's predictions.") + "** " + _(quiz.question))
        st.plotly_chart(counts_figure(experiment, counts, right), width="stretch", config={"displayModeBar": False},
                        key=f"class-counts-{experiment.name}")
        mine = room.answer_of(code(), experiment.name, member()) if member() else None
        if right is None:
            st.info(_("The result on this page does not answer the question yet (it needs these settings' result: "
                      "train it, or go back to the lesson's settings)."))
            return
        ok, text = feedback(experiment, mine, right)
        (st.info if ok is None else st.success if ok else st.warning)(text)


def counts_figure(experiment: Experiment, counts: list[int], right: int | None) -> go.Figure:
    """How many chose each option (horizontal bars, the right option in colour once it is known)."""
    options = [_(o) for o in experiment.quiz.options]
    colors = [VARIANT_COLORS["residual"] if i == right else "#9aa0a6" for i in range(len(options))]
    labels = [("✓ " if i == right else "") + o for i, o in enumerate(options)]
    fig = go.Figure(go.Bar(x=counts, y=labels, orientation="h", marker_color=colors, text=counts,
                           textposition="auto", hovertemplate=_("%{y}: %{x} students<extra></extra>")))
    fig.update_layout(height=60 + 42 * len(options), margin=dict(t=10, b=30, l=10, r=10),
                      xaxis=dict(title=_("students"), rangemode="tozero", dtick=max(1, (max(counts) if counts else 1) // 5 or 1)),
                      yaxis=dict(autorange="reversed", automargin=True))
    return fig


__all__ = ["NotTeacher", "begin", "classroom", "code", "counts_figure", "feedback", "info", "link_params", "member",
           "problem", "question", "reveal", "sidebar_box", "teacher", "title", "withheld"]
