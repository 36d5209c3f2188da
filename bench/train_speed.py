"""Training speed: our engine vs a straightforward reference loop, on the default degradation workload.

    python bench/train_speed.py [--steps 300] [--width 16] [--device auto] [--out result.json]
    python bench/train_speed.py --isas native,avx2     # this CPU as it is, then as an AVX2 CPU

Both train the same four nets (digits; plain and residual, depth 20 and 56; width 16; batch 128;
SGD lr 0.1, momentum 0.9, weight decay 1e-4) from the same initial weights on the same batches,
with a test-error checkpoint every 50 steps and a final evaluation of both splits. The reference is
what one writes first: fp32, eager, NCHW, the nets one after another, default threads. The engine is
``resnet_viz.experiments.degradation.run``; ``choice`` says what it chose on this machine (memory format,
precision, threads, nets at once). ``--isas native,avx2`` runs the whole comparison once per ISA, each in
its own process, ``avx2`` with ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 (an AVX2 CPU on an AVX-512
one). ``ratio`` is the engine's wall time over the reference's (the issue's goal on an AVX2 CPU: <= 0.5).
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from resnet_viz.config import DataConfig  # noqa: E402
from resnet_viz.counting import count  # noqa: E402
from resnet_viz.data import load_dataset  # noqa: E402
from resnet_viz.experiments import degradation as deg  # noqa: E402
from resnet_viz.experiments import training  # noqa: E402
from resnet_viz.protocol import make  # noqa: E402
from resnet_viz.train import (conv_memory_format, describe_device, parallel_workers, resolve_device,  # noqa: E402
                              resolve_precision)

from common import emit  # noqa: E402


def reference_fit(model, data, cfg, device) -> dict:
    """The straightforward loop: fp32, eager, NCHW, a fresh shuffle per epoch like the engine's."""
    model.to(device).train()
    x, y = data.train_x.to(device), data.train_y.to(device)
    tx, ty = data.test_x.to(device), data.test_y.to(device)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed)
    n = len(y)
    order, pos = torch.randperm(n, generator=gen), 0

    def error(xs, ys):
        model.eval()
        with torch.no_grad():
            wrong = sum((model(xs[i:i + 1000]).argmax(1) != ys[i:i + 1000]).sum().item() for i in range(0, len(ys), 1000))
        model.train()
        return wrong / len(ys)

    for step in range(1, cfg.steps + 1):
        if pos + cfg.batch_size > n:
            order, pos = torch.randperm(n, generator=gen), 0
        idx = order[pos:pos + cfg.batch_size].to(device)
        pos += cfg.batch_size
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % cfg.eval_every == 0 or step == cfg.steps:
            error(tx, ty)
    return {"final_train_error": error(x, y), "final_test_error": error(tx, ty)}


def matmul_peak(dtype: torch.dtype, device: torch.device, n: int = 2048, reps: int = 10) -> float:
    """Measured GFLOP/s of an n x n matrix multiply in ``dtype`` (the machine's practical peak)."""
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    for _ in range(2):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    if device.type == "cuda":
        torch.cuda.synchronize()
    return 2 * n ** 3 * reps / (time.perf_counter() - start) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--isas", default="", help="native, avx2 or both (native,avx2): each in its own process")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()
    if args.isas:
        emit(by_isa(args), args.out)
        return

    spec = make(deg.Spec, dataset="digits", depths=(20, 56), width=args.width, steps=args.steps, batch_size=128,
                    eval_every=50, device=args.device)
    device = resolve_device(args.device)
    data = load_dataset(DataConfig("digits"))
    images = sum(r.train.steps * min(r.train.batch_size, len(data.train_y)) for r in deg.training_runs(spec))
    # training FLOPs: forward multiply-adds x 2 FLOPs x 3 (forward + backward), per training image
    flops = sum(6 * count(replace(r.net, in_channels=data.in_channels), data.image_size)["macs"]
                * r.train.steps * r.train.batch_size for r in deg.training_runs(spec))

    start = time.perf_counter()
    reference, layouts = [], {}
    for sub in deg.training_runs(spec):
        model, data_, _ = training.prepare(sub)
        layouts[sub.net.name] = str(conv_memory_format(device, model)).replace("torch.", "")  # the engine's, per net
        reference.append({"net": sub.net.name, **reference_fit(model, data_, sub.train, device)})
    ref_seconds = time.perf_counter() - start

    start = time.perf_counter()
    engine = deg.run(spec).result
    eng_seconds = time.perf_counter() - start

    result = {
        "workload": {"dataset": "digits", "image_size": data.image_size, "depths": list(spec.depths),
                     "variants": list(spec.variants), "width": args.width, "steps": args.steps, "batch_size": 128,
                     "training_images": images},
        "device": describe_device(args.device), "threads": torch.get_num_threads(),
        "reference": {"seconds": round(ref_seconds, 2), "images_per_s": round(images / ref_seconds, 1),
                      "gflops_per_s": round(flops / ref_seconds / 1e9, 1), "precision": "fp32",
                      "final_train_error": {r["net"]: r["final_train_error"] for r in reference}},
        "engine": {"seconds": round(eng_seconds, 2), "images_per_s": round(images / eng_seconds, 1),
                   "gflops_per_s": round(flops / eng_seconds / 1e9, 1),
                   "precision": resolve_precision("auto", device),
                   "final_train_error": {f"{'ResNet' if r['variant'] == 'residual' else 'plain'}-{r['depth']}":
                                         r["final_train_error"] for r in engine["runs"]}},
        "speedup": round(ref_seconds / eng_seconds, 2),
        "ratio": round(eng_seconds / ref_seconds, 3),
        "choice": {"memory_format": layouts,
                   "precision": resolve_precision("auto", device), "threads_per_net": 1 if device.type == "cpu" and
                   parallel_workers(len(deg.training_runs(spec)), device) > 1 else torch.get_num_threads(),
                   "nets_at_once": parallel_workers(len(deg.training_runs(spec)), device),
                   "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                   "ONEDNN_MAX_CPU_ISA": os.environ.get("ONEDNN_MAX_CPU_ISA", "")},
        "matmul_peak_gflops_per_s": {"fp32": round(matmul_peak(torch.float32, device), 1),
                                     "bf16": round(matmul_peak(torch.bfloat16, device), 1)},
        "note": "GFLOP/s count 6 x forward multiply-adds per training image (forward + backward); evaluation "
                "passes are timed but not counted",
    }
    emit(result, args.out)


AVX2 = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}


def by_isa(args) -> dict:
    """The comparison once per ISA, each in a fresh process (the ISA is fixed when torch loads)."""
    out = {}
    for isa in [i.strip() for i in args.isas.split(",") if i.strip()]:
        if isa not in ("native", "avx2"):
            raise SystemExit(f"--isas takes native and/or avx2; got {isa!r}")
        env = {**os.environ, **(AVX2 if isa == "avx2" else {})}
        if isa == "native":
            for name in AVX2:
                env.pop(name, None)
        cmd = [sys.executable, __file__, "--steps", str(args.steps), "--width", str(args.width), "--device", args.device]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
        out[isa] = json.loads(done.stdout)
    return out


if __name__ == "__main__":
    main()
