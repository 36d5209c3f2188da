"""The class as one: classes, answers, states and keys in SQLite; the pages in class mode; the board;
the quiz's feedback for every possible result; the ``class`` CLI."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import pytest

from conftest import ROOT, app
from resnet_viz import experiments
from resnet_viz.classroom import CODE_ALPHABET, HOST, Classroom, NotTeacher, check_code, clean_nickname

QUIZ_PAGES = {"degradation": "pages/1_Degradation.py", "gradients": "pages/2_Gradient_flow.py",
              "lesion": "pages/4_Ensembles.py", "shortcuts": "pages/6_Why_identity.py", "landscape": "pages/7_Landscape.py"}


@pytest.fixture
def room():
    return Classroom()


# --- the database ----------------------------------------------------------------------------------------

def test_a_class_has_a_short_code_and_a_secret_key_and_only_the_key_is_a_teacher(room):
    c = room.create("Week 5")
    assert len(c.code) == 6 and set(c.code) <= set(CODE_ALPHABET) and len(c.teacher_key) >= 30
    assert room.is_teacher(c.code, c.teacher_key)
    for wrong in ("", None, c.teacher_key[:-1], c.teacher_key + "x", c.code):
        assert not room.is_teacher(c.code, wrong)
    stored = sqlite3.connect(room.path).execute("SELECT key_hash FROM classes").fetchone()[0]
    assert c.teacher_key not in stored  # only its SHA-256 is kept
    other = room.create()
    assert not room.is_teacher(other.code, c.teacher_key)  # one class's key opens no other class


@pytest.mark.parametrize("action", ["open", "closed", "revealed", "reset", "export", "delete", "sweep"])
def test_every_teacher_action_needs_the_key_and_a_wrong_key_changes_nothing(room, action):
    c = room.create()
    room.join(c.code, "student-0001")
    room.answer(c.code, "degradation", "student-0001", 1, 2)
    calls = {"reset": lambda k: room.reset(c.code, "degradation", k),
             "export": lambda k: room.export_csv(c.code, k), "delete": lambda k: room.delete(c.code, k),
             "sweep": lambda k: room.set_sweep(c.code, k, "degradation", {"depths": [20]})}
    call = calls.get(action, lambda k: room.set_state(c.code, "degradation", action, k))
    for wrong in (None, "", "student-0001", c.teacher_key.upper()):
        with pytest.raises(NotTeacher, match="teacher key of class"):
            call(wrong)
    assert room.get(c.code) is not None and room.get(c.code).sweep is None
    assert room.state(c.code, "degradation") == "open" and room.counts(c.code, "degradation", 2) == [0, 1]
    call(c.teacher_key)  # the right key does it


def test_answers_are_one_per_member_changeable_while_open_and_refused_once_closed(room):
    c = room.create()
    for m in ("member-a1", "member-b2", "member-c3"):
        room.join(c.code, m)
    room.answer(c.code, "shortcuts", "member-a1", 0, 4)
    room.answer(c.code, "shortcuts", "member-b2", 3, 4)
    room.answer(c.code, "shortcuts", "member-a1", 2, 4)  # changed: still one answer
    assert room.counts(c.code, "shortcuts", 4) == [0, 0, 1, 1]
    with pytest.raises(ValueError, match="one of the 4 options"):
        room.answer(c.code, "shortcuts", "member-c3", 4, 4)
    with pytest.raises(ValueError, match="join the class first"):
        room.answer(c.code, "shortcuts", "not-a-member", 0, 4)
    room.set_state(c.code, "shortcuts", "closed", c.teacher_key)
    with pytest.raises(ValueError, match="closed"):
        room.answer(c.code, "shortcuts", "member-c3", 0, 4)
    room.reset(c.code, "shortcuts", c.teacher_key)
    assert room.state(c.code, "shortcuts") == "open" and room.counts(c.code, "shortcuts", 4) == [0, 0, 0, 0]


def test_a_class_expires_and_is_deleted_with_everything_it_holds(room, monkeypatch):
    c = room.create(expires_hours=1)
    room.join(c.code, "member-a1", "Ann")
    room.answer(c.code, "degradation", "member-a1", 0, 2)
    room.assign(c.code, "member-a1", 4)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 3601)
    assert room.get(c.code) is None
    with pytest.raises(ValueError, match="there is no class"):
        room.answer(c.code, "degradation", "member-a1", 1, 2)
    assert room.purge() == 1
    db = sqlite3.connect(room.path)
    assert [db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in
            ("classes", "members", "answers", "assignments")] == [0, 0, 0, 0]


def test_deleting_a_class_deletes_its_answers(room):
    c, other = room.create(), room.create()
    for code in (c.code, other.code):
        room.join(code, "member-a1")
        room.answer(code, "degradation", "member-a1", 0, 2)
    room.delete(c.code, c.teacher_key)
    assert room.get(c.code) is None
    assert sqlite3.connect(room.path).execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 1  # the other class's


@pytest.mark.parametrize("bad", ["", "ABC", "ABCDEFG", "ABCD0O", "AB CD1", "../../x", "'; DROP TABLE classes; --"])
def test_a_bad_class_code_says_what_a_code_is(room, bad):
    with pytest.raises(ValueError, match="6 letters and digits"):
        check_code(bad)
    assert room.get(bad) is None


def test_nicknames_keep_printable_text_only_and_at_most_24_characters():
    assert clean_nickname("  Ann\n\t<b>x</b> ") == "Ann <b>x</b>"
    assert clean_nickname("a" * 40) == "a" * 24
    assert clean_nickname("\u202eevil\x00") == "evil"
    assert clean_nickname(None) == ""


def test_60_students_answering_at_once_lose_nothing(room):
    c = room.create()
    members = [f"member-{i:04d}" for i in range(60)]
    errors = []

    def student(m: str, i: int) -> None:
        try:
            own = Classroom(room.path)  # each student's session: its own connection
            own.join(c.code, m, f"s{i}")
            own.answer(c.code, "degradation", m, i % 2, 2)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=student, args=(m, i)) for i, m in enumerate(members)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert room.members(c.code) == 60 and room.counts(c.code, "degradation", 2) == [30, 30]


KILLED = """
import sys
from resnet_viz.classroom import Classroom
room = Classroom(sys.argv[1])
room.join(sys.argv[2], "member-kill9")
room.answer(sys.argv[2], "degradation", "member-kill9", 1, 2)
print("acknowledged", flush=True)
import time
while True:
    room.join(sys.argv[2], "member-kill9", "busy")  # still writing when the kill comes
