"""A lecture hall: several server processes share one job queue (a run asked for by two of them trains once,
both see its progress, the queue position is global), HAProxy in front with cookie-sticky sessions, and the
supervisor restarts what dies and stops everything on SIGTERM."""

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from resnet_viz import experiments
from resnet_viz.cli import main
from resnet_viz.jobqueue import QueueRunner, SharedJobManager
from resnet_viz.jobs import JobManager, QueueFull
from resnet_viz.protocol import Outcome, make
from resnet_viz.serve import COOKIE, haproxy_config
from resnet_viz.store import RunStore

ROOT = Path(__file__).resolve().parents[1]


def _spec(**values):
    experiment = experiments.get("train")
    return make(experiment.Spec, depth=8, width=4, steps=3, **values)


class Trainer:
    """A runner for the hall's JobManager in thread mode: counts its runs, reports steps, waits to be let go."""

    def __init__(self):
        self.calls = []
        self.go = threading.Event()

    def __call__(self, kind, spec, store, progress, cancel):
        self.calls.append((kind, spec))
        for i in range(1, 4):
            progress({"run": "ResNet-8", "done": i, "total": 3, "train_error": 0.5})
            if not self.go.wait(5) or cancel.is_set():
                break
        if cancel.is_set():
            return Outcome({"status": "cancelled", "runs": []})
        return Outcome({"status": "completed", "runs": [], "marker": len(self.calls)})


def _wait(predicate, seconds=20.0):
    end = time.time() + seconds
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def hall_queue(tmp_path):
    store = RunStore(tmp_path / "runs")
    trainer = Trainer()
    runner = QueueRunner(store, tmp_path, JobManager(store, mode="thread", runner=trainer), every=0.05).start()
    yield store, trainer, runner, [SharedJobManager(store, tmp_path) for _ in range(2)]
    trainer.go.set()
    runner.stop()


def test_a_run_asked_for_by_two_processes_trains_once_and_both_see_it(hall_queue):
    store, trainer, runner, (first, second) = hall_queue
    spec = _spec()
    a = first.submit("train", spec)
    b = second.submit("train", spec)
    assert a.key == b.key and a.state == b.state == "queued"
    assert _wait(lambda: second.get(a.key).state == "running")
    assert _wait(lambda: len(first.get(a.key).records) >= 1)  # progress reaches every process
    assert second.get(a.key).records[0]["total"] == 3 and 0 < second.get(a.key).fraction < 1
    trainer.go.set()
    assert _wait(lambda: first.get(a.key).state == "done")
    assert second.get(a.key).state == "done" and len(trainer.calls) == 1


def test_the_queue_position_is_the_halls_and_a_cancel_from_another_process_stops_the_run(hall_queue):
    store, trainer, runner, (first, second) = hall_queue
    running = first.submit("train", _spec(seed=1))
    assert _wait(lambda: first.get(running.key).state == "running")
    waiting = [first.submit("train", _spec(seed=2)), second.submit("train", _spec(seed=3))]
    assert [second.position(j.key) for j in waiting] == [1, 2] == [first.position(j.key) for j in waiting]
    assert second.cancel(running.key)
    assert _wait(lambda: runner.manager.get(running.key).cancel_event.is_set())  # the flag reached the trainer
    trainer.go.set()
    assert _wait(lambda: first.get(running.key).state == "cancelled")
    assert _wait(lambda: all(first.get(j.key).state == "done" for j in waiting))
    assert len(trainer.calls) == 3


def test_a_full_hall_queue_says_so_in_every_process(tmp_path):
    store = RunStore(tmp_path / "runs")
    managers = [SharedJobManager(store, tmp_path, max_queue=2) for _ in range(2)]
    managers[0].submit("train", _spec(seed=1))
    managers[1].submit("train", _spec(seed=2))
    with pytest.raises(QueueFull, match="The job queue is full \\(2 experiments waiting"):
        managers[0].submit("train", _spec(seed=3))


