"""The one job panel every training page uses: submit, queue position, progress with ETA, cancel,
and what became of earlier runs (stored, interrupted, failed, cancelled)."""

from __future__ import annotations

import time
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Callable

import streamlit as st

from .. import experiments
from .. import sweep as sweeps
from ..cost import describe as describe_estimate
from ..experiments.lesion import DOWNLOAD
from ..data import Download, DatasetUnavailable, check_available, cifar10_url, online
from ..backends import FAILURES
from ..i18n import N_, recompose
from ..jobs import ACTIVE, Job, JobManager
from ..paths import home
from ..protocol import Experiment, estimate as estimate_of, stored_result
from ..store import RunStore, StoredRun
from ..units import format_duration
from . import guard, show_error, store_at
from .lang import _


@st.cache_resource
def _manager_for(root: str) -> JobManager:
    # calibrate: the first thing the worker does is measure this host's training speed in a worker
    # process, so that estimates never time training inside the server.
    return JobManager(store_at(root), calibrate=True)


@st.cache_resource
def _shared_manager_for(root: str, folder: str):
    from ..jobqueue import SharedJobManager

    return SharedJobManager(store_at(root), Path(folder))


def job_manager() -> JobManager:
    """The server's one JobManager (shared by every session, so identical requests train once); in a hall
    (``python -m resnet_viz serve``) the queue every server process shares (:mod:`resnet_viz.jobqueue`)."""
    from ..jobqueue import shared

    if shared():
        return _shared_manager_for(str(home() / "runs"), str(home()))
    return _manager_for(str(home() / "runs"))


@dataclass
class Panel:
    """What the panel found: the stored run (None when there is none yet), whether a job for the
    spec is queued or running on this server, its key, and how many progress records it has sent."""

    stored: StoredRun | None
    active: bool
    key: str
    records: int = 0


def job_panel(kind: str, spec: Any, live: Callable[[list[dict]], None] | None = None, button: str = N_("Train"),
              what: str = "", sweep: str = "", sweep_help: str = "", prose: tuple[str, ...] = ()) -> Panel:
    """Draw the state of (kind, spec) and the button that trains it.

    Args:
        kind: the experiment's registry name.
        spec: its Spec.
        live: draws the records so far (live curves) while the job runs, every few seconds.
        button: the label of the button.
        what: one sentence on what pressing it does, shown with the estimate.
        sweep: the label of a second button that runs the spec as a sweep (:mod:`resnet_viz.sweep`: each
            run its own task, stored on its own), for hosts with Ray or a GPU; "" for none.
        prose: the page's title and explanation, for the notebook download (:mod:`.takehome`): under the
            panel, the nets' code and the lesson as a notebook.

    A result whose runs are all stored (by a job, a sweep or the CLI) is the stored result; for an
    experiment whose runs are stored one by one the button trains only the runs the store lacks.
    """
    panel = _panel(kind, spec, live, button, what, sweep, sweep_help)
    from .takehome import take_home

    guard(take_home, kind, spec, prose)
    return panel


def _panel(kind: str, spec: Any, live: Callable[[list[dict]], None] | None, button: str, what: str, sweep: str,
           sweep_help: str) -> Panel:
    manager = job_manager()
    experiment = experiments.get(kind)
    key = manager.store.key(kind, spec)
    stored = _stored(manager.store, experiment, spec, key)
    if stored is not None:
        return Panel(stored, False, key)
    if experiment.sweepable:
        sweep_job = manager.get(sweeps.key(manager.store, experiment, spec))
        if sweep_job is not None and sweep_job.state in ACTIVE:
            return Panel(None, True, sweep_job.key, _progress(manager, sweep_job, experiment, live))
        if sweep_job is not None and sweep_job.state in ("failed", "interrupted"):
            st.error(_("The sweep stopped: {error}").format(error=sweep_job.error), icon=":material/error:")
    dataset_ready(spec.data)  # a missing dataset is said now, not after the job starts
    job = manager.get(key)
    if job is not None and job.state in ACTIVE:
        return Panel(None, True, key, _progress(manager, job, experiment, live))
    if job is not None and job.state == "interrupted":
        st.warning(_("The run was interrupted: {error}. Nothing of it was kept; press the button to train it "
                     "again.").format(error=job.error), icon=":material/restart_alt:")
    elif job is not None and job.state == "failed":  # a crash or a hang, said in the reader's language
        st.error(_("The run failed: {error}").format(error=_(recompose(job.error, FAILURES))), icon=":material/error:")
    elif job is not None and job.state == "cancelled":
        st.warning(_("The run was cancelled; nothing was stored. Press the button to start again."),
                   icon=":material/stop_circle:")
    else:
        _stored_state_notice(manager.store, key)
    estimate = guard(estimate_of, experiment, spec, manager.store)
    left, right = st.columns(2) if sweep else (st, None)
    if left.button(_(button), type="primary", icon=":material/play_arrow:", key=f"submit-{kind}-{key}"):
        guard(manager.submit, kind, spec, estimate)
        st.rerun()  # show the job's progress at once
    if right is not None and right.button(_(sweep), icon=":material/lan:", key=f"sweep-{kind}-{key}",
                                          help=_(sweep_help) if sweep_help else None):
        guard(manager.submit_sweep, kind, spec)
        st.rerun()
    st.caption(f"{_(what)} " + _("Estimated duration on this server: **{estimate}**. The run goes to a background "
                                 "queue: keep using the page, or reload it, while it trains.").format(
        estimate=_(describe_estimate(estimate))))
    return Panel(None, False, key)


