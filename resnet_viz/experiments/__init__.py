"""The registry of experiments: one line each. See :mod:`resnet_viz.protocol` for what a module declares.

From this list come the CLI's subcommands, the catalog (``python -m resnet_viz experiments --json``)
and what the job manager accepts.
"""

from __future__ import annotations

from types import ModuleType

from . import attribution, degradation, gradients, landscape, lesion, paths, shortcuts, training

EXPERIMENTS: dict[str, ModuleType] = {m.NAME: m for m in (
    training,
    degradation,
    gradients,
    lesion,
    attribution,
    shortcuts,
    landscape,
    paths,
)}


def get(name: str) -> ModuleType:
    """The experiment module registered as ``name``."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}; available: {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]


def catalog() -> dict:
    """``{"experiments": [{"name", "help", "fields": [...]}]}`` for every registered experiment."""
    from ..protocol import catalog_entry

    return {"experiments": [catalog_entry(m) for m in EXPERIMENTS.values()]}


__all__ = ["EXPERIMENTS", "catalog", "get"]
