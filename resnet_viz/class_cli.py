"""``python -m resnet_viz class ...``: make, show, export and delete classes from a terminal.

The CLI runs on the server's host with the classes' database (:mod:`resnet_viz.classroom`) in
RESNET_VIZ_HOME, so it acts as the host: ``show``, ``export`` and ``delete`` need no teacher key
(whoever can run it can read the file). The teacher key it prints on ``create`` is for the board.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from .classroom import HOST, Classroom, check_code, links


def _hours(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of hours, e.g. 12 or 1.5; got {text!r}") from None


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a whole number from 1 to 65535; got {text!r}")
    return port


def cmd_create(args: argparse.Namespace) -> int:
    from .host import public_url

    created = Classroom().create(args.title, args.expires_hours)
    base, local = public_url(args.port, args.url or None)
    student, teacher = links(base, created.code, created.teacher_key)
    expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created.expires))
    if local:
        print(f"warning: {base} only works on this computer: students' devices cannot open it. Set "
              "RESNET_VIZ_PUBLIC_URL (or pass --url) to the address they reach.", file=sys.stderr)
    payload = {"code": created.code, "teacher_key": created.teacher_key, "student_url": student,
               "teacher_url": teacher, "expires": expires}
    if args.json:
        print(json.dumps(payload, indent=2))
    else:
        print(f"class {created.code} (ends {expires})\nstudents: {student}\nteacher (keep it private): {teacher}")
    return 0


def show(code: str) -> dict[str, Any]:
    """A class as the board shows it: members, every question's state and counts, the sweep's runs."""
    from . import experiments
    from . import sweep as sweeps
    from .store import RunStore
    from .paths import home

    room = Classroom()
    info = room.find(code)
    states = room.states(info.code)
    questions = []
    for experiment in experiments.EXPERIMENTS.values():
        if experiment.quiz is None:
            continue
        counts = room.counts(info.code, experiment.name, len(experiment.quiz.options))
        questions.append({"page": experiment.name, "state": states.get(experiment.name, "open"),
                          "options": list(experiment.quiz.options), "counts": counts, "answers": sum(counts)})
    runs: list[dict] = []
    if info.sweep:
        _experiment, _spec, units = sweeps.of_settings(RunStore(home() / "runs"), info.sweep["kind"], info.sweep["values"])
        runs = sweeps.run_rows(units, {a["unit"]: a["nickname"] for a in room.assignments(info.code)})
    return {"code": info.code, "title": info.title, "members": room.members(info.code), "questions": questions,
            "runs": runs, "sweep": info.sweep,
            "expires": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(info.expires))}


def cmd_show(args: argparse.Namespace) -> int:
    found = show(args.code)
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    print(f"class {found['code']}{': ' + found['title'] if found['title'] else ''} · {found['members']} joined · "
          f"ends {found['expires']}")
    for q in found["questions"]:
        print(f"{q['page']:<12} {q['state']:<9} " + "  ".join(f"{o}: {n}" for o, n in zip(q["options"], q["counts"])))
    if found["sweep"]:
        print(f"sweep {found['sweep']['kind']} {found['sweep']['values']}: {len(found['runs'])} runs stored")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from . import experiments

    out = Path(args.out)
    if out.is_dir() or not out.parent.is_dir():
        raise ValueError(f"--out must be a file in an existing folder; got {args.out!r}")
    options = {e.name: list(e.quiz.options) for e in experiments.EXPERIMENTS.values() if e.quiz is not None}
    text = Classroom().export_csv(args.code, HOST, options)
    out.write_text(text, encoding="utf-8")
    print(f"{max(0, text.count(chr(10)) - 1)} answers written to {out}")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    code = check_code(args.code)
    Classroom().delete(code, HOST)
    print(f"class {code} deleted with its answers")
    return 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser("class", help="classes: predict and reveal together, a teacher's board (the Class page)",
                       description="Make a class for the dashboard's Class page, show its answers, export or delete it.")
    kinds = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    q = kinds.add_parser("create", help="make a class: its code, the students' and the teacher's links")
    q.add_argument("--title", default="", help="shown on the board and to the students (at most 80 characters)")
    q.add_argument("--expires-hours", type=_hours, default=12.0,
                   help="the class and its answers are deleted after this many hours (0.1 to 336; default 12)")
    q.add_argument("--url", default="", help="the dashboard's address as students reach it (default: "
                                             "RESNET_VIZ_PUBLIC_URL, else this machine's network address)")
    q.add_argument("--port", type=_port, default=8501, help="the dashboard's port, when --url is not given")
    q.add_argument("--json", action="store_true", help="print JSON")
    q.set_defaults(func=cmd_create)
    q = kinds.add_parser("show", help="members, every question's state and counts, the runs of the class's sweep")
    q.add_argument("code", help="the class code")
    q.add_argument("--json", action="store_true", help="print JSON")
    q.set_defaults(func=cmd_show)
    q = kinds.add_parser("export", help="every answer as CSV")
    q.add_argument("code", help="the class code")
    q.add_argument("--out", required=True, help="the CSV file to write")
    q.set_defaults(func=cmd_export)
    q = kinds.add_parser("delete", help="delete a class with its answers")
    q.add_argument("code", help="the class code")
    q.set_defaults(func=cmd_delete)
