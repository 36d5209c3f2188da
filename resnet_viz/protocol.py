"""The experiment protocol: what every experiment declares, and what is derived from it.

An experiment is one module in :mod:`resnet_viz.experiments` that ends with one typed record,
``EXPERIMENT = Experiment(...)``, listed once in the registry (``resnet_viz/experiments/__init__.py``).
Its required parts:

- ``name`` (its store kind and CLI subcommand) and ``help`` (one line);
- ``Spec``: a frozen dataclass that *composes* the shared configs (``net: NetConfig``,
  ``data: DataConfig``, ``train: TrainConfig``, each through :func:`resnet_viz.config.nested`, which
  says which of their fields this experiment exposes) and adds only its own fields, each declared
  with :func:`resnet_viz.config.setting` (help text, allowed values, run limits);
- ``run(spec, ctx) -> Outcome``, where ``ctx`` (:class:`Context`) carries progress, cancel, the run
  store and the device;
- ``cost(spec) -> float | None``: predicted seconds, from counted multiply-adds and a measured
  throughput (:mod:`resnet_viz.cost`); it never trains and never touches torch's process-wide settings;
- ``training_runs(spec)``: the training specs it trains (the host's caps and the memory check read them);
- ``summary(spec, outcome) -> str``: what the CLI prints.

Optional parts: ``description``, ``aliases``, ``describe`` (a progress record as a line),
``effects`` (the lesson's headline effects as predicates on a result: :class:`Effect`),
``presets`` (results shipped in assets/), ``recipes`` (named sets of settings), ``split``/``merge``
(units stored one by one, so a sweep or a grown spec trains only what the store lacks; with
``run_units``, several missing units train at once), ``answer`` (which option of the page's question
a result bears out), ``published`` (a paper's numbers, shown labelled) and ``write_files``.

From that declaration come the CLI options, the catalog (``python -m resnet_viz experiments
--json``), validation messages, the pages' widgets, the preset commands and the estimates. Nothing
here imports the registry, so experiments can use each other without import cycles.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import threading
import shlex
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

from .config import check_value, describe_field, hints
from .i18n import N_
from .paths import ASSETS
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


@dataclass(frozen=True)
class Preset:
    """A result shipped in ``assets/`` so that a page shows it at once: the CLI's ``--out`` of exactly
    ``spec`` (the command that makes it is derived from the spec: :func:`command`)."""

    spec: Any
    file: str

    @property
    def path(self) -> Path:
        return ASSETS / self.file


@dataclass(frozen=True)
class Published:
    """A paper's numbers, shown on the page labelled with ``source``, never as measured.

    ``rows`` are table rows (column name -> value); ``columns`` names the columns in the order shown
    (their names are message ids, translated where they are shown)."""

    rows: tuple[dict, ...]
    source: str
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Effect:
    """A lesson's headline effect, judged on one result: what should happen (an English message id),
    whether it did, the measured numbers it was judged on, and the rule (for people, in the bench's
    table). The page's "what to look for", the quiz and ``bench/effects.py`` read the same predicate."""

    name: str
    holds: bool
    numbers: dict
    rule: str = ""


@dataclass(frozen=True)
class Quiz:
    """A lesson's question, asked before its result is shown (``?quiz=1``, and in class mode for the
    whole class). Every text is an English message id, translated where it is shown.

    ``why`` holds one explanation per option: what the result means when it bears that option out
    (the experiment's ``answer``), so that the feedback after an answer never contradicts the result
    on the screen. ``title`` is a neutral page title, shown while a class's question is open."""

    question: str
    options: tuple[str, ...]
    why: tuple[str, ...]
    title: str


@dataclass(frozen=True, eq=False)
class Experiment:
    """One experiment, declared once (see the module docstring for what each part means).

    Raises:
        TypeError: a part that does not fit (a Spec that is not a frozen dataclass, ``split``
            without ``merge``, a preset made with another Spec).
    """

    name: str
    help: str
    Spec: type
    run: Callable[..., Outcome]
    cost: Callable[[Any], float | None]
    training_runs: Callable[[Any], list]
    summary: Callable[[Any, Outcome], str]
    description: str = ""
    aliases: tuple[str, ...] = ()
    describe: Callable[[dict], str] | None = None
    presets: tuple[Preset, ...] = ()
    recipes: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    split: Callable[[Any], list] | None = None
    merge: Callable[[Any, list[dict]], dict] | None = None
    run_units: Callable[[list, Context], list[Outcome]] | None = None
    answer: Callable[[dict], int | None] | None = None
    effects: Callable[[dict], list[Effect]] | None = None
    published: Published | None = None
    write_files: Callable[[Any, dict, Path], dict] | None = None
    quiz: Quiz | None = None

    def __post_init__(self) -> None:
        if not self.name or not self.help:
            raise TypeError("an experiment needs a name and a one-line help")
        params = getattr(self.Spec, "__dataclass_params__", None)
        if params is None or not params.frozen:
            raise TypeError(f"{self.name}: Spec must be a frozen dataclass")
        if (self.split is None) != (self.merge is None) or (self.run_units is not None and self.split is None):
            raise TypeError(f"{self.name}: split and merge come together (and run_units needs them)")
        if self.quiz is not None and (self.answer is None or len(self.quiz.why) != len(self.quiz.options)):
            raise TypeError(f"{self.name}: a quiz needs an answer and one explanation per option")
        for p in self.presets:
            if not isinstance(p.spec, self.Spec):
                raise TypeError(f"{self.name}: preset {p.file} is not a {self.Spec.__qualname__}")

    @property
    def sweepable(self) -> bool:
        """Are its runs stored one by one (``split``/``merge``)? Then sweeps and grown specs reuse them."""
        return self.split is not None

    def preset_for(self, spec: Any) -> Preset | None:
        """The shipped preset made with exactly ``spec``, if there is one."""
        return next((p for p in self.presets if p.spec == spec), None)

    def progress_line(self, record: dict) -> str:
        """A progress record as one line for people (``describe``, else the common fields)."""
        if self.describe is not None:
            return self.describe(record)
        return f"{record.get('run', self.name)}: {record.get('done', '?')}/{record.get('total', '?')}"


