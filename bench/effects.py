"""Does every lesson's headline effect hold on this machine? Each lesson at its page's defaults, over
seeds and precisions, judged by the effect predicates declared next to each experiment
(``Experiment.effects``); prints one JSON table: experiment, effect, seed, precision, the numbers,
holds or not.

    python bench/effects.py                                  # seeds 0,1,2 x fp32,bf16, every lesson
    python bench/effects.py --only shortcuts,landscape --seeds 0 --precisions bf16
    python bench/effects.py --device cuda --out bench/results/effects_cuda.json

bf16 runs on any CPU (autocast), slowly where the CPU lacks AMX. The lessons that share the lesson nets
(lesion, attribution, landscape, paths) share them here too, through one run store per invocation
(``--store`` keeps it: a second invocation judges the stored results again in seconds; each row says
whether it came from the store and the device and precision that trained it).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import emit  # noqa: E402

from resnet_viz.experiments import EXPERIMENTS  # noqa: E402
from resnet_viz.protocol import Context, build, estimate, made_on, options, run_cached  # noqa: E402
from resnet_viz.store import RunStore  # noqa: E402
from resnet_viz.train import conv_memory_format, describe_device, resolve_device  # noqa: E402

# in the order a class meets them; the lessons sharing the lesson nets come after the net's own lesson
ORDER = ("degradation", "gradients", "lesion", "attribution", "shortcuts", "residual_scaling", "shortcut_options", "landscape", "paths")


def spec_at(experiment, seed: int, precision: str):
    """The page's default spec of ``experiment`` with one seed and one precision."""
    names = {o.name for o in options(experiment.Spec)}
    values = {"precision": precision, **({"seeds": (seed,)} if "seeds" in names else {"seed": seed})}
    return build(experiment.Spec, values)


def _seeds(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise ValueError(f"--seeds takes whole numbers separated by commas, e.g. 0,1,2; got {text!r}") from None


def cpu_flags() -> list[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return sorted(f for f in flags if f.startswith(("amx", "avx512_bf16", "avx512f", "avx2")))


def memory_formats(device) -> dict:
    """The layout the lab picks here (train.conv_memory_format) for a net with 1x1 stride-2 convs of 4 input
    channels (width 4, projections) and for one without (width 16)."""
    from resnet_viz.config import NetConfig
    from resnet_viz.models import build_model

    return {f"width {w}, projections": str(conv_memory_format(device, build_model(NetConfig(depth=8, width=w, shortcut="B"))))
            .replace("torch.", "") for w in (4, 16)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (default 0,1,2)")
    parser.add_argument("--precisions", default="fp32,bf16", help="comma-separated: fp32, bf16 (default both)")
    parser.add_argument("--only", default="", help="comma-separated experiments (default: every one with effects)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (default cpu)")
    parser.add_argument("--store", help="run store to use (default: a fresh temporary one)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads, as a server's job process gets (RESNET_VIZ_JOB_THREADS; default: torch's)")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    wanted = [n for n in ORDER if n in EXPERIMENTS and EXPERIMENTS[n].effects is not None]
    wanted += [n for n, e in EXPERIMENTS.items() if e.effects is not None and n not in wanted]
    only = [n.strip() for n in args.only.split(",") if n.strip()]
    if unknown := sorted(set(only) - set(wanted)):
        parser.error(f"--only: {', '.join(unknown)} is not an experiment with effects; choose from {', '.join(wanted)}")
    wanted = [n for n in wanted if n in only] if only else wanted
    try:
        seeds = _seeds(args.seeds)
        precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]
        resolve_device(args.device)
        specs = {(name, seed, precision): spec_at(EXPERIMENTS[name], seed, precision)
                 for precision in precisions for seed in seeds for name in wanted}
    except ValueError as error:  # a seed that is not a number, a precision or device not allowed: one line
        parser.error(str(error))
    store = RunStore(args.store or tempfile.mkdtemp(prefix="resnet-viz-effects-"))
    from resnet_viz.cost import calibrate, throughput

    if throughput(args.device) is None:  # the estimates a page shows come from this host's measured throughput
        calibrate(args.device)
    rows = []
    for precision in precisions:
        for seed in seeds:
            for name in wanted:
                experiment, spec = EXPERIMENTS[name], specs[name, seed, precision]
                predicted = estimate(experiment, spec, store)  # what the page says before Train (None: unknown)
                start = time.perf_counter()
                outcome = run_cached(experiment, spec, Context(store=store, device=args.device))
                seconds = time.perf_counter() - start
                for effect in experiment.effects(outcome.result):
                    rows.append({"experiment": name, "effect": effect.name, "seed": seed, "precision": precision,
                                 "holds": effect.holds, "numbers": {k: round(v, 6) if isinstance(v, float) else v for k, v in effect.numbers.items()},
                                 "rule": effect.rule, "seconds": round(seconds, 1),
                                 "estimate": None if predicted is None else round(predicted, 1), "from_store": outcome.from_store,
                                 "made_on": made_on(outcome.result)})
                    print(f"{name:<12} seed {seed} {precision}: {'holds' if effect.holds else 'DOES NOT HOLD'}  "
                          f"{effect.numbers}  ({seconds:.0f} s)", file=sys.stderr, flush=True)
    summary = {}
    for row in rows:
        cell = summary.setdefault(f"{row['experiment']}: {row['effect']}", {"cells": 0, "held": 0})
        cell["cells"] += 1
        cell["held"] += row["holds"]
    emit({"machine": {"device": describe_device(args.device), "platform": platform.machine(),
                      "cpu_flags": cpu_flags(), "torch": torch.__version__,
                      "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                      "ONEDNN_MAX_CPU_ISA": os.environ.get("ONEDNN_MAX_CPU_ISA", ""),
                      "memory_format": memory_formats(resolve_device(args.device))},
          "seeds": seeds, "precisions": precisions, "summary": summary,
          "every_effect_holds_everywhere": all(r["holds"] for r in rows), "rows": rows}, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