def _stored(store: RunStore, experiment: Experiment, spec: Any, key: str) -> StoredRun | None:
    """The stored run of the spec, or its units merged when all are stored (read once per server:
    stored runs never change)."""
    found = store.get(experiment.name, spec)
    if found is not None or not experiment.sweepable:
        return found
    if not sweeps.stored_units(store, experiment, spec):  # reads only the small status files
        return None
    result = _merged(key, store, experiment, spec)
    return None if result is None else StoredRun(key, experiment.name, {}, result, {"status": "done"}, store.root)


@st.cache_resource(max_entries=16, show_spinner=False)
def _merged(key: str, _store: RunStore, _experiment: Experiment, _spec: Any) -> dict | None:
    outcome = stored_result(_experiment, _spec, _store)
    return None if outcome is None else outcome.result


@st.cache_data(ttl=120, show_spinner=False)
def _online(url: str) -> bool:
    return online(url)


@st.cache_resource(show_spinner=False)
def _download() -> dict:
    """The server's one CIFAR-10 download (a box, so that a failed one can be replaced)."""
    import threading

    return {"lock": threading.Lock()}


def dataset_ready(data: Any, stop: bool = True) -> bool:
    """True when the data is there; else the missing-dataset message (for CIFAR-10 on a machine with internet,
    the download, one per server, with a progress bar) and the page stops, or with ``stop`` False, False."""
    ready = _dataset_state(data)
    if not ready and stop:
        st.stop()
    return ready


def _dataset_state(data: Any) -> bool:
    try:
        check_available(data)
        return True
    except DatasetUnavailable as exc:
        if data.name != "cifar10" or not _online(cifar10_url()):
            show_error(exc)  # offline: the message naming the files and the folder
            return False
    box = _download()
    job: Download | None = box.get("job")
    if job is None or job.state != "running":  # none yet, failed, or done but the files are gone since
        if job is not None and job.state == "failed":
            st.error(_("The download failed: {error}").format(error=job.error), icon=":material/error:")
        st.info(_("CIFAR-10 is not on this server yet. It can be downloaded now (170 MB, checked against its "
                  "published MD5 checksum)."), icon=":material/cloud_download:")
        if st.button(_("Download CIFAR-10"), icon=":material/download:", key="download-cifar10"):
            with box["lock"]:  # two students pressing at once start one download
                if box.get("job") is job:
                    box["job"] = Download()
            st.rerun()
        return False

    @st.fragment(run_every=1.0)
    def bar() -> None:
        if job.state != "running":
            st.rerun()  # the whole page: the data is there now (or the failure is shown)
        st.progress(job.fraction, text=_("Downloading CIFAR-10: {done:.0f} of {total:.0f} MB").format(
            done=job.done_bytes / 1e6, total=job.total_bytes / 1e6))

    bar()
    return False


def _progress(manager: JobManager, job: Job, experiment: Experiment,
              live: Callable[[list[dict]], None] | None) -> int:
    """The progress bar with Cancel (and the live curves) of a queued or running job, redrawn every
    second in a fragment; returns how many progress records the job has sent so far."""
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
            text = (_("{progress} · about {duration} left").format(progress=_progress_line(last, experiment),
                                                                     duration=_(format_duration(snap["eta"]))) if last
                    else _("Starting (loading data, building the nets)..."))
        left, right = st.columns([3, 1])
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
    return len(job.snapshot()["records"])


def _progress_line(record: dict, experiment: Experiment) -> str:
    """The latest progress record as a line in the session's language (the experiment's own
    ``describe`` for records without the common fields)."""
    if not {"run", "done", "total"} <= set(record):
        return experiment.progress_line(record)
    if record.get("what") == DOWNLOAD:  # a published net's checkpoint, in bytes
        done, total = record["done"] / 1e6, record["total"] / 1e6
        return (_("Downloading {name}: {done:.1f} of {total:.1f} MB") if total else
                _("Downloading {name}: {done:.1f} MB")).format(name=record["run"], done=done, total=total)
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