def test_jobs_of_a_stopped_hall_are_interrupted_when_it_starts_again(tmp_path):
    store = RunStore(tmp_path / "runs")
    trainer = Trainer()
    runner = QueueRunner(store, tmp_path, JobManager(store, mode="thread", runner=trainer), every=0.05).start()
    job = SharedJobManager(store, tmp_path).submit("train", _spec())
    assert _wait(lambda: SharedJobManager(store, tmp_path).get(job.key).state == "running")
    runner.stop()  # as if the supervisor died mid-run
    trainer.go.set()
    again = QueueRunner(store, tmp_path, JobManager(store, mode="thread", runner=Trainer()), every=0.05)
    found = SharedJobManager(store, tmp_path).get(job.key)
    assert found.state == "interrupted" and "stopped" in found.error
    del again


def test_the_proxy_is_sticky_by_cookie_checks_health_and_redispatches():
    config = haproxy_config("0.0.0.0", 8501, [40001, 40002])
    assert "bind 0.0.0.0:8501" in config
    assert f"cookie {COOKIE} insert indirect nocache" in config  # by cookie: a class shares one IP address
    assert "option httpchk GET /_stcore/health" in config and "option redispatch" in config
    assert "server w0 127.0.0.1:40001 check cookie w0" in config and "server w1 127.0.0.1:40002 check cookie w1" in config
    assert "timeout tunnel 1h" in config  # websockets stay open through a lesson


def test_serve_without_haproxy_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setenv("RESNET_VIZ_HAPROXY", "/nonexistent/haproxy")
    assert main(["serve", "--workers", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "apt-get install haproxy" in err and "streamlit run app.py" in err
    assert main(["serve", "--workers", "0"]) == 2
    assert "workers must be a whole number from 1 to 64" in capsys.readouterr().err


def _haproxy() -> str | None:
    import shutil

    return shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").is_file() else None)


def _children(pid: int) -> dict[int, str]:
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            if int(text.rsplit(")", 1)[1].split()[1]) == pid:
                found[int(stat.parent.name)] = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError, IndexError):
            pass
    return found


def _state(pid: int) -> str:
    try:
        return {"Z": "zombie"}.get(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0], "alive")
    except OSError:
        return "zombie"


@pytest.mark.slow
def test_a_hall_of_two_serves_through_one_address_and_heals_itself(tmp_path):
    if _haproxy() is None:
        if os.environ.get("RESNET_VIZ_REQUIRE_HAPROXY"):
            pytest.fail("HAProxy is required here (CI) but absent")
        pytest.skip("HAProxy is not installed")
    from resnet_viz.serve import spawn

    proc, port = spawn(2, tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def answers() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=3) as r:
                return r.status == 200 and COOKIE in (r.headers.get("Set-Cookie") or "")
        except OSError:
            return False

    try:
        assert _wait(answers, 180), proc.stderr.read() if proc.poll() is not None else "no answer"
        children = _children(proc.pid)
        servers = [p for p, cmd in children.items() if "streamlit" in cmd]
        proxies = [p for p, cmd in children.items() if "haproxy" in cmd]
        assert len(servers) == 2 and len(proxies) == 1
        os.kill(servers[0], signal.SIGKILL)  # a server process dies mid-lesson
        assert answers() or _wait(answers, 10)  # the other one serves meanwhile
        assert _wait(lambda: len([p for p, c in _children(proc.pid).items() if "streamlit" in c]) == 2, 30)
        os.kill(proxies[0], signal.SIGKILL)  # the proxy dies
        assert _wait(answers, 30)  # started again
        everything = list(_children(proc.pid))
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        assert proc.returncode == 0
        assert _wait(lambda: not any(Path(f"/proc/{p}").exists() and "zombie" not in _state(p) for p in everything), 10)
        log = proc.stderr.read()
        assert "started again" in log and "stopping the hall" in log
    finally:
        if proc.poll() is None:
            proc.kill()


def test_serve_on_a_port_in_use_says_so_in_one_line(capsys, monkeypatch):
    import socket

    if _haproxy() is None:
        monkeypatch.setenv("RESNET_VIZ_HAPROXY", sys.executable)  # any file: the port is checked next
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--workers", "1", "--port", str(port), "--address", "127.0.0.1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"cannot listen on 127.0.0.1:{port}" in err and "--port" in err
