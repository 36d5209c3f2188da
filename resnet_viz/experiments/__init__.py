"""The registry of experiments. See :mod:`resnet_viz.protocol` for what a record declares.

Each experiment module of this package ends with its record, registered where it is declared:
``EXPERIMENT = register(Experiment(...))``; importing this package imports every module in it, so a
new lesson's experiment is its module and nothing else (no list to extend, no attribute probed).
From the registry come the CLI's subcommands, the catalog (``python -m resnet_viz experiments
--json``), what the job manager and the backends accept, and the catalog of words; tests loop over it.
"""

from __future__ import annotations

import importlib
import pkgutil

from ..protocol import Experiment

EXPERIMENTS: dict[str, Experiment] = {}


def register(experiment: Experiment) -> Experiment:
    """Add an experiment (its name and aliases become CLI subcommands) and return it. Registering the
    same record twice is harmless; another record under a taken name is an error."""
    for name in (experiment.name, *experiment.aliases):
        taken = EXPERIMENTS.get(name) or next((e for e in EXPERIMENTS.values() if name in e.aliases), None)
        if taken is not None and taken is not experiment:
            raise ValueError(f"an experiment named {name!r} is registered already")
    EXPERIMENTS[experiment.name] = experiment
    return experiment


def unregister(name: str) -> None:
    """Remove an experiment (tests that register one at run time clean up with this)."""
    EXPERIMENTS.pop(name, None)


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


for _info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):  # each registers its record
    importlib.import_module(f"{__name__}.{_info.name}")

__all__ = ["EXPERIMENTS", "catalog", "get", "register", "unregister"]
