"""Training throughput at the paper's CIFAR shape, and what its Fig. 6 workload would cost here.

    python bench/cifar_speed.py [--device auto] [--depths 20,32,44,56] [--steps 200] [--full 64000] [--out result.json]

Synthetic data of CIFAR-10's shape (3x32x32, 10 classes; random, since only the speed is measured),
batch 128, the paper's CIFAR nets (width 16, option A shortcuts), plain and residual. Each net is
timed four ways: a straightforward loop (fp32, eager, NCHW, the loss read every step), and our
engine (``resnet_viz.train.fit``) with its automatic policy, with CUDA graphs switched off, and with
fp32 forced, and with the paper's augmentation (pad 4, random crop, flip, on the device); then all
nets train at once (``fit_many``). ``--full N`` then trains the whole Fig. 6 workload for real with the
paper's recipe (all 8 nets at once, N iterations each, augmentation, lr steps at 50% and 75%, test error
at the end) and reports its wall time: with N = 64000 that is the paper's figure. Step times are steady-state (after ``--warmup`` steps, which include any graph capture);
``fit_seconds`` is the whole call, capture included. Fig. 6 trains plain and residual nets of depth
20, 32, 44 and 56 for 64k iterations each; its estimate here multiplies those step times out
(evaluation passes left out). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from resnet_viz.config import NetConfig, TrainConfig  # noqa: E402
from resnet_viz.data import Dataset  # noqa: E402
from resnet_viz.models import build_model  # noqa: E402
from resnet_viz.train import describe_device, fit, fit_many, parallel_workers, resolve_device  # noqa: E402

from common import emit  # noqa: E402

BATCH = 128
FIG6_ITERATIONS = 64_000


def synthetic_cifar(n_train: int, n_test: int, seed: int = 0) -> Dataset:
    gen = torch.Generator().manual_seed(seed)
    return Dataset(name="synthetic 3x32x32", classes=tuple(str(i) for i in range(10)),
                   train_x=torch.randn(n_train, 3, 32, 32, generator=gen),
                   train_y=torch.randint(0, 10, (n_train,), generator=gen),
                   test_x=torch.randn(n_test, 3, 32, 32, generator=gen),
                   test_y=torch.randint(0, 10, (n_test,), generator=gen))


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def reference_step_seconds(net: NetConfig, data: Dataset, device: torch.device, warmup: int, steps: int) -> float:
    """The loop one writes first: fp32, eager, NCHW, SGD with momentum, the loss read every step."""
    model = build_model(net, seed=0).to(device).train()
    x, y = data.train_x.to(device), data.train_y.to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    gen = torch.Generator().manual_seed(0)
    for i in range(warmup + steps):
        if i == warmup:
            sync(device)
            start = time.perf_counter()
        idx = torch.randint(0, len(y), (BATCH,), generator=gen).to(device)
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss.item()
    sync(device)
    return (time.perf_counter() - start) / steps


def engine_run(net: NetConfig, data: Dataset, device: str, warmup: int, steps: int, precision: str = "auto",
               graphs: bool = True, augment: bool = False) -> dict:
    """Our ``fit`` with its policy; the steady step time from the per-step callback's clock."""
    stamps: list[float] = []
    before = os.environ.get("RESNET_VIZ_CUDA_GRAPHS")
    if not graphs:
        os.environ["RESNET_VIZ_CUDA_GRAPHS"] = "0"
    try:
        cfg = TrainConfig(steps=warmup + steps, batch_size=BATCH, eval_every=0, device=device, precision=precision,
                          augment=augment)
        result = fit(build_model(net, seed=0), data, cfg, callback=lambda r: stamps.append(time.perf_counter()))
    finally:
        if before is None:
            os.environ.pop("RESNET_VIZ_CUDA_GRAPHS", None)
        else:
            os.environ["RESNET_VIZ_CUDA_GRAPHS"] = before
    step = (stamps[-1] - stamps[warmup - 1]) / steps
    return {"step_ms": round(step * 1e3, 3), "images_per_s": round(BATCH / step, 1),
            "fit_seconds": round(result.seconds, 2), "precision": result.precision, "cuda_graphs": result.cuda_graphs}


def together_run(nets: list[NetConfig], data: Dataset, device: str, warmup: int, steps: int) -> dict:
    """All nets at once through ``fit_many`` (one stream each on a GPU, one core each on a CPU): the
    wall time of the timed steps of the whole group."""
    stamps: list[list[float]] = [[] for _ in nets]
    cfg = TrainConfig(steps=warmup + steps, batch_size=BATCH, eval_every=0, device=device)
    jobs = [(build_model(n, seed=0), data, cfg, (lambda r, s=s: s.append(time.perf_counter()))) for n, s in zip(nets, stamps)]
    start = time.perf_counter()
    results = fit_many(jobs)
    span = max(s[-1] for s in stamps) - min(s[warmup - 1] for s in stamps)
    return {"nets": [n.name for n in nets], "workers": parallel_workers(len(nets), resolve_device(device)),
            "timed_steps_seconds": round(span, 3), "images_per_s": round(len(nets) * steps * BATCH / span, 1),
            "fit_many_seconds": round(time.perf_counter() - start, 2),
            "cuda_graphs": all(r.cuda_graphs for r in results)}


