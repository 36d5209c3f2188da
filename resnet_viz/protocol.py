"""The experiment protocol: what every experiment declares, and what is derived from it.

An experiment is one module in :mod:`resnet_viz.experiments` with

- ``NAME`` (its store kind and CLI subcommand) and ``HELP`` (one line);
- ``Spec``: a frozen dataclass that *composes* the shared configs (``net: NetConfig``,
  ``data: DataConfig``, ``train: TrainConfig``, each through :func:`resnet_viz.config.nested`, which
  says which of their fields this experiment exposes) and adds only its own fields, each declared
  with :func:`resnet_viz.config.setting` (help text, allowed values);
- ``run(spec, ctx) -> Outcome``, where ``ctx`` (:class:`Context`) carries progress, cancel, the run
  store and the device;
- ``cost(spec) -> float``: predicted seconds, from counted multiply-adds and a measured throughput
  (:mod:`resnet_viz.cost`); it never trains and never touches torch's process-wide settings;
- optionally ``summary(result) -> str`` (what the CLI prints) and ``write_files(result, out)``
  (extra files next to ``--out``).

From that declaration come the CLI options, the catalog (``python -m resnet_viz experiments
--json``), validation messages, the pages' default widgets and the estimates. Nothing here imports
the registry, so experiments can use each other without import cycles.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import threading
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import torch

from .config import check_value, describe_field, hints
from .store import RunStore

Progress = Callable[[dict], None]


@dataclass
class Outcome:
    """An experiment's JSON-ready ``result`` and the ``weights`` to store with it (name -> state)."""

    result: dict
    weights: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)
    from_store: bool = False
    key: str = ""


@dataclass
class Context:
    """What a run gets besides its spec.

    Args:
        progress: called with step records (``done``, ``total``, ``fraction``, ...); never ``st.*``.
        cancel: set it to stop the run before its next step (the result's status is "cancelled").
        store: the run store, for experiments that reuse stored runs (None: nothing is stored).
        device: runs the spec on this device instead of its own ("cpu", "cuda", ...; None: the spec
            decides). It becomes part of the spec, so CPU and GPU results are stored apart.
    """

    progress: Progress | None = None
    cancel: threading.Event | None = None
    store: RunStore | None = None
    device: str | None = None

    def report(self, record: dict) -> None:
        if self.progress is not None:
            self.progress(record)

    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def with_progress(self, progress: Progress | None) -> "Context":
        return dataclasses.replace(self, progress=progress)


VARIANTS = ("plain", "residual")
STOCHASTIC = "stochastic_depth"  # the residual net trained with stochastic depth (lesion experiment)


def run_name(variant: str, depth: int) -> str:
    """A run's name for people: "plain-56", "ResNet-56", "ResNet-56 + stochastic depth"."""
    names = {"plain": f"plain-{depth}", "residual": f"ResNet-{depth}", STOCHASTIC: f"ResNet-{depth} + stochastic depth"}
    return names[variant]


def check_variants(variants: tuple[str, ...]) -> tuple[str, ...]:
    """Validate a variants setting; returns it in canonical order (plain first)."""
    if not variants or not set(variants) <= set(VARIANTS) or len(set(variants)) != len(variants):
        raise ValueError(f"variants must be plain, residual or both; got {tuple(variants)!r}")
    return tuple(v for v in VARIANTS if v in variants)


# --- flattening: a Spec's user-facing settings ------------------------------------------------------

@dataclass(frozen=True)
class Option:
    """One user-facing setting of an experiment: an own field or an exposed field of a nested config.

    ``path`` is ("depths",) for an own field or ("net", "width") for a nested one; ``name`` is what
    the CLI, the catalog and the widgets call it (the field's ``option`` metadata, else its name).
    """

    name: str
    path: tuple[str, ...]
    type: Any
    default: Any
    meta: dict

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def describe(self) -> dict:
        return {**describe_field(self.name, self.type, self.default, self.meta), "option": self.meta.get("flag") or self.flag}

    def check(self, value: Any) -> Any:
        return check_value(self.meta.get("label") or self.name, value, self.type, self.meta)


def _options_of(config: Any, names: tuple[str, ...], prefix: tuple[str, ...] = ()) -> list[Option]:
    """Options for some declared fields of a config instance, with its values as the defaults."""
    types = hints(type(config))
    by_name = {f.name: f for f in fields(config)}
    return [Option(by_name[n].metadata.get("option") or n, prefix + (n,), types[n], getattr(config, n),
                   dict(by_name[n].metadata)) for n in names]


def config_options(cls: type, names: tuple[str, ...]) -> list[Option]:
    """Options for some fields of a plain config (e.g. the net fields of ``params``)."""
    return _options_of(cls(), names)


@functools.lru_cache(maxsize=None)
def options(spec_cls: type) -> tuple[Option, ...]:
    """Every user-facing setting of an experiment's Spec, in declaration order (computed once per
    class: pages build widgets and specs from it on every run)."""
    default = spec_cls()
    found: list[Option] = []
    for f in fields(spec_cls):
        if "expose" in f.metadata:
            found += _options_of(getattr(default, f.name), f.metadata["expose"], (f.name,))
        elif "help" in f.metadata:
            found += _options_of(default, (f.name,))
    names = [o.name for o in found]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise TypeError(f"{spec_cls.__qualname__} exposes {', '.join(sorted(duplicates))} twice")
    return tuple(found)


