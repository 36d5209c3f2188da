"""A class answering at once, at the protocol level: N students join and answer the Degradation question
within a window while the teacher's board refreshes; then the class sits idle on its pages. Prints JSON.

    python bench/load_class.py [--students 60] [--window 10] [--idle 20] [--out results.json]

No browsers: each student and the teacher is one websocket speaking Streamlit's own protocol
(``/_stcore/stream``, ``BackMsg``/``ForwardMsg`` protobufs), as in ``bench/load_protocol.py``. The
timers a browser runs for ``st.fragment(run_every=...)`` (the board's redraw, each student's watch for
the reveal) are run here the same way: the server announces them (``auto_rerun``), and the client asks
for that fragment's rerun at that interval.

Measured, on a warm server (every page opened once first):

- nothing lost: every student's answer is in the classes' database when the wave ends (read from the
  file, not from the pages);
- student page p95: from connecting to the finished page run of their answer (open the page, pick an
  option, the page acknowledges it);
- board refresh p95: the board's own redraw (its fragment run) while the students answer;
- the server's memory (RSS, sampled throughout) and its CPU while the idle class and the board sit on
  their pages (user + system time of the server process over the idle seconds).

Targets (the class issue): nothing lost, board p95 <= 2 s, student p95 <= 5 s, memory <= 2 GB, idle
CPU under one core.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import sys
import threading
import time
from pathlib import Path

from common import ROOT, emit, percentile, rss_mb as _rss_mb, streamlit_server

sys.path.insert(0, str(ROOT))


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Client:
    """One browser tab, at the protocol level."""

    def __init__(self, port: int, page: str, query: str) -> None:
        self.port, self.page, self.query = port, page, query
        self.ws = None
        self.timers: dict[str, float] = {}  # fragment id -> interval (the server's auto_rerun)
        self.radios: list[tuple[str, list[str]]] = []  # (id, the options as shown)
        self.exceptions: list[str] = []

    async def connect(self, timeout: float) -> None:
        from websockets.asyncio.client import connect

        self.ws = await asyncio.wait_for(connect(f"ws://127.0.0.1:{self.port}/_stcore/stream", subprotocols=["streamlit"],
                                                 max_size=None, origin=f"http://127.0.0.1:{self.port}"), timeout)

    async def run(self, timeout: float, widgets=None, fragment: str = "") -> float:
        """One script run (the whole page, or one fragment): seconds until it finished."""
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        start = time.perf_counter()
        msg = BackMsg()
        msg.rerun_script.page_name = self.page
        msg.rerun_script.query_string = self.query
        if fragment:
            msg.rerun_script.fragment_id = fragment
            msg.rerun_script.is_auto_rerun = True
        if widgets is not None:
            msg.rerun_script.widget_states.CopyFrom(widgets)
        await self.ws.send(msg.SerializeToString())
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), timeout)
            fwd = ForwardMsg()
            fwd.ParseFromString(raw)
            kind = fwd.WhichOneof("type")
            if kind == "auto_rerun":
                self.timers[fwd.auto_rerun.fragment_id] = fwd.auto_rerun.interval
            elif kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                element = fwd.delta.new_element
                which = element.WhichOneof("type")
                if which == "exception":
                    self.exceptions.append(f"{element.exception.type}: {element.exception.message}")
                elif which == "radio":
                    self.radios.append((element.radio.id, list(element.radio.options)))
            elif kind == "script_finished":
                status = ForwardMsg.ScriptFinishedStatus.Name(fwd.script_finished)
                if status in ("FINISHED_SUCCESSFULLY", "FINISHED_FRAGMENT_RUN_SUCCESSFULLY"):
                    return time.perf_counter() - start
                if status == "FINISHED_WITH_COMPILE_ERROR":
                    raise RuntimeError(status)

    async def choose(self, option: int, timeout: float) -> float:
        """Pick an option of the page's quiz radio (its key starts with "quiz"), as a click does."""
        from streamlit.proto.WidgetStates_pb2 import WidgetStates

        quiz = [(i, shown) for i, shown in self.radios if "quiz" in i]
        if not quiz:
            raise RuntimeError("no quiz on the page")
        widgets = WidgetStates()
        state = widgets.widgets.add()
        state.id = quiz[-1][0]
        state.string_value = quiz[-1][1][option]  # a radio's value is the option as shown (Streamlit >= 1.50)
        return await self.run(timeout, widgets)

    async def tick(self, seconds: float, timeout: float, times: list[float] | None = None) -> None:
        """Run the page's fragment timers, as a browser does, for ``seconds``."""
        end = time.perf_counter() + seconds
        due = {f: time.perf_counter() + interval for f, interval in self.timers.items()}
        while due and time.perf_counter() < end:
            fragment, at = min(due.items(), key=lambda item: item[1])
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            took = await self.run(timeout, fragment=fragment)
            if times is not None:
                times.append(took)
            due[fragment] = time.perf_counter() + self.timers.get(fragment, 2.0)


