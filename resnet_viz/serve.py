"""A lecture hall: ``python -m resnet_viz serve [--workers N] [--port P]``.

N Streamlit server processes (default: the machine's cores) on loopback ports, HAProxy in front of them on one
address, and this process supervising both and training every job of the hall (:mod:`resnet_viz.jobqueue`).

Why HAProxy. A Streamlit session lives in one server process, so every request of a student (the websocket, and
the files a page serves: downloads, images) must reach the same process. A school network puts a whole class
behind one IP address, so stickiness by address would send everyone to one process; it must be by cookie.
HAProxy's open-source edition inserts and honours such a cookie (``cookie ... insert``), passes websockets
through, checks each server's health actively (``option httpchk`` on Streamlit's ``/_stcore/health``) and sends
a student whose process died to a live one (``option redispatch``). nginx's open-source edition has only
address- or hash-based stickiness (cookie stickiness is NGINX Plus) and passive health checks.

Faults. A server process that dies is started again on its port; its students' pages reconnect to a live
process meanwhile (their answers and runs are in the shared SQLite files and the run store). HAProxy that dies
is started again. Ctrl-C or SIGTERM stops everything: the proxy, the servers, the training.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from .paths import home

ROOT = Path(__file__).resolve().parents[1]
MISSING = ("serve needs HAProxy in front of its server processes: install it with `apt-get install haproxy` "
           "(Debian, Ubuntu), `dnf install haproxy` (Fedora) or `brew install haproxy` (macOS); one process needs "
           "none: streamlit run app.py")
COOKIE = "RVSERVER"


def _die_with_parent() -> None:
    """In a child, before exec: on Linux, a SIGTERM when the supervisor dies, even by kill -9, so no server or
    proxy is left holding the hall's port."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def haproxy_binary() -> str:
    """The haproxy executable (RESNET_VIZ_HAPROXY, else on PATH or in /usr/sbin)."""
    found = os.environ.get("RESNET_VIZ_HAPROXY") or shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(found).is_file():
        raise ValueError(MISSING)
    return found


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen, grace: float) -> None:
    """SIGTERM, then SIGKILL if it has not ended within ``grace`` seconds."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()


def haproxy_config(address: str, port: int, servers: list[int], stats: int | None = None) -> str:
    """The proxy: one frontend, the servers with a sticky cookie, health checks and redispatch."""
    lines = ["global", "    maxconn 4000", "", "defaults", "    mode http", "    option http-server-close",
             "    timeout connect 5s", "    timeout client 1h", "    timeout server 1h", "    timeout tunnel 1h",
             "    timeout http-request 30s", "    option redispatch", "    retries 3", "",
             "frontend hall", f"    bind {address}:{port}", "    default_backend streamlit", "",
             "backend streamlit", "    balance leastconn",
             f"    cookie {COOKIE} insert indirect nocache httponly",
             "    option httpchk GET /_stcore/health", "    http-check expect status 200",
             # a busy server answers its health check late (a Python process serving a class holds its GIL):
             # only a dead one (refused at once) or one silent for 20 s is taken out; a refused connection is
             # retried on another server meanwhile (redispatch)
             "    timeout check 20s", "    default-server inter 2s fall 3 rise 1"]
    lines += [f"    server w{i} 127.0.0.1:{p} check cookie w{i}" for i, p in enumerate(servers)]
    if stats:
        lines += ["", "frontend stats", f"    bind 127.0.0.1:{stats}", "    stats enable", "    stats uri /"]
    return "\n".join(lines) + "\n"


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def wait_until_up(port: int, seconds: float, proc: subprocess.Popen | None = None) -> bool:
    """Does a Streamlit server (or the hall's proxy) on this loopback port answer its health check within
    ``seconds``? False at once when ``proc``, the process that should answer, has ended."""
    deadline = time.time() + seconds
    while not _healthy(port):
        if (proc is not None and proc.poll() is not None) or time.time() > deadline:
            return False
        time.sleep(0.3)
    return True


def spawn(workers: int, folder: Path, port: int | None = None, **popen) -> tuple[subprocess.Popen, int]:
    """``python -m resnet_viz serve`` on loopback (a free port unless given) with RESNET_VIZ_HOME ``folder``, as
    the benchmarks and tests start a hall; returns (process, port)."""
    port = port or free_port()
    env = {**os.environ, "RESNET_VIZ_HOME": str(folder),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
    proc = subprocess.Popen([sys.executable, "-m", "resnet_viz", "serve", "--workers", str(workers), "--port", str(port),
                             "--address", "127.0.0.1"], cwd=ROOT, env=env, **popen)
    return proc, port


@dataclass
class Hall:
    """The supervisor: start, watch (restart what dies), stop."""

    workers: int
    port: int
    address: str = "0.0.0.0"
    folder: Path = field(default_factory=lambda: home() / "hall")
    log: object = sys.stderr
    servers: list[subprocess.Popen] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    proxy: subprocess.Popen | None = None
    runner: object = None
    restarts: int = 0

    def _server(self, port: int) -> subprocess.Popen:
        from .jobqueue import SHARED_ENV

        env = {**os.environ, SHARED_ENV: "shared", "RESNET_VIZ_HOME": str(home()),
               "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)}
        out = open(self.folder / f"server-{port}.log", "ab")
        return subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless",
                                 "true", "--server.address", "127.0.0.1", "--server.port", str(port),
                                 "--browser.serverPort", str(self.port),  # links for the class: the hall's port
                                 "--browser.gatherUsageStats", "false"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)

    def _proxy(self) -> subprocess.Popen:
        config = self.folder / "haproxy.cfg"
        config.write_text(haproxy_config(self.address, self.port, self.ports))
        out = open(self.folder / "haproxy.log", "ab")
        return subprocess.Popen([haproxy_binary(), "-db", "-f", str(config)], stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=_die_with_parent)

    def start(self, timeout: float = 120.0) -> "Hall":
        from .jobqueue import QueueRunner
        from .store import RunStore

        haproxy_binary()  # refused before anything starts
        self.folder.mkdir(parents=True, exist_ok=True)
        self.ports = [free_port() for _ in range(self.workers)]
        self.servers = [self._server(p) for p in self.ports]
        deadline = time.time() + timeout
        if not all(wait_until_up(p, max(0.0, deadline - time.time()), s) for p, s in zip(self.ports, self.servers)):
            self.stop()
            raise RuntimeError(f"a server process did not start; see {self.folder}/server-*.log")
        self.proxy = self._proxy()
        time.sleep(0.3)
        if self.proxy.poll() is not None:
            self.stop()
            raise RuntimeError(f"HAProxy did not start; see {self.folder}/haproxy.log")
        self.runner = QueueRunner(RunStore(home() / "runs"), home()).start()
        return self

    def check(self) -> list[str]:
        """Restart what died; returns what was restarted (one line each)."""
        said = []
        for i, server in enumerate(self.servers):
            if server.poll() is not None:
                self.servers[i] = self._server(self.ports[i])
                self.restarts += 1
                said.append(f"server process {i + 1} (port {self.ports[i]}) stopped ({server.returncode}); started again")
        if self.proxy is not None and self.proxy.poll() is not None:
            code = self.proxy.returncode
            self.proxy = self._proxy()
            self.restarts += 1
            said.append(f"HAProxy stopped ({code}); started again")
        return said

    def stop(self) -> None:
        if self.runner is not None:
            self.runner.stop()
            for job in self.runner.manager.jobs():
                self.runner.manager.cancel(job.key)
        for p in [self.proxy, *self.servers]:
            if p is not None and p.poll() is None:
                p.terminate()
        for p in [self.proxy, *self.servers]:
            if p is not None:
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()

    def serve_forever(self) -> None:
        stop = {"now": False}

        def handler(signum, _frame):
            stop["now"] = True

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
        try:
            while not stop["now"]:
                for line in self.check():
                    print(line, file=self.log, flush=True)
                time.sleep(1.0)
        finally:
            print("stopping the hall: proxy, servers, training", file=self.log, flush=True)
            self.stop()


__all__ = ["COOKIE", "Hall", "MISSING", "free_port", "haproxy_binary", "haproxy_config", "spawn", "stop_process",
           "wait_until_up"]
