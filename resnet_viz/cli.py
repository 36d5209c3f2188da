"""``python -m resnet_viz <command>``: the same experiments as the pages, from a terminal.

One subcommand per registered experiment (:mod:`resnet_viz.experiments`, read when the parser is
built, so an experiment registered at run time has its subcommand too), one option per setting of
its Spec, with the Spec's default, help and allowed values (:mod:`resnet_viz.protocol`); nothing
here restates a setting. ``params`` (the calculator of the Parameters page) takes every net setting that
``train`` takes, read from their declarations the same way. A bad value gets the pages' message and exit status
2, checked before any training starts (outputs, the store, memory), never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from .config import FAMILIES, NetConfig
from .protocol import Experiment, Option, config_options, options

MAX_COUNT_SIZE = 1024
def _net_options() -> tuple[str, ...]:
    """Every net setting that ``train`` takes (its Spec's exposed net fields): ``params`` takes them all."""
    from .experiments import training

    return next(f.metadata["expose"] for f in dataclasses.fields(training.Spec) if f.name == "net")


NET_OPTIONS = _net_options()


MAX_RANGE = 10_000
MAX_THREADS = 64


def _int_list(text: str) -> tuple[int, ...]:
    """Whole numbers separated by commas; ``a-b`` is a range (``--seeds 0-4``: 0,1,2,3,4)."""
    values: list[int] = []
    try:
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            low, dash, high = part.partition("-")
            if dash and low.strip():  # "0-4"; a leading minus ("-3") is a negative number
                first, last = int(low), int(high)
                if not 0 <= last - first < MAX_RANGE:
                    raise argparse.ArgumentTypeError(f"a range must go up, by at most {MAX_RANGE} values; got {part!r}")
                values += range(first, last + 1)
            else:
                values.append(int(part))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers separated by commas (a-b for a range), e.g. 20,56 "
                                         f"or 0-4; got {text!r}") from None
    return tuple(values)


