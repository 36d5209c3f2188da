"""The registry of experiments: one line each. See :mod:`resnet_viz.protocol` for what a record declares.

From this registry come the CLI's subcommands, the catalog (``python -m resnet_viz experiments --json``),
what the job manager and the backends accept, and the catalog of words; tests loop over it.
"""

from __future__ import annotations

from ..protocol import Experiment
from . import attribution, degradation, gradients, landscape, lesion, paths, shortcuts, training

EXPERIMENTS: dict[str, Experiment] = {}


def register(experiment: Experiment) -> Experiment:
    """Add an experiment (its name and aliases become CLI subcommands). Registering the same record
    twice is harmless; another record under a taken name is an error."""
    for name in (experiment.name, *experiment.aliases):
        taken = EXPERIMENTS.get(name) or next((e for e in EXPERIMENTS.values() if name in e.aliases), None)
        if taken is not None and taken is not experiment:
            raise ValueError(f"an experiment named {name!r} is registered already")
    EXPERIMENTS[experiment.name] = experiment
    return experiment


def unregister(name: str) -> None:
    """Remove an experiment (tests that register one at run time clean up with this)."""
    EXPERIMENTS.pop(name, None)


for _module in (training, degradation, gradients, lesion, attribution, shortcuts, landscape, paths):
    register(_module.EXPERIMENT)


def get(name: str) -> Experiment:
    """The experiment registered as ``name`` (or with ``name`` as an alias)."""
    found = EXPERIMENTS.get(name) or next((e for e in EXPERIMENTS.values() if name in e.aliases), None)
    if found is None:
        raise ValueError(f"unknown experiment {name!r}; available: {', '.join(EXPERIMENTS)}")
    return found


def catalog() -> dict:
    """``{"experiments": [{"name", "help", "fields": [...]}]}`` for every registered experiment."""
    from ..protocol import catalog_entry

    return {"experiments": [catalog_entry(e) for e in EXPERIMENTS.values()]}


__all__ = ["EXPERIMENTS", "catalog", "get", "register", "unregister"]