def build(spec_cls: type, values: dict[str, Any] | None = None, base: Any = None) -> Any:
    """A Spec from user-facing values (option name -> value); the others keep ``base``'s (default:
    the Spec's defaults). Every value is checked against its declaration first.

    Raises:
        ValueError: an unknown setting, or a value that is not allowed (the message says what is).
    """
    values = dict(values or {})
    by_name = {o.name: o for o in options(spec_cls)}
    unknown = set(values) - set(by_name)
    if unknown:
        raise ValueError(f"unknown setting {', '.join(sorted(unknown))}; allowed: {', '.join(by_name)}")
    base = base if base is not None else spec_cls()
    own: dict[str, Any] = {}
    inner: dict[str, dict[str, Any]] = {}
    for name, value in values.items():
        o = by_name[name]
        value = o.check(value)
        if len(o.path) == 1:
            own[o.path[0]] = value
        else:
            inner.setdefault(o.path[0], {})[o.path[1]] = value
    for outer, changes in inner.items():
        own[outer] = dataclasses.replace(getattr(base, outer), **changes)
    return dataclasses.replace(base, **own)


def build_config(cls: type, values: dict[str, Any], **extra: Any) -> Any:
    """A plain config from user-facing values (checked against their declarations) and ``extra``."""
    by_name = {o.name: o for o in config_options(cls, tuple(f.name for f in fields(cls) if "help" in f.metadata))}
    checked = {by_name[name].path[0]: by_name[name].check(value) for name, value in values.items()}
    return cls(**checked, **extra)


def make(spec_cls: type, **values: Any) -> Any:
    """``make(degradation.Spec, depths=(8, 32), width=4)``: :func:`build` with keyword arguments."""
    return build(spec_cls, values)


def spec_from_dict(spec_cls: type, data: dict) -> Any:
    """A Spec from its stored JSON form (``dataclasses.asdict``); unknown or missing fields raise
    ValueError (a run stored by an older version of the lab is then simply not offered)."""
    kwargs = {}
    types = hints(spec_cls)
    for f in fields(spec_cls):
        if f.name not in data:
            continue
        value = data[f.name]
        if "expose" in f.metadata:
            inner_cls = types[f.name]
            try:
                value = inner_cls(**value)
            except TypeError as exc:
                raise ValueError(f"stored {f.name} does not fit {inner_cls.__name__}: {exc}") from None
        kwargs[f.name] = value
    unknown = set(data) - {f.name for f in fields(spec_cls)}
    if unknown:
        raise ValueError(f"stored spec has unknown fields {', '.join(sorted(unknown))}")
    return spec_cls(**kwargs)


def preset(path: Path, spec: Any) -> dict | None:
    """A precomputed result shipped as a JSON asset (written by the CLI's ``--out``), if it was made
    with exactly ``spec``; None when it is missing, unreadable or made with other settings. Settings
    added to the lab after the asset was written read as their defaults (which keep the old behaviour).

    The file is read once per change (pages ask on every rerun of every session); the dict returned
    is shared and must not be changed."""
    try:
        stamp = Path(path).stat().st_mtime_ns
    except OSError:
        return None
    found = _read_preset(str(path), stamp, type(spec))
    return found[0] if found is not None and found[1] == spec else None


@functools.lru_cache(maxsize=16)
def _read_preset(path: str, stamp: int, spec_cls: type) -> tuple[dict, Any] | None:
    """(the asset's JSON, the Spec it was made with), or None when unreadable; ``stamp`` (its
    modification time) keys the cache."""
    try:
        data = json.loads(Path(path).read_text())
        return data, spec_from_dict(spec_cls, data.get("spec") or {})
    except (OSError, TypeError, ValueError, AttributeError):
        return None


def check_before_run(module: ModuleType, spec: Any) -> None:
    """What can be known to fail before an experiment starts: the dataset's files are missing, or
    its training runs would not fit in memory (the same checks for the CLI and the job queue).

    Raises:
        ValueError: with the message for people.
    """
    from .cost import check_memory
    from .data import check_available

    check_available(spec.data)
    check_memory(module.training_runs(spec))


def catalog_entry(module: ModuleType) -> dict:
    """``{"name", "help", "fields": [{"name", "type", "default", "choices", "help", "min", "max", "option"}]}``."""
    return {"name": module.NAME, "help": module.HELP, "fields": [o.describe() for o in options(module.Spec)]}


# --- running through the store ----------------------------------------------------------------------

def run_cached(module: ModuleType, spec: Any, ctx: Context | None = None, rerun: bool = False) -> Outcome:
    """Return the stored outcome of (experiment, spec), or run it and store what it returns.

    A cancelled run is not stored; a failure is recorded in the store as "failed" and re-raised.
    """
    ctx = ctx or Context()
    if ctx.device is not None and hasattr(spec, "train"):  # the device is part of the spec (and its key)
        spec = dataclasses.replace(spec, train=dataclasses.replace(spec.train, device=ctx.device))
    store, name = ctx.store, module.NAME
    if store is not None and not rerun:
        stored = store.get(name, spec)
        if stored is not None:
            return Outcome(stored.result, from_store=True, key=stored.key)
    key = store.begin(name, spec) if store is not None else ""
    try:
        outcome = module.run(spec, ctx)
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


__all__ = ["Context", "Option", "Outcome", "Progress", "VARIANTS", "build", "build_config", "catalog_entry",
           "check_before_run", "check_variants", "config_options", "make", "options", "preset", "run_cached",
           "spec_from_dict"]
