"""Class-sized load at the protocol level: N students open the pages at once. Prints JSON.

    python bench/load_protocol.py --sessions 1,30,60 [--job] [--cold] [--out results.json]

No browsers: each student is one websocket speaking Streamlit's own protocol (``/_stcore/stream``,
``BackMsg``/``ForwardMsg`` protobufs, as the front end does), so 60-100 students fit on one small
machine beside the server. A student connects, asks for a page (``rerun_script`` with the page's
name) and waits for ``script_finished``: the *time to a finished page* is from connecting to that
message, with every element of the page computed and sent. Elements that are exceptions count as
errors, and so do pages that do not finish within the timeout.

The server is the real ``streamlit run app.py`` on a free loopback port, with a fresh
RESNET_VIZ_HOME. Unless ``--cold``, every page is opened once first (a warm server: shared caches
filled, as after the teacher's own check). ``--job`` first presses *Train* on the Degradation page
(the button's widget id is read from the page, as the browser does) and measures while that job
trains. The server's memory (RSS, the server process only; jobs run in their own processes) is
sampled throughout.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
from pathlib import Path

from common import ROOT, emit, percentile, rss_mb as _rss_mb, streamlit_server

PAGES = {"home": "", "Degradation": "Degradation", "Gradient flow": "Gradient_flow",
         "Parameters": "Parameters_and_compute", "Ensembles": "Ensembles", "Attributions": "Attributions"}



async def open_page(port: int, page_name: str, timeout: float, press: str | None = None, query: str = "") -> dict:
    """One student: connect, ask for a page, wait until the script run is finished.

    With ``press``, then press the button with that label (like a click) and wait for that run too.
    """
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from websockets.asyncio.client import connect  # installed with streamlit's server

    start = time.perf_counter()
    out = {"page": page_name, "exceptions": [], "ok": False}
    try:
        ws = await asyncio.wait_for(connect(f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit"],
                                            max_size=None, origin=f"http://127.0.0.1:{port}"), timeout)
    except Exception as exc:  # noqa: BLE001 - a refused connection is a result
        out["error"] = f"connect: {type(exc).__name__}: {exc}"
        return out

    async def run(widgets=None) -> tuple[bool, list]:
        msg = BackMsg()
        msg.rerun_script.page_name = page_name
        msg.rerun_script.query_string = query
        if widgets is not None:
            msg.rerun_script.widget_states.CopyFrom(widgets)
        await ws.send(msg.SerializeToString())
        buttons = []
        while True:
            raw = await asyncio.wait_for(ws.recv(), timeout - (time.perf_counter() - start))
            fwd = ForwardMsg()
            fwd.ParseFromString(raw)
            kind = fwd.WhichOneof("type")
            if kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                element = fwd.delta.new_element
                which = element.WhichOneof("type")
                if which == "exception":
                    out["exceptions"].append(f"{element.exception.type}: {element.exception.message}")
                elif which == "button":
                    buttons.append((element.button.label, element.button.id))
            elif kind == "script_finished":
                status = ForwardMsg.ScriptFinishedStatus.Name(fwd.script_finished)
                if status == "FINISHED_SUCCESSFULLY":
                    return True, buttons
                if status in ("FINISHED_WITH_COMPILE_ERROR",):
                    return False, buttons

    try:
        ok, buttons = await run()
        out["seconds"] = time.perf_counter() - start
        out["ok"] = ok and not out["exceptions"]
        if press:
            from streamlit.proto.WidgetStates_pb2 import WidgetStates

            ids = [i for label, i in buttons if label == press]
            if not ids:
                out["error"] = f"no button {press!r} on the page"
                out["ok"] = False
            else:
                widgets = WidgetStates()
                state = widgets.widgets.add()
                state.id = ids[0]
                state.trigger_value = True
                await run(widgets)
    except Exception as exc:  # noqa: BLE001
        out["error"] = f"{type(exc).__name__}: {exc}"
        out["seconds"] = time.perf_counter() - start
    finally:
        await ws.close()
    return out


async def wave(port: int, sessions: int, timeout: float) -> list[dict]:
    """``sessions`` students at once, spread over the pages; one student visits every page in turn."""
    names = list(PAGES.values())
    if sessions == 1:
        return [await open_page(port, name, timeout) for name in names]
    return await asyncio.gather(*(open_page(port, names[i % len(names)], timeout) for i in range(sessions)))


def summarize(results: list[dict]) -> dict:
    by_page = {}
    for label, name in PAGES.items():
        rows = [r for r in results if r["page"] == name]
        if not rows:
            continue
        times = [r["seconds"] for r in rows if r["ok"]]
        by_page[label] = {"sessions": len(rows), "finished": len(times),
                          "p50_s": round(percentile(times, 0.5), 2) if times else None,
                          "p95_s": round(percentile(times, 0.95), 2) if times else None}
    times = [r["seconds"] for r in results if r["ok"]]
    return {"sessions": len(results), "finished": len(times),
            "p50_s": round(percentile(times, 0.5), 2) if times else None,
            "p95_s": round(percentile(times, 0.95), 2) if times else None,
            "max_s": round(max(times), 2) if times else None,
            "errors": [{"page": r["page"], "error": r.get("error") or r["exceptions"]} for r in results if not r["ok"]][:10],
            "error_count": sum(not r["ok"] for r in results), "pages": by_page}


def _children(pid: int) -> int:
    """Processes started by the server (its job and measuring processes)."""
    count = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                count += 1
        except (OSError, ValueError, IndexError):
            pass
    return count


def measure(port: int, args: argparse.Namespace, samples: list[float], pid: int, home: Path) -> dict:
    """The warm-up, the job, then each class size in turn."""
    report = {"machine": {"cores": os.cpu_count()}, "warm": not args.cold, "job": args.job, "runs": []}
    start_rss = _rss_mb(pid)
    if not args.cold:
        t = time.perf_counter()
        warm = asyncio.run(wave(port, len(PAGES), args.timeout))
        report["warm_up"] = {"seconds": round(time.perf_counter() - t, 2), "errors": summarize(warm)["errors"]}
        deadline = time.time() + 120  # a warm server has also measured its training speed (one worker process)
        while not (home / "throughput.json").exists() and (Path(args.root) / "resnet_viz" / "cost.py").exists() \
                and time.time() < deadline:
            time.sleep(0.5)
    if args.job:
        pressed = asyncio.run(open_page(port, "Degradation", args.timeout, press="Train"))
        report["job_pressed"] = pressed.get("error", "ok")
        time.sleep(5)  # the job's process starts and trains
    report["rss_before_mb"] = round(_rss_mb(pid), 1)
    for n in (int(x) for x in args.sessions.split(",")):
        samples.clear()
        t = time.perf_counter()
        results = asyncio.run(wave(port, n, args.timeout))
        run = {"wall_s": round(time.perf_counter() - t, 2), **summarize(results),
               "server_rss_peak_mb": round(max(samples + [_rss_mb(pid)]), 1),
               "server_rss_after_mb": round(_rss_mb(pid), 1), "server_child_processes": _children(pid)}
        report["runs"].append(run)
        print(f"{n} sessions: p50 {run['p50_s']} s, p95 {run['p95_s']} s, errors {run['error_count']}, "
              f"peak RSS {run['server_rss_peak_mb']} MB", file=sys.stderr, flush=True)
    report["rss_start_mb"] = round(start_rss, 1)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", default="1,30,60", help="comma-separated class sizes, run one after another")
    parser.add_argument("--job", action="store_true", help="press Train on the Degradation page first")
    parser.add_argument("--cold", action="store_true", help="do not open every page once before measuring")
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument("--root", default=str(ROOT), help="the checkout whose app.py is served (e.g. an older commit)")
    parser.add_argument("--out")
    args = parser.parse_args()

    samples: list[float] = []
    stop = threading.Event()
    with streamlit_server(Path(args.root)) as (server, port, home):
        def sample() -> None:
            while not stop.is_set():
                samples.append(_rss_mb(server.pid))
                time.sleep(0.2)

        threading.Thread(target=sample, daemon=True).start()
        try:
            report = measure(port, args, samples, server.pid, home)
        finally:
            stop.set()
    emit(report, args.out)


if __name__ == "__main__":
    main()
