"""The lecture hall in a real browser: a student's server process is killed (kill -9) after they answered; their
page reconnects through HAProxy to a live process and still shows their stored answer, and a run asked for on one
process is the same job on the other."""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from resnet_viz.classroom import Classroom

from .conftest import ARTIFACTS, assert_no_exception, wait_for_app

ROOT = Path(__file__).resolve().parents[2]


def _haproxy() -> bool:
    import shutil

    return bool(shutil.which("haproxy") or Path("/usr/sbin/haproxy").is_file())


@pytest.fixture
def hall(tmp_path):
    if not _haproxy():
        if os.environ.get("RESNET_VIZ_REQUIRE_HAPROXY"):
            pytest.fail("HAProxy is required here (CI) but absent")
        pytest.skip("HAProxy is not installed")
    from resnet_viz.serve import spawn, stop_process, wait_until_up

    proc, port = spawn(2, tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if not wait_until_up(port, 180, proc):
        proc.kill()
        pytest.fail("the hall did not start")
    yield {"url": f"http://127.0.0.1:{port}", "home": tmp_path, "pid": proc.pid}
    stop_process(proc, 60)


def _server_pid(home: Path, name: str) -> int:
    """The pid of the hall's server process that HAProxy calls ``name`` (w0, w1)."""
    config = (home / "hall" / "haproxy.cfg").read_text()
    port = re.search(rf"server {name} 127\.0\.0\.1:(\d+)", config).group(1)
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "streamlit run" in text and f"--server.port {port} " in text + " ":
            return int(cmdline.parent.name)
    raise AssertionError(f"no server process on port {port}")


def test_a_student_whose_process_dies_reconnects_and_keeps_the_answer(hall, browser):
    room = Classroom(hall["home"] / "classes.sqlite")
    made = room.create("hall")
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    student = context.new_page()
    try:
        student.goto(f"{hall['url']}/Degradation?class={made.code}&lang=zh&me=hall-student-1")
        student.get_by_text("不同深度的普通网络和残差网络").wait_for(timeout=90_000)
        student.get_by_text("更深的普通网络", exact=True).click()
        student.get_by_text("你的回答已存储").wait_for(timeout=30_000)
        sticky = next(c["value"] for c in context.cookies() if c["name"] == "RVSERVER")
        os.kill(_server_pid(hall["home"], sticky), signal.SIGKILL)
        time.sleep(3)
        student.reload()  # the page (or Streamlit's own reconnect) reaches a live process through the proxy
        student.get_by_text("你的回答已存储").wait_for(timeout=90_000)
        wait_for_app(student)
        assert student.get_by_text("更深的普通网络").count() >= 1
        assert sum(room.counts(made.code, "degradation", 2)) == 1  # one student, one stored answer
        assert_no_exception(student)
        ARTIFACTS.mkdir(exist_ok=True)
        student.screenshot(path=str(ARTIFACTS / "hall_reconnected_zh.png"), full_page=True)
    finally:
        context.close()
