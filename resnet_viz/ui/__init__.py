"""Streamlit glue: the only part of resnet_viz that imports streamlit.

Pages call these helpers so the sidebar, the page list and error handling are written once.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ..paths import data_dir, home
from ..jobs import Job, JobManager
from ..jobs import format_duration as duration
from ..store import RunStore, StoredRun
from ..train import describe_device

ROOT = Path(__file__).resolve().parents[2]

# (page file, title, icon, one line on what it shows). The home page links those whose file exists.
PAGES = [
    ("pages/1_Degradation.py", "Degradation", ":material/trending_up:",
     "Deeper plain nets train worse; residual nets do not (He et al. 2016, Fig. 1 and 6)."),
    ("pages/2_Gradient_flow.py", "Gradient flow", ":material/waves:",
     "Gradient size layer by layer, plain vs residual, with and without batch norm."),
    ("pages/3_Parameters_and_compute.py", "Parameters and compute", ":material/calculate:",
     "Exact parameters and multiply-adds: basic vs bottleneck blocks, shortcut options A/B/C, "
     "ResNet-20..1202 and ResNet-18..152."),
    ("pages/4_Ensembles.py", "Residual nets as ensembles", ":material/hub:",
     "Delete blocks of a trained net: a ResNet survives, a plain net collapses (Veit et al. 2016)."),
    ("pages/5_Attributions.py", "What the nets look at", ":material/visibility:",
     "Captum attributions of the trained plain and residual nets."),
]


def page_setup(title: str, icon: str) -> None:
    """First call of every page: wide layout, title and icon. (Streamlit's pages/ folder gives the
    navigation; st.navigation is not used because a page opened by its URL then skipped app.py.)"""
    st.set_page_config(page_title=title, page_icon=icon, layout="wide")


def available_pages() -> list[tuple[str, str, str, str]]:
    return [p for p in PAGES if (ROOT / p[0]).exists()]


def run_store() -> RunStore:
    """One RunStore for the whole server (read-mostly; each write is atomic)."""
    return _store_at(str(home() / "runs"))


@st.cache_resource
def _store_at(root: str) -> RunStore:
    return RunStore(root)


@st.cache_data(max_entries=1)
def device_line() -> str:
    return describe_device("auto")


def sidebar() -> list[StoredRun]:
    """The sidebar every page shows: the device in use, where results live, unreadable runs.

    Returns:
        The finished runs in the store (newest first), so a page need not scan it again.
    """
    store = run_store()
    runs = store.runs()
    with st.sidebar:
        st.caption(f"**Device:** {device_line()}")
        st.caption(f"**Run store:** `{store.root}` ({len(runs)} runs)")
        st.caption(f"**Datasets:** `{data_dir()}`")
        for problem in store.problems:
            st.warning(problem, icon=":material/warning:")
        if (problem := _store_problem(str(store.root))) is not None:
            st.warning(problem, icon=":material/warning:")
    return runs


@st.cache_data(ttl=60, show_spinner=False)
def _store_problem(root: str) -> str | None:
    """Checked once a minute: a read-only or full store is shown in the sidebar, not a traceback."""
    try:
        RunStore(root).check_writable()
    except ValueError as exc:
        return str(exc)
    return None


def experiment_state(kind: str, spec) -> tuple[JobManager, str, StoredRun | None, Job | None]:
    """(manager, key, stored run or None, this server's job or None) for an experiment spec; when
    nothing is stored, also says what the store remembers of an interrupted or failed run."""
    manager = job_manager()
    key = manager.store.key(kind, spec)
    stored = manager.store.get(kind, spec)
    job = manager.get(key)
    if stored is None:
        stored_state_notice(manager.store, key, job)
    return manager, key, stored, job


def stored_state_notice(store: RunStore, key: str, job: Job | None) -> None:
    """When this server has no job for ``key``, say what the store remembers: a run interrupted by a
    server stop (it can be restarted with the page's button) or one that failed."""
    if job is not None:
        return
    state = store.state(key)
    if state is None:
        return
    if state["status"] == "interrupted":
        import time

        st.warning(f"A run with these settings was interrupted {duration(time.time() - state.get('time', time.time()))} "
                   "ago: the server stopped while it trained, and nothing of it was kept. Press the button to "
                   "train it again.", icon=":material/restart_alt:")
    elif state["status"] == "failed":
        st.error(f"The last run with these settings failed: {state.get('error', 'unknown error')}",
                 icon=":material/error:")


def guard(fn, *args, **kwargs):
    """Call ``fn``; a ValueError (bad setting, missing dataset) becomes st.error + st.stop()."""
    try:
        return fn(*args, **kwargs)
    except ValueError as exc:
        st.error(str(exc), icon=":material/error:")
        st.stop()


@st.cache_resource
def _manager_for(root: str) -> JobManager:
    return JobManager(_store_at(root))


def job_manager() -> JobManager:
    """The server's one JobManager (shared by every session, so identical requests train once)."""
    return _manager_for(str(home() / "runs"))


def job_progress(job: Job, describe) -> None:
    """Progress bar with ETA and a Cancel button for a queued or running job.

    Args:
        job: the job to show.
        describe: turns the latest progress record into a line of text.
    """
    snap = job.snapshot()
    if snap["state"] == "queued":
        text = f"Waiting in the queue; expected duration {duration(snap['estimate'])}."
    else:
        last = snap["records"][-1] if snap["records"] else None
        text = (f"{describe(last)} · about {duration(snap['eta'])} left" if last
                else "Starting (loading data, building the nets)...")
    left, right = st.columns([6, 1])
    left.progress(min(1.0, snap["fraction"]), text=text)
    if right.button("Cancel", key=f"cancel-{job.key}", icon=":material/stop:", width="stretch"):
        job_manager().cancel(job.key)
        st.toast("Cancelling: the run stops before its next step.")
