"""One job queue for several server processes (``python -m resnet_viz serve``).

Each Streamlit process of a lecture hall has its own memory; a :class:`~resnet_viz.jobs.JobManager` in each
would train a run twice when two processes are asked for it, and keep two queues. Under ``serve`` the processes
share one queue instead, in SQLite (``RESNET_VIZ_HOME/jobs.sqlite``, WAL, every write one ``BEGIN IMMEDIATE``
transaction, as the class database): SQLite because the lab already keeps its classes there, it is in the
standard library, it serializes concurrent writers on one machine without a server, and a queue of a few
dozen experiments needs nothing more (a hall on several machines uses Ray, which is the queue then).

- :class:`SharedJobManager` is what each server process uses (the pages' ``job_manager()``): it answers from the
  run store, checks caps and room exactly as :class:`~resnet_viz.jobs.JobManager` does, and inserts the job;
  an identical run asked for by any process finds the row and shares it. Progress records come from a
  JSON-lines file per job; the queue position is global.
- :class:`QueueRunner` runs in ``serve``'s supervising process only: the one
  :class:`~resnet_viz.jobs.JobManager` that trains, fed from the table, writing back state and records. So the
  number of training processes is that manager's workers, whatever the number of server processes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from . import experiments
from . import sweep as sweeps
from .config import to_dict
from .jobs import ACTIVE, Job, JobManager, QueueFull, admit, queue_full, stored_answer
from .protocol import spec_from_dict
from .store import RunStore

SHARED_ENV = "RESNET_VIZ_JOBS"  # "shared": this server process uses the shared queue (set by serve)
SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    key TEXT PRIMARY KEY, kind TEXT NOT NULL, sweep_of TEXT NOT NULL DEFAULT '', spec TEXT NOT NULL,
    estimate REAL, state TEXT NOT NULL, submitted REAL NOT NULL, started REAL, finished REAL,
    error TEXT NOT NULL DEFAULT '', from_store INTEGER NOT NULL DEFAULT 0, cancel INTEGER NOT NULL DEFAULT 0,
    taken INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, submitted);
"""


