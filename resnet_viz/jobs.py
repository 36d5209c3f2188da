"""JobManager: experiments run in the background, outside any page script.

A Streamlit rerun (any widget touch) stops the page script, so training cannot live there
(streamlit issues #1570, #10578, #9021). One JobManager per server holds a bounded queue served by
worker threads; identical specs share one job (dedupe by the run store's key), a spec already in
the store answers at once, and nothing here touches streamlit: workers append progress records that
pages read.

Each job trains in its own process (``mode="process"``, the default). Measured on the 2-core
development machine: 60 steps of ResNet-20 took 3.5 s in a thread alone but 42 s while one other
Python thread of the same process was busy, because every small torch op gives up and waits for the
GIL; a streamlit server redrawing live plots is such a thread. A spawned process has its own GIL.

With ``RESNET_VIZ_RAY`` set by the host (``mode="ray"``), each job's runs are Ray tasks instead
(:mod:`resnet_viz.backends`): progress and cancel work the same, and a task whose machine is lost ends
its job as "interrupted". A *sweep* (:meth:`JobManager.submit_sweep`) is one job whose runs are
stored one by one (:mod:`resnet_viz.sweep`).
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from . import experiments
from . import sweep as sweeps
from .backends import LocalBackend, RayBackend, Unit, UnitOutcome, default_backend, ray_address
from .host import check_caps, job_threads, lower_priority
from .protocol import Context, Experiment, Outcome, check_before_run, estimate as estimate_of, run_cached, stored_result
from .store import RunStore
from .units import format_duration

log = logging.getLogger(__name__)
ACTIVE = ("queued", "running")
MODES = ("process", "thread", "ray")


class QueueFull(ValueError):
    """The queue is at its bound; the message gives the expected wait."""


@dataclass
class Job:
    """One experiment in the queue, running, or finished. Read it through :meth:`snapshot`."""

    key: str
    kind: str
    spec: Any
    estimate: float | None = None
    state: str = "queued"  # queued | running | done | failed | cancelled | interrupted
    sweep_of: str = ""  # a sweep over this experiment's runs (kind is then "sweep")
    submitted: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    records: list[dict] = field(default_factory=list)
    error: str = ""
    result: dict | None = None
    from_store: bool = False
    cancel_event: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _record(self, rec: dict) -> None:
        with self._lock:
            self.records.append(rec)

    @property
    def fraction(self) -> float:
        if self.state == "done":
            return 1.0
        with self._lock:
            if not self.records:
                return 0.0
            last = self.records[-1]
        return float(last.get("fraction", last["done"] / last["total"]))

    def eta(self) -> float | None:
        """Seconds left: elapsed / fraction done, or the estimate before the first step."""
        if self.state not in ACTIVE:
            return 0.0 if self.state == "done" else None
        if self.state == "queued" or self.started is None:
            return self.estimate
        f = self.fraction
        if f <= 0:
            return self.estimate
        elapsed = time.time() - self.started
        return elapsed / f - elapsed

    def snapshot(self) -> dict:
        """A consistent copy for a page: state, fraction, eta, records so far, error, result."""
        with self._lock:
            records = list(self.records)
        return {"key": self.key, "kind": self.kind, "state": self.state, "fraction": self.fraction,
                "eta": self.eta(), "records": records, "error": self.error, "result": self.result,
                "from_store": self.from_store, "estimate": self.estimate,
                "elapsed": (self.finished or time.time()) - self.started if self.started else 0.0}


class JobManager:
    """A bounded queue of experiments served by worker threads.

    Args:
        store: where results are read from and written to.
        workers: worker threads (one suits a small CPU: torch already uses every core).
        max_queue: jobs waiting (not running) at most; more raise :class:`QueueFull`.
        mode: "process" (each job in a spawned process), "ray" (each run a Ray task on the cluster at
            RESNET_VIZ_RAY) or "thread" (in the worker thread itself; for tests and debugging);
            default: "ray" when the host set RESNET_VIZ_RAY, else "process".
        ray: the Ray address for mode "ray" (default RESNET_VIZ_RAY).
        runner: runs one job in "thread" mode: ``runner(kind, spec, store, progress, cancel)``;
            default: the experiment through the store.
        keep_seconds: finished jobs (and their per-step records) leave memory this long after they
            end (RESNET_VIZ_JOB_KEEP, default 600 s); the store keeps their results.
        calibrate: before the first job, measure this host's training throughput in a worker
            process when it is not known yet (:func:`resnet_viz.cost.calibrate`), for the estimates.
    """

    def __init__(self, store: RunStore, workers: int | None = None, max_queue: int | None = None,
                 mode: str | None = None, runner: Callable[..., Outcome] | None = None,
                 keep_seconds: float | None = None, calibrate: bool = False, ray: str | None = None) -> None:
        address = ray or ray_address()
        mode = mode or ("ray" if address else "process")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
        if workers is None:  # on a cluster, jobs wait on remote tasks: several at once; a GPU trains several too
            workers = (int(os.environ.get("RESNET_VIZ_RAY_JOBS", "4")) if mode == "ray" else
                       int(os.environ.get("RESNET_VIZ_GPU_JOBS", "4")) if mode == "process" and _gpu() else 1)
        self.store = store
        self.mode = mode
        self.ray = address if mode == "ray" else None
        self.max_queue = max_queue if max_queue is not None else int(os.environ.get("RESNET_VIZ_MAX_QUEUE", "8"))
        self._runner = runner or _run_in_thread
        self.keep_seconds = keep_seconds if keep_seconds is not None else float(os.environ.get("RESNET_VIZ_JOB_KEEP", "600"))
        self._jobs: dict[str, Job] = {}
        self._queue: queue.Queue[Job] = queue.Queue()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._work, name=f"resnet-viz-worker-{i}", daemon=True)
                         for i in range(workers)]
        if calibrate:
            self._queue.put(None)  # the first thing a worker does: measure the throughput (see _work)
        for t in self._threads:
            t.start()

    def submit(self, kind: str, spec: Any, estimate: float | None = None) -> Job:
        """Queue (kind, spec), or return the job that already answers it.

        A stored result gives a finished job at once; a queued or running identical spec returns
        that job (thirty students asking the same thing train it once). For an experiment whose runs
        are stored one by one, the job trains only the runs the store lacks.

        Raises:
            QueueFull: with the number waiting and the expected wait.
            ValueError: unknown experiment kind, or a spec beyond the host's caps or this machine's memory.
        """
        experiment = experiments.get(kind)
        return self._submit(experiment, spec, self.store.key(experiment.name, spec),
                            lambda: stored_answer(experiment, spec, self.store), estimate, "")

    def submit_sweep(self, kind: str, spec: Any) -> Job:
        """Queue a sweep over ``spec``'s runs (:mod:`resnet_viz.sweep`): one job whose runs are stored one
        by one, as Ray tasks on a cluster or in local processes (as many at once as the machine has
        cores to spare, each with one thread; eight on a GPU). Runs already stored are not run again;
        when all are, the job is done at once.

        Raises:
            QueueFull, ValueError: as :meth:`submit`.
        """
        experiment = experiments.get(kind)
        return self._submit(experiment, spec, sweeps.key(self.store, experiment, spec),
                            lambda: sweeps.stored(self.store, experiment, spec), None, experiment.name)

    def _submit(self, experiment: Experiment, spec: Any, key: str, stored: Callable[[], dict | None],
                estimate: float | None, sweep_of: str) -> Job:
        """What :meth:`submit` and :meth:`submit_sweep` share: dedupe, caps, the stored answer, the queue."""
        self._evict()
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and job.state in ACTIVE:
                return job
        result, estimate = admit(experiment, spec, self.store, stored, estimate)
        kind = "sweep" if sweep_of else experiment.name
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and job.state in ACTIVE:
                return job
            if result is not None:
                job = Job(key, kind, spec, state="done", result=result, from_store=True, sweep_of=sweep_of)
                job.started = job.finished = time.time()
                self._jobs[key] = job
                return job
            self._check_room()
            job = Job(key, kind, spec, estimate=estimate, sweep_of=sweep_of)
            self._jobs[key] = job
        self._queue.put(job)
        return job

    def _check_room(self) -> None:
        waiting = [j for j in self._jobs.values() if j.state == "queued"]
        if len(waiting) >= self.max_queue:
            raise queue_full(len(waiting), self.expected_wait())
        self.store.check_writable()

    def backend(self, sweep: bool = False, estimate: float | None = None):
        """Where this manager's jobs run: Ray tasks (mode "ray") or local processes. A job's runs share
        its process (``job_threads`` threads); a sweep's runs get a process and one thread each. A local
        process silent for :func:`stall_after` its ``estimate`` is stopped (a hung kernel)."""
        if sweep:
            backend = default_backend(self.ray, threads=1, cores=job_threads())
            if isinstance(backend, LocalBackend):
                backend.stall = stall_after(None)
            return backend
        if self.mode == "ray":
            return RayBackend(self.ray, threads=job_threads())
        return LocalBackend(1, job_threads(), stall=stall_after(estimate))

    def expected_wait(self) -> float:
        """Seconds until a newly queued job would start: what is running plus what waits."""
        total = 0.0
        for j in list(self._jobs.values()):
            if j.state in ACTIVE:
                total += j.eta() or j.estimate or 60.0
        return total

    def get(self, key: str) -> Job | None:
        self._evict()
        return self._jobs.get(key)

    def jobs(self) -> list[Job]:
        self._evict()
        return sorted(self._jobs.values(), key=lambda j: j.submitted, reverse=True)

    def position(self, key: str) -> int | None:
        """1 for the next job to start, 2 for the one after, ...; None when ``key`` is not waiting."""
        waiting = sorted((j for j in list(self._jobs.values()) if j.state == "queued"), key=lambda j: j.submitted)
        return next((i + 1 for i, j in enumerate(waiting) if j.key == key), None)

    def _evict(self) -> None:
        """Forget jobs that finished more than ``keep_seconds`` ago (the store keeps their results)."""
        now = time.time()
        with self._lock:
            for key in [k for k, j in self._jobs.items()
                        if j.state not in ACTIVE and j.finished is not None and now - j.finished > self.keep_seconds]:
                del self._jobs[key]

    def cancel(self, key: str) -> bool:
        """Ask a queued or running job to stop; returns whether there was one to stop."""
        job = self._jobs.get(key)
        if job is None or job.state not in ACTIVE:
            return False
        job.cancel_event.set()
        return True

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                self._calibrate()
                continue
            if job.cancel_event.is_set():
                job.state, job.finished = "cancelled", time.time()
                continue
            job.state, job.started = "running", time.time()
            try:
                if job.sweep_of:
                    self._run_sweep(job)
                elif self.mode == "thread":
                    outcome = self._runner(job.kind, job.spec, self.store, progress=job._record,
                                           cancel=job.cancel_event)
                    finished = UnitOutcome.finished(outcome.result, outcome.from_store)
                    job.result, job.from_store, job.state = finished.result, finished.from_store, finished.state
                else:
                    self._run_unit(job)
            except Exception as exc:  # reported on the page; the worker lives on
                log.warning("job %s (%s) failed: %s", job.key, job.kind, exc)
                job.error = f"{type(exc).__name__}: {exc}"
                job.state = "failed"
            finally:
                job.finished = time.time()

    def _run_unit(self, job: Job) -> None:
        """One job as one unit on the backend (a process here, or a Ray task)."""
        outcome = self.backend(estimate=job.estimate).run([Unit(job.kind, job.spec)], str(self.store.root),
                                     lambda _, rec: job._record(rec), job.cancel_event)[0]
        if outcome.state in ("failed", "interrupted"):
            job.error = outcome.error
        job.result, job.from_store, job.state = outcome.result, outcome.from_store, outcome.state

    def _run_sweep(self, job: Job) -> None:
        result = sweeps.run(experiments.get(job.sweep_of), job.spec, self.store, self.backend(sweep=True),
                            report=job._record, cancel=job.cancel_event)
        job.result, job.from_store = result, result["ran"] == 0
        job.state = {"completed": "done"}.get(result["status"], result["status"])
        job.error = "; ".join(result["problems"])

    def _calibrate(self) -> None:
        """Measure the training throughput in a worker process (as jobs train), unless known."""
        from .cost import throughput

        if throughput() is not None:
            return
        ctx = mp.get_context("spawn")
        proc = ctx.Process(target=_calibrate_main, name="resnet-viz-calibrate", daemon=True)
        proc.start()
        proc.join(timeout=300)
        if proc.is_alive():
            proc.kill()
        if throughput() is None:
            log.warning("measuring the training throughput failed; estimates stay unknown")



def stored_answer(experiment: Experiment, spec: Any, store: RunStore) -> dict | None:
    """The stored result that answers (experiment, spec) at once, if there is one."""
    found = stored_result(experiment, spec, store)
    return found.result if found is not None else None


def admit(experiment: Experiment, spec: Any, store: RunStore, stored: Callable[[], dict | None],
          estimate: float | None) -> tuple[dict | None, float | None]:
    """What every queue checks before it takes a job (this server's and a hall's, :mod:`resnet_viz.jobqueue`):
    the host's caps, then the stored answer; without one, what can fail before it starts, and the estimate.

    Returns:
        (the stored result or None, the estimate).
    """
    runs = experiment.training_runs(spec)
    check_caps(runs, runs[0].train.device if runs else "auto")
    result = stored()
    if result is None:
        check_before_run(experiment, spec)
        if estimate is None:
            estimate = estimate_of(experiment, spec, store)
    return result, estimate


STALL_FACTOR = 5


def stall_after(estimate: float | None) -> float:
    """Seconds a job's process may go without a progress record before it counts as hung and is stopped:
    ``STALL_FACTOR`` x the job's whole estimate, and never less than RESNET_VIZ_STALL_MIN (default 300 s;
    three times that when there is no estimate). Generous on purpose: a slow machine is not a hung one, and
    a run reports after every step."""
    raw = os.environ.get("RESNET_VIZ_STALL_MIN", "")
    try:
        floor = float(raw) if raw else 300.0
    except ValueError:
        raise ValueError(f"RESNET_VIZ_STALL_MIN must be a number of seconds; the host set {raw!r}") from None
    return max(floor, STALL_FACTOR * estimate) if estimate else 3 * floor


def queue_full(waiting: int, wait: float) -> QueueFull:
    return QueueFull(f"The job queue is full ({waiting} experiments waiting, the most this server allows). Expected "
                     f"wait: about {format_duration(wait)}. Try again then, or open an experiment that is already stored.")


def _gpu() -> bool:
    """Does this host train on a GPU? Then several jobs share it at once (a class's units side by side):
    small CIFAR nets leave most of an H100 idle."""
    import torch

    return torch.cuda.is_available()


def _run_in_thread(kind: str, spec: Any, store: RunStore, progress, cancel) -> Outcome:
    return run_cached(experiments.get(kind), spec, Context(progress=progress, cancel=cancel, store=store))


def _calibrate_main() -> None:
    from .cost import calibrate

    lower_priority()
    calibrate()


__all__ = ["ACTIVE", "Job", "JobManager", "QueueFull", "admit", "format_duration", "queue_full", "stall_after",
           "stored_answer"]
