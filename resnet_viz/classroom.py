"""The class as one: classes, their members, the pages' questions, the answers and the sweep units
handed out, in one SQLite database (``RESNET_VIZ_HOME/classes.sqlite``). This module owns it; nothing
else opens it.

- A teacher creates a class and gets a short code (students' links carry it) and a teacher key (a
  :mod:`secrets` token; only its SHA-256 is stored, compared in constant time). Every teacher action
  (open, close, reveal, reset, hand out a sweep, export, delete) needs the key; a wrong key raises
  :class:`NotTeacher` and changes nothing.
- A student joins anonymously: a random member id kept in their page's link, an optional nickname,
  nothing else.
- Each page's question is ``open`` (answers are taken, changeable), ``closed`` (no more answers, the
  result still hidden) or ``revealed`` (the result, the class's distribution and the right option).
  One answer per member and question.
- A sweep handed to the class: its units (:func:`resnet_viz.sweep.units`) are handed out in order, one
  per member who joins (when every unit is out, the least handed-out unfinished one again: identical
  units are one job and train once).

SQLite in WAL mode: readers never wait for the writer; each write is one transaction (``BEGIN
IMMEDIATE``), committed before the call returns, so an answer the page acknowledged survives ``kill
-9`` of the server. A class expires (12 hours by default) and is then deleted with everything it
holds.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import secrets
import sqlite3
import threading
import time
import unicodedata
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .paths import home

STATES = ("open", "closed", "revealed")
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed on phones
CODE_LENGTH = 6  # 32^6 = 1.07e9 codes: a guessed code finds nothing (and a board needs the key anyway)
NICKNAME_MAX = 24
TITLE_MAX = 80
EXPIRES_DEFAULT = 12.0
EXPIRES_MAX = 24 * 14  # two weeks
SCHEMA = """
CREATE TABLE IF NOT EXISTS classes (code TEXT PRIMARY KEY, title TEXT NOT NULL, key_hash TEXT NOT NULL,
    created REAL NOT NULL, expires REAL NOT NULL, sweep TEXT);
CREATE TABLE IF NOT EXISTS members (code TEXT NOT NULL REFERENCES classes(code) ON DELETE CASCADE,
    member TEXT NOT NULL, nickname TEXT NOT NULL DEFAULT '', joined REAL NOT NULL, PRIMARY KEY (code, member));
CREATE TABLE IF NOT EXISTS questions (code TEXT NOT NULL REFERENCES classes(code) ON DELETE CASCADE,
    page TEXT NOT NULL, state TEXT NOT NULL, changed REAL NOT NULL, PRIMARY KEY (code, page));
CREATE TABLE IF NOT EXISTS answers (code TEXT NOT NULL REFERENCES classes(code) ON DELETE CASCADE,
    page TEXT NOT NULL, member TEXT NOT NULL, option INTEGER NOT NULL, answered REAL NOT NULL,
    PRIMARY KEY (code, page, member));
CREATE TABLE IF NOT EXISTS assignments (code TEXT NOT NULL REFERENCES classes(code) ON DELETE CASCADE,
    member TEXT NOT NULL, unit INTEGER NOT NULL, assigned REAL NOT NULL, PRIMARY KEY (code, member, unit));
"""


HOST = object()  # the key of whoever runs the CLI on the server's host (they have the database file anyway)


class NotTeacher(ValueError):
    """A teacher action without the class's teacher key."""


@dataclass(frozen=True)
class Created:
    """A new class: its code, the teacher key (shown once, never stored) and when it expires (epoch s)."""

    code: str
    teacher_key: str
    expires: float


@dataclass(frozen=True)
class ClassInfo:
    code: str
    title: str
    created: float
    expires: float
    sweep: dict | None  # {"kind": experiment name, "values": user-facing settings}


def default_path() -> Path:
    return home() / "classes.sqlite"


def check_code(code: Any) -> str:
    """A class code as typed (any case, spaces around): the code, or ValueError saying what one is."""
    text = str(code or "").strip().upper()
    if len(text) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in text):
        raise ValueError(f"a class code is {CODE_LENGTH} letters and digits (no 0, 1, I or O), like "
                         f"{'K7M2QX'}; got {str(code)[:40]!r}")
    return text


