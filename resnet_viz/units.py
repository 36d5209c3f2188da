"""Text for quantities people read: durations of estimates, ETAs and queue waits."""

from __future__ import annotations

from .i18n import F_, N_


def format_duration(seconds: float | None) -> str:
    """"1 min 20 s" style text for estimates, ETAs and expected waits."""
    if seconds is None:
        return N_("unknown")
    seconds = max(0, round(seconds))
    if seconds < 60:
        return F_("{s} s", s=seconds)
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return F_("{m} min {s:02d} s", m=minutes, s=rest)
    return F_("{h} h {m:02d} min", h=minutes // 60, m=minutes % 60)
