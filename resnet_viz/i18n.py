"""Translations: one gettext catalog per language (``resnet_viz/locale/<lang>/LC_MESSAGES/messages.po``),
read with Babel. The English text is the message id, so English needs no catalog and an untranslated
message shows in English rather than as a key.

Why Babel: it is the Python ecosystem's gettext toolkit (extraction, PO files, plural rules), reads
the PO files directly (no compile step in CI), and its catalogs open in every translation tool.
``python -m resnet_viz.ui.catalog`` extracts the messages and updates the catalogs.

No streamlit here: the pages choose the language (:mod:`resnet_viz.ui.lang`), this module only looks up.
"""

from __future__ import annotations

import functools
from pathlib import Path

LANGUAGES = {"en": "English", "zh": "简体中文"}
DEFAULT = "en"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"


def N_(message: str) -> str:
    """Marks a message for extraction where it is defined; it is translated where it is shown."""
    return message


_COMPOSED: dict[str, tuple[str, dict]] = {}
_COMPOSED_LIMIT = 20_000


def F_(template: str, **values: object) -> str:
    """``template.format(**values)``, remembered so that :func:`translate` can translate the result
    (the template is the message id; string values are translated too, numbers kept). For text
    made in code that does not know the language, such as a figure's axis title."""
    text = template.format(**values)
    if len(_COMPOSED) < _COMPOSED_LIMIT:
        _COMPOSED[text] = (template, values)
    return text


def recompose(text: str, templates: tuple[str, ...]) -> str:
    """``text`` as :func:`F_` would have made it from the first of ``templates`` it fits, remembered so that
    :func:`translate` translates it: for text composed in another process (the lecture hall's trainer writes
    a job's error to SQLite, a server process shows it). Placeholders match any text; ``text`` itself is
    returned either way."""
    import re
    from string import Formatter

    for template in templates:
        pattern, names = "", []
        for literal, name, _spec, _conversion in Formatter().parse(template):
            pattern += re.escape(literal)
            if name is not None:
                pattern += f"(?P<{name}>.+?)" if name not in names else f"(?P={name})"
                names.append(name)
        found = re.fullmatch(pattern, text, flags=re.S)
        if found is not None:
            if len(_COMPOSED) < _COMPOSED_LIMIT:
                _COMPOSED[text] = (template, found.groupdict())
            break
    return text


def catalog_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.lru_cache(maxsize=None)
def messages(lang: str) -> dict[str, str]:
    """msgid -> translation of a language (empty for English and for a language without a catalog).
    Fuzzy and empty entries are left out, so they show in English."""
    from babel.messages.pofile import read_po

    path = catalog_path(lang)
    if lang == DEFAULT or not path.exists():
        return {}
    with path.open("rb") as f:
        catalog = read_po(f)
    return {m.id: m.string for m in catalog if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}


def translate(message: str, lang: str) -> str:
    """``message`` in ``lang`` (itself when there is no translation)."""
    if lang == DEFAULT or not message:
        return message
    found = messages(lang).get(message)
    if found is not None:
        return found
    if message in _COMPOSED:
        template, values = _COMPOSED[message]
        return messages(lang).get(template, template).format(
            **{k: translate(v, lang) if isinstance(v, str) else v for k, v in values.items()})
    return message


def language_of(value: str | None) -> str | None:
    """A supported language for a ``?lang=`` value or a browser locale ("zh-CN", "zh_TW", "en-US"),
    or None when there is none."""
    if not value:
        return None
    base = value.replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else None


__all__ = ["DEFAULT", "F_", "LANGUAGES", "N_", "catalog_path", "language_of", "messages", "recompose", "translate"]
