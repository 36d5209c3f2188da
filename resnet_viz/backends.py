"""Where the runs of a job execute: local processes (the embedded default) or a Ray cluster.

A job is a list of *units*, each an (experiment kind, Spec) pair that the run store keeps on its
own: a page's job is one unit, a sweep (:mod:`resnet_viz.sweep`) is many. A backend runs units and
returns one :class:`UnitOutcome` each, reporting progress records as ``report(unit index, record)``
and stopping when ``cancel`` is set. Both backends run a unit the same way (:func:`run_unit`: the
experiment through the run store, with a fixed number of torch threads), so a unit's stored result
does not depend on which backend ran it.

- :class:`LocalBackend`: each unit in a spawned process (its own GIL; see :mod:`resnet_viz.jobs`),
  ``workers`` at a time.
- :class:`RayBackend`: each unit a Ray task with its resources (CPU cores, a share of a GPU), chosen by
  the host with ``RESNET_VIZ_RAY``: ``auto`` joins the Ray cluster of this machine or starts a local
  one, ``ray://host:port`` (Ray Client) or ``host:port`` joins a cluster. The run store must be a
  path every node sees (``RESNET_VIZ_HOME`` on a shared file system) and every node needs the lab
  installed (``pip install resnet-viz[ray]``). Progress and cancel travel through a small actor; a
  task whose worker or node is lost is reported as "interrupted" (tasks are never retried: a silent
  retry would look like a hang), and its stored status says so.

Ray is optional: nothing here imports it until a RayBackend is used.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .host import lower_priority
from .i18n import F_, N_

Report = Callable[[int, dict], None]
_lowered = False
RAY_VARIABLE = "RESNET_VIZ_RAY"
PACKAGE_PARENT = str(Path(__file__).resolve().parents[1])


@dataclass(frozen=True)
class Unit:
    """One stored run of an experiment."""

    kind: str
    spec: Any


@dataclass
class UnitOutcome:
    """What became of a unit: ``state`` is "done", "cancelled", "failed" or "interrupted"."""

    state: str
    result: dict | None = None
    from_store: bool = False
    error: str = ""

    @classmethod
    def finished(cls, result: dict, from_store: bool) -> "UnitOutcome":
        """A unit that ran to its end: "done", or "cancelled" when its result says so."""
        return cls("cancelled" if result.get("status") == "cancelled" else "done", result, from_store)


def run_unit(kind: str, spec: Any, store_root: str, threads: int, progress: Callable[[dict], None],
             cancel: Any, lower: bool = True) -> dict:
    """Run one unit in this process, as every backend does: ``threads`` torch threads, lower CPU
    priority (``lower``; once per process), the experiment through the run store. Returns
    ``{"result", "from_store"}``."""
    import torch

    from . import experiments
    from .protocol import Context, run_cached
    from .store import RunStore

    global _lowered
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    if lower and not _lowered:  # once per process (a process serves many units; nice adds up)
        lower_priority()
        _lowered = True
    try:
        outcome = run_cached(experiments.get(kind), spec, Context(progress=progress, cancel=cancel,
                                                                  store=RunStore(store_root)))
    finally:  # the thread count is process-wide: leave it as found (a caller may compute on after)
        torch.set_num_threads(before)
    return {"result": outcome.result, "from_store": outcome.from_store}


# --- local processes ------------------------------------------------------------------------------

def _worker_main(conn, cancel, store_root: str, threads: int, parent_pid: int) -> None:
    """A local worker process: runs the units its parent sends over ``conn`` until it sends None,
    answering ``(unit, what, payload)``: "started" (its pid), "progress", then "done" or "failed"."""
    lock = threading.Lock()  # a unit's runs may report from several threads (fit_many)

    def send(message: tuple) -> None:
        try:
            with lock:
                conn.send(message)
        except OSError:  # the parent is gone (killed): stop at once, leaving the run "running" = interrupted
            os._exit(3)

    def watch_parent() -> None:  # the server died (killed): stop rather than train for nobody
        while True:
            if os.getppid() != parent_pid:
                os._exit(3)
            time.sleep(1.0)

    threading.Thread(target=watch_parent, daemon=True).start()
    while (item := conn.recv()) is not None:
        i, kind, spec = item
        send((i, "started", os.getpid()))
        if cancel.is_set():
            send((i, "done", {"result": {"status": "cancelled"}, "from_store": False}))
            continue
        try:
            done = run_unit(kind, spec, store_root, threads, lambda rec, i=i: send((i, "progress", rec)), cancel)
            send((i, "done", done))
        except BaseException as exc:  # noqa: BLE001 - everything is reported to the parent
            send((i, "failed", f"{type(exc).__name__}: {exc}"))


CRASHED = N_("the training process crashed ({signal}) on this machine; the run was not stored")
STOPPED = N_("the training process stopped unexpectedly (exit code {code}); the run was not stored")
STALLED = N_("the training process stopped reporting progress for {minutes} min (far longer than its estimate), "
             "so it was stopped; the run was not stored")
FAILURES = (CRASHED, STOPPED, STALLED)  # a page translates a job's error with these (i18n.recompose)


def death_message(exitcode: int | None) -> str:
    """Why a local training process ended before it answered, for the page and the CLI: a signal (oneDNN's
    kernels have aborted on some CPUs, the kernel kills for memory) or an exit code."""
    import signal

    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return F_(CRASHED, signal=name)
    return F_(STOPPED, code=exitcode)


def stall_message(seconds: float) -> str:
    minutes = str(round(seconds / 60, 1)).removesuffix(".0")
    return F_(STALLED, minutes=minutes)


STARTUP_SECONDS = 120.0  # a fresh worker's time to start (import torch, load data) before the stall clock runs


class LocalBackend:
    """Units in spawned worker processes on this machine: ``workers`` processes (each its own GIL),
    each given the next unit when it is free, with ``threads`` torch threads. A process serves many
    units, so torch is imported and the data loaded once per process, not per unit (measured: a sweep of
    eight 30-step runs took 27 s with a fresh process per run, 7.7 s this way).

    Each worker talks to this process over its own pipe, whose other end only the worker holds: a
    worker killed mid-message (out of memory, say) or crashed (a signal) reads here as the end of its
    pipe, never as a hang, and fails only its own unit; a fresh worker takes the units still waiting.
    A worker silent for ``stall`` seconds while it runs a unit (no progress record; None: never) is
    killed and its unit fails the same way, so a hung kernel cannot hold the queue forever."""

    name = "local"

    def __init__(self, workers: int = 1, threads: int | None = None, stall: float | None = None) -> None:
        from .host import job_threads

        self.workers = max(1, workers)
        self.threads = threads or job_threads()
        self.stall = stall

    def run(self, units: list[Unit], store_root: str, report: Report, cancel: threading.Event) -> list[UnitOutcome]:
        from multiprocessing.connection import wait

        if not units:
            return []
        ctx = mp.get_context("spawn")  # never fork a process that has threads
        stop = ctx.Event()
        outcomes: list[UnitOutcome | None] = [None] * len(units)
        waiting = list(range(len(units)))
        workers: dict[Any, tuple[Any, int | None]] = {}  # connection -> (process, unit it runs)
        heard: dict[Any, float] = {}  # connection -> when it last said anything
        started = 0

        def give(conn, proc, fresh: bool = False) -> None:
            heard[conn] = time.monotonic() + (STARTUP_SECONDS if fresh else 0.0)  # a new process first imports torch
            if waiting and not stop.is_set():
                i = waiting.pop(0)
                conn.send((i, units[i].kind, units[i].spec))
                workers[conn] = (proc, i)
            else:
                conn.send(None)
                workers[conn] = (proc, None)

        def spawn() -> None:
            nonlocal started
            here, there = ctx.Pipe()
            proc = ctx.Process(target=_worker_main, name=f"resnet-viz-worker-{started}", daemon=True,
                               args=(there, stop, store_root, self.threads, os.getpid()))
            proc.start()
            started += 1
            there.close()  # only the worker holds its end: its death is the end of this pipe
            give(here, proc, fresh=True)

        def lose(conn, why: str) -> None:
            """A worker is gone: its unit fails with ``why``; a fresh worker takes what still waits."""
            proc, unit = workers.pop(conn)
            heard.pop(conn, None)
            if unit is not None and outcomes[unit] is None:
                outcomes[unit] = UnitOutcome("failed", error=why)
            if waiting and not stop.is_set():
                spawn()

        for _ in range(min(self.workers, len(units))):
            spawn()
        try:
            while any(o is None for o in outcomes) and workers:
                if cancel.is_set() and not stop.is_set():
                    stop.set()
                    for i in waiting:
                        outcomes[i] = UnitOutcome("cancelled", {"status": "cancelled"})
                    waiting.clear()
                for conn in wait(list(workers), timeout=0.2):
                    proc, unit = workers[conn]
                    try:
                        i, what, payload = conn.recv()
                    except (EOFError, OSError):  # the worker died
                        proc.join(timeout=5)
                        lose(conn, death_message(proc.exitcode))
                        continue
                    heard[conn] = time.monotonic()
                    if what == "progress":
                        report(i, payload)
                    elif what in ("done", "failed"):
                        outcomes[i] = (UnitOutcome.finished(payload["result"], payload["from_store"])
                                       if what == "done" else UnitOutcome("failed", error=payload))
                        give(conn, proc)
                if self.stall is not None:
                    now = time.monotonic()
                    for conn in [c for c, (_, unit) in workers.items() if unit is not None and now - heard[c] > self.stall]:
                        proc = workers[conn][0]
                        proc.kill()
                        proc.join(timeout=5)
                        lose(conn, stall_message(now - heard[conn]))
        finally:
            stop.set()
            for conn, (proc, _) in workers.items():
                try:
                    conn.send(None)
                except OSError:
                    pass
            for conn, (proc, _) in workers.items():
                proc.join(timeout=10)
                if proc.is_alive():
                    proc.kill()
        return [o or UnitOutcome("cancelled", {"status": "cancelled"}) for o in outcomes]


# --- Ray ------------------------------------------------------------------------------------------

def ray_address() -> str | None:
    """The Ray cluster the host chose with RESNET_VIZ_RAY (None: run locally).

    Raises:
        ValueError: a value that is neither "auto", "ray://host:port" nor "host:port".
    """
    raw = os.environ.get(RAY_VARIABLE, "").strip()
    if not raw:
        return None
    check_address(raw, f"{RAY_VARIABLE}")
    return raw


def check_address(address: str, what: str = "--ray") -> str:
    """Validate a Ray address: "auto", "local", "ray://host:port" or "host:port"."""
    if address in ("auto", "local"):
        return address
    rest = address[len("ray://"):] if address.startswith("ray://") else address
    host, _, port = rest.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{what} must be auto (join this machine's Ray cluster or start a local one), local "
                         f"(start one), ray://host:port (Ray Client) or host:port; got {address!r}")
    return address


def ray_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("ray") is not None


def connect(address: str) -> None:
    """Join (or start) the Ray cluster at ``address`` once per process.

    Raises:
        ValueError: Ray is not installed, or the cluster cannot be reached (the message says which).
    """
    if not ray_installed():
        raise ValueError("Ray is not installed here: pip install -r requirements-ray.txt (or resnet-viz[ray]), "
                         f"or leave {RAY_VARIABLE} and --ray unset to run in local processes")
    import ray

    if ray.is_initialized():
        return
    env = {"env_vars": {"PYTHONPATH": os.pathsep.join(filter(None, [PACKAGE_PARENT, os.environ.get("PYTHONPATH")]))}}
    kwargs: dict[str, Any] = {"runtime_env": env, "log_to_driver": False}
    local: dict[str, Any] = {"include_dashboard": False}
    if os.environ.get("RESNET_VIZ_RAY_CPUS"):  # the cores a local cluster started here may use (default: all)
        local["num_cpus"] = int(os.environ["RESNET_VIZ_RAY_CPUS"])
    try:
        if address == "auto":
            try:
                ray.init(address="auto", **kwargs)
            except ConnectionError:  # no cluster on this machine: start a local one
                ray.init(**local, **kwargs)
        elif address == "local":
            ray.init(**local, **kwargs)
        else:
            ray.init(address=address, **kwargs)
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        raise ValueError(f"cannot reach the Ray cluster at {address}: {exc}") from None


class _Relay:
    """The actor between a job's Ray tasks and its driver: progress records up, cancel down."""

    def __init__(self) -> None:
        self.records: list[tuple[int, dict]] = []
        self.stop = False

    def put(self, index: int, records: list[dict]) -> bool:
        self.records.extend((index, r) for r in records)
        return self.stop

    def take(self) -> list[tuple[int, dict]]:
        out, self.records = self.records, []
        return out

    def cancel(self) -> None:
        self.stop = True


