"""How soon a reveal reaches the students' pages, in real Chromium pages, and whether every page came
back whole. Prints JSON.

    python bench/class_reveal.py [--trials 10] [--students 3] [--out results.json]

Each trial makes a class, opens the Degradation page of ``--students`` students in their own browser
contexts, has each answer, then reveals the question (as the board's button does) and times, per
student, from the reveal until their page shows the class's answers, without a reload. A page that
does not within 15 s, or whose lesson comes back with a control emptied (the Degradation page then
says "depths must not be empty"), counts as failed. Needs Chromium at /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from common import ROOT, emit, percentile, streamlit_server

sys.path.insert(0, str(ROOT))
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--students", type=int, default=3)
    parser.add_argument("--chromium", default=os.environ.get("RESNET_VIZ_CHROMIUM", "/usr/bin/chromium"))
    parser.add_argument("--out")
    args = parser.parse_args()
    if not 1 <= args.trials <= 100 or not 1 <= args.students <= 8:
        raise SystemExit("--trials 1..100 and --students 1..8 (Chromium pages saturate 2 cores at about 8)")
    from playwright.sync_api import sync_playwright

    seconds: list[float] = []
    with streamlit_server() as (_server, port, home), sync_playwright() as pw:
        from resnet_viz.classroom import Classroom

        room = Classroom(home / "classes.sqlite")
        browser = pw.chromium.launch(executable_path=args.chromium, args=FLAGS)
        for trial in range(args.trials):
            made = room.create()
            pages = [browser.new_context().new_page() for _ in range(args.students)]
            for page in pages:
                page.goto(f"http://127.0.0.1:{port}/Degradation?class={made.code}&lang=en")
                page.get_by_text("Plain and residual nets of several depths").wait_for(timeout=60_000)
                page.get_by_text("the deeper plain net", exact=True).click()
                page.get_by_text("Your answer is stored").wait_for(timeout=30_000)
            time.sleep(trial % 3 * 0.7)  # the reveal falls anywhere in the pages' 2-second watch
            start = time.time()
            room.set_state(made.code, "degradation", "revealed", made.teacher_key)
            for page in pages:
                try:
                    page.get_by_text("The class's predictions.").wait_for(timeout=15_000)
                    seconds.append(time.time() - start)
                except Exception:  # noqa: BLE001 - not within 15 s: a failed page
                    continue
                if page.get_by_text("depths must not be empty").count():  # came back with a control emptied
                    seconds.pop()
            for page in pages:
                page.context.close()
        browser.close()
    n = args.trials * args.students
    failed = n - len(seconds)
    emit({"trials": args.trials, "students": args.students, "pages": n, "whole_pages": len(seconds), "failed": failed,
          "reveal_to_page_p50_s": round(percentile(seconds, 0.5), 2) if seconds else None,
          "reveal_to_page_p95_s": round(percentile(seconds, 0.95), 2) if seconds else None,
          "reveal_to_page_max_s": round(max(seconds), 2) if seconds else None,
          "note": "per student, measured one after another: later students' times include the wait for earlier ones"},
         args.out)


if __name__ == "__main__":
    main()
