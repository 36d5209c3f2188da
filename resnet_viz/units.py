"""Text for quantities people read: durations of estimates, ETAs and queue waits."""

from __future__ import annotations


def format_duration(seconds: float | None) -> str:
    """"1 min 20 s" style text for estimates, ETAs and expected waits."""
    if seconds is None:
        return "unknown"
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"
