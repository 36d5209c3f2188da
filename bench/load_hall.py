"""A lecture hall under load, through the proxy, at the protocol level. Prints JSON.

    python bench/load_hall.py [--workers 1,2] [--students 60,120,200] [--class-size 200] [--out hall.json]

For each worker count: ``python -m resnet_viz serve --workers W`` on a free loopback port with a fresh
RESNET_VIZ_HOME (HAProxy in front, :mod:`resnet_viz.serve`), every page opened once per server process (warm
caches), then for each class size N: N students at once, each opening every page in turn (home and the seven
lessons) over Streamlit's own websocket protocol through HAProxy (``bench/load_protocol.py``'s client). Then a
class of ``--class-size`` joins and answers the Degradation question while the teacher's board refreshes
(``bench/load_class.py``'s students and board), with every answer read back from the classes' database.

Per run: page loads per second (throughput), p50/p95 per page and overall, errors, the resident memory of
all the hall's processes together (supervisor, server processes, HAProxy, training), its peak while measured,
and the cores each kept busy (``cores_used``: the server processes, HAProxy, the supervisor and its trainer,
and this load client, which shares the machine: where they add up to the machine's cores, it is saturated).
``--hall-cpus 0`` runs the hall on CPU 0 alone and the client on the rest: a one-core machine (or a
2-vCPU VM whose vCPUs are one core's two hyperthreads), where a second server process has no core of its own.
Targets on 2 cores with 2 workers (the lecture-hall issue): no errors, throughput at least 1.6x one worker's,
200 students' p95 within twice the 60 students', memory under 4 GB.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from common import ROOT, emit, percentile, rss_mb

sys.path.insert(0, str(ROOT))
from load_protocol import open_page  # noqa: E402

PAGES = {"home": "", "Degradation": "Degradation", "Gradient flow": "Gradient_flow", "Parameters": "Parameters_and_compute",
         "Ensembles": "Ensembles", "Attributions": "Attributions", "Why identity": "Why_identity", "Landscape": "Landscape"}


def tree(pid: int) -> list[int]:
    """A process and all its descendants."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            pass
    found, todo = [pid], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, parent in parents.items() if parent == p]
        found += kids
        todo += kids
    return found


def cpu_by_role(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) so far of the hall's processes by role, and of this load client."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {"servers": 0.0, "haproxy": 0.0, "supervisor_and_trainer": 0.0}
    for p in tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            command = Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        role = "haproxy" if "haproxy" in command else "servers" if "streamlit" in command else "supervisor_and_trainer"
        found[role] += (int(fields[11]) + int(fields[12])) / tick
    used = os.times()
    found["load_client"] = used.user + used.system
    return found


def cores_used(before: dict[str, float], after: dict[str, float], wall: float) -> dict[str, float]:
    """Cores each role kept busy over ``wall`` seconds (a 2-core machine has 2.0 to share)."""
    return {role: round((after[role] - before[role]) / wall, 2) for role in after}


def tree_rss_mb(pid: int) -> float:
    return sum(v for v in (rss_mb(p) for p in tree(pid)) if v == v)


def cpu_list(text: str) -> set[int]:
    """``0`` or ``0,2`` or ``0-3``: CPUs of this machine; an error names the ones there are."""
    allowed = os.sched_getaffinity(0)
    try:
        cpus = {c for part in text.split(",") if part.strip()
                for c in (range(int(part.split("-")[0]), int(part.split("-")[-1]) + 1))}
    except ValueError:
        raise SystemExit(f"--hall-cpus takes CPU numbers like 0 or 0-1 or 0,2; got {text!r}") from None
    if not cpus or not cpus < allowed:
        raise SystemExit(f"--hall-cpus must leave this load client at least one of the CPUs {sorted(allowed)}; got {text!r}")
    return cpus


