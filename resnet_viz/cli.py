"""``python -m resnet_viz <command>``: the same experiments as the pages, from a terminal.

Every command validates its options through the config dataclasses, so a bad value gets the same
message here as in the dashboard, and exits with status 2 instead of a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Sequence

from .config import (ACTIVATIONS, BLOCKS, DATASET_NAMES, DEVICES, FAMILIES, INITS, PRECISIONS,
                     SCHEDULES, SHORTCUTS, DataConfig, NetConfig, TrainConfig)


def _add_net_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("net")
    g.add_argument("--depth", type=int, default=20, help="weighted layers: CIFAR 6n+2 (9n+2 bottleneck); "
                   "ImageNet 18/34/50/101/152 (default 20)")
    g.add_argument("--block", choices=BLOCKS, default="auto", help="block kind (default: basic; "
                   "ImageNet: the paper's block for the depth)")
    g.add_argument("--plain", action="store_true", help="no shortcuts: the plain counterpart")
    g.add_argument("--shortcut", choices=SHORTCUTS, default="auto",
                   help="A zero-pad identity, B projection where the shape changes, C projection everywhere")
    g.add_argument("--width", type=int, default=None, help="first-stage channels, 1 to 1024 (default 16 CIFAR, 64 ImageNet)")


def _net(args: argparse.Namespace, **extra) -> NetConfig:
    if args.width is not None and args.width < 1:  # NetConfig's width 0 means "the default"; a typed 0 is a mistake
        raise ValueError(f"width must be a whole number from 1 to 1024 (leave --width out for the default); "
                         f"got {args.width}")
    return NetConfig(depth=args.depth, block=args.block, residual=not args.plain, shortcut=args.shortcut,
                     width=args.width or 0, **extra)


def _add_run_options(p: argparse.ArgumentParser, steps: int = 300) -> None:
    g = p.add_argument_group("data and training")
    g.add_argument("--dataset", choices=DATASET_NAMES, default="digits", help="default: digits (offline)")
    g.add_argument("--image-size", type=int, default=0, help="resize images to this side (0 = native)")
    g.add_argument("--train-limit", type=int, default=0, help="use at most this many training images (0 = all)")
    g.add_argument("--steps", type=int, default=steps, help=f"SGD steps (default {steps})")
    g.add_argument("--batch-size", type=int, default=128)
    g.add_argument("--lr", type=float, default=0.1, help="learning rate (default 0.1)")
    g.add_argument("--momentum", type=float, default=0.9)
    g.add_argument("--weight-decay", type=float, default=1e-4)
    g.add_argument("--schedule", choices=SCHEDULES, default="constant")
    g.add_argument("--eval-every", type=int, default=50, help="test-error checkpoint interval (0 = end only)")
    g.add_argument("--seed", type=int, default=0, help="seeds the init and the batch order")
    g.add_argument("--device", choices=DEVICES, default="auto")
    g.add_argument("--precision", choices=PRECISIONS, default="auto")
    g.add_argument("--data-dir", help="directory of MNIST/Fashion-MNIST/CIFAR-10 files (RESNET_VIZ_DATA)")
    g.add_argument("--download", action="store_true", help="let torchvision download missing datasets")
    g.add_argument("--out", help="write the JSON result to this file")
    g.add_argument("--rerun", action="store_true", help="train again even if the run store has this run")


def _data(args: argparse.Namespace) -> DataConfig:
    if args.download:
        os.environ["RESNET_VIZ_DOWNLOAD"] = "1"
    return DataConfig(args.dataset, image_size=args.image_size, train_limit=args.train_limit, seed=args.seed)


def _train(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, momentum=args.momentum,
                       weight_decay=args.weight_decay, schedule=args.schedule, eval_every=args.eval_every,
                       seed=args.seed, device=args.device, precision=args.precision)


class _StepPrinter:
    """Progress on stderr: a rewritten line on a terminal, every 10% otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last_tenth = -1

    def __call__(self, rec: dict) -> None:
        line = f"{rec['run']}: step {rec['done']}/{rec['total']}"
        if "train_loss" in rec:
            line += f"  loss {rec['train_loss']:.3f}  batch error {rec['train_error']:.3f}"
        if self.tty:
            print("\r" + line, end="", file=sys.stderr, flush=True)
            if rec["done"] == rec["total"]:
                print(file=sys.stderr)
        elif (tenth := 10 * rec["done"] // rec["total"]) != self.last_tenth:
            self.last_tenth = tenth
            print(line, file=sys.stderr, flush=True)


def _write_out(path: str | None, payload: dict) -> None:
    if path:
        Path(path).write_text(json.dumps(payload, indent=1))
        print(f"wrote {path}")


def cmd_params(args: argparse.Namespace) -> int:
    from .counting import count

    if args.compare_blocks is not None or args.family_table or args.lineage or args.three_by_three is not None:
        return _params_extras(args)
    classes = args.classes or (1000 if args.family == "imagenet" else 10)
    net = _net(args, family=args.family, num_classes=classes, in_channels=args.in_channels)
    counted = count(net, args.image_size or None)
    payload = {"name": net.name, "family": net.family, "depth": net.depth, "block": net.block,
               "residual": net.residual, "shortcut": net.shortcut, "width": net.width, "classes": classes,
               "image_size": counted["image_size"], "params": counted["params"], "macs": counted["macs"]}
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


def cmd_train(args: argparse.Namespace) -> int:
    from . import experiments
    from .experiments.training import Spec
    from .store import RunStore

    spec = Spec(net=_net(args, activation=args.activation, batchnorm=not args.no_batchnorm, init=args.init),
                data=_data(args), train=_train(args), init_seed=args.seed)
    outcome = experiments.run_cached("train", spec, RunStore(), progress=_StepPrinter(), rerun=args.rerun)
    r = outcome.result
    source = "from the run store" if outcome.from_store else f"trained on {r['device']} ({r['precision']})"
    print(f"{r['name']} on {spec.data.name}, {r['steps_done']} steps, {source}: status {r['status']}")
    if r["message"]:
        print(r["message"])
    if r["final_train_error"] is not None:
        print(f"final train error {r['final_train_error']:.4f}  test error {r['final_test_error']:.4f}  "
              f"({r['seconds']:.1f} s)")
    _write_out(args.out, {**r, "from_store": outcome.from_store, "key": outcome.key})
    return 0 if r["status"] == "completed" else 1


def _params_extras(args: argparse.Namespace) -> int:
    """params --compare-blocks C / --family-table / --lineage / --three-by-three C."""
    from .counting import block_cost, family_rows, three_by_three
    from .lineage import lineage_table

    payload: dict = {}
    if args.compare_blocks is not None:
        c = args.compare_blocks
        payload["blocks"] = {
            "basic": block_cost("basic", c, shortcut=args.shortcut if args.shortcut != "auto" else "B"),
            "bottleneck": block_cost("bottleneck", c, bottleneck_width=args.bottleneck_width or None,
                                     shortcut=args.shortcut if args.shortcut != "auto" else "B")}
        if c % 4 == 0:
            payload["blocks"]["basic_quarter_width"] = block_cost("basic", c // 4)
    if args.family_table:
        variants = ("plain", "A", "B", "C") if args.variant == "all" else (args.variant,)
        payload["family_table"] = [r for v in variants for r in family_rows(args.family, v)]
    if args.lineage:
        payload["lineage"] = lineage_table()
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
    if "three_by_three" in payload:
        t = payload["three_by_three"]
        print(f"three 3x3 convs: {t['stacked']['weights']:,} weights, field {t['stacked']['receptive_field']}x"
              f"{t['stacked']['receptive_field']}; one 7x7 conv: {t['single']['weights']:,} weights, field "
              f"{t['single']['receptive_field']}x{t['single']['receptive_field']} ({t['ratio']:.2f}x)")
    return 0


def _int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected whole numbers separated by commas, e.g. 20,56; got {text!r}")


def _word_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def cmd_degradation(args: argparse.Namespace) -> int:
    from . import experiments
    from .experiments.degradation import Spec
    from .store import RunStore

    seeds = args.seeds if args.seeds else (args.seed,)
    spec = Spec(dataset=args.dataset, depths=args.depths, variants=args.variants, width=args.width,
                steps=args.steps, batch_size=args.batch_size, lr=args.lr, seeds=seeds, block=args.block,
                shortcut=args.shortcut, eval_every=args.eval_every, device=args.device)
    printer = _StepPrinter()
    outcome = experiments.run_cached("degradation", spec, RunStore(), rerun=args.rerun,
                                     progress=lambda rec: printer({**rec, "run": f"{rec['run']} seed {rec['seed']}"}))
    result = outcome.result
    print(f"degradation on {spec.dataset}, {spec.steps} steps, width {spec.width}"
          f"{' (from the run store)' if outcome.from_store else ''}: {result['status']}")
    print(f"{'net':<16}{'seed':>5}{'train error':>13}{'test error':>12}{'seconds':>9}")
    for r in result["runs"]:
        name = f"{'ResNet' if r['variant'] == 'residual' else 'plain'}-{r['depth']}"
        train = "diverged" if r["final_train_error"] is None else f"{r['final_train_error']:.4f}"
        test = "" if r["final_test_error"] is None else f"{r['final_test_error']:.4f}"
        print(f"{name:<16}{r['seed']:>5}{train:>13}{test:>12}{r['seconds']:>9.1f}")
        if r["message"]:
            print(f"  {r['message']}")
    _write_out(args.out, {**result, "spec": dataclasses.asdict(spec), "from_store": outcome.from_store,
                          "key": outcome.key})
    return 0 if result["status"] == "completed" else 1


PROBE_IMAGES = 128


def cmd_gradients(args: argparse.Namespace) -> int:
    from .experiments import gradients
    from .probes import describe_ratio

    specs = [gradients.Spec(dataset=args.dataset, depth=depth, variants=args.variants, activation=args.activation,
                            batchnorm=not args.no_batchnorm, block=args.block, init=args.init, width=args.width,
                            seed=args.seed) for depth in args.depths]
    runs = [r for spec in specs for r in gradients.at_init(spec)["runs"]]
    print(f"gradient norms at initialization on {PROBE_IMAGES} {args.dataset} training images (float64)")
    print(f"{'net':<36}{'first/last block':>18}  gradient")
    for r in runs:
        print(f"{r['name']:<36}{r['first_last_ratio']:>18.4g}  {describe_ratio(r['first_last_ratio'])}")
    _write_out(args.out, {"runs": runs, "probe_images": PROBE_IMAGES, "dataset": args.dataset, "seed": args.seed})
    return 0


def cmd_lesion(args: argparse.Namespace) -> int:
    from . import experiments
    from .experiments.lesion import Spec
    from .store import RunStore

    spec = Spec(dataset=args.dataset, depth=args.depth, width=args.width, steps=args.steps, batch_size=args.batch_size,
                lr=args.lr, seed=args.seed, samples=args.samples, max_k=args.max_k, device=args.device)
    printer = _StepPrinter()
    outcome = experiments.run_cached("lesion", spec, RunStore(), rerun=args.rerun, progress=printer)
    result = outcome.result
    print(f"lesions on {spec.dataset}, depth {spec.depth}, {spec.steps} steps"
          f"{' (from the run store)' if outcome.from_store else ''}: {result['status']}")
    for r in result["runs"]:
        accs = [b["test_accuracy"] for b in r["single_block"] if b["test_accuracy"] is not None]
        accs.sort()
        median = accs[len(accs) // 2] if accs else float("nan")
        print(f"{r['variant']:<9} all blocks {r['base_test_accuracy']:.3f}   one block removed: median "
              f"{median:.3f}, min {min(accs, default=float('nan')):.3f} over {len(accs)} removable blocks")
        print("          k random blocks removed: " + "  ".join(
            f"{k['k']}: {k['mean_test_accuracy']:.3f}" for k in r["random_k"]))
    _write_out(args.out, {**result, "spec": dataclasses.asdict(spec), "from_store": outcome.from_store,
                          "key": outcome.key})
    return 0 if result["status"] == "completed" else 1


def cmd_attribute(args: argparse.Namespace) -> int:
    import torch

    from . import attribution, experiments
    from .data import load_dataset
    from .experiments import lesion
    from .store import RunStore

    if args.method not in attribution.METHODS:
        raise ValueError(f"method must be one of {', '.join(attribution.METHODS)}; got {args.method!r}")
    if not 1 <= args.n_images <= 1000:
        raise ValueError(f"n-images must be from 1 to 1000; got {args.n_images}")
    spec = lesion.Spec(dataset=args.dataset, depth=args.depth, width=args.width, steps=args.steps, seed=args.seed)
    sub = spec.train_specs()[0 if args.variant == "plain" else 1]
    store = RunStore()
    trained = experiments.run_cached("train", sub, store, progress=_StepPrinter())
    weights = store.load_weights(trained.key)
    model = lesion.trained_model(sub, weights)
    data = load_dataset(sub.data)
    x, y = data.test_x[:args.n_images], data.test_y[:args.n_images]
    predicted = attribution.predictions(model, x).argmax(1)
    out_dir = Path(args.out).parent if args.out else None
    images = []
    for i in range(len(y)):
        target = int(predicted[i]) if args.target == "predicted" else int(y[i])
        xi = x[i:i + 1]
        ig = attribution.integrated_gradients(model, xi, target)
        result = ig if args.method == "integrated_gradients" else attribution.attribution_map(model, xi, target, args.method)
        row = {"index": i, "label": int(y[i]), "prediction": int(predicted[i]), "target": target,
               "convergence_delta": ig["convergence_delta"], "output_change": ig["output_change"],
               "attribution_sum": ig["attribution_sum"]}
        if out_dir is not None:
            png = out_dir / f"{Path(args.out).stem}_{i}.png"
            _save_map(xi[0], result["map"], png)
            row["png"] = png.name
        images.append(row)
    importance = attribution.block_importance(model, x, y)
    name = f"{'ResNet' if args.variant == 'residual' else 'plain'}-{args.depth}"
    print(f"{name} on {args.dataset} ({'from the run store' if trained.from_store else 'trained now'}), "
          f"{args.method}, {len(images)} test images")
    for r in images:
        print(f"  #{r['index']}: label {r['label']} predicted {r['prediction']}  f(x)-f(black) "
              f"{r['output_change']:8.3f}  IG sum {r['attribution_sum']:8.3f}  delta {r['convergence_delta']:.2e}")
    _write_out(args.out, {"model": name, "variant": args.variant, "method": args.method, "train_key": trained.key,
                          "images": images, "block_importance": importance})
    return 0


def _save_map(image, attr_map, path: Path, scale: int = 8) -> None:
    """Input (grey) and map side by side as a PNG: red where the map is positive, blue where negative."""
    import torch
    from torchvision.utils import save_image

    img = image.float().mean(0)
    img = (img - img.min()) / (img.max() - img.min() + 1e-8)
    m = attr_map.float()
    m = m / (m.abs().max() + 1e-12)
    heat = torch.stack([1 - m.clamp(max=0).abs(), 1 - m.abs(), 1 - m.clamp(min=0)])  # white at 0
    pair = torch.cat([img.expand(3, -1, -1), torch.ones(3, img.shape[0], 1), heat], dim=2)
    save_image(torch.nn.functional.interpolate(pair[None], scale_factor=scale, mode="nearest")[0], str(path))


def _add_output_options(p: argparse.ArgumentParser, rerun: str = "",
                        out: str = "write the JSON result to this file") -> None:
    """--data-dir and --out (and --rerun with its help text) for the experiment subcommands."""
    p.add_argument("--data-dir", help="directory of MNIST/Fashion-MNIST/CIFAR-10 files (RESNET_VIZ_DATA)")
    p.add_argument("--out", help=out)
    if rerun:
        p.add_argument("--rerun", action="store_true", help=rerun)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m resnet_viz",
                                     description="resnet-viz: the experiments of the ResNet papers, from a terminal.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("params", help="parameters and multiply-adds of a net",
                       description="Count a net's parameters and multiply-adds (torch.utils.flop_counter).")
    p.add_argument("--family", choices=FAMILIES, default="cifar")
    _add_net_options(p)
    p.add_argument("--classes", type=int, default=0, help="classifier outputs (default 10 CIFAR, 1000 ImageNet)")
    p.add_argument("--in-channels", type=int, default=3)
    p.add_argument("--image-size", type=int, default=0, help="input side (default 32 CIFAR, 224 ImageNet)")
    p.add_argument("--stages", action="store_true", help="add the per-stage breakdown")
    p.add_argument("--diagram", action="store_true", help="print the architecture as Graphviz DOT text")
    p.add_argument("--compare-blocks", type=int, metavar="C", help="basic vs bottleneck block at C channels")
    p.add_argument("--bottleneck-width", type=int, default=0, help="3x3 channels of the bottleneck (default C/4)")
    p.add_argument("--family-table", action="store_true",
                   help="every depth of --family with the published counts and the difference")
    p.add_argument("--variant", choices=("plain", "A", "B", "C", "all"), default="all",
                   help="with --family-table: plain or a shortcut option (default all)")
    p.add_argument("--lineage", action="store_true", help="LeNet-5, AlexNet, VGG, GoogLeNet, ResNet-18..152")
    p.add_argument("--three-by-three", type=int, metavar="C", help="three 3x3 convs vs one 7x7 at C channels")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_params)

    p = sub.add_parser("train", help="train one plain or residual CIFAR-style net",
                       description="Train one net (CIFAR family) and report its errors; the run is stored "
                                   "in RESNET_VIZ_HOME and reused when asked again.")
    _add_net_options(p)
    p.add_argument("--activation", choices=ACTIVATIONS, default="relu")
    p.add_argument("--no-batchnorm", action="store_true")
    p.add_argument("--init", choices=INITS, default="he")
    _add_run_options(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("degradation", help="training error vs depth, plain vs residual (He et al. Fig. 6)",
                       description="Train plain and residual nets of several depths with one recipe and "
                                   "compare their training error (He et al. 2016, Fig. 1 and 6).")
    p.add_argument("--dataset", choices=DATASET_NAMES, default="digits")
    p.add_argument("--depths", type=_int_list, default=(20, 56), help="comma-separated, e.g. 20,56 (6n+2)")
    p.add_argument("--variants", type=_word_list, default=("plain", "residual"), help="plain,residual")
    p.add_argument("--width", type=int, default=8, help="first-stage channels (default 8)")
    p.add_argument("--block", choices=BLOCKS, default="basic")
    p.add_argument("--shortcut", choices=SHORTCUTS, default="A")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--eval-every", type=int, default=50)
    p.add_argument("--seed", type=int, default=0, help="one seed")
    p.add_argument("--seeds", type=_int_list, default=None, help="several seeds, e.g. 0,1,2 (overrides --seed)")
    p.add_argument("--device", choices=DEVICES, default="auto")
    _add_output_options(p, rerun="train again even if the run store has this run")
    p.set_defaults(func=cmd_degradation)

    p = sub.add_parser("gradients", help="gradient norm of every conv layer at initialization, plain vs residual",
                       description="Measure the gradient norm of every conv layer's weights at initialization, "
                                   "on one batch of real data, for plain and residual nets (float64).")
    p.add_argument("--dataset", choices=DATASET_NAMES, default="digits")
    p.add_argument("--depths", type=_int_list, default=(56,), help="comma-separated, e.g. 20,56,110 (6n+2)")
    p.add_argument("--variants", type=_word_list, default=("plain", "residual"), help="plain,residual")
    p.add_argument("--activation", choices=ACTIVATIONS, default="relu")
    p.add_argument("--no-batchnorm", action="store_true", help="no BN layers (convs get biases)")
    p.add_argument("--block", choices=("basic", "preact"), default="basic",
                   help="basic: original (activation after the addition); preact: pre-activation")
    p.add_argument("--init", choices=INITS, default="he")
    p.add_argument("--width", type=int, default=8, help="first-stage channels (default 8)")
    p.add_argument("--seed", type=int, default=0, help="seeds the initialization")
    _add_output_options(p)
    p.set_defaults(func=cmd_gradients)

    p = sub.add_parser("lesion", help="remove blocks of trained plain and residual nets (Veit et al. 2016)",
                       description="Train (or reuse from the run store) a plain and a residual net of one depth, "
                                   "then measure test accuracy with single blocks removed, k random blocks "
                                   "removed, and k random swaps of neighbouring blocks.")
    p.add_argument("--dataset", choices=DATASET_NAMES, default="digits")
    p.add_argument("--depth", type=int, default=56, help="6n+2 (default 56)")
    p.add_argument("--width", type=int, default=8, help="first-stage channels (default 8)")
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0, help="init, batch order and the random lesions")
    p.add_argument("--samples", type=int, default=8, help="random draws per k (default 8)")
    p.add_argument("--max-k", type=int, default=8, help="largest number of removed blocks / swaps (default 8)")
    p.add_argument("--device", choices=DEVICES, default="auto")
    _add_output_options(p, rerun="analyse again even if the run store has this result")
    p.set_defaults(func=cmd_lesion)

    p = sub.add_parser("attribute", help="Captum attributions of a trained net, with PNG maps",
                       description="Train (or reuse from the run store) a net, then attribute its predictions on "
                                   "the first test images (Integrated Gradients, saliency or GradCAM) and score "
                                   "every block by gradient x activation of its branch output.")
    p.add_argument("--dataset", choices=DATASET_NAMES, default="digits")
    p.add_argument("--depth", type=int, default=20, help="6n+2 (default 20)")
    p.add_argument("--variant", choices=("residual", "plain"), default="residual")
    p.add_argument("--width", type=int, default=8)
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--method", default="integrated_gradients", help="integrated_gradients, saliency or gradcam")
    p.add_argument("--target", choices=("label", "predicted"), default="label", help="which class to explain")
    p.add_argument("--n-images", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    _add_output_options(p, out="write the JSON here and one PNG per image next to it")
    p.set_defaults(func=cmd_attribute)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "data_dir", None):  # every subcommand that loads data has --data-dir
        os.environ["RESNET_VIZ_DATA"] = args.data_dir
    try:
        return args.func(args)
    except ValueError as exc:  # every invalid setting and missing dataset ends here, with its message
        print(f"{parser.prog} {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