class _Queue:
    """The table and the records files under a folder."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.records_dir = self.home / "jobs"
        self.records_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.home / "jobs.sqlite"
        with self._connect() as db:
            db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        return db

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        finally:
            db.close()

    def rows(self, where: str = "", args: tuple = ()) -> list[sqlite3.Row]:
        db = self._connect()
        try:
            return db.execute(f"SELECT * FROM jobs {where}", args).fetchall()
        finally:
            db.close()

    def records_path(self, key: str) -> Path:
        return self.records_dir / f"{key}.jsonl"

    def records(self, key: str) -> list[dict]:
        try:
            lines = self.records_path(key).read_text().splitlines()
        except OSError:
            return []
        found = []
        for line in lines:
            try:
                found.append(json.loads(line))
            except ValueError:  # a line being written right now
                break
        return found


def _spec_text(spec: Any) -> str:
    return json.dumps(to_dict(spec))


def _job(row: sqlite3.Row, records: list[dict]) -> Job:
    job = Job(row["key"], row["kind"], None, estimate=row["estimate"], state=row["state"], sweep_of=row["sweep_of"],
              submitted=row["submitted"], started=row["started"], finished=row["finished"], records=records,
              error=row["error"], from_store=bool(row["from_store"]))
    return job


class SharedJobManager:
    """The job manager of one server process in a hall: the same methods as
    :class:`~resnet_viz.jobs.JobManager`, on the shared table."""

    def __init__(self, store: RunStore, home: Path, max_queue: int | None = None) -> None:
        self.store = store
        self.queue = _Queue(home)
        self.max_queue = max_queue if max_queue is not None else int(os.environ.get("RESNET_VIZ_MAX_QUEUE", "8"))

    def submit(self, kind: str, spec: Any, estimate: float | None = None) -> Job:
        experiment = experiments.get(kind)
        return self._submit(experiment.name, "", spec, self.store.key(experiment.name, spec),
                            lambda: stored_answer(experiment, spec, self.store), estimate)

    def submit_sweep(self, kind: str, spec: Any) -> Job:
        experiment = experiments.get(kind)
        return self._submit("sweep", experiment.name, spec, sweeps.key(self.store, experiment, spec),
                            lambda: sweeps.stored(self.store, experiment, spec), None)

    def _submit(self, kind: str, sweep_of: str, spec: Any, key: str, stored, estimate: float | None) -> Job:
        active = self.get(key)
        if active is not None and active.state in ACTIVE:
            return active
        result, estimate = admit(experiments.get(sweep_of or kind), spec, self.store, stored, estimate)
        if result is not None:
            job = Job(key, kind, spec, state="done", result=result, from_store=True, sweep_of=sweep_of)
            job.started = job.finished = time.time()
            return job
        with self.queue.write() as db:
            row = db.execute("SELECT state FROM jobs WHERE key = ?", (key,)).fetchone()
            if row is None or row["state"] not in ACTIVE:
                waiting = db.execute("SELECT COUNT(*) FROM jobs WHERE state = 'queued'").fetchone()[0]
                if waiting >= self.max_queue:
                    raise queue_full(waiting, self.expected_wait())
                self.store.check_writable()
                self.queue.records_path(key).unlink(missing_ok=True)
                db.execute("INSERT OR REPLACE INTO jobs (key, kind, sweep_of, spec, estimate, state, submitted) "
                           "VALUES (?, ?, ?, ?, ?, 'queued', ?)", (key, kind, sweep_of, _spec_text(spec), estimate,
                                                                    time.time()))
        return self.get(key)

    def get(self, key: str) -> Job | None:
        rows = self.queue.rows("WHERE key = ?", (key,))
        return _job(rows[0], self.queue.records(key)) if rows else None

    def jobs(self) -> list[Job]:
        return [_job(r, []) for r in self.queue.rows("ORDER BY submitted DESC")]

    def position(self, key: str) -> int | None:
        waiting = [r["key"] for r in self.queue.rows("WHERE state = 'queued' ORDER BY submitted")]
        return waiting.index(key) + 1 if key in waiting else None

    def expected_wait(self) -> float:
        total = 0.0
        for row in self.queue.rows("WHERE state IN ('queued', 'running')"):
            job = _job(row, self.queue.records(row["key"]) if row["state"] == "running" else [])
            total += job.eta() or job.estimate or 60.0
        return total

    def cancel(self, key: str) -> bool:
        with self.queue.write() as db:
            done = db.execute("UPDATE jobs SET cancel = 1 WHERE key = ? AND state IN ('queued', 'running')", (key,))
            return done.rowcount > 0


class QueueRunner:
    """The one trainer of a hall: takes the queued rows in order into a :class:`JobManager` and writes their
    state and progress back (every ``every`` seconds)."""

    def __init__(self, store: RunStore, home: Path, manager: JobManager | None = None, every: float = 0.25) -> None:
        self.queue = _Queue(home)
        self.manager = manager or JobManager(store, calibrate=True)
        self.every = every
        self._written: dict[str, int] = {}
        self._stop = threading.Event()
        with self.queue.write() as db:  # a hall stopped mid-run: its jobs did not finish (the store kept nothing of them)
            db.execute("UPDATE jobs SET state = 'interrupted', finished = ?, error = 'the server stopped while it "
                       "trained' WHERE state IN ('queued', 'running') AND taken = 1", (time.time(),))
        self._thread = threading.Thread(target=self._loop, name="resnet-viz-queue-runner", daemon=True)

    def start(self) -> "QueueRunner":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception as exc:  # noqa: BLE001 - the runner must outlive one bad row
                import logging

                logging.getLogger(__name__).warning("queue runner: %s", exc)
            self._stop.wait(self.every)

    def step(self) -> None:
        """Take new rows, then mirror every taken active job's state, records and cancel flag."""
        for row in self.queue.rows("WHERE state = 'queued' AND taken = 0 ORDER BY submitted"):
            experiment = experiments.get(row["sweep_of"] or row["kind"])
            spec = spec_from_dict(experiment.Spec, json.loads(row["spec"]))
            self._written[row["key"]] = 0
            try:
                if row["sweep_of"]:
                    self.manager.submit_sweep(experiment.name, spec)
                else:
                    self.manager.submit(experiment.name, spec, row["estimate"])
                error = ""
            except (QueueFull, ValueError) as exc:
                error = str(exc)
            with self.queue.write() as db:
                if error:
                    db.execute("UPDATE jobs SET taken = 1, state = 'failed', finished = ?, error = ? WHERE key = ?",
                               (time.time(), error, row["key"]))
                else:
                    db.execute("UPDATE jobs SET taken = 1 WHERE key = ?", (row["key"],))
        for row in self.queue.rows("WHERE state IN ('queued', 'running') AND taken = 1"):
            job = self.manager.get(row["key"])
            if job is None:
                continue
            if row["cancel"]:
                self.manager.cancel(row["key"])
            with job._lock:
                new = job.records[self._written.get(row["key"], 0):]
            if new:
                with self.queue.records_path(row["key"]).open("a") as f:
                    f.write("".join(json.dumps(r) + "\n" for r in new))
                self._written[row["key"]] = self._written.get(row["key"], 0) + len(new)
            mirrored = (job.state, job.started, job.finished, job.error, int(job.from_store))
            if mirrored != (row["state"], row["started"], row["finished"], row["error"], row["from_store"]):
                with self.queue.write() as db:  # only a change is written (a synchronous write every tick is not free)
                    db.execute("UPDATE jobs SET state = ?, started = ?, finished = ?, error = ?, from_store = ? "
                               "WHERE key = ?", (*mirrored, row["key"]))


def shared() -> bool:
    """Does this server process use the hall's shared queue?"""
    return os.environ.get(SHARED_ENV) == "shared"


__all__ = ["QueueRunner", "SHARED_ENV", "SharedJobManager", "shared"]
