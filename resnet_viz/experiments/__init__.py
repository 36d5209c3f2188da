"""Experiments: each module has a frozen ``Spec`` and ``run(spec, progress, cancel) -> Outcome``.

The CLI, the background jobs and the tests all call the same ``run``; :func:`run_cached` puts the
run store in front of it so that a spec that was run before answers at once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable

import torch

from ..store import RunStore

Progress = Callable[[dict], None]


@dataclass
class Outcome:
    """An experiment's JSON-ready ``result`` and the ``weights`` to store with it (name -> state)."""

    result: dict
    weights: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)
    from_store: bool = False
    key: str = ""


VARIANTS = ("plain", "residual")


def check_variants(variants: tuple[str, ...]) -> tuple[str, ...]:
    """Validate a variants setting; returns it in canonical order (plain first)."""
    if not variants or not set(variants) <= set(VARIANTS) or len(set(variants)) != len(variants):
        raise ValueError(f"variants must be plain, residual or both; got {tuple(variants)!r}")
    return tuple(v for v in VARIANTS if v in variants)


def check_width(width: int) -> None:
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a whole number from 1 to 1024; got {width!r}")


def registry() -> dict[str, ModuleType]:
    """Experiment name -> module (imported lazily so the CLI's --help stays quick)."""
    from . import degradation, gradients, lesion, training

    return {"train": training, "degradation": degradation, "gradients": gradients, "lesion": lesion}


def get(name: str) -> ModuleType:
    experiments = registry()
    if name not in experiments:
        raise ValueError(f"unknown experiment {name!r}; available: {', '.join(experiments)}")
    return experiments[name]


def run_cached(name: str, spec: Any, store: RunStore | None = None, progress: Progress | None = None,
               cancel: threading.Event | None = None, rerun: bool = False) -> Outcome:
    """Return the stored outcome of (name, spec), or run the experiment and store what it returns.

    A cancelled run is not stored; a failure is recorded in the store as "failed" and re-raised.
    """
    module = get(name)
    if store is not None and not rerun:
        stored = store.get(name, spec)
        if stored is not None:
            return Outcome(stored.result, from_store=True, key=stored.key)
    key = store.begin(name, spec) if store is not None else ""
    try:
        extra = {"store": store} if getattr(module, "USES_STORE", False) else {}
        outcome = module.run(spec, progress=progress, cancel=cancel, **extra)
    except BaseException as exc:
        if store is not None:
            store.fail(key, f"{type(exc).__name__}: {exc}")
        raise
    if store is not None:
        if outcome.result.get("status") == "cancelled":
            store.delete(key)
        else:
            store.finish(key, outcome.result, outcome.weights)
    outcome.key = key
    return outcome
