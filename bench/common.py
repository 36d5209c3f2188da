"""What every benchmark shares: print the result as JSON, and keep a copy when asked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]


def emit(result: dict, out: str | None) -> None:
    text = json.dumps(result, indent=1)
    print(text)
    if out:
        Path(out).write_text(text)


def rss_mb(pid: int) -> float:
    """A process's resident memory (VmRSS) in MB; NaN once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))]


@contextmanager
def streamlit_server(root: Path = ROOT) -> Iterator[tuple[subprocess.Popen, int, Path]]:
    """``streamlit run app.py`` of ``root`` on a free loopback port with a fresh RESNET_VIZ_HOME;
    yields (process, port, home) once its health check answers, and stops it afterwards."""
    sys.path.insert(0, str(ROOT))
    from resnet_viz.serve import free_port, stop_process, wait_until_up

    home = Path(tempfile.mkdtemp(prefix="resnet-viz-load-"))
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(Path(root) / "app.py"),
                               "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port",
                               str(port), "--browser.gatherUsageStats", "false"],
                              cwd=root, env={**os.environ, "RESNET_VIZ_HOME": str(home), "PYTHONPATH": str(root)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not wait_until_up(port, 60, server):
            raise SystemExit("the server did not start within 60 s")
        yield server, port, home
    finally:
        stop_process(server, 20)
