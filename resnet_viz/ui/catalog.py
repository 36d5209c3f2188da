"""Extract every message a student reads and keep the catalogs in step with the code.

    python -m resnet_viz.ui.catalog            # update resnet_viz/locale/<lang>/LC_MESSAGES/messages.po
    python -m resnet_viz.ui.catalog --check    # exit 1 if a catalog lacks a message or has a stale one

Where the messages come from:

- the page prose: every text of the classes in :mod:`.texts` (one module per lesson);
- the settings: label, help and word choices of every registered experiment's declared settings;
- the pages' titles and one-line descriptions (the navigation and the home page);
- ``_("...")``, ``N_("...")`` and ``F_("...")`` in the code, found by Babel's Python extractor: the
  lesson views build their figures' words (titles, axes, legends, hover texts) with ``_``.
"""

from __future__ import annotations

import argparse
import sys

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po

from .. import i18n
from ..experiments import EXPERIMENTS
from ..protocol import options
from . import ROOT, available_pages
from .texts import text_classes
from .widgets import label_of

KEYWORDS = {"_": None, "N_": None, "F_": None}


def _add(found: dict[str, set[str]], message: object, where: str) -> None:
    if isinstance(message, str) and message.strip() and any(c.isalpha() for c in message):
        found.setdefault(message, set()).add(where)


def extract() -> dict[str, set[str]]:
    """msgid -> the places it comes from."""
    found: dict[str, set[str]] = {}
    for cls in text_classes():
        for name, value in vars(cls).items():
            if name.startswith("__"):
                continue
            for message in value if isinstance(value, (list, tuple)) else [value]:
                _add(found, message, f"texts.{cls.__name__}.{name}")
    for experiment in EXPERIMENTS.values():
        for o in options(experiment.Spec):
            where = f"{experiment.name}.{o.name}"
            _add(found, label_of(o), where)
            _add(found, o.meta.get("help"), where)
            for choice in o.meta.get("choices") or ():
                _add(found, choice, where)
    for path, title, _icon, blurb in available_pages():
        _add(found, title, path)
        _add(found, blurb, path)
    files = sorted((ROOT / "resnet_viz").rglob("*.py")) + sorted((ROOT / "pages").glob("*.py")) + [ROOT / "app.py"]
    for path in files:
        rel = str(path.relative_to(ROOT))
        for lineno, message, _comments, _context in extract_from_file("python", str(path), keywords=KEYWORDS):
            _add(found, message if isinstance(message, str) else message[0], f"{rel}:{lineno}")
    return found


def build(lang: str, found: dict[str, set[str]]) -> tuple[Catalog, list[str], list[str]]:
    """The catalog of ``lang`` for ``found``, keeping the translations it has; also the messages it
    lacked and the ones it had that the code no longer uses."""
    path = i18n.catalog_path(lang)
    old = {}
    if path.exists():
        with path.open("rb") as f:
            old = {m.id: m.string for m in read_po(f) if m.id}
    catalog = Catalog(locale=lang, project="resnet-viz", domain=i18n.DOMAIN)
    for message in sorted(found):
        catalog.add(message, old.get(message, ""), locations=[(w, None) for w in sorted(found[message])][:3])
    missing = [m for m in found if not old.get(m)]
    stale = [m for m in old if m not in found]
    return catalog, missing, stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Extract messages and update the catalogs.")
    parser.add_argument("--check", action="store_true", help="only report; exit 1 if a catalog is out of step")
    args = parser.parse_args(argv)
    found = extract()
    status = 0
    for lang in i18n.LANGUAGES:
        if lang == i18n.DEFAULT:
            continue
        catalog, missing, stale = build(lang, found)
        print(f"{lang}: {len(found)} messages, {len(missing)} without a translation, {len(stale)} no longer used")
        if args.check:
            status |= bool(missing or stale)
            for m in missing[:20]:
                print(f"  missing: {m[:100]!r}")
            continue
        path = i18n.catalog_path(lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            write_po(f, catalog, width=120, sort_output=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