async def student(port: int, code: str, i: int, delay: float, timeout: float, out: list[dict]) -> Client:
    await asyncio.sleep(delay)
    client = Client(port, "Degradation", f"class={code}&me=bench-student-{i:04d}")
    start = time.perf_counter()
    row = {"student": i, "ok": False}
    try:
        await client.connect(timeout)
        await client.run(timeout)
        await client.choose(i % 2, timeout)
        row.update(ok=not client.exceptions, seconds=time.perf_counter() - start, exceptions=client.exceptions[:2])
    except Exception as exc:  # noqa: BLE001 - a failed student is a result
        row.update(error=f"{type(exc).__name__}: {exc}", seconds=time.perf_counter() - start)
    out.append(row)
    return client


async def session(port: int, code: str, key: str, students: int, window: float, idle: float, timeout: float,
                  pid: int) -> dict:
    teacher = Client(port, "Class", f"class={code}&key={key}")
    await teacher.connect(timeout)
    board_full = await teacher.run(timeout)
    teacher.query = f"class={code}"  # the key left the address bar after the first run (the session keeps it)
    rows: list[dict] = []
    board_times: list[float] = []
    random.seed(0)
    delays = sorted(random.uniform(0, window) for _ in range(students))
    wave_start = time.perf_counter()
    board = asyncio.create_task(teacher.tick(window + 5, timeout, board_times))
    clients = await asyncio.gather(*(student(port, code, i, d, timeout, rows) for i, d in enumerate(delays)))
    wave_s = time.perf_counter() - wave_start
    await board
    # the idle class: every student's page watches for the reveal, the board redraws itself
    cpu0, t0 = _cpu_seconds(pid), time.perf_counter()
    idle_board: list[float] = []
    live = [c for c in clients if c.ws is not None]
    await asyncio.gather(teacher.tick(idle, timeout, idle_board), *(c.tick(idle, timeout) for c in live))
    idle_cores = (_cpu_seconds(pid) - cpu0) / (time.perf_counter() - t0)
    for c in [teacher, *live]:
        await c.ws.close()
    times = [r["seconds"] for r in rows if r["ok"]]
    return {"board_first_paint_s": round(board_full, 2), "wave_s": round(wave_s, 2),
            "students_ok": len(times), "student_errors": [r.get("error") or r.get("exceptions") for r in rows
                                                          if not r["ok"]][:5],
            "student_p50_s": round(percentile(times, 0.5), 2) if times else None,
            "student_p95_s": round(percentile(times, 0.95), 2) if times else None,
            "board_refreshes": len(board_times),
            "board_refresh_p50_s": round(percentile(board_times, 0.5), 3) if board_times else None,
            "board_refresh_p95_s": round(percentile(board_times, 0.95), 3) if board_times else None,
            "idle_seconds": idle, "idle_board_refresh_p95_s": round(percentile(idle_board, 0.95), 3) if idle_board else None,
            "idle_server_cpu_cores": round(idle_cores, 3),
            "student_timers": sorted({round(v, 1) for c in live for v in c.timers.values()})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=60)
    parser.add_argument("--window", type=float, default=10.0, help="seconds over which the students arrive")
    parser.add_argument("--idle", type=float, default=20.0, help="seconds the idle class is measured")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--out")
    args = parser.parse_args()
    if not 1 <= args.students <= 500 or not 0 <= args.window <= 600 or not 1 <= args.idle <= 600:
        raise SystemExit("--students 1..500, --window 0..600 s and --idle 1..600 s")

    with streamlit_server() as (server, port, home):
        from resnet_viz.classroom import Classroom

        room = Classroom(home / "classes.sqlite")
        made = room.create("load bench")
        samples: list[float] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                samples.append(_rss_mb(server.pid))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        warm = Client(port, "Degradation", "")  # a warm server: the page's shared caches are filled

        async def warm_up() -> None:
            await warm.connect(args.timeout)
            await warm.run(args.timeout)
            await warm.ws.close()

        asyncio.run(warm_up())
        rss_warm = _rss_mb(server.pid)
        report = asyncio.run(session(port, made.code, made.teacher_key, args.students, args.window, args.idle,
                                     args.timeout, server.pid))
        stop.set()
        sampler.join()
        stored = sqlite3.connect(home / "classes.sqlite").execute(
            "SELECT COUNT(*) FROM answers WHERE code = ? AND page = 'degradation'", (made.code,)).fetchone()[0]
        report = {"students": args.students, "window_s": args.window, "machine": {"cores": os.cpu_count()},
                  "answers_stored": stored, "nothing_lost": stored == args.students,
                  "members": room.members(made.code), **report, "server_rss_warm_mb": round(rss_warm, 1),
                  "server_rss_peak_mb": round(max(samples + [rss_warm]), 1)}
        report["targets_met"] = bool(report["nothing_lost"] and (report["board_refresh_p95_s"] or 99) <= 2
                                     and (report["student_p95_s"] or 99) <= 5 and report["server_rss_peak_mb"] <= 2048
                                     and report["idle_server_cpu_cores"] < 1)
    emit(report, args.out)


if __name__ == "__main__":
    main()
