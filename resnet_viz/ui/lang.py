"""The classroom: a session's language, teacher links and predict-before-you-run.

- Language: ``?lang=zh|en`` in the URL, else the browser's (``st.context.locale``), else English; a
  switch in the sidebar. Every word goes through :func:`_` (the page prose through the classes of
  :mod:`.texts`, which translate themselves).
- Teacher links: every setting a page draws with :mod:`.widgets` lives in the URL under its
  option's name (``?depths=20,32,56&width=8``), so a copied link reproduces the view;
  ``lock=depths,width`` shows those controls disabled (like TensorFlow Playground's hide flags);
  ``quiz=1`` asks the page's question before its result. A link's unknown names and values that are
  not allowed are ignored, with a visible note. The link for the class uses the address students
  reach (:func:`public_address`), never the teacher's 127.0.0.1 without a warning.
"""

from __future__ import annotations

import os
from typing import Any, Iterable
from urllib.parse import urlencode, urlsplit

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from ..host import LOCAL_HOSTS, is_local
from ..i18n import DEFAULT, LANGUAGES, language_of, translate

RESERVED = ("lang", "lock", "quiz", "class", "me", "key", "embed", "embed_options")  # the last two are Streamlit's own
_STATE = "_rv_lang"
CLASS, TEACHER = "_rv_class", "_rv_teacher"  # the session's class and teacher key (set by :mod:`.classroom`)


def language() -> str:
    """This session's language ("en" outside a page run)."""
    if get_script_run_ctx(suppress_warning=True) is None:  # no page run (a library call, a test): English
        return DEFAULT
    return st.session_state.get(_STATE, DEFAULT)


def _(message: str) -> str:
    """``message`` in this session's language."""
    return translate(message, language())


def begin_page() -> None:
    """First thing of every page run: choose the language, and forget the last run's link names."""
    st.session_state["_rv_known"] = set()
    st.session_state["_rv_notes"] = []
    raw = st.query_params.get("lang")
    lang = language_of(raw)
    if raw and lang is None:
        note("lang", raw)
    if lang is None:
        lang = st.session_state.get("_rv_pick") or language_of(getattr(st.context, "locale", None)) or DEFAULT
    st.session_state[_STATE] = lang


def language_switch() -> None:
    """The sidebar's language switch; the choice goes into the URL, so a copied link keeps it."""
    st.session_state["_rv_pick"] = language()
    st.sidebar.radio("Language / 语言", list(LANGUAGES), format_func=LANGUAGES.get, horizontal=True,
                     key="_rv_pick", on_change=_switched)


def _switched() -> None:
    lang = st.session_state["_rv_pick"]
    st.session_state[_STATE] = lang
    st.query_params["lang"] = lang


# --- settings in the URL ----------------------------------------------------------------------------

def note(name: str, value: str) -> None:
    st.session_state.setdefault("_rv_notes", []).append((name, value))


def declare(*names: str) -> None:
    """Names of settings this page has although this run does not draw them (a closed tab's
    controls): a link may carry them without being told they were ignored."""
    st.session_state.setdefault("_rv_known", set()).update(names)


def remember_label(name: str, label: str) -> None:
    """A control's label (English message id), so the class link's lock choices show words, not names."""
    st.session_state.setdefault("_rv_labels", {})[name] = label


def locked() -> set[str]:
    return {n.strip() for n in st.query_params.get("lock", "").split(",") if n.strip()}


def quiz_on() -> bool:
    return st.query_params.get("quiz", "") in ("1", "true", "yes", "on")


