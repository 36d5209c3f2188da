"""Sweeps: an experiment's runs fanned out one per task, each stored on its own, summarized per net.

An experiment can be swept when its record declares ``split(spec) -> [Spec]`` (one stored unit per
run, e.g. one (depth, seed, variant) of the degradation experiment) and ``merge(spec, results) ->
result`` (the units' results as one result of the whole spec). The units run on a backend
(:mod:`resnet_viz.backends`: Ray when the host configured it, local processes otherwise); units
already in the run store are not run again, so a sweep that was stopped goes on where it was, and
five more seeds cost only the new runs.

The summary follows He et al. (2016), who report "best (mean +- std) over 5 runs": per net (variant,
depth) the median, lowest and highest final training error over the seeds and the median test error.
"""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any, Callable

from .backends import Unit
from .protocol import Experiment
from .store import RunStore


def units(experiment: Experiment, spec: Any) -> list[Unit]:
    """The stored units of a sweep over ``spec``, in the experiment's own run order."""
    if not experiment.sweepable:
        raise ValueError(f"the {experiment.name} experiment cannot be swept (only experiments whose runs are stored "
                         "one by one can)")
    return [Unit(experiment.name, part) for part in experiment.split(spec)]


def key(store: RunStore, experiment: Experiment, spec: Any) -> str:
    """The job key of a sweep (sweeps are not stored themselves: their units are)."""
    import dataclasses

    return store.key("sweep", {"kind": experiment.name, "spec": dataclasses.asdict(spec)})


def stored_units(store: RunStore, experiment: Experiment, spec: Any) -> bool:
    """Is every unit of the sweep finished in the store? (Reads only the small status files.)"""
    return all((store.status(store.key(u.kind, u.spec)) or {}).get("status") == "done"
               for u in units(experiment, spec))


def stored(store: RunStore, experiment: Experiment, spec: Any) -> dict | None:
    """The merged result when every unit of the sweep is in the store, else None."""
    parts = units(experiment, spec)
    if not stored_units(store, experiment, spec):
        return None
    results = [store.get(u.kind, u.spec) for u in parts]
    if any(r is None for r in results):
        return None
    merged = experiment.merge(spec, [r.result for r in results])
    return {**merged, "summary": summarize(merged["runs"]), "skipped": len(parts), "ran": 0}


def summarize(runs: list[dict]) -> list[dict]:
    """Per net (variant, depth): ``{"variant", "depth", "median_final_train_error",
    "min_final_train_error", "max_final_train_error", "median_final_test_error", "seeds",
    "diverged"}``; a diverged run counts in ``seeds`` and ``diverged`` but has no error to take the
    median of."""
    nets: dict[tuple[str, int], list[dict]] = {}
    for r in runs:
        nets.setdefault((r["variant"], r["depth"]), []).append(r)
    out = []
    for (variant, depth), group in sorted(nets.items(), key=lambda item: (item[0][1], item[0][0])):
        train = [r["final_train_error"] for r in group if r.get("final_train_error") is not None]
        test = [r["final_test_error"] for r in group if r.get("final_test_error") is not None]
        out.append({"variant": variant, "depth": depth,
                    "median_final_train_error": statistics.median(train) if train else None,
                    "min_final_train_error": min(train) if train else None,
                    "max_final_train_error": max(train) if train else None,
                    "median_final_test_error": statistics.median(test) if test else None,
                    "seeds": sorted(r["seed"] for r in group),
                    "diverged": sum(r.get("final_train_error") is None for r in group)})
    return out