"""


def test_an_acknowledged_answer_survives_kill_9_and_a_restart(room):
    c = room.create()
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(room.path), c.code], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout.readline().strip() == "acknowledged"
    time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    again = Classroom(room.path)  # the restart: a new process opens the same file
    assert again.answer_of(c.code, "degradation", "member-kill9") == 1
    assert again.counts(c.code, "degradation", 2) == [0, 1]


def test_sweep_units_are_handed_out_in_order_then_shared(room):
    c = room.create()
    got = [room.assign(c.code, f"member-{i:04d}", 3, finished={1}) for i in range(5)]
    assert got[:2] == [0, 2]  # unit 1 is already stored: nobody trains it
    assert set(got[2:]) <= {0, 2}  # more students than units: an unfinished unit again (one job trains it)
    assert room.assign(c.code, "member-0000", 3) == 0  # a member keeps their unit
    assert room.assign(c.code, "member-0000", 3, finished={0, 1}) == 2  # theirs is stored: the next one
    assert room.assign(c.code, "member-9999", 3, finished={0, 1, 2}) is None
    assert room.waiting_before(c.code, "member-0004", {0, 2}) == 4


def test_a_gpu_host_trains_several_units_side_by_side_and_a_cpu_host_one(monkeypatch, tmp_path):
    from resnet_viz import jobs
    from resnet_viz.store import RunStore

    for gpu, expected in ((True, 4), (False, 1)):
        monkeypatch.setattr(jobs, "_gpu", lambda gpu=gpu: gpu)
        manager = jobs.JobManager(RunStore(tmp_path / f"runs-{gpu}"), mode="process")
        assert len(manager._threads) == expected


# --- the quiz: feedback never contradicts the result -------------------------------------------------------

def _degradation(r):
    shallow, deep = (0.1, 0.4) if r == 0 else (0.4, 0.1)
    return {"runs": [{"variant": "plain", "depth": 20, "seed": 0, "final_train_error": shallow},
                     {"variant": "plain", "depth": 56, "seed": 0, "final_train_error": deep}]}


def _lesion(r):
    def run(variant, left):
        return {"variant": variant, "single_block": [{"test_accuracy": left}] * 3}
    return {"runs": [run("plain", 0.1 if r == 0 else 0.9), run("residual", 0.9 if r == 0 else 0.1)]}


def _shortcuts(r):
    families = ["identity", "scaling", "gating", "dropout"]
    return {"runs": [{"variant": f, "final_train_error": 0.05 if i == r else 0.8} for i, f in enumerate(families)]}


RESULTS = {
    "degradation": _degradation,
    "gradients": lambda r: {"runs": [{"variant": "plain", "first_last_ratio": (1e-4, 3.0, 1.19e3)[r]}]},
    "lesion": _lesion,
    "shortcuts": _shortcuts,
    "landscape": lambda r: {"runs": [{"variant": "plain", "numbers": {"curvature_ratio": 0.1 if r == 0 else 0.9}},
                                     {"variant": "residual", "numbers": {"curvature_ratio": 0.9 if r == 0 else 0.1}}]},
}


def _quiz_cases():
    for name, make in RESULTS.items():
        for r in range(len(experiments.get(name).quiz.options)):
            yield name, r


@pytest.mark.parametrize("name,outcome", list(_quiz_cases()))
def test_the_feedback_after_any_answer_explains_the_result_measured_never_another(name, outcome):
    from resnet_viz.ui.classroom import feedback

    experiment = experiments.get(name)
    quiz = experiment.quiz
    assert set(RESULTS) == {e.name for e in experiments.EXPERIMENTS.values() if e.quiz is not None}
    result = RESULTS[name](outcome)
    assert experiment.answer(result) == outcome
    for choice in [None, *range(len(quiz.options))]:
        ok, text = feedback(experiment, choice, experiment.answer(result))
        assert ok is (None if choice is None else choice == outcome)
        assert f"Measured here: {quiz.options[outcome]}." in text and quiz.why[outcome] in text
        assert not any(why in text for i, why in enumerate(quiz.why) if i != outcome)


def test_the_gradient_question_no_longer_says_the_product_stays_near_1_beside_an_explosion():
    quiz = experiments.get("gradients").quiz
    explodes = quiz.why[2]
    assert "grows toward the input" in explodes and "near 1" not in explodes and "vanishes" not in explodes


# --- the pages in class mode -----------------------------------------------------------------------------

def _page_text(at) -> str:
    parts = [e.value for kind in ("title", "markdown", "caption", "info", "success", "warning", "error") for e in
             getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


@pytest.mark.parametrize("name", list(QUIZ_PAGES))
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_while_the_question_is_open_nothing_on_a_students_page_gives_the_answer_away(room, name, lang):
    from resnet_viz.i18n import translate

    experiment = experiments.get(name)
    c = room.create()
    at = app(QUIZ_PAGES[name], **{"class": c.code, "lang": lang}).run()
    assert not at.exception
    assert [t.value for t in at.title] == [translate(experiment.quiz.title, lang)]
    text = _page_text(at)
    assert "What to look for" not in text and "看什么" not in text and "Measured here" not in text
    assert not at.get("plotly_chart") and not at.get("dataframe") and not at.get("table")
    assert not [b for b in at.button if b.label in ("Train", "训练")]
    quiz = next(r for r in at.radio if r.key.startswith("quiz"))
    assert quiz.options == [translate(o, lang) for o in experiment.quiz.options]
    assert at.query_params["me"] and room.members(c.code) == 1  # joined anonymously


def test_a_teacher_and_three_students_join_answer_watch_the_counts_and_see_the_reveal(room):
    c = room.create("Week 5")
    teacher = app("pages/10_Class.py", **{"class": c.code, "key": c.teacher_key}).run()
    assert not teacher.exception and "key" not in teacher.query_params  # the key leaves the address bar
    assert [m.value for m in teacher.metric] == ["0", "0"]
    students = []
    for choice in (0, 1, 0):
        s = app("pages/1_Degradation.py", **{"class": c.code}).run()
        next(r for r in s.radio if r.key.startswith("quiz")).set_value(choice).run()
        assert any("Your answer is stored" in x.value for x in s.success)
        students.append(s)
    teacher.run()
    assert [m.value for m in teacher.metric] == ["3", "3"]
    assert any("2 answered" not in m.value and "3 answered" in m.value for m in teacher.markdown)
    assert room.counts(c.code, "degradation", 2) == [2, 1]
    next(b for b in teacher.button if b.key == "revealed-degradation").click().run()
    assert not teacher.exception and room.state(c.code, "degradation") == "revealed"
    assert any("The right option, read from the result of the lesson's settings: the deeper plain net" in x.value
               for x in teacher.caption)
    for s, choice in zip(students, (0, 1, 0)):
        s.run()
        assert [t.value for t in s.title] == ["Degradation: deeper plain nets train worse"]
        verdicts = [x.value for x in list(s.success) + list(s.warning) if "Measured here: the deeper plain net." in x.value]
        assert verdicts and verdicts[0].startswith("Your prediction was right." if choice == 0 else
                                                   "The measurement says otherwise.")
        assert s.get("plotly_chart")  # the class's predictions and the result


def test_a_student_link_with_a_wrong_key_is_a_message_and_grants_nothing(room):
    c = room.create()
    at = app("pages/10_Class.py", **{"class": c.code, "key": "guessed-key"}).run()
    assert any("not the teacher key of class" in e.value for e in at.error)
    for page in (at, app("pages/10_Class.py", **{"class": c.code}).run()):  # a wrong key, or the code alone
        assert not [b for b in page.button if b.key and b.key.startswith(("revealed-", "reset-", "open-", "closed-"))]
        assert [m.value for m in page.metric] == []  # no board
        assert not [d for d in page.get("download_button")]  # no export
    assert room.state(c.code, "degradation") == "open"


def test_a_bad_or_unknown_class_code_is_a_message_and_the_page_works_as_usual(room):
    for code in ("NOPE", "ZZZZZZ"):
        at = app("pages/1_Degradation.py", **{"class": code}).run()
        assert not at.exception
        assert any("There is no class" in e.value for e in at.error)
        assert [t.value for t in at.title] == ["Degradation: deeper plain nets train worse"]
        assert "class" not in at.query_params


def test_a_nickname_is_shown_as_text_never_as_markdown_or_html(room):
    c = room.create()
    nick = "<img src=x onerror=alert(1)> **bold**"
    room.join(c.code, "member-x1", nick)
    at = app("pages/10_Class.py", **{"class": c.code, "key": c.teacher_key}).run()
    cells = [v for df in at.dataframe for v in df.value.iloc[:, 0].tolist()]
    assert clean_nickname(nick) in cells
    assert not any("onerror" in m.value or "**bold**" in m.value for m in list(at.markdown) + list(at.caption))


def test_the_class_figure_fills_in_from_the_store_and_students_are_handed_units(room):
    from resnet_viz.store import RunStore
    from resnet_viz.paths import home
    from resnet_viz.protocol import build

    c = room.create()
    values = {"depths": [20, 32], "seeds": [0]}
    room.set_sweep(c.code, c.teacher_key, "degradation", values)
    deg = experiments.get("degradation")
    units = deg.split(build(deg.Spec, values))
    store = RunStore(home() / "runs")
    for i, (unit, error) in enumerate(zip(units[:3], (0.1, 0.0, 0.3))):  # three of the four stored
        store.save("degradation", unit, {"status": "completed", "runs": [
            {"variant": unit.variants[0], "depth": unit.depths[0], "seed": 0, "final_train_error": error,
             "final_test_error": error, "seconds": 1.0}]})
    student = app("pages/10_Class.py", **{"class": c.code}).run()
    assert not student.exception
    assert room.assignments(c.code)[0]["unit"] == 3  # the one unit not stored yet
    teacher = app("pages/10_Class.py", **{"class": c.code, "key": c.teacher_key}).run()
    assert any("3 of 4 runs stored, 1 handed out" in m.value for m in teacher.markdown)
    assert teacher.get("plotly_chart")
    from resnet_viz.class_cli import show

    shown = show(c.code)
    assert len(shown["runs"]) == 3 and {r["depth"] for r in shown["runs"]} == {20, 32}


# --- the CLI ---------------------------------------------------------------------------------------------

def _cli(*args, env=None):
    """``python -m resnet_viz ...`` in this process (the CLI's own entry point): (exit status, stdout, stderr)."""
    import contextlib
    import io
    from types import SimpleNamespace

    from resnet_viz.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:
                code = exc.code
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def test_class_create_show_export_delete_from_the_cli(room, tmp_path):
    made = _cli("class", "create", "--title", "Week 5", "--expires-hours", "2", "--json",
                env={"RESNET_VIZ_PUBLIC_URL": "http://lab.school.example:8501"})
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    assert set(created) == {"code", "teacher_key", "student_url", "teacher_url", "expires"}
    assert created["student_url"] == f"http://lab.school.example:8501/Class?class={created['code']}"
    assert created["teacher_key"] in created["teacher_url"] and created["teacher_key"] not in created["student_url"]
    assert room.is_teacher(created["code"], created["teacher_key"])
    room.join(created["code"], "member-a1", "=cmd()")
    room.answer(created["code"], "degradation", "member-a1", 1, 2)
    shown = json.loads(_cli("class", "show", created["code"], "--json").stdout)
    assert {"code", "title", "members", "questions", "runs"} <= set(shown) and shown["members"] == 1
    q = next(q for q in shown["questions"] if q["page"] == "degradation")
    assert q == {"page": "degradation", "state": "open", "options": ["the deeper plain net", "the shallower plain net"],
                 "counts": [0, 1], "answers": 1}
    out = tmp_path / "answers.csv"
    assert _cli("class", "export", created["code"], "--out", str(out)).returncode == 0
    lines = out.read_text().splitlines()
    assert lines[1].startswith("degradation,'=cmd(),1,the shallower plain net,")  # no formula in a spreadsheet
    assert _cli("class", "delete", created["code"]).returncode == 0
    assert room.get(created["code"]) is None


def test_the_cli_warns_when_the_students_link_only_works_on_this_computer():
    made = _cli("class", "create", "--url", "http://127.0.0.1:8501", "--json")
    assert made.returncode == 0 and "only works on this computer" in made.stderr


@pytest.mark.parametrize("argv,message", [
    (["class", "show", "XYZ"], "a class code is 6 letters and digits"),
    (["class", "show", "ZZZZZZ"], "there is no class ZZZZZZ"),
    (["class", "delete", "ZZZZZZ"], "there is no class ZZZZZZ"),
    (["class", "create", "--expires-hours", "0"], "from 0.1 to 336 hours"),
    (["class", "create", "--expires-hours", "soon"], "expected a number of hours"),
    (["class", "create", "--title", "x" * 81], "at most 80 characters"),
    (["class", "export", "ZZZZZZ", "--out", "/nonexistent/a.csv"], "--out must be a file in an existing folder"),
    (["class"], "required"),
])
def test_bad_class_input_is_one_line_and_exit_2(argv, message):
    done = _cli(*argv)
    assert done.returncode == 2 and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


@pytest.mark.slow
def test_a_student_on_the_class_page_trains_their_unit_in_the_background_and_it_joins_the_figure(room):
    from conftest import wait_for_job

    c = room.create()
    room.set_sweep(c.code, c.teacher_key, "degradation",
                   {"depths": [8], "seeds": [0], "variants": ["plain"], "steps": 20, "width": 4})
    student = app("pages/10_Class.py", **{"class": c.code}).run()
    assert not student.exception
    assert student.get("progress")  # its own progress bar
    wait_for_job(seconds=120)
    teacher = app("pages/10_Class.py", **{"class": c.code, "key": c.teacher_key}).run()
    assert any("1 of 1 runs stored, 1 handed out" in m.value for m in teacher.markdown)
    student.run()
    assert any("Every run of the class's figure is stored" in x.value for x in student.success)


def test_on_a_full_queue_each_student_is_told_their_place_among_the_class_units_waiting(room, monkeypatch):
    monkeypatch.setenv("RESNET_VIZ_MAX_QUEUE", "0")  # this server's queue takes nothing more
    c = room.create()
    room.set_sweep(c.code, c.teacher_key, "degradation", {"depths": [20, 32], "seeds": [0]})
    places = []
    for _ in range(3):
        at = app("pages/10_Class.py", **{"class": c.code}).run()
        assert not at.exception
        places += [x.value for x in at.info if "waiting for room" in x.value]
    assert [p.split("you are number ")[1].split(" ")[0] for p in places] == ["1", "2", "3"]
    assert "plain-20, seed 0" in places[0] and "ResNet-20, seed 0" in places[1]
