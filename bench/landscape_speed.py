"""Loss-surface speed: seconds per grid point and for a 21x21 grid, the lab's evaluator vs the others.

    python bench/landscape_speed.py [--depths 20,56] [--width 8] [--images 256] [--points 25]
                                    [--device auto] [--out result.json]

Per net (digits, residual, BN statistics set on the images), ``--points`` grid points of the same
directions are evaluated by:

- ``reference``: what one writes first (and the reference scripts do): per point, a new state dict
  theta + a d1 + b d2 loaded into the net, then the loss in batches of 128 under ``no_grad``;
- ``lab``: :func:`resnet_viz.landscape.loss_surface` (weights set in place, one forward of all
  images per point, inference mode);
- ``vmap``: 4 grid points per call, their weights stacked, under ``torch.func.vmap``;
- ``bf16``: the lab's loop under bf16 autocast.

Prints one JSON object: per depth and method, seconds per point and for 441 points.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.func import functional_call, vmap

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from resnet_viz import landscape as land  # noqa: E402
from resnet_viz.config import DataConfig, NetConfig  # noqa: E402
from resnet_viz.data import load_dataset  # noqa: E402
from resnet_viz.models import build_model  # noqa: E402
from resnet_viz.train import describe_device, resolve_device  # noqa: E402

from common import emit  # noqa: E402


def reference(model, d1, d2, x, y, points) -> None:
    net = land.evaluation_copy(model, x.device)
    theta = {k: v.clone() for k, v in net.state_dict().items()}
    for a, b in points:
        net.load_state_dict({k: v + a * d1[k].to(v) + b * d2[k].to(v) if k in d1 else v for k, v in theta.items()})
        with torch.no_grad():
            for i in range(0, len(x), 128):
                F.cross_entropy(net(x[i:i + 128]), y[i:i + 128], reduction="sum").item()


def vmapped(model, d1, d2, x, y, points, chunk: int = 4) -> None:
    net = land.evaluation_copy(model, x.device)
    names = [n for n, _ in net.named_parameters()]
    theta = {n: p.detach() for n, p in net.named_parameters()}
    buffers = dict(net.named_buffers())

    def one(params):
        return F.cross_entropy(functional_call(net, {**params, **buffers}, (x,)), y)

    batched = vmap(one)
    with torch.no_grad():
        for s in range(0, len(points), chunk):
            ab = torch.tensor(points[s:s + chunk], device=x.device)
            shape = lambda t: (-1,) + (1,) * t.dim()  # noqa: E731
            batched({n: theta[n] + ab[:, 0].view(shape(theta[n])) * d1[n].to(x.device)
                     + ab[:, 1].view(shape(theta[n])) * d2[n].to(x.device) for n in names}).tolist()


def lab(model, d1, d2, x, y, points, bf16: bool = False) -> None:
    xs = sorted({a for a, _ in points})
    ys = sorted({b for _, b in points})
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
        land.loss_surface(model, d1, d2, x, y, xs, ys)


def timed(fn, *args, **kwargs) -> float:
    if args[3].is_cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn(*args, **kwargs)
    if args[3].is_cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--depths", default="20,56")
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--points", type=int, default=25, help="a square number: points of a side x side grid")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out")
    args = parser.parse_args()
    device = resolve_device(args.device)
    data = load_dataset(DataConfig("digits"))
    x, y = data.train_x[:args.images].to(device), data.train_y[:args.images].to(device)
    side = max(2, round(args.points ** 0.5))
    axis = land.grid_axis(side, 1.0)
    points = [(a, b) for b in axis for a in axis]
    result = {"device": describe_device(args.device), "images": args.images, "width": args.width,
              "points_timed": len(points), "torch_threads": torch.get_num_threads(), "nets": []}
    for depth in (int(d) for d in args.depths.split(",")):
        cfg = NetConfig(depth=depth, width=args.width, in_channels=data.in_channels, num_classes=data.num_classes)
        model = land.recompute_batchnorm(build_model(cfg, seed=0).to(device), x)
        d1, d2 = land.directions(model, 0)
        lab(model, d1, d2, x, y, points[:4])  # warm-up
        row = {"depth": depth}
        for name, fn, extra in (("reference", reference, {}), ("lab", lab, {}), ("vmap", vmapped, {}),
                                ("bf16", lab, {"bf16": True})):
            seconds = timed(fn, model, d1, d2, x, y, points, **extra)
            row[name] = {"seconds_per_point": seconds / len(points), "seconds_21x21": 441 * seconds / len(points)}
        row["lab_speedup_over_reference"] = row["reference"]["seconds_per_point"] / row["lab"]["seconds_per_point"]
        result["nets"].append(row)
    emit(result, args.out)


if __name__ == "__main__":
    main()