VARIANTS = ("plain", "residual")
VARIANT_WORDS = {"plain": N_("plain"), "residual": N_("residual")}
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

    @property
    def one_flag(self) -> str | None:
        """For a bool: the declared flag that sets the opposite of the default (``--plain``), unless this
        experiment's default already is what the flag says (a default of False and ``--no-batchnorm``): then
        None, and the option is the pair ``--batchnorm/--no-batchnorm``."""
        flag = self.meta.get("flag")
        if not flag or (flag.startswith("--no-") and self.default is False):
            return None
        return flag

    def describe(self) -> dict:
        return {**describe_field(self.name, self.type, self.default, self.meta), "option": self.one_flag or self.flag}

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


def made_on(result: dict) -> str:
    """The device and precision a result was trained with ("cpu, fp32"), from the result or its first
    run; "?" for a result stored before the lab recorded them."""
    runs = result.get("runs") or [{}]
    found = result if "device" in result else runs[0]
    device = found.get("device") or "?"
    return f"{device}, {found['precision']}" if found.get("precision") else device


def preset_result(preset: Preset) -> dict | None:
    """A shipped preset's result (written by the CLI's ``--out``), or None when it is missing,
    unreadable or was made with other settings than ``preset.spec``. Settings added to the lab after
    the asset was written read as their defaults (which keep the old behaviour).

    The file is read once per change (pages ask on every rerun of every session); the dict returned
    is shared and must not be changed."""
    try:
        stamp = preset.path.stat().st_mtime_ns
    except OSError:
        return None
    found = _read_preset(str(preset.path), stamp, type(preset.spec))
    return found[0] if found is not None and found[1] == preset.spec else None


@functools.lru_cache(maxsize=16)
def _read_preset(path: str, stamp: int, spec_cls: type) -> tuple[dict, Any] | None:
    """(the asset's JSON, the Spec it was made with), or None when unreadable; ``stamp`` (its
    modification time) keys the cache."""
    try:
        data = json.loads(Path(path).read_text())
        return data, spec_from_dict(spec_cls, data.get("spec") or {})
    except (OSError, TypeError, ValueError, AttributeError):
        return None


# --- commands: a spec as the CLI line that makes it -----------------------------------------------

# said even at their defaults: what a reader of a preset's command wants to know (the nets, how long, the data, the seed)
SHOWN_ALWAYS = ("depths", "depth", "width", "steps", "dataset", "seed", "seeds")


