"""Streamlit glue: the only part of resnet_viz that imports streamlit, organised by concern.

- this module: page setup (and the server's thread policy), the sidebar, error handling, the page list;
- :mod:`.jobs`: the job manager and the one job panel of every training page;
- :mod:`.nets`: trained nets shared by every session (read-only) and what is computed from them;
- :mod:`.widgets`: widgets made from an experiment's declared settings;
- :mod:`.texts`: every page's prose, one module per lesson;
- :mod:`.lessons`: one lesson view per page (its figures and what it draws from a result);
- :mod:`.display`: what the lesson views share (charts and tables in the session's language, numbers
  as people read them, the question, what a lesson shows of its result);
- :mod:`.lang`: the session's language, teacher links (settings in the URL, locks) and the class link.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import streamlit as st

from ..host import apply_server_policy, cores, job_threads, server_threads
from ..paths import data_dir, home
from ..store import RunStore, StoredRun
from ..train import describe_device
from ..i18n import F_
from .lang import _, begin_page, finish_page, language, language_switch

ROOT = Path(__file__).resolve().parents[2]


def page_setup(title: str, icon: str) -> None:
    """First call of every page: wide layout, title and icon; the first page of a server also sets the
    server's torch threads, once (resnet_viz.host.apply_server_policy). (Streamlit's pages/ folder
    gives the navigation; st.navigation is not used because a page opened by its URL then skipped
    app.py.)"""
    _server_policy()
    begin_page()
    st.set_page_config(page_title=_(title), page_icon=icon, layout="wide")


@st.cache_resource
def _server_policy() -> int:
    return apply_server_policy()


@functools.lru_cache(maxsize=1)
def available_pages() -> list[tuple[str, str, str, str]]:
    """(page file, title, icon, one line) for every page in pages/, read from the page itself: its
    ``page_setup(title, icon)`` call and its docstring. A new page needs no line anywhere else."""
    found = []
    for path in sorted((ROOT / "pages").glob("*.py")):
        tree = ast.parse(path.read_text())
        doc = (ast.get_docstring(tree) or "").split("\n")[0]
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "page_setup"
                    and len(node.args) == 2 and all(isinstance(a, ast.Constant) for a in node.args)):
                found.append((f"pages/{path.name}", node.args[0].value, node.args[1].value, doc))
                break
    return found


@functools.lru_cache(maxsize=1)
def lesson_pages() -> dict[str, tuple[str, str]]:
    """Experiment name -> (page file, page title), for every experiment a page imports (``from
    resnet_viz.experiments import degradation as deg``): the first page that imports it."""
    found: dict[str, tuple[str, str]] = {}
    for path, title, _icon, _doc in available_pages():
        tree = ast.parse((ROOT / path).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "resnet_viz.experiments":
                for alias in node.names:
                    found.setdefault(alias.name, (path, title))
    return found


def run_store() -> RunStore:
    """One RunStore for the whole server (read-mostly; each write is atomic)."""
    return store_at(str(home() / "runs"))


@st.cache_resource
def store_at(root: str) -> RunStore:
    return RunStore(root)


@st.cache_data(max_entries=1)
def device_line() -> str:
    """The device in use; on a CPU, how its cores are shared between training jobs and the server."""
    line = describe_device("auto")
    if line.startswith("CPU"):
        line = F_("CPU ({cores} cores: jobs train with {jobs}, the server's own work uses {server})",
                  cores=cores(), jobs=job_threads(), server=server_threads())
    return line


def device_kind() -> str:
    """The device in one or two words ("CPU", "CUDA: NVIDIA H100 80GB HBM3"), for a metric's value."""
    line = describe_device("auto")
    return line.split(" (")[0] if line.startswith("CPU") else line


def accelerated() -> bool:
    """Does this server train on a GPU (or another accelerator)? Pages offer bigger settings there."""
    return not describe_device("auto").startswith("CPU")


def sidebar() -> list[StoredRun]:
    """The sidebar every page shows: the device in use, where results live, unreadable runs.

    Returns:
        The finished runs in the store (newest first), so a page need not scan it again.
    """
    from . import classroom

    classroom.begin()
    if (problem := classroom.problem()) is not None:
        st.error(problem, icon=":material/group_off:")
    store = run_store()
    runs = store.runs()
    language_switch()
    classroom.sidebar_box()
    with st.sidebar:
        _navigation()
        st.caption(_("**Device:** {device}").format(device=_(device_line())))
        st.caption(_("**Run store:** `{root}` ({runs} runs)").format(root=store.root, runs=len(runs)))
        st.caption(_("**Datasets:** `{root}`").format(root=data_dir()))
        for problem in store.problems:
            st.warning(problem, icon=":material/warning:")
        if (problem := _store_problem(str(store.root))) is not None:
            st.warning(problem, icon=":material/warning:")
    return runs


def _navigation() -> None:
    """The pages, by their titles in the session's language (Streamlit's own list shows file names,
    so it is switched off in .streamlit/config.toml)."""
    from .classroom import link_params

    params = link_params() or None  # in class mode every link stays in the class
    try:
        st.page_link("app.py", label=_("Home"), icon=":material/home:", query_params=params)
        for path, title, icon, _blurb in available_pages():
            st.page_link(path, label=_(title), icon=icon, query_params=params)
    except st.errors.StreamlitAPIException:  # a page run on its own (AppTest): there is no app to navigate
        pass
    st.divider()


@st.cache_data(ttl=60, show_spinner=False)
def _store_problem(root: str) -> str | None:
    """Checked once a minute: a read-only or full store is shown in the sidebar, not a traceback."""
    try:
        RunStore(root).check_writable()
    except ValueError as exc:
        return str(exc)
    return None


def lesson_title(texts, experiment, *intro: str) -> None:
    """The lesson's title and intro; in class mode, before the teacher reveals the class's question, a
    neutral title only (:mod:`.classroom`)."""
    from . import classroom

    classroom.title(texts, experiment, *intro)


def class_question(experiment) -> None:
    """In class mode, before the reveal: the lesson's question for the class, and the page ends there."""
    from . import classroom

    classroom.question(experiment)


def guard(fn, *args, **kwargs):
    """Call ``fn``; a ValueError (bad setting, missing dataset) becomes st.error + st.stop()."""
    try:
        return fn(*args, **kwargs)
    except ValueError as exc:
        show_error(exc)
        st.stop()


def show_error(exc: ValueError) -> None:
    """A library's ValueError as st.error, in the session's language where the catalog has it."""
    text = str(exc)
    if _(text) != text:  # a message the catalog has
        text = _(text)
    elif language() != "en":  # a library message with its values: English, inside a translated frame
        text = _("This cannot run. The lab's message: {message}").format(message=text)
    st.error(text, icon=":material/error:")


__all__ = ["ROOT", "accelerated", "available_pages", "class_question", "device_kind", "device_line", "finish_page", "guard",
           "lesson_pages", "lesson_title", "page_setup", "show_error",
           "run_store", "sidebar", "store_at"]