@contextmanager
def hall(workers: int, cpus: set[int] | None = None):
    """``serve --workers`` on a free port with a fresh home; yields (process, port, home) once the proxy answers.
    With ``cpus``, the hall (serve and every process it starts) runs on those CPUs only and this load client on
    the others: a machine of fewer cores (or one SMT core's two hyperthreads) that the client does not share."""
    from resnet_viz.serve import spawn, stop_process, wait_until_up

    home = Path(tempfile.mkdtemp(prefix="resnet-viz-hall-"))
    everything = os.sched_getaffinity(0)
    if cpus:
        os.sched_setaffinity(0, cpus)  # inherited by serve at its fork, and by the processes it starts
    try:
        proc, port = spawn(workers, home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finally:
        if cpus:
            os.sched_setaffinity(0, everything - cpus)
    try:
        if not wait_until_up(port, 180, proc):
            raise SystemExit(f"the hall did not start (see {home}/hall)")
        yield proc, port, home
    finally:
        stop_process(proc, 30)
        os.sched_setaffinity(0, everything)


async def student(port: int, timeout: float) -> list[dict]:
    """One student opens every page in turn."""
    return [await open_page(port, name, timeout) for name in PAGES.values()]


async def wave(port: int, students: int, timeout: float) -> list[dict]:
    rows = await asyncio.gather(*(student(port, timeout) for _ in range(students)))
    return [r for rs in rows for r in rs]


def summarize(results: list[dict], wall: float) -> dict:
    times = [r["seconds"] for r in results if r["ok"]]
    pages = {}
    for label, name in PAGES.items():
        t = [r["seconds"] for r in results if r["page"] == name and r["ok"]]
        pages[label] = {"p50_s": round(percentile(t, 0.5), 2) if t else None,
                        "p95_s": round(percentile(t, 0.95), 2) if t else None}
    return {"page_loads": len(results), "finished": len(times), "wall_s": round(wall, 2),
            "loads_per_s": round(len(times) / wall, 2), "p50_s": round(percentile(times, 0.5), 2) if times else None,
            "p95_s": round(percentile(times, 0.95), 2) if times else None,
            "error_count": sum(not r["ok"] for r in results),
            "errors": [{"page": r["page"], "error": r.get("error") or r["exceptions"]} for r in results if not r["ok"]][:5],
            "pages": pages}


def same_run(port: int, home: Path, students: int, timeout: float) -> dict:
    """``students`` press Train on the same small Degradation run at once, spread over the processes: the hall's
    queue must hold one job for it, trained once, and the store one result."""
    query = "depths=20&steps=50&width=4&nets=plain%20only"

    async def press() -> list[dict]:
        return await asyncio.gather(*(open_page(port, "Degradation", timeout, press="Train", query=query)
                                      for _ in range(students)))

    pressed = asyncio.run(press())
    db = sqlite3.connect(home / "jobs.sqlite")
    deadline = time.time() + timeout
    while time.time() < deadline:
        rows = db.execute("SELECT key, state FROM jobs WHERE kind = 'degradation'").fetchall()
        if rows and all(state not in ("queued", "running") for _key, state in rows):
            break
        time.sleep(0.5)
    db.close()
    stored = [p for p in (home / "runs").iterdir() if p.is_dir()] if (home / "runs").is_dir() else []
    return {"students_pressing": students, "pressed_ok": sum("error" not in p for p in pressed),
            "jobs": len(rows), "job_states": sorted({state for _key, state in rows}),
            "training_records": sum(1 for _ in (home / "jobs").glob("*.jsonl")),
            "runs_stored": len(stored)}


def measure(workers: int, sizes: list[int], class_size: int, timeout: float, cpus: set[int] | None = None) -> dict:
    import load_class
    from resnet_viz.classroom import Classroom

    with hall(workers, cpus) as (proc, port, home):
        samples: list[float] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                samples.append(tree_rss_mb(proc.pid))
                time.sleep(0.5)

        report = {"workers": workers, "runs": []}
        t = time.perf_counter()
        deadline = time.time() + 300  # the hall's trainer first measures this machine's training speed: let it finish
        while not (home / "throughput.json").exists() and time.time() < deadline:
            time.sleep(0.5)
        warm = asyncio.run(wave(port, 3 * workers, timeout))  # every page on every process (leastconn spreads them)
        warm += asyncio.run(wave(port, 3 * workers, timeout))
        report["warm_up_s"] = round(time.perf_counter() - t, 2)
        report["warm_up_errors"] = sum(not r["ok"] for r in warm)
        threading.Thread(target=sample, daemon=True).start()
        for n in sizes:
            samples.clear()
            t, cpu = time.perf_counter(), cpu_by_role(proc.pid)
            results = asyncio.run(wave(port, n, timeout))
            wall = time.perf_counter() - t
            run = {"students": n, **summarize(results, wall),
                   "memory_peak_mb": round(max(samples + [tree_rss_mb(proc.pid)]), 1),
                   "cores_used": cores_used(cpu, cpu_by_role(proc.pid), wall)}
            report["runs"].append(run)
            print(f"{workers} workers, {n} students: {run['loads_per_s']} loads/s, p95 {run['p95_s']} s, "
                  f"errors {run['error_count']}, memory {run['memory_peak_mb']} MB, cores {run['cores_used']}",
                  file=sys.stderr, flush=True)
        if class_size:
            room = Classroom(home / "classes.sqlite")
            made = room.create("hall bench")
            samples.clear()
            got = asyncio.run(load_class.session(port, made.code, made.teacher_key, class_size, 10.0, 10.0, timeout,
                                                 proc.pid))
            db = sqlite3.connect(home / "classes.sqlite")
            stored = db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]
            db.close()
            got.pop("idle_server_cpu_cores", None)  # of the supervisor only: not the hall's
            report["class"] = {"students": class_size, "answers_stored": stored, **got,
                               "memory_peak_mb": round(max(samples + [tree_rss_mb(proc.pid)]), 1)}
            print(f"{workers} workers, class of {class_size}: {stored} answers stored, student p95 "
                  f"{got['student_p95_s']} s, board p95 {got['board_refresh_p95_s']} s", file=sys.stderr, flush=True)
        report["same_run_on_every_process"] = same_run(port, home, 4 * workers, timeout)
        print(f"{workers} workers: {report['same_run_on_every_process']}", file=sys.stderr, flush=True)
        stop.set()
        report["processes"] = len(tree(proc.pid))
        return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts, one hall after another")
    parser.add_argument("--students", default="60,120,200", help="comma-separated class sizes")
    parser.add_argument("--class-size", type=int, default=200, help="students answering a question (0: none)")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--hall-cpus", help="run the hall on these CPUs only (e.g. 0) and this client on the rest")
    parser.add_argument("--out")
    args = parser.parse_args()
    cpus = cpu_list(args.hall_cpus) if args.hall_cpus else None
    from resnet_viz.host import physical_cores

    machine = {"cores": os.cpu_count(), "physical_cores": physical_cores(), "hall_cpus": sorted(cpus) if cpus else None}
    workers = [int(w) for w in args.workers.split(",")]
    sizes = [int(n) for n in args.students.split(",")]
    if not all(1 <= w <= 16 for w in workers) or not all(1 <= n <= 500 for n in sizes) or not 0 <= args.class_size <= 500:
        raise SystemExit("--workers 1..16, --students 1..500 each, --class-size 0..500")
    halls = [measure(w, sizes, args.class_size, args.timeout, cpus) for w in workers]
    report = {"machine": machine, "halls": halls}
    if len(halls) >= 2:
        one, more = halls[0], halls[-1]
        report["speedup"] = {str(r["students"]): round(m["loads_per_s"] / r["loads_per_s"], 2)
                             for r, m in zip(one["runs"], more["runs"])}
        report["p95_200_over_60"] = {str(h["workers"]): round(h["runs"][-1]["p95_s"] / h["runs"][0]["p95_s"], 2)
                                     for h in halls if h["runs"][0]["p95_s"]}
    emit(report, args.out)


if __name__ == "__main__":
    main()