def clean_nickname(nickname: Any) -> str:
    """A nickname as stored: printable characters only, spaces collapsed, at most 24 characters. It is
    shown as text, never as markdown or HTML (the pages' job), so nothing else is removed."""
    text = "".join(c if unicodedata.category(c)[0] not in "CZ" or c == " " else " " for c in str(nickname or ""))
    return " ".join(text.split())[:NICKNAME_MAX]


def links(base: str, code: str, key: str | None = None, lang: str | None = None) -> tuple[str, str | None]:
    """(the students' link, the teacher's link or None) of a class at a dashboard's address."""
    student = f"{base}/Class?class={code}" + (f"&lang={lang}" if lang else "")
    return student, f"{base}/Class?class={code}&key={key}" if key else None


def _cell(text: str) -> str:
    """A CSV cell a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()


class Classroom:
    """The classes of one server (one SQLite file). Thread-safe: one connection per thread."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._db().executescript(SCHEMA)

    # --- the database -----------------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # every commit reaches the disk before it returns
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA busy_timeout=30000")
            self._local.db = db
        return db

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction: committed when the block ends, rolled back on an error."""
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        return self._db().execute(sql, args).fetchall()

    # --- classes ----------------------------------------------------------------------------------

    def create(self, title: str = "", expires_hours: float = EXPIRES_DEFAULT) -> Created:
        """A new class with a fresh code and teacher key.

        Raises:
            ValueError: a title over 80 characters or a lifetime outside 0.1..336 hours.
        """
        title = " ".join(str(title or "").split())
        if len(title) > TITLE_MAX:
            raise ValueError(f"a class title has at most {TITLE_MAX} characters; got {len(title)}")
        try:
            hours = float(expires_hours)
        except (TypeError, ValueError):
            raise ValueError(f"expires-hours must be a number of hours; got {expires_hours!r}") from None
        if not 0.1 <= hours <= EXPIRES_MAX:
            raise ValueError(f"a class lasts from 0.1 to {EXPIRES_MAX} hours (two weeks); got {expires_hours!r}")
        self.purge()
        key = secrets.token_urlsafe(24)
        now = time.time()
        for _ in range(20):
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            try:
                with self._write() as db:
                    db.execute("INSERT INTO classes VALUES (?, ?, ?, ?, ?, NULL)",
                               (code, title, _hash(key), now, now + hours * 3600))
            except sqlite3.IntegrityError:  # the code is taken: draw another
                continue
            return Created(code, key, now + hours * 3600)
        raise RuntimeError("could not draw a free class code")

    def get(self, code: str) -> ClassInfo | None:
        """The class with this code, or None (no such class, a malformed code, or expired)."""
        try:
            code = check_code(code)
        except ValueError:
            return None
        rows = self._read("SELECT code, title, created, expires, sweep FROM classes WHERE code = ? AND expires > ?",
                          (code, time.time()))
        if not rows:
            return None
        c, title, created, expires, sweep = rows[0]
        return ClassInfo(c, title, created, expires, json.loads(sweep) if sweep else None)

    def find(self, code: str) -> ClassInfo:
        """Like :meth:`get`, but a missing class is a ValueError with the reason."""
        code = check_code(code)
        info = self.get(code)
        if info is None:
            raise ValueError(f"there is no class {code} on this server (a class ends {EXPIRES_DEFAULT:g} hours after "
                             "it was made, unless its teacher chose otherwise)")
        return info

    def is_teacher(self, code: str, key: str | None) -> bool:
        """Is ``key`` this class's teacher key? (Compared in constant time.)"""
        try:
            code = check_code(code)
        except ValueError:
            return False
        rows = self._read("SELECT key_hash FROM classes WHERE code = ? AND expires > ?", (code, time.time()))
        given = _hash(key or "")
        expected = rows[0][0] if rows else _hash(secrets.token_urlsafe(24))  # same work for a missing class
        return hmac.compare_digest(given, expected) and bool(rows) and bool(key)

    def _teacher(self, code: str, key: str | None) -> str:
        code = self.find(code).code
        if key is not HOST and not self.is_teacher(code, key):
            raise NotTeacher(f"this needs the teacher key of class {code} (it is in the teacher's link, not in the "
                             "students' link)")
        return code

    def delete(self, code: str, key: str | None) -> None:
        """Delete the class with its members, answers and assignments (its trained runs stay in the run store)."""
        code = self._teacher(code, key)
        with self._write() as db:
            db.execute("DELETE FROM classes WHERE code = ?", (code,))

    def purge(self) -> int:
        """Delete the expired classes (with everything they hold); how many."""
        with self._write() as db:
            return db.execute("DELETE FROM classes WHERE expires <= ?", (time.time(),)).rowcount

    # --- members and answers -----------------------------------------------------------------------

    @staticmethod
    def new_member() -> str:
        return secrets.token_urlsafe(9)

    def join(self, code: str, member: str, nickname: str = "") -> None:
        """Add (or rename) a member. ``member``: the random id of a student's browser session."""
        code = self.find(code).code
        if not member or len(member) > 64:
            raise ValueError("a member id is 1 to 64 characters")
        with self._write() as db:
            db.execute("INSERT INTO members VALUES (?, ?, ?, ?) ON CONFLICT (code, member) DO UPDATE SET "
                       "nickname = excluded.nickname", (code, member, clean_nickname(nickname), time.time()))

    def nickname(self, code: str, member: str) -> str | None:
        """The member's nickname ("" for none), or None when they have not joined."""
        rows = self._read("SELECT nickname FROM members WHERE code = ? AND member = ?", (code, member))
        return rows[0][0] if rows else None

    def members(self, code: str) -> int:
        return self._read("SELECT COUNT(*) FROM members WHERE code = ?", (code,))[0][0]

    def nicknames(self, code: str) -> list[str]:
        """The nicknames members chose, in the order they joined (members without one are left out)."""
        return [r[0] for r in self._read("SELECT nickname FROM members WHERE code = ? AND nickname != '' ORDER BY "
                                         "joined", (code,))]

    def state(self, code: str, page: str) -> str:
        """The state of a page's question: "open" until the teacher closes or reveals it."""
        rows = self._read("SELECT state FROM questions WHERE code = ? AND page = ?", (code, page))
        return rows[0][0] if rows else "open"

    def states(self, code: str) -> dict[str, str]:
        return dict(self._read("SELECT page, state FROM questions WHERE code = ?", (code,)))

    def set_state(self, code: str, page: str, state: str, key: str | None) -> None:
        """Open, close or reveal a page's question (teacher key)."""
        if state not in STATES:
            raise ValueError(f"a question is {', '.join(STATES)}; got {state!r}")
        code = self._teacher(code, key)
        with self._write() as db:
            db.execute("INSERT INTO questions VALUES (?, ?, ?, ?) ON CONFLICT (code, page) DO UPDATE SET "
                       "state = excluded.state, changed = excluded.changed", (code, page, state, time.time()))

    def reset(self, code: str, page: str, key: str | None) -> None:
        """Forget a question's answers and open it again (teacher key)."""
        code = self._teacher(code, key)
        with self._write() as db:
            db.execute("DELETE FROM answers WHERE code = ? AND page = ?", (code, page))
            db.execute("DELETE FROM questions WHERE code = ? AND page = ?", (code, page))

    def answer(self, code: str, page: str, member: str, option: int, options: int) -> None:
        """Store (or change) a member's answer to a page's question, while it is open.

        Raises:
            ValueError: the class is gone, the question is not open, the member has not joined, or
                ``option`` is not one of the ``options``.
        """
        code = self.find(code).code
        if not isinstance(option, int) or not 0 <= option < options:
            raise ValueError(f"an answer is one of the {options} options; got {option!r}")
        with self._write() as db:
            state = db.execute("SELECT state FROM questions WHERE code = ? AND page = ?", (code, page)).fetchall()
            if state and state[0][0] != "open":
                raise ValueError("this question is closed: the teacher takes no more answers")
            if not db.execute("SELECT 1 FROM members WHERE code = ? AND member = ?", (code, member)).fetchall():
                raise ValueError("join the class first")
            db.execute("INSERT INTO answers VALUES (?, ?, ?, ?, ?) ON CONFLICT (code, page, member) DO UPDATE SET "
                       "option = excluded.option, answered = excluded.answered",
                       (code, page, member, option, time.time()))

    def answer_of(self, code: str, page: str, member: str) -> int | None:
        rows = self._read("SELECT option FROM answers WHERE code = ? AND page = ? AND member = ?", (code, page, member))
        return rows[0][0] if rows else None

    def counts(self, code: str, page: str, options: int) -> list[int]:
        """How many members chose each option, aligned with the options."""
        counts = [0] * options
        for option, n in self._read("SELECT option, COUNT(*) FROM answers WHERE code = ? AND page = ? GROUP BY option",
                                    (code, page)):
            if 0 <= option < options:
                counts[option] = n
        return counts

    def pages(self, code: str) -> list[str]:
        """Pages with a state or an answer in this class."""
        rows = self._read("SELECT page FROM questions WHERE code = ? UNION SELECT page FROM answers WHERE code = ?",
                          (code, code))
        return sorted(r[0] for r in rows)

    def export_csv(self, code: str, key: str | None, options: dict[str, list[str]] | None = None) -> str:
        """Every answer as CSV (teacher key): page, nickname, option, option text, answered (UTC)."""
        code = self._teacher(code, key)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["page", "nickname", "option", "option_text", "answered_utc"])
        rows = self._read("SELECT a.page, COALESCE(m.nickname, ''), a.option, a.answered FROM answers a LEFT JOIN "
                          "members m ON m.code = a.code AND m.member = a.member WHERE a.code = ? ORDER BY a.page, "
                          "a.answered", (code,))
        for page, nick, option, at in rows:
            texts = (options or {}).get(page) or []
            writer.writerow([page, _cell(nick), option, texts[option] if option < len(texts) else "",
                             time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at))])
        return out.getvalue()

    # --- a sweep the class trains together ------------------------------------------------------------

    def set_sweep(self, code: str, key: str | None, kind: str | None, values: dict | None = None) -> None:
        """Hand out a sweep (``kind``: the experiment, ``values``: its user-facing settings) or, with
        None, take it back; the units handed out so far are forgotten (teacher key)."""
        code = self._teacher(code, key)
        sweep = json.dumps({"kind": kind, "values": values or {}}) if kind else None
        with self._write() as db:
            db.execute("UPDATE classes SET sweep = ? WHERE code = ?", (sweep, code))
            db.execute("DELETE FROM assignments WHERE code = ?", (code,))

    def assign(self, code: str, member: str, units: int, finished: set[int] = frozenset()) -> int | None:
        """The unit of the class's sweep this member trains now: their unfinished one if they have one,
        else (their first, or the last one they had is stored) the first unit nobody has, else the
        unfinished one handed out least (identical units are one job and train once); None when every
        unit is stored."""
        with self._write() as db:
            mine = [u for (u,) in db.execute("SELECT unit FROM assignments WHERE code = ? AND member = ? ORDER BY "
                                            "assigned", (code, member)).fetchall()]
            current = [u for u in mine if u not in finished]
            if current:
                return current[-1]
            given = dict(db.execute("SELECT unit, COUNT(*) FROM assignments WHERE code = ? GROUP BY unit",
                                    (code,)).fetchall())
            free = [u for u in range(units) if u not in given and u not in finished]
            if not free:
                free = sorted((u for u in range(units) if u not in finished and u not in mine),
                              key=lambda u: (given.get(u, 0), u))
            if not free:
                return None
            db.execute("INSERT INTO assignments VALUES (?, ?, ?, ?)", (code, member, free[0], time.time()))
            return free[0]

    def assignments(self, code: str) -> list[dict]:
        """Units handed out, in order: ``{"unit", "nickname", "assigned"}`` (a unit handed to several
        members appears once per member)."""
        rows = self._read("SELECT a.unit, COALESCE(m.nickname, ''), a.assigned, a.member FROM assignments a LEFT JOIN "
                          "members m ON m.code = a.code AND m.member = a.member WHERE a.code = ? ORDER BY a.assigned",
                          (code,))
        return [{"unit": u, "nickname": n, "assigned": t, "member": m} for u, n, t, m in rows]

    def waiting_before(self, code: str, member: str, waiting: set[int]) -> int:
        """How many of the class's ``waiting`` units were handed out before this member's waiting one."""
        rows = self._read("SELECT member, unit FROM assignments WHERE code = ? ORDER BY assigned", (code,))
        place = 0
        for m, unit in rows:
            if m == member and unit in waiting:
                return place
            place += unit in waiting
        return place


__all__ = ["CODE_ALPHABET", "CODE_LENGTH", "HOST", "links", "ClassInfo", "Classroom", "Created", "EXPIRES_DEFAULT", "NotTeacher", "STATES",
           "check_code", "clean_nickname", "default_path"]