def run(experiment: Experiment, spec: Any, store: RunStore, backend: Any,
        report: Callable[[dict], None] | None = None, cancel: threading.Event | None = None) -> dict:
    """Run the units of ``spec`` that the store lacks on ``backend``; merge everything.

    Progress records are the units' own, with ``run_index`` (the unit), ``runs`` (how many) and
    ``fraction`` (the share of the sweep done, stored units counting as done).

    Returns:
        ``{"status": "completed" | "cancelled" | "failed" | "interrupted", "runs": [...], "summary":
        [...], "skipped": units found in the store, "ran": units run now, "problems": ["plain-56 seed 3:
        why", ...], "backend", "seconds"}``; ``runs`` holds every unit that is stored now.
    """
    start = time.time()
    cancel = cancel or threading.Event()
    parts = units(experiment, spec)
    results: list[dict | None] = []
    for u in parts:
        found = store.get(u.kind, u.spec)
        results.append(found.result if found is not None else None)
    todo = [i for i, r in enumerate(results) if r is None]
    done = [1.0 if r is not None else 0.0 for r in results]
    lock = threading.Lock()

    def relay(j: int, rec: dict) -> None:
        i = todo[j]
        with lock:
            if "total" in rec and rec.get("done") is not None:
                done[i] = float(rec.get("fraction", rec["done"] / max(1, rec["total"])))
            fraction = sum(done) / len(done)
        if report is not None:
            report({**rec, "run_index": i, "runs": len(parts), "fraction": fraction})

    outcomes = backend.run([parts[i] for i in todo], str(store.root), relay, cancel) if todo else []
    problems, states = [], set()
    for i, outcome in zip(todo, outcomes):
        states.add(outcome.state)
        if outcome.state == "done":
            results[i] = outcome.result
        elif outcome.state != "cancelled":
            problems.append(f"{describe_unit(parts[i])}: {outcome.state}: {outcome.error}")
    status = next((s for s in ("interrupted", "failed", "cancelled") if s in states), "completed")
    merged = experiment.merge(spec, [r for r in results if r is not None])
    return {**merged, "status": status, "summary": summarize(merged["runs"]), "skipped": len(parts) - len(todo),
            "ran": len(todo), "problems": problems, "backend": getattr(backend, "name", "?"),
            "seconds": round(time.time() - start, 2)}


def describe_unit(unit: Unit) -> str:
    spec = unit.spec
    parts = [unit.kind]
    for name in ("variants", "depths", "seeds"):
        value = getattr(spec, name, None)
        if value is not None:
            parts.append(f"{name[:-1]} {','.join(map(str, value))}")
    return " ".join(parts)


def table(summary: list[dict]) -> str:
    """The summary as lines for a terminal."""
    from .protocol import run_name

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.2f}"

    lines = [f"{'net':<14}{'seeds':>6}{'median train err %':>20}{'min..max':>16}{'median test err %':>19}"]
    for s in summary:
        spread = f"{pct(s['min_final_train_error'])}..{pct(s['max_final_train_error'])}"
        lines.append(f"{run_name(s['variant'], s['depth']):<14}{len(s['seeds']):>6}"
                     f"{pct(s['median_final_train_error']):>20}{spread:>16}{pct(s['median_final_test_error']):>19}"
                     + (f"  ({s['diverged']} diverged)" if s["diverged"] else ""))
    return "\n".join(lines)


__all__ = ["key", "of_settings", "run", "run_rows", "stored", "stored_units", "summarize", "table", "unit_results", "units"]


def unit_results(store: RunStore, experiment: Experiment, spec: Any) -> list[tuple[Unit, dict | None]]:
    """Every unit of a sweep with its stored result (None while it is not stored)."""
    out = []
    for u in units(experiment, spec):
        found = store.get(u.kind, u.spec)
        out.append((u, found.result if found is not None else None))
    return out


def of_settings(store: RunStore, kind: str, values: dict) -> tuple[Experiment, Any, list[tuple[Unit, dict | None]]]:
    """The sweep of experiment ``kind`` at user-facing settings ``values`` (a class's sweep): the
    experiment, its spec, and every unit with its stored result."""
    from . import experiments
    from .protocol import build

    experiment = experiments.get(kind)
    spec = build(experiment.Spec, values)
    return experiment, spec, unit_results(store, experiment, spec)


def run_rows(found: list[tuple[Unit, dict | None]], who: dict[int, str] | None = None) -> list[dict]:
    """One row per finished run of the units (a class's figure): ``{"unit", "variant", "depth", "seed",
    "final_train_error", "final_test_error", "seconds", "by"}``; ``by``: who trained the unit (a
    nickname, from ``who``: unit index -> name)."""
    rows = []
    for i, (_unit, result) in enumerate(found):
        for r in (result or {}).get("runs", []):
            rows.append({"unit": i, "variant": r.get("variant"), "depth": r.get("depth"), "seed": r.get("seed"),
                         "final_train_error": r.get("final_train_error"), "final_test_error": r.get("final_test_error"),
                         "seconds": r.get("seconds"), "by": (who or {}).get(i, "")})
    return rows
