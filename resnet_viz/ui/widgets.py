"""Widgets made from an experiment's declared settings: label, help, default and allowed values come
from the Spec (:func:`resnet_viz.config.setting`); a page only says which values to offer."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import streamlit as st

from ..protocol import Option, build, options
from . import guard


def _option(spec_cls: type, name: str) -> Option:
    found = {o.name: o for o in options(spec_cls)}
    if name not in found:
        raise ValueError(f"{spec_cls.__module__} has no setting {name!r}; it has {', '.join(found)}")
    return found[name]


def setting(spec_cls: type, name: str, where: Any = st, *, values: Sequence | None = None, label: str | None = None,
            default: Any = None, format_func: Callable | None = None, key: str | None = None,
            radio: bool = False, max_selections: int | None = None, disabled: bool = False) -> Any:
    """The widget of one declared setting of ``spec_cls``, drawn in ``where`` (a column, the page).

    Args:
        values: the values to offer (a slider over them for numbers, a list for lists); default:
            the declared choices, or a number input within the declared bounds.
        label, default: override the declaration's label and default for this page.
        radio: a horizontal radio instead of a select box for choices.
    """
    o = _option(spec_cls, name)
    label = label or (o.meta.get("label") or name.replace("_", " "))
    label = label[0].upper() + label[1:]  # not str.capitalize(): "p_L" and "F" keep their case
    value = o.default if default is None else default
    preset = key is not None and key in st.session_state  # set by the page (a lesson): no second default
    common = {"help": o.meta["help"], "key": key, "disabled": disabled}
    if o.type is bool:
        return where.toggle(label, **({} if preset else {"value": value}), **common)
    item = getattr(o.type, "__args__", (o.type,))[0]
    extra = {"format_func": format_func} if format_func else {}
    if item is not o.type:  # a list setting
        offered = list(values if values is not None else o.meta["choices"])
        chosen = where.multiselect(label, offered, **({} if preset else {"default": [v for v in value if v in offered]}),
                                   max_selections=max_selections, **extra, **common)
        return tuple(chosen)
    offered = list(values if values is not None else (o.meta["choices"] or ()))
    if offered and o.meta.get("choices") is not None:
        index = {} if preset else {"index": offered.index(value) if value in offered else 0}
        if radio:
            return where.radio(label, offered, horizontal=True, **index, **extra, **common)
        return where.selectbox(label, offered, **index, **extra, **common)
    if offered:
        return where.select_slider(label, offered, **({} if preset else {"value": value if value in offered else offered[0]}),
                                   **extra, **common)
    return where.number_input(label, min_value=o.meta.get("low"), max_value=o.meta.get("high"),
                              **({} if preset else {"value": value}), **common)


def spec_from(spec_cls: type, values: dict[str, Any]) -> Any:
    """The Spec of the chosen values (checked against their declarations); a bad combination is
    shown as a message (st.error + st.stop), never a traceback."""
    return guard(build, spec_cls, values)