def encode(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def from_link(name: str, offered: Iterable | None, default: Any, check=None) -> Any:
    """The value of setting ``name`` in this page's link, or None when the link has none (or one
    that is not allowed: then a note says it was ignored). ``offered``: the values the widget offers
    (matched by their text); ``check``: validates a free number instead."""
    st.session_state.setdefault("_rv_known", set()).add(name)
    raw = st.query_params.get(name)
    if raw is None:
        return None
    try:
        if isinstance(default, bool):
            if raw.lower() not in ("1", "0", "true", "false"):
                raise ValueError
            return raw.lower() in ("1", "true")
        by_text = {encode(v): v for v in offered} if offered is not None else None
        if isinstance(default, (list, tuple)):
            parts = [p for p in raw.split(",") if p]
            if by_text is None or not parts or any(p not in by_text for p in parts):
                raise ValueError
            return [by_text[p] for p in parts]
        if by_text is not None:
            if raw not in by_text:
                raise ValueError
            return by_text[raw]
        value = type(default)(float(raw)) if isinstance(default, (int, float)) else raw
        return check(value) if check is not None else value
    except (ValueError, TypeError):
        note(name, raw)
        return None


def keep_in_link(name: str, value: Any, default: Any) -> None:
    """Write a setting's current value into the URL (removed when it is the default)."""
    if value == default or (isinstance(default, tuple) and tuple(value) == default):
        if name in st.query_params:
            del st.query_params[name]
    elif st.query_params.get(name) != encode(value):
        st.query_params[name] = encode(value)


def finish_page() -> None:
    """Last thing of every page run: notes on what a link had that this page could not use, and the
    teacher's link for the class in the sidebar."""
    known = st.session_state.get("_rv_known", set())
    notes = list(st.session_state.get("_rv_notes", []))
    notes += [(n, st.query_params.get(n, "")) for n in st.query_params if n not in known and n not in RESERVED]
    unknown_locks = sorted(locked() - known)
    if unknown_locks:
        notes.append(("lock", ",".join(unknown_locks)))
    if notes:
        text = _("This link had settings this page cannot use, so they were ignored: {items}.").format(
            items=", ".join(f"`{n}={v}`" for n, v in notes))
        st.warning(text, icon=":material/link_off:")
        st.toast(text, icon=":material/link_off:")  # the warning sits at the page's end: say it where it is seen
    in_class = st.session_state.get(CLASS)
    if in_class is not None and st.session_state.get(TEACHER) is None:
        return  # a student in a class: the teacher hands out the links
    with st.sidebar.expander(_("Link for the class"), icon=":material/share:"):
        labels = st.session_state.get("_rv_labels", {})
        lock = st.multiselect(_("Lock these controls"), sorted(known, key=lambda n: _(labels.get(n, n))),
                              default=sorted(locked() & known), key="_rv_lock_pick",
                              format_func=lambda n: _(labels.get(n, n.replace("_", " "))),
                              help=_("students who open the link see them but cannot change them"))
        quiz = st.toggle(_("Ask the question before the result"), value=quiz_on(), key="_rv_quiz_pick")
        params = {n: st.query_params.get(n) for n in st.query_params if n in known}
        params["lang"] = language()
        if in_class is not None:
            params["class"] = in_class
        if lock:
            params["lock"] = ",".join(lock)
        if quiz:
            params["quiz"] = "1"
        base, local = public_address()
        st.code(f"{base}{_page_path()}?{urlencode(params, safe=',')}", language=None, wrap_lines=True)
        if local:
            st.warning(_("This address only works on this computer: students' devices cannot open it. Set "
                         "RESNET_VIZ_PUBLIC_URL (or Streamlit's browser.serverAddress) to the address they reach."),
                       icon=":material/wifi_off:")
        st.caption(_("Copy it with the button in the box's corner. It opens this page with these settings."))


def public_address() -> tuple[str, bool]:
    """(the address students reach this server at, without a path; whether it is this computer only).

    In order: Streamlit's ``browser.serverAddress`` when the host set it, else ``RESNET_VIZ_PUBLIC_URL``,
    else this machine's address on its network (as Streamlit prints it for "Network URL"), else the
    address this page was opened at."""
    from streamlit import config, net_util

    port = config.get_option("browser.serverPort") or config.get_option("server.port")
    base_path = (config.get_option("server.baseUrlPath") or "").strip("/")
    suffix = f"/{base_path}" if base_path else ""
    if config.is_manually_set("browser.serverAddress"):
        host = config.get_option("browser.serverAddress")
        base = host if "://" in host else f"http://{host}:{port}{suffix}"
    elif os.environ.get("RESNET_VIZ_PUBLIC_URL"):
        base = os.environ["RESNET_VIZ_PUBLIC_URL"].rstrip("/")
    elif (ip := net_util.get_internal_ip()) and ip not in LOCAL_HOSTS:
        base = f"http://{ip}:{port}{suffix}"
    else:
        opened = urlsplit(getattr(st.context, "url", None) or f"http://localhost:{port}")
        base = f"{opened.scheme}://{opened.netloc}{suffix}"
    return base.rstrip("/"), is_local(base)


def _page_path() -> str:
    """This page's path in its URL ("/Degradation"; "" on the home page)."""
    path = urlsplit(getattr(st.context, "url", None) or "").path
    from streamlit import config

    base_path = "/" + (config.get_option("server.baseUrlPath") or "").strip("/")
    if base_path != "/" and path.startswith(base_path):
        path = path[len(base_path):]
    return "/" + path.strip("/") if path.strip("/") else ""


__all__ = ["RESERVED", "_", "begin_page", "declare", "finish_page", "from_link", "keep_in_link", "language",
           "language_switch", "locked", "note", "public_address", "quiz_on", "remember_label"]