def _ray_unit(kind: str, spec: Any, store_root: str, threads: int, index: int, relay) -> dict:
    """A Ray task: one unit, its progress sent to the relay every half second (and cancel read back)."""
    import ray

    buffer: list[dict] = []
    lock = threading.Lock()
    cancel = threading.Event()
    finished = threading.Event()

    def flush() -> None:
        with lock:
            batch, buffer[:] = list(buffer), []
        try:
            if ray.get(relay.put.remote(index, batch)):
                cancel.set()
        except Exception:  # noqa: BLE001 - the driver is gone: stop rather than train for nobody
            cancel.set()

    def pump() -> None:
        while not finished.wait(0.5):
            flush()

    def progress(rec: dict) -> None:
        with lock:
            buffer.append(rec)

    threading.Thread(target=pump, daemon=True).start()
    try:
        return run_unit(kind, spec, store_root, threads, progress, cancel)
    finally:
        finished.set()
        flush()


class RayBackend:
    """Units as Ray tasks.

    Args:
        address: see :func:`check_address`.
        threads: CPU cores (torch threads) per task.
        gpu_share: the share of one GPU a task asks for when the cluster has GPUs and the unit may use
            one (default RESNET_VIZ_RAY_GPU_SHARE, else 1/8: eight of the lab's small nets fill one
            GPU, as :func:`resnet_viz.train.parallel_workers` trains eight on streams).
        cancel_grace: seconds a cancelled task gets to stop at its next step before it is killed.
    """

    name = "ray"

    def __init__(self, address: str, threads: int = 1, gpu_share: float | None = None,
                 cancel_grace: float = 30.0) -> None:
        self.address = check_address(address)
        self.threads = max(1, threads)
        self.gpu_share = gpu_share if gpu_share is not None else float(os.environ.get("RESNET_VIZ_RAY_GPU_SHARE", "0.125"))
        self.cancel_grace = cancel_grace

    def resources(self, unit: Unit, cluster_gpus: float) -> dict:
        """What a unit's task asks Ray for: ``threads`` CPUs, and a GPU share when it may use one."""
        devices = {run.train.device for run in _training_runs(unit)}
        wants_gpu = cluster_gpus > 0 and bool(devices & {"auto", "cuda"}) and "cpu" not in devices
        return {"num_cpus": self.threads, "num_gpus": self.gpu_share if wants_gpu else 0}

    def run(self, units: list[Unit], store_root: str, report: Report, cancel: threading.Event) -> list[UnitOutcome]:
        connect(self.address)
        import ray
        from ray import exceptions as rex

        from .store import RunStore

        relay = ray.remote(num_cpus=0)(_Relay).remote()
        task = ray.remote(max_retries=0)(_ray_unit)
        gpus = ray.cluster_resources().get("GPU", 0)
        refs = [task.options(**self.resources(u, gpus)).remote(u.kind, u.spec, store_root, self.threads, i, relay)
                for i, u in enumerate(units)]
        index = {ref: i for i, ref in enumerate(refs)}
        outcomes: list[UnitOutcome | None] = [None] * len(units)
        pending, cancelled_at = list(refs), None
        store = RunStore(store_root)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=len(pending), timeout=0.3, fetch_local=False)
                for i, rec in self._take(relay):
                    report(i, rec)
                for ref in done:
                    outcomes[index[ref]] = self._outcome(ref, units[index[ref]], store, rex)
                if cancel.is_set() and cancelled_at is None:
                    cancelled_at = time.time()
                    relay.cancel.remote()
                if cancelled_at is not None and time.time() - cancelled_at > self.cancel_grace:
                    for ref in pending:
                        ray.cancel(ref, force=True)
                    cancelled_at = float("inf")
            for i, rec in self._take(relay):
                report(i, rec)
        finally:
            ray.kill(relay)
        return [o or UnitOutcome("cancelled", {"status": "cancelled"}) for o in outcomes]

    @staticmethod
    def _take(relay) -> list[tuple[int, dict]]:
        import ray

        try:
            return ray.get(relay.take.remote(), timeout=30)
        except Exception:  # noqa: BLE001 - a lost relay loses progress lines, not results
            return []

    @staticmethod
    def _outcome(ref, unit: Unit, store, rex) -> UnitOutcome:
        import ray

        key = store.key(unit.kind, unit.spec)
        try:
            payload = ray.get(ref)
        except rex.TaskCancelledError:
            store.delete(key) if (store.status(key) or {}).get("status") == "running" else None
            return UnitOutcome("cancelled", {"status": "cancelled"})
        except rex.RayTaskError as exc:  # the experiment itself raised: as a local failure
            cause = exc.cause if getattr(exc, "cause", None) is not None else exc
            return UnitOutcome("failed", error=f"{type(cause).__name__}: {cause}")
        except (rex.RayError, ConnectionError) as exc:  # the worker or its node was lost
            why = f"the machine running it was lost ({type(exc).__name__})"
            store.interrupt(key, why)
            return UnitOutcome("interrupted", error=why)
        return UnitOutcome.finished(payload["result"], payload["from_store"])


def _training_runs(unit: Unit) -> list:
    from . import experiments

    return experiments.get(unit.kind).training_runs(unit.spec)


def default_backend(address: str | None, threads: int, cores: int, workers: int | None = None):
    """Where a sweep's runs go: Ray tasks at ``address``, else local worker processes, ``workers`` of
    them (default: eight on a GPU, else as many as ``cores`` hold at ``threads`` each)."""
    if address is not None:
        return RayBackend(address, threads=threads)
    if workers is None:
        import torch

        workers = 8 if torch.cuda.is_available() else max(1, cores // threads)
    return LocalBackend(workers, threads=threads)


__all__ = ["LocalBackend", "RAY_VARIABLE", "RayBackend", "Unit", "UnitOutcome", "check_address", "connect",
           "FAILURES", "death_message", "default_backend", "stall_message", "ray_address", "ray_installed", "run_unit"]