def _float_list(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, e.g. 0,-6; got {text!r}")


def _word_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def add_option(group: Any, o: Option, default_shown: Any = None) -> None:
    """One argparse option from a declared setting. Only options the user gives reach the Spec
    (``SUPPRESS``), so the declaration's default is the one default."""
    # argparse formats help with %: a literal one ("at 50% and 75%") must be doubled
    meta, shown = {**o.meta, "help": o.meta["help"].replace("%", "%%")}, o.default if default_shown is None else default_shown
    if o.type is bool:
        if o.one_flag:
            group.add_argument(o.one_flag, dest=o.name, action="store_const", const=not o.default,
                               default=argparse.SUPPRESS, help=meta["help"])
        else:
            group.add_argument(o.flag, dest=o.name, action=argparse.BooleanOptionalAction,
                               default=argparse.SUPPRESS, help=f"{meta['help']} (default: {shown})")
        return
    kwargs: dict[str, Any] = {"dest": o.name, "default": argparse.SUPPRESS}
    item = getattr(o.type, "__args__", (o.type,))[0]
    if item is not o.type:  # a tuple: comma-separated
        kwargs["type"] = {int: _int_list, float: _float_list}.get(item, _word_list)
        shown = ",".join(map(str, shown))
        kwargs["metavar"] = o.name.upper()
    else:
        kwargs["type"] = o.type
        if meta.get("choices") is not None:
            kwargs["choices"] = meta["choices"]
            if "" in meta["choices"]:  # an optional choice: left out means none, so "" is not offered
                kwargs["choices"] = [c for c in meta["choices"] if c]
    if shown == "":
        shown = "none"
    group.add_argument(o.flag, *meta.get("aliases", ()), help=f"{meta['help']} (default: {shown})", **kwargs)


def _given(args: argparse.Namespace, opts: list[Option]) -> dict[str, Any]:
    return {o.name: getattr(args, o.name) for o in opts if hasattr(args, o.name)}


class _StepPrinter:
    """Progress on stderr: a rewritten line on a terminal, every 10% otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last = None

    def __call__(self, rec: dict) -> None:
        if "done" not in rec or "total" not in rec:
            return
        line = f"{rec.get('run', '')}{' seed ' + str(rec['seed']) if 'seed' in rec else ''}: step {rec['done']}/{rec['total']}"
        if "train_loss" in rec:
            line += f"  loss {rec['train_loss']:.3f}  batch error {rec['train_error']:.3f}"
        if self.tty:
            print("\r" + line, end="", file=sys.stderr, flush=True)
            if rec["done"] == rec["total"]:
                print(file=sys.stderr)
        elif (mark := (rec.get("run"), 10 * rec["done"] // max(1, rec["total"]))) != self.last:
            self.last = mark
            print(line, file=sys.stderr, flush=True)


def check_out(path: str | None) -> Path | None:
    """Refuse an output path that cannot be written, before any work starts.

    Raises:
        ValueError: the folder is missing or not writable, or the path is a folder.
    """
    if not path:
        return None
    out = Path(path)
    parent = out.parent if str(out.parent) else Path(".")
    if out.is_dir():
        raise ValueError(f"--out {path} is a folder; give a file name such as {out / 'result.json'}")
    if not parent.is_dir():
        raise ValueError(f"--out {path}: the folder {parent} does not exist; create it first or pick another")
    existed = out.exists()
    try:  # opening it is the one honest test (permissions, read-only mounts, special file systems)
        with open(out, "ab"):
            pass
    except OSError as exc:
        raise ValueError(f"--out {path} cannot be written here ({exc.strerror or exc}); pick another place") from None
    if not existed:
        out.unlink(missing_ok=True)
    return out


def _write_out(out: Path | None, payload: dict) -> None:
    if out is not None:
        try:
            out.write_text(json.dumps(payload, indent=1))
        except OSError as exc:
            raise ValueError(f"--out {out} could not be written ({exc.strerror or exc})") from None
        print(f"wrote {out}")


def check_folder(path: str | None, what: str = "--tensorboard") -> Path | None:
    """Refuse a folder that cannot be created or written, before any work starts."""
    if not path:
        return None
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{what} {path} is a file; give a folder (it is created if missing)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".resnet-viz-write-check"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        raise ValueError(f"{what} {path} cannot be written ({exc.strerror or exc}); pick another folder") from None
    return folder


def _spec(experiment: Experiment, args: argparse.Namespace) -> Any:
    """The Spec of the given options, on top of ``--recipe`` where the experiment has recipes."""
    from .protocol import build

    recipe = experiment.recipes.get(getattr(args, "recipe", None) or "", {})
    return build(experiment.Spec, {**recipe, **_given(args, options(experiment.Spec))})


def _tensorboard(folder: Path | None, result: dict, spec: Any) -> None:
    if folder is not None:
        from .tboard import write

        written = write(result, spec, folder)
        print(f"wrote TensorBoard files of {len(written)} runs to {folder} (tensorboard --logdir {folder})")


def run_experiment(experiment: Experiment, args: argparse.Namespace) -> int:
    """Build the Spec from the given options, check everything that can be checked, run, report."""
    from .protocol import Context, check_before_run, run_cached, stored_result
    from .store import RunStore

    spec = _spec(experiment, args)
    out = check_out(args.out)
    board = check_folder(args.tensorboard)
    store = RunStore()
    if args.rerun or stored_result(experiment, spec, store) is None:
        check_before_run(experiment, spec)
        store.check_writable()
    outcome = run_cached(experiment, spec, Context(progress=_StepPrinter(), store=store), rerun=args.rerun)
    result = outcome.result
    print(experiment.summary(spec, outcome))
    if out is not None and experiment.write_files is not None:
        result = experiment.write_files(spec, result, out)
    _write_out(out, {**result, "spec": dataclasses.asdict(spec), "from_store": outcome.from_store,
                     "key": outcome.key})
    _tensorboard(board, result, spec)
    return 0 if result.get("status", "completed") == "completed" else 1


def run_sweep(experiment: Experiment, args: argparse.Namespace) -> int:
    """``sweep <experiment>``: every run of the spec as its own task (Ray with --ray or RESNET_VIZ_RAY,
    else local processes), stored runs skipped; prints the median and spread per net."""
    import threading

    from . import sweep
    from .backends import check_address, default_backend, ray_address
    from .host import cores
    from .protocol import check_before_run
    from .store import RunStore

    spec = _spec(experiment, args)
    out = check_out(args.out)
    board = check_folder(args.tensorboard)
    address = check_address(args.ray) if args.ray else ray_address()
    if args.workers is not None and not 1 <= args.workers <= 256:
        raise ValueError(f"workers must be a whole number from 1 to 256; got {args.workers}")
    if not 1 <= args.threads <= MAX_THREADS:
        raise ValueError(f"threads must be a whole number from 1 to {MAX_THREADS}; got {args.threads}")
    store = RunStore()
    parts = sweep.units(experiment, spec)
    missing = [u for u in parts if store.get(u.kind, u.spec) is None]
    if missing:
        check_before_run(experiment, spec)
        store.check_writable()
    backend = default_backend(address, args.threads, cores(), args.workers)
    where = f"Ray at {address}" if address else f"{backend.workers} local processes at once"
    print(f"sweep {experiment.name}: {len(parts)} runs, {len(parts) - len(missing)} already stored, "
          f"{len(missing)} to run on {where}", file=sys.stderr)
    printer = _StepPrinter()
    cancel = threading.Event()
    try:
        result = sweep.run(experiment, spec, store, backend, report=printer, cancel=cancel)
    except KeyboardInterrupt:
        cancel.set()
        raise
    print(sweep.table(result["summary"]))
    for problem in result["problems"]:
        print(f"  {problem}")
    print(f"{result['status']}: {result['ran']} runs now, {result['skipped']} from the run store, "
          f"{result['seconds']:.1f} s")
    _write_out(out, {**result, "spec": dataclasses.asdict(spec), "experiment": experiment.name})
    _tensorboard(board, result, spec)
    return 0 if result["status"] == "completed" else 1


def cmd_experiments(args: argparse.Namespace) -> int:
    from .experiments import catalog

    data = catalog()
    if args.json:
        print(json.dumps(data, indent=1))
        return 0
    for e in data["experiments"]:
        print(f"{e['name']}: {e['help']}")
        for f in e["fields"]:
            print(f"  {f['option']:<18} {f['type']:<10} default {f['default']!s:<14} {f['help']}")
    return 0


def _add_net_arguments(p: argparse.ArgumentParser) -> None:
    """The net options of ``params`` and ``code``: the family, every net setting ``train`` takes, classes and
    input channels."""
    p.add_argument("--family", choices=FAMILIES, default="cifar")
    group = p.add_argument_group("net")
    for o in config_options(NetConfig, NET_OPTIONS):
        add_option(group, o, default_shown={"block": "auto", "shortcut": "auto", "width": "the family's"}.get(o.name))
    p.add_argument("--classes", type=int, default=None, help="classifier outputs (default 10 CIFAR, 1000 ImageNet)")
    p.add_argument("--in-channels", type=int, default=3)


def _net_of(args: argparse.Namespace) -> tuple[NetConfig, int]:
    """The net that ``_add_net_arguments``' options describe, and its classes."""
    classes = args.classes if args.classes is not None else (1000 if args.family == "imagenet" else 10)
    return _net(args, family=args.family, num_classes=classes, in_channels=args.in_channels), classes


def cmd_params(args: argparse.Namespace) -> int:
    from .counting import count

    if args.compare_blocks is not None or args.family_table or args.lineage or args.three_by_three is not None:
        return _params_extras(args)
    if args.image_size is not None and not 8 <= args.image_size <= MAX_COUNT_SIZE:
        raise ValueError(f"image-size must be a whole number from 8 to {MAX_COUNT_SIZE}; got {args.image_size}")
    net, classes = _net_of(args)
    counted = count(net, args.image_size)
    payload = {"name": net.name, "family": net.family, "depth": net.depth, "block": net.block,
               "residual": net.residual, "shortcut": net.shortcut, "width": net.width, "classes": classes,
               "image_size": counted["image_size"], "params": counted["params"], "macs": counted["macs"],
               "net": dataclasses.asdict(net)}
    if args.stages:
        payload["stages"] = counted["stages"]
    if args.diagram:
        from .diagram import architecture_dot

        print(architecture_dot(net))
        return 0
    if args.json:
        print(json.dumps(payload, indent=1))
        return 0
    print(f"{net.name} ({net.family}, {net.block} blocks, width {net.width}): {counted['params']:,} parameters, "
          f"{counted['macs'] / 1e6:,.2f} M multiply-adds per {counted['image_size']}x{counted['image_size']} image")
    if args.stages:
        for s in counted["stages"]:
            print(f"  {s['stage']:<7} {s['params']:>13,} params {s['macs'] / 1e6:>12,.2f} M MACs")
    return 0


def cmd_code(args: argparse.Namespace) -> int:
    from .codegen import render

    out = check_out(args.out)  # refused before anything is written
    net, _classes = _net_of(args)
    source = render(net)
    if out is not None:
        out.write_text(source)
        print(f"wrote {args.out}: {net.name}, python {args.out} builds it")
    else:
        print(source, end="")
    return 0


def _params_extras(args: argparse.Namespace) -> int:
    """params --compare-blocks C / --family-table / --lineage / --three-by-three C."""
    from .counting import block_cost, family_rows, three_by_three
    from .lineage import lineage_table, per_layer, shown_formula

    payload: dict = {}
    shortcut = getattr(args, "shortcut", "auto")
    shortcut = "B" if shortcut == "auto" else shortcut
    if args.compare_blocks is not None:
        c = args.compare_blocks
        payload["blocks"] = {
            "basic": block_cost("basic", c, shortcut=shortcut),
            "bottleneck": block_cost("bottleneck", c, bottleneck_width=args.bottleneck_width or None,
                                     shortcut=shortcut)}
        if c % 4 == 0:
            payload["blocks"]["basic_quarter_width"] = block_cost("basic", c // 4)
    if args.family_table:
        variants = ("plain", "A", "B", "C") if args.variant == "all" else (args.variant,)
        payload["family_table"] = [r for v in variants for r in family_rows(args.family, v)]
    if args.lineage:
        payload["lineage"] = lineage_table()
        payload["lineage_layers"] = per_layer()
    if args.three_by_three is not None:
        payload["three_by_three"] = three_by_three(args.three_by_three)
    if args.json:
        print(json.dumps(payload, indent=1))
        return 0
    for kind, cost in payload.get("blocks", {}).items():
        convs = " + ".join(f"{c['formula']}" for c in cost["convs"])
        print(f"{kind:<20} {cost['channels']:>5} ch: {convs} = {cost['conv_weights']:,} conv weights "
              f"(+ {cost['bn_params']:,} BN, {cost['shortcut_params']:,} shortcut)")
    for r in payload.get("family_table", []):
        ref = f"  published {r['published_params']:,} ({r['params_diff_pct']:+.2f}%)" if r["published_params"] else ""
        if r["published_macs"]:
            ref += f", {r['published_macs'] / 1e6:,.0f} M MACs ({r['macs_diff_pct']:+.2f}%)"
        print(f"{r['net']:<26} {r['params']:>13,} params {r['macs'] / 1e6:>12,.1f} M MACs{ref}")
    for r in payload.get("lineage", []):
        err = f"top-1 error {r['top1_error']:.2f}% (torchvision)" if r["top1_error"] is not None else r["note"]
        print(f"{r['net']:<11} {r['year']}  {r['depth']:>3} layers {r['params']:>13,} params "
              f"{r['macs'] / 1e6:>10,.1f} M MACs  {err}")
    layers = payload.get("lineage_layers")
    for n in layers["nets"] if layers else []:
        print(f"\n{n['net']} ({n['input']}; {n['source']}): {n['params']:,} parameters"
              + (f" + {n['fixed']:,} fixed" if n["fixed"] else "") + f", {n['macs']:,} multiply-adds")
        for r in n["rows"]:
            print(f"  {r['layer']:<14} {r['output']:>11} {r['params']:>13,} {r['macs']:>15,}  {shown_formula(r['formula'])}")
    if layers:
        inc = layers["inception_3a"]
        print(f"\nInception 3a: naive {inc['naive']['weights']:,} weights, {inc['naive']['out_channels']} channels out; "
              f"with 1x1 reductions {inc['reduced']['weights']:,} ({inc['reduced_share']:.2f} of naive); with the pool "
              f"projection {inc['full']['weights']:,}, {inc['full']['out_channels']} channels out")
    if "three_by_three" in payload:
        t = payload["three_by_three"]
        print(f"three 3x3 convs: {t['stacked']['weights']:,} weights, field {t['stacked']['receptive_field']}x"
              f"{t['stacked']['receptive_field']}; one 7x7 conv: {t['single']['weights']:,} weights, field "
              f"{t['single']['receptive_field']}x{t['single']['receptive_field']} ({t['ratio']:.2f}x)")
    return 0


def _net(args: argparse.Namespace, **extra) -> NetConfig:
    from .protocol import build_config

    return build_config(NetConfig, _given(args, config_options(NetConfig, NET_OPTIONS)), **extra)


def _common(p: argparse.ArgumentParser, experiment: Experiment) -> None:
    """The options every experiment subcommand (and its sweep) has besides its settings."""
    group = p.add_argument_group("settings (python -m resnet_viz experiments --json lists them)")
    for o in options(experiment.Spec):
        add_option(group, o)
    if experiment.recipes:
        described = "; ".join(f"{name}: {', '.join(f'{k}={v}' for k, v in values.items()) or 'the defaults'}"
                              for name, values in experiment.recipes.items())
        p.add_argument("--recipe", choices=list(experiment.recipes), help="start from a named set of settings (the "
                       f"options given override it): {described}".replace("%", "%%"))
    p.add_argument("--tensorboard", metavar="DIR", help="also write every run's history as TensorBoard event files "
                   "into DIR (tensorboard --logdir DIR)")
    p.add_argument("--data-dir", help="directory of MNIST/Fashion-MNIST/CIFAR-10 files (RESNET_VIZ_DATA)")
    p.add_argument("--download", action="store_true", help="let torchvision download missing datasets")


def _add_experiment(sub: Any, experiment: Experiment) -> None:
    for name in (experiment.name, *experiment.aliases):
        p = sub.add_parser(name, help=experiment.help if name == experiment.name else f"the same as {experiment.name}",
                           description=experiment.description or experiment.help)
        _common(p, experiment)
        p.add_argument("--out", help="write the JSON result to this file" +
                       (" (and the experiment's files next to it)" if experiment.write_files is not None else ""))
        p.add_argument("--rerun", action="store_true", help="run again even if the run store has this result")
        p.set_defaults(func=lambda args, experiment=experiment: run_experiment(experiment, args))


def _per_experiment(p: argparse.ArgumentParser, chosen: Any):
    """``p EXPERIMENT [its settings]``: one subcommand per experiment with its settings; yields (experiment, parser)."""
    kinds = p.add_subparsers(dest="experiment", required=True, metavar="EXPERIMENT")
    for experiment in chosen:
        q = kinds.add_parser(experiment.name, help=experiment.help, description=experiment.description or experiment.help)
        _common(q, experiment)
        yield experiment, q


def _add_sweep(sub: Any) -> None:
    from .experiments import EXPERIMENTS

    p = sub.add_parser("sweep", help="an experiment's runs fanned out as separate tasks (Ray or local processes)",
                       description="Run every (seed, depth, variant) of an experiment as its own task: Ray tasks "
                                   "with --ray ADDRESS or RESNET_VIZ_RAY, else local processes. Runs already in the "
                                   "run store are skipped. Prints the median and spread over seeds per net.")
    for experiment, q in _per_experiment(p, (e for e in EXPERIMENTS.values() if e.sweepable)):
        q.add_argument("--ray", metavar="ADDRESS", help="run on Ray: auto (this machine's cluster, or a new local "
                       "one), ray://host:port or host:port (default: RESNET_VIZ_RAY, else local processes)")
        q.add_argument("--workers", type=int, help="local processes at once (default: one per core; 8 on a GPU)")
        q.add_argument("--threads", type=int, default=1, metavar="N",
                       help=f"torch threads (CPU cores) per run, 1 to {MAX_THREADS} (default 1)")
        q.add_argument("--out", help="write {runs, summary} as JSON to this file")
        q.set_defaults(func=lambda args, experiment=experiment: run_sweep(experiment, args))


def _add_serve(sub: Any) -> None:
    from .host import physical_cores

    p = sub.add_parser("serve", help="a lecture hall: several server processes behind HAProxy, one job queue",
                       description="Start N Streamlit server processes and HAProxy in front of them (sticky sessions by "
                                   "cookie, websockets, health checks) on one address; this process trains every job "
                                   "of the hall and restarts what dies. Ctrl-C stops everything. One process needs "
                                   "none of this: streamlit run app.py.")
    p.add_argument("--workers", type=int, default=physical_cores(),
                   help=f"server processes, 1 to 64 (default: the physical cores, {physical_cores()}: two hyperthreads "
                        f"of one core serve no more than one process does)")
    p.add_argument("--port", type=int, default=8501, help="the hall's port (default 8501)")
    p.add_argument("--address", default="0.0.0.0", help="the address to listen on (default 0.0.0.0: the network)")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from .serve import Hall, haproxy_binary

    if not 1 <= args.workers <= 64:
        raise ValueError(f"workers must be a whole number from 1 to 64; got {args.workers}")
    if not 1 <= args.port <= 65535:
        raise ValueError(f"port must be from 1 to 65535; got {args.port}")
    haproxy_binary()
    import socket

    with socket.socket() as probe:
        try:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((args.address, args.port))
        except OSError as exc:
            raise ValueError(f"cannot listen on {args.address}:{args.port} ({exc.strerror}); choose another --port "
                             "or --address") from None
    try:
        hall = Hall(args.workers, args.port, args.address).start()
    except RuntimeError as exc:  # a process that did not start: where its log is
        print(f"python -m resnet_viz serve: {exc}", file=sys.stderr)
        return 1
    shown = "localhost" if args.address in ("0.0.0.0", "::") else args.address
    print(f"resnet-viz hall: {args.workers} server processes behind HAProxy at http://{shown}:{args.port} "
          f"(logs in {hall.folder}); Ctrl-C stops it", flush=True)
    hall.serve_forever()
    return 0


def _add_notebook(sub: Any) -> None:
    from .experiments import EXPERIMENTS
    from .i18n import LANGUAGES

    p = sub.add_parser("notebook", help="a lesson as a Jupyter notebook that runs on its own",
                       description="Write the experiment as configured as an .ipynb notebook: its data, each net as plain "
                                   "PyTorch, the lab's training loop with its recipe and seeds, and the lesson's main plot "
                                   "(needs nbformat; it runs in Jupyter with torch and plotly).")
    for experiment, q in _per_experiment(p, EXPERIMENTS.values()):
        q.add_argument("--lang", choices=list(LANGUAGES), default="en", help="the notebook's language (default en)")
        q.add_argument("--lab-url", default="http://localhost:8501",
                       help="the lab's address, for the link back to it (default http://localhost:8501)")
        q.add_argument("--out", required=True, help="write the notebook here (lesson.ipynb)")
        q.set_defaults(func=lambda args, experiment=experiment: cmd_notebook(experiment, args))


def cmd_notebook(experiment: Experiment, args: argparse.Namespace) -> int:
    from .i18n import translate
    from .notebook import build, dumps, lab_link

    spec = _spec(experiment, args)
    out = check_out(args.out)
    link = lab_link(experiment, spec, args.lab_url, args.lang)
    notebook = build(experiment, spec, lambda m: translate(m, args.lang), args.lang, lab_url=link)
    out.write_text(dumps(notebook), encoding="utf-8")
    print(f"wrote {args.out}: {experiment.name}, {len(notebook.cells)} cells; jupyter lab {args.out} opens it")
    return 0


class _Parser(argparse.ArgumentParser):
    """Bad input is one line (what is wrong and where the help is) and exit status 2, not the usage block."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    from .experiments import EXPERIMENTS

    parser = _Parser(prog="python -m resnet_viz",
                                     description="resnet-viz: the experiments of the ResNet papers, from a terminal.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("experiments", help="the catalog: every experiment and its settings",
                       description="List every experiment with its settings (name, type, default, choices, help).")
    p.add_argument("--json", action="store_true", help="print the catalog as JSON")
    p.set_defaults(func=cmd_experiments)

    p = sub.add_parser("params", help="parameters and multiply-adds of a net",
                       description="Count a net's parameters and multiply-adds (torch.utils.flop_counter).")
    _add_net_arguments(p)
    p.add_argument("--image-size", type=int, default=None, help="input side (default 32 CIFAR, 224 ImageNet)")
    p.add_argument("--stages", action="store_true", help="add the per-stage breakdown")
    p.add_argument("--diagram", action="store_true", help="print the architecture as Graphviz DOT text")
    p.add_argument("--compare-blocks", type=int, metavar="C", help="basic vs bottleneck block at C channels")
    p.add_argument("--bottleneck-width", type=int, default=0, help="3x3 channels of the bottleneck (default C/4)")
    p.add_argument("--family-table", action="store_true",
                   help="every depth of --family with the published counts and the difference")
    p.add_argument("--variant", choices=("plain", "A", "B", "C", "all"), default="all",
                   help="with --family-table: plain or a shortcut option (default all)")
    p.add_argument("--lineage", action="store_true", help="LeNet-5, AlexNet, VGG, GoogLeNet, ResNet-18..152, Inception-ResNet: totals and "
                                                       "each net layer by layer")
    p.add_argument("--three-by-three", type=int, metavar="C", help="three 3x3 convs vs one 7x7 at C channels")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_params)

    p = sub.add_parser("code", help="the net as standalone PyTorch code (torch only)",
                       description="Write a Python file that defines make_net(), returning the configured net as plain "
                                   "PyTorch (no resnet_viz import); the lab's weights load into it by name.")
    _add_net_arguments(p)
    p.add_argument("--out", help="write the code here (default: print it)")
    p.set_defaults(func=cmd_code)

    for experiment in list(EXPERIMENTS.values()):
        _add_experiment(sub, experiment)
    _add_sweep(sub)
    _add_notebook(sub)
    _add_serve(sub)
    from .class_cli import add_parser as add_class

    add_class(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "data_dir", None):  # every experiment subcommand has --data-dir
        os.environ["RESNET_VIZ_DATA"] = args.data_dir
    if getattr(args, "download", False):
        os.environ["RESNET_VIZ_DOWNLOAD"] = "1"
    try:
        return args.func(args)
    except ValueError as exc:  # every invalid setting and missing dataset ends here, with its message
        print(f"{parser.prog} {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `... | head` closed the pipe: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
