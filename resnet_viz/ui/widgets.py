"""Widgets made from an experiment's declared settings: label, help, default and allowed values come
from the Spec (:func:`resnet_viz.config.setting`); a page only says which values to offer.

Every widget drawn here is in the session's language, lives in the page's URL under its setting's
name (a teacher's link reproduces it) and is disabled when the link locks it (:mod:`.lang`).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import streamlit as st

from ..protocol import Option, build, options
from . import guard
from .lang import _, from_link, keep_in_link, locked, remember_label


def _option(spec_cls: type, name: str) -> Option:
    found = {o.name: o for o in options(spec_cls)}
    if name not in found:
        raise ValueError(f"{spec_cls.__module__} has no setting {name!r}; it has {', '.join(found)}")
    return found[name]


def label_of(o: Option) -> str:
    """A setting's English label as widgets show it (the message id of its translation)."""
    label = o.meta.get("label") or o.name.replace("_", " ")
    return label[0].upper() + label[1:]  # not str.capitalize(): "p_L" and "F" keep their case


def _words(value: Any) -> str:
    """How a choice is shown: words translated, numbers as they are."""
    return _(value) if isinstance(value, str) else str(value)


def setting(spec_cls: type, name: str, where: Any = st, *, values: Sequence | None = None, label: str | None = None,
            default: Any = None, format_func: Callable | None = None, key: str | None = None,
            radio: bool = False, max_selections: int | None = None, disabled: bool = False) -> Any:
    """The widget of one declared setting of ``spec_cls``, drawn in ``where`` (a column, the page).

    Args:
        values: the values to offer (a slider over them for numbers, a list for lists); default:
            the declared choices, or a number input within the declared bounds.
        label, default: override the declaration's label and default for this page (``label`` is
            the English message id).
        radio: a horizontal radio instead of a select box for choices.
        max_selections: for a list, how many values may be chosen (default: the declared run limit).
    """
    o = _option(spec_cls, name)
    words = o.meta.get("words")
    if format_func is None and words:
        format_func = lambda v: _(words.get(v, str(v)))  # noqa: E731 - the declared words of the choices
    item = getattr(o.type, "__args__", (o.type,))[0]
    offered = list(values if values is not None else (o.meta["choices"] or ())) or None
    if o.type is bool:
        offered = None
    return control(where, _kind(o, item, offered, radio), name, label or label_of(o), offered,
                   o.default if default is None else default, help=o.meta["help"], format_func=format_func,
                   key=key, disabled=disabled, max_selections=max_selections or o.meta.get("max_items"),
                   low=o.meta.get("low"), high=o.meta.get("high"), check=o.check)


def _kind(o: Option, item: type, offered: list | None, radio: bool) -> str:
    if o.type is bool:
        return "toggle"
    if item is not o.type:
        return "multiselect"
    if offered and o.meta.get("choices") is not None:
        return "radio" if radio else "selectbox"
    return "select_slider" if offered else "number_input"


def control(where: Any, kind: str, name: str, label: str, offered: Sequence | None, default: Any, *,
            help: str | None = None, format_func: Callable | None = None, key: str | None = None,
            disabled: bool = False, max_selections: int | None = None, low: Any = None, high: Any = None,
            check: Callable | None = None) -> Any:
    """One widget of a page: ``kind`` is toggle, multiselect, radio, selectbox, select_slider or
    number_input; ``name`` its name in the URL; ``label`` and ``help`` English message ids.

    A number input gets no bounds of Streamlit's own (its range message would be in English): a value
    outside ``low``..``high`` is said in the session's language and the nearest allowed one is used."""
    key = key or name
    remember_label(name, label)
    if kind == "number_input" and check is None:
        check = _bounded(label, low, high)
    if key in st.session_state and offered is not None:  # the offered values changed (another block, say)
        current = st.session_state[key]
        if kind == "multiselect" and not all(v in offered for v in current):
            st.session_state[key] = type(current)(v for v in current if v in offered)
        elif kind != "multiselect" and current not in offered:
            del st.session_state[key]
    seeded = st.session_state.setdefault("_rv_seeded", set())
    if key not in seeded or key not in st.session_state:  # first drawn: the link decides, if it says
        seeded.add(key)
        linked = from_link(name, offered, default, check)
        if linked is not None:
            st.session_state[key] = linked
    else:
        st.session_state.setdefault("_rv_known", set()).add(name)
    preset = key in st.session_state
    common = {"help": _(help) if help else None, "key": key, "disabled": disabled or name in locked()}
    label = _(label)
    fmt = {"format_func": format_func or _words}
    if kind == "toggle":
        value = where.toggle(label, **({} if preset else {"value": default}), **common)
    elif kind == "multiselect":
        value = tuple(where.multiselect(label, list(offered), **({} if preset else {"default": [
            v for v in default if v in offered]}), max_selections=max_selections, **fmt, **common))
    elif kind in ("radio", "selectbox"):
        index = {} if preset else {"index": list(offered).index(default) if default in offered else 0}
        extra = {"horizontal": True} if kind == "radio" else {}
        value = getattr(where, kind)(label, list(offered), **index, **extra, **fmt, **common)
    elif kind == "select_slider":
        value = where.select_slider(label, list(offered), **({} if preset else {
            "value": default if default in offered else offered[0]}), **fmt, **common)
    else:
        value = where.number_input(label, **({} if preset else {"value": default}), step=1 if isinstance(default, int)
                                   else None, **common)
        try:
            check(value)
        except ValueError:
            allowed = min(max(value, low if low is not None else value), high if high is not None else value)
            where.warning(_("{label} must be from {low} to {high}; {value} is outside, so {allowed} is used.").format(
                label=label, low=low, high=high, value=value, allowed=allowed), icon=":material/warning:")
            value = type(default)(allowed)
    keep_in_link(name, value, default)
    return value


def _bounded(label: str, low: Any, high: Any) -> Callable[[Any], Any]:
    """A check that a number lies within ``low``..``high`` (for a link's value and a typed one)."""
    def check(value: Any) -> Any:
        if (low is not None and value < low) or (high is not None and value > high):
            raise ValueError(f"{label} must be from {low} to {high}; got {value}")
        return value
    return check


def limit(spec_cls: type, name: str) -> int:
    """How many values a list setting may take in one run (its declared ``max_items``)."""
    return _option(spec_cls, name).meta["max_items"]


def spec_from(spec_cls: type, values: dict[str, Any]) -> Any:
    """The Spec of the chosen values (checked against their declarations); a bad combination is
    shown as a message (st.error + st.stop), never a traceback."""
    return guard(build, spec_cls, values)