def full_run(nets: list[NetConfig], data: Dataset, device: str, iterations: int) -> dict:
    """The Fig. 6 workload for real: every net with the paper's recipe, all at once; wall time."""
    cfg = TrainConfig(steps=iterations, batch_size=BATCH, lr=0.1, momentum=0.9, weight_decay=1e-4, schedule="step",
                      augment=True, eval_every=0, device=device)
    jobs = [(build_model(n, seed=0), data, cfg, None) for n in nets]
    start = time.perf_counter()
    results = fit_many(jobs)
    wall = time.perf_counter() - start
    return {"iterations": iterations, "wall_seconds": round(wall, 1), "wall_minutes": round(wall / 60, 2),
            "minutes_for_64k": round(wall * FIG6_ITERATIONS / iterations / 60, 1),
            "final_train_error": {n.name: r.final_train_error for n, r in zip(nets, results)},
            "statuses": sorted({r.status for r in results})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--depths", default="20,32,44,56")
    parser.add_argument("--steps", type=int, default=200, help="timed steps per net and mode")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--full", type=int, default=0, metavar="N",
                        help="also train the whole Fig. 6 workload for N iterations (64000: the paper's) and time it")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()

    device = resolve_device(args.device)
    depths = [int(d) for d in args.depths.split(",")]
    data = synthetic_cifar(n_train=BATCH * 16, n_test=BATCH * 2)
    rows = []
    for depth in depths:
        for residual in (False, True):
            net = NetConfig(depth=depth, residual=residual, width=16, in_channels=3, num_classes=10)
            ref = reference_step_seconds(net, data, device, args.warmup, args.steps)
            row = {"net": net.name, "depth": depth, "variant": "residual" if residual else "plain",
                   "reference": {"step_ms": round(ref * 1e3, 3), "images_per_s": round(BATCH / ref, 1),
                                 "precision": "fp32", "cuda_graphs": False},
                   "engine": engine_run(net, data, args.device, args.warmup, args.steps),
                   "engine_augment": engine_run(net, data, args.device, args.warmup, args.steps, augment=True)}
            if device.type == "cuda":
                row["engine_no_cuda_graphs"] = engine_run(net, data, args.device, args.warmup, args.steps, graphs=False)
                row["engine_fp32"] = engine_run(net, data, args.device, args.warmup, args.steps, precision="fp32")
            row["speedup"] = round(row["engine"]["images_per_s"] / row["reference"]["images_per_s"], 2)
            rows.append(row)
            print(f"{net.name}: reference {row['reference']['images_per_s']:.0f} img/s, "
                  f"engine {row['engine']['images_per_s']:.0f} img/s", file=sys.stderr)

    together = together_run([NetConfig(depth=r["depth"], residual=r["variant"] == "residual", width=16,
                                       in_channels=3, num_classes=10) for r in rows],
                            data, args.device, args.warmup, args.steps)
    print(f"all together: {together['images_per_s']:.0f} img/s", file=sys.stderr)

    def fig6(mode: str) -> float | None:
        if set(depths) != {20, 32, 44, 56}:
            return None
        if mode == "together":
            return round(together["timed_steps_seconds"] * FIG6_ITERATIONS / args.steps / 60, 1)
        return round(sum(FIG6_ITERATIONS * r[mode]["step_ms"] / 1e3 for r in rows) / 60, 1)

    nets = [NetConfig(depth=r["depth"], residual=r["variant"] == "residual", width=16, in_channels=3, num_classes=10)
            for r in rows]
    full = full_run(nets, data, args.device, args.full) if args.full else None
    emit({"workload": {"data": "synthetic, 3x32x32, 10 classes", "batch_size": BATCH, "width": 16,
                       "shortcut": "A", "timed_steps": args.steps, "warmup_steps": args.warmup},
          "device": describe_device(args.device), "torch": torch.__version__, "nets": rows,
          "engine_all_nets_together": together,
          "fig6_estimate_minutes": {"workload": "plain and residual 20/32/44/56, 64k iterations each, batch 128, "
                                                "training steps only",
                                    "reference": fig6("reference"), "engine_one_at_a_time": fig6("engine"),
                                    "engine_together": fig6("together"),
                                    "engine_with_augmentation": fig6("engine_augment")},
          "fig6_full_run": full},
         args.out)


if __name__ == "__main__":
    main()
