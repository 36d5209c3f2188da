"""The one job panel every training page uses: submit, queue position, progress with ETA, cancel,
and what became of earlier runs (stored, interrupted, failed, cancelled)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import streamlit as st

from .. import experiments
from ..cost import describe as describe_estimate
from ..data import check_available
from ..jobs import ACTIVE, Job, JobManager
from ..paths import home
from ..store import RunStore, StoredRun
from ..units import format_duration
from . import guard, store_at
from ..i18n import N_
from .lang import _


@st.cache_resource
def _manager_for(root: str) -> JobManager:
    # calibrate: the first thing the worker does is measure this host's training speed in a worker
    # process, so that estimates never time training inside the server.
    return JobManager(store_at(root), calibrate=True)


def job_manager() -> JobManager:
    """The server's one JobManager (shared by every session, so identical requests train once)."""
    return _manager_for(str(home() / "runs"))


@dataclass
class Panel:
    """What the panel found: the stored run (None when there is none yet) and whether a job for the
    spec is queued or running on this server."""

    stored: StoredRun | None
    active: bool
    key: str


def job_panel(kind: str, spec: Any, describe: Callable[[dict], str], live: Callable[[list[dict]], None] | None = None,
              button: str = N_("Train"), what: str = "") -> Panel:
    """Draw the state of (kind, spec) and the button that trains it.

    Args:
        kind: the experiment's registry name.
        spec: its Spec.
        describe: the latest progress record as a line of text.
        live: draws the records so far (live curves) while the job runs, every few seconds.
        button: the label of the button.
        what: one sentence on what pressing it does, shown with the estimate.
    """
    manager = job_manager()
    key = manager.store.key(kind, spec)
    stored = manager.store.get(kind, spec)
    if stored is not None:
        return Panel(stored, False, key)
    guard(check_available, spec.data)  # a missing dataset is said now, not after the job starts
    job = manager.get(key)
    if job is not None and job.state in ACTIVE:
        _progress(manager, job, describe, live)
        return Panel(None, True, key)
    if job is not None and job.state == "failed":
        st.error(_("The run failed: {error}").format(error=job.error), icon=":material/error:")
    elif job is not None and job.state == "cancelled":
        st.warning(_("The run was cancelled; nothing was stored. Press the button to start again."),
                   icon=":material/stop_circle:")
    else:
        _stored_state_notice(manager.store, key)
    estimate = guard(experiments.get(kind).cost, spec)
    if st.button(_(button), type="primary", icon=":material/play_arrow:", key=f"submit-{kind}"):
        guard(manager.submit, kind, spec, estimate)
        st.rerun()  # show the job's progress at once
    st.caption(f"{_(what)} " + _("Estimated duration on this server: **{estimate}**. The run goes to a background "
                                 "queue: keep using the page, or reload it, while it trains.").format(
        estimate=_(describe_estimate(estimate))))
    return Panel(None, False, key)


def _progress(manager: JobManager, job: Job, describe: Callable[[dict], str],
              live: Callable[[list[dict]], None] | None) -> None:
    @st.fragment(run_every=1.0)
    def bar() -> None:
        if job.state not in ACTIVE:
            st.rerun()  # the whole page: show the stored result
        snap = job.snapshot()
        if snap["state"] == "queued":
            position = manager.position(job.key)
            text = (_("Waiting in the queue (position {position}); it takes about {duration} once it starts.").format(
                position=position, duration=_(format_duration(snap["estimate"]))) if position else _("Starting..."))
        else:
            last = snap["records"][-1] if snap["records"] else None
            text = (_("{progress} · about {duration} left").format(progress=_progress_line(last, describe),
                                                                     duration=_(format_duration(snap["eta"]))) if last
                    else _("Starting (loading data, building the nets)..."))
        left, right = st.columns([6, 1])
        left.progress(min(1.0, snap["fraction"]), text=text)
        if right.button(_("Cancel"), key=f"cancel-{job.key}", icon=":material/stop:", width="stretch"):
            manager.cancel(job.key)
            st.toast(_("Cancelling: the run stops before its next step."))

    bar()
    if live is not None:
        @st.fragment(run_every=5.0)  # redrawing plots costs the CPU that trains: not too often
        def curves() -> None:
            live(job.snapshot()["records"])

        curves()


def _progress_line(record: dict, describe: Callable[[dict], str]) -> str:
    """The latest progress record as a line in the session's language (the experiment's own
    ``describe`` for records without the common fields)."""
    if not {"run", "done", "total"} <= set(record):
        return describe(record)
    name = f"{_(record['what'])}: {record['run']}" if record.get("what") else record["run"]
    if "run_index" in record and record.get("runs", 1) > 1:
        return _("Run {index}/{runs}: {name}, step {done}/{total}").format(
            index=record["run_index"] + 1, runs=record["runs"], name=name, done=record["done"], total=record["total"])
    return _("{name}: step {done}/{total}").format(name=name, done=record["done"], total=record["total"])


def _stored_state_notice(store: RunStore, key: str) -> None:
    """Say what the store remembers of a run this server has no job for: interrupted by a server
    stop (the button trains it again) or failed."""
    state = store.state(key)
    if state is None:
        return
    if state["status"] == "interrupted":
        ago = _(format_duration(time.time() - state.get("time", time.time())))
        st.warning(_("A run with these settings was interrupted {ago} ago: the server stopped while it trained, and "
                     "nothing of it was kept. Press the button to train it again.").format(ago=ago),
                   icon=":material/restart_alt:")
    elif state["status"] == "failed":
        st.error(_("The last run with these settings failed: {error}").format(error=state.get("error", "?")),
                 icon=":material/error:")
