"""What the lessons' figures share: colours and line styles, so that plain is grey and dashed and
residual red and solid on every page. No streamlit, no torch.

Each lesson's figure builders live in its lesson view (``resnet_viz/ui/lessons/<lesson>.py``): pure
functions, a tidy DataFrame (or an experiment's result) in, a ``go.Figure`` in the session's
language out (the contract between experiments and figures is the tidy table).
"""

from __future__ import annotations

DEPTH_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
VARIANT_DASH = {"plain": "dash", "residual": "solid", "stochastic_depth": "dot"}
VARIANT_COLORS = {"plain": "#7f7f7f", "residual": "#d62728", "stochastic_depth": "#1f77b4"}


def depth_color(depths: list[int], depth: int) -> str:
    """One colour per depth of a figure (the same depth keeps its colour within a figure)."""
    return DEPTH_COLORS[sorted(depths).index(depth) % len(DEPTH_COLORS)]


def rgba(hex_color: str, alpha: float) -> str:
    """``#rrggbb`` with transparency, for the bands over seeds."""
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def variant_line(variant: str) -> dict:
    """The line of a net variant: plain grey and dashed, residual red and solid (thicker)."""
    return dict(color=VARIANT_COLORS[variant], dash=VARIANT_DASH[variant], width=2.5 if variant == "residual" else 2)


__all__ = ["DEPTH_COLORS", "VARIANT_COLORS", "VARIANT_DASH", "depth_color", "rgba", "variant_line"]