def _encode(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def command(experiment: Experiment, spec: Any, out: str | None = None) -> str:
    """The CLI line that makes ``spec``: ``python -m resnet_viz <name>`` with every setting that differs
    from the Spec's default (and the nets' depth and width, the steps, the dataset and the seed,
    always), then ``--out``. Parsed back by the
    CLI it gives ``spec`` again (a test checks every shown preset)."""
    default = experiment.Spec()
    words = ["python", "-m", "resnet_viz", experiment.name]
    for o in options(experiment.Spec):
        value, base = _value_at(spec, o.path), _value_at(default, o.path)
        if value == base and o.name not in SHOWN_ALWAYS:
            continue
        if o.type is bool:
            if value == base:
                continue
            words.append(o.one_flag or (o.flag if value else "--no-" + o.flag[2:]))
        else:
            words += [o.flag, _encode(value)]
    if out:
        words += ["--out", out]
    return shlex.join(words)


def preset_command(experiment: Experiment, preset: Preset) -> str:
    """The command that wrote a shipped preset (its ``--out`` is the asset)."""
    return command(experiment, preset.spec, f"assets/{preset.file}")


def _value_at(spec: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        spec = getattr(spec, part)
    return spec


def check_before_run(experiment: Experiment, spec: Any) -> None:
    """What can be known to fail before an experiment starts: the dataset's files are missing, or
    its training runs would not fit in memory (the same checks for the CLI and the job queue).

    Raises:
        ValueError: with the message for people.
    """
    from .cost import check_memory
    from .data import check_available

    check_available(spec.data)
    check_memory(experiment.training_runs(spec))


def catalog_entry(experiment: Experiment) -> dict:
    """``{"name", "help", "fields": [{"name", "type", "default", "choices", "help", "min", "max",
    "max_items", "option"}]}``."""
    return {"name": experiment.name, "help": experiment.help,
            "fields": [o.describe() for o in options(experiment.Spec)]}


# --- running through the store ----------------------------------------------------------------------

def on_device(spec: Any, device: str | None) -> Any:
    """``spec`` run on ``device`` (part of its key, so CPU and GPU results are stored apart)."""
    if device is None or not hasattr(spec, "train"):
        return spec
    return dataclasses.replace(spec, train=dataclasses.replace(spec.train, device=device))


def units_of(experiment: Experiment, spec: Any) -> list:
    """The stored units of ``spec``: ``split(spec)`` for an experiment with units, else ``[spec]``."""
    return experiment.split(spec) if experiment.split is not None else [spec]


def missing_units(experiment: Experiment, spec: Any, store: RunStore) -> list:
    """The units of ``spec`` that the store does not have finished (what a job would train)."""
    if store.get(experiment.name, spec) is not None:
        return []
    return [u for u in units_of(experiment, spec) if store.get(experiment.name, u) is None]


def stored_result(experiment: Experiment, spec: Any, store: RunStore) -> Outcome | None:
    """The stored result of ``spec``: the run stored under its own key, else (for an experiment with
    units) its units merged when every one is stored; None otherwise."""
    found = store.get(experiment.name, spec)
    if found is not None:
        return Outcome(found.result, from_store=True, key=found.key)
    if experiment.split is None:
        return None
    parts = [store.get(experiment.name, u) for u in experiment.split(spec)]
    if any(p is None for p in parts):
        return None
    return Outcome(experiment.merge(spec, [p.result for p in parts]), from_store=True,
                   key=store.key(experiment.name, spec))


def partial_result(experiment: Experiment, spec: Any, store: RunStore) -> tuple[dict, int, int] | None:
    """For an experiment with units: (the stored units merged, units stored, units in all) when some
    but not all are stored; None otherwise."""
    if experiment.split is None:
        return None
    parts = [store.get(experiment.name, u) for u in experiment.split(spec)]
    found = [p.result for p in parts if p is not None]
    if not found or len(found) == len(parts):
        return None
    return experiment.merge(spec, found), len(found), len(parts)


def estimate(experiment: Experiment, spec: Any, store: RunStore | None = None) -> float | None:
    """Predicted seconds for what a job of ``spec`` would run: with units, only those the store lacks."""
    if store is None or experiment.split is None:
        return experiment.cost(spec)
    missing = missing_units(experiment, spec, store)
    costs = [experiment.cost(u) for u in missing]
    return None if any(c is None for c in costs) else sum(costs)


def run_cached(experiment: Experiment, spec: Any, ctx: Context | None = None, rerun: bool = False) -> Outcome:
    """Return the stored outcome of (experiment, spec), or run it and store what it returns.

    An experiment with units (``split``/``merge``/``run_units``) stores each unit on its own and
    trains only the units the store lacks, all at once, so adding a depth to a lesson trains only
    the new nets. A cancelled run is not stored; a failure is recorded in the store as "failed" and
    re-raised.
    """
    ctx = ctx or Context()
    spec = on_device(spec, ctx.device)
    store, name = ctx.store, experiment.name
    if store is not None and not rerun:
        stored = stored_result(experiment, spec, store)
        if stored is not None:
            return stored
        if experiment.run_units is not None:
            return _run_missing_units(experiment, spec, ctx)
    key = store.begin(name, spec) if store is not None else ""
    try:
        outcome = experiment.run(spec, ctx)
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


def _run_missing_units(experiment: Experiment, spec: Any, ctx: Context) -> Outcome:
    """Train the units of ``spec`` the store lacks (at once), store each, and merge them with the rest."""
    store, name = ctx.store, experiment.name
    parts = experiment.split(spec)
    found = [store.get(name, u) for u in parts]
    missing = [u for u, f in zip(parts, found) if f is None]
    keys = [store.begin(name, u) for u in missing]
    try:
        outcomes = experiment.run_units(missing, ctx)
    except BaseException as exc:
        for key in keys:
            store.fail(key, f"{type(exc).__name__}: {exc}")
        raise
    for key, outcome in zip(keys, outcomes):
        if outcome.result.get("status") == "cancelled":
            store.delete(key)
        else:
            store.finish(key, outcome.result, outcome.weights)
    new = iter(outcomes)
    results = [stored.result if stored is not None else next(new).result for stored in found]
    merged = experiment.merge(spec, results)
    return Outcome(merged, from_store=False, key=store.key(name, spec))


__all__ = ["Context", "Effect", "Experiment", "Option", "Outcome", "Preset", "Progress", "Published", "VARIANTS", "build", "made_on",
           "build_config", "catalog_entry", "check_before_run", "check_variants", "command", "config_options",
           "estimate", "make", "missing_units", "on_device", "options", "partial_result", "preset_command",
           "preset_result", "run_cached", "spec_from_dict", "stored_result", "units_of"]
