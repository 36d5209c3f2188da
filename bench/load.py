"""Load: 30 students open the dashboard at once while a job trains. Prints JSON.

    python bench/load.py [--sessions 30] [--chromium /usr/bin/chromium] [--out load.json]

Starts the real server on a free port with a fresh RESNET_VIZ_HOME, starts the degradation preset
training from one browser session, then opens ``--sessions`` sessions at once (one Chromium, one
context each), spread over every page. Per page it reports the time to first render (the page's
title is on screen) and to its first result (a plot, a metric or the image grid), p50 and p95.
Four of the sessions press Train on the same settings: the run store must hold one run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from pathlib import Path

from common import ROOT, emit, percentile, streamlit_server



FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]



async def open_page(browser, url: str, press_train: bool) -> dict:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    start = time.perf_counter()
    result = {"url": url}
    try:
        await page.goto(url, timeout=180_000)
        await page.locator("h1").first.wait_for(timeout=180_000)
        result["first_render_s"] = time.perf_counter() - start
        await page.locator(".js-plotly-plot, [data-testid='stMetric'], [data-testid='stImage']").first.wait_for(
            timeout=180_000)  # the page's first result (a plot, a number or the image grid)
        result["content_s"] = time.perf_counter() - start
        boxes = page.locator('[data-testid="stException"]')
        result["exceptions"] = await boxes.count()
        if result["exceptions"]:
            result["exception_text"] = (await boxes.first.inner_text())[:300]
        if press_train:
            await page.get_by_role("button", name="Train").click(timeout=120_000)
            await page.get_by_text("Run 1/").first.wait_for(timeout=60_000)
    except Exception as exc:  # noqa: BLE001 - a failed session is a result, not a crash
        result["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    finally:
        await context.close()
    return result


async def run(url: str, sessions: int, chromium: str, home: Path) -> dict:
    from playwright.async_api import async_playwright

    slugs = [""] + [p.stem.split("_", 1)[1] for p in sorted((ROOT / "pages").glob("*.py"))]
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=FLAGS, headless=True)
        first = await open_page(browser, f"{url}/Degradation", press_train=True)  # a job is now training
        tasks = [open_page(browser, f"{url}/{slugs[i % len(slugs)]}", press_train=False)
                 for i in range(sessions)]
        train_clicks = [open_page(browser, f"{url}/Degradation", press_train=True) for _ in range(4)]
        start = time.perf_counter()
        results = await asyncio.gather(*tasks, *train_clicks)
        wall = time.perf_counter() - start
        await browser.close()
    runs = [p for p in (home / "runs").iterdir() if p.is_dir()] if (home / "runs").is_dir() else []
    per_page: dict[str, dict] = {}
    for r in results[:sessions]:
        page = r["url"].rsplit("/", 1)[-1] or "home"
        entry = per_page.setdefault(page, {"first": [], "content": [], "errors": 0, "exceptions": 0})
        if "error" in r:
            entry["errors"] += 1
            continue
        entry["first"].append(r["first_render_s"])
        entry["content"].append(r["content_s"])
        entry["exceptions"] += r["exceptions"]
    report = {page: {"sessions": len(v["first"]) + v["errors"], "errors": v["errors"], "exception_boxes": v["exceptions"],
                     "first_render_p50_s": round(statistics.median(v["first"]), 2) if v["first"] else None,
                     "first_render_p95_s": round(percentile(v["first"], 0.95), 2) if v["first"] else None,
                     "first_result_p50_s": round(statistics.median(v["content"]), 2) if v["content"] else None,
                     "first_result_p95_s": round(percentile(v["content"], 0.95), 2) if v["content"] else None}
              for page, v in per_page.items()}
    return {"sessions": sessions, "wall_s": round(wall, 1), "job_started": "error" not in first,
            "train_presses_on_the_same_settings": 1 + len(train_clicks),
            "train_press_errors": [r.get("error") for r in results[sessions:] if "error" in r],
            "exception_texts": [r["exception_text"] for r in results if "exception_text" in r],
            "runs_in_store": len(runs), "pages": report}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--chromium", default=os.environ.get("RESNET_VIZ_CHROMIUM", "/usr/bin/chromium"))
    parser.add_argument("--out")
    args = parser.parse_args()
    with streamlit_server() as (_, port, home):
        result = asyncio.run(run(f"http://127.0.0.1:{port}", args.sessions, args.chromium, home))
    emit(result, args.out)


if __name__ == "__main__":
    main()
