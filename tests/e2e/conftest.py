"""A real streamlit server and a real Chromium (Debian's, driven by Playwright).

Locally the browser tests are skipped when /usr/bin/chromium is absent; CI sets
RESNET_VIZ_REQUIRE_BROWSER=1, which turns a missing browser into a failure. A failing test leaves a
screenshot in test-artifacts/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from resnet_viz.serve import free_port, stop_process, wait_until_up

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("RESNET_VIZ_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--disable-quic", "--no-first-run"]


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if os.environ.get("RESNET_VIZ_REQUIRE_BROWSER") == "1":
        pytest.fail(f"Chromium is required (RESNET_VIZ_REQUIRE_BROWSER=1) but {CHROMIUM} is missing: "
                    "apt-get install -y chromium")
    pytest.skip(f"no Chromium at {CHROMIUM}")


@pytest.fixture(scope="session")
def server(tmp_path_factory, chromium_path):
    """`streamlit run app.py` on a free loopback port, with its own RESNET_VIZ_HOME."""
    home = tmp_path_factory.mktemp("server-home")
    port = free_port()
    env = {**os.environ, "RESNET_VIZ_HOME": str(home)}
    log = open(home / "server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    if not wait_until_up(port, 60, proc):
        proc.kill()
        pytest.fail(f"streamlit did not start: {(home / 'server.log').read_text()[-2000:]}")
    yield {"url": url, "home": home, "proc": proc}
    stop_process(proc, 10)
    log.close()


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path, args=FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    yield pg
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def pytest_collection_modifyitems(items):
    """Every test here starts a server and a browser: the slow tier."""
    for item in items:
        if "e2e" in item.path.parts:
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


def wait_for_app(pg, timeout: float = 60.0) -> None:
    """Wait until streamlit has finished the script run: no "running" indicator, no skeleton, for 1 s."""
    busy = ("() => !!document.querySelector('[data-testid=\"stStatusWidget\"]')"
            " || !!document.querySelector('[data-testid=\"stSkeleton\"]')")
    pg.wait_for_selector('[data-testid="stApp"]', timeout=timeout * 1000)
    deadline, quiet_since = time.time() + timeout, None
    while time.time() < deadline:
        if pg.evaluate(busy):
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.time()
        elif time.time() - quiet_since > 1.0:
            return
        time.sleep(0.1)
    raise AssertionError(f"the page kept running for more than {timeout:.0f} s")


def assert_no_exception(pg) -> None:
    boxes = pg.locator('[data-testid="stException"]')
    assert boxes.count() == 0, boxes.first.inner_text()


__all__ = ["assert_no_exception", "wait_for_app", "shutil"]
