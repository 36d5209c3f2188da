"""What a published CIFAR-10 ResNet costs on this machine: every single-block removal of ResNet-110 and the 21x21
loss surface of ResNet-56, with the number of images chosen so that each takes a few minutes at most.

    python bench/pretrained_budget.py [--budget 180] [--threads N] [--verify] [--out result.json]

Timed with the published nets' shapes (the lab's CIFAR ResNets, width 16, option A) on random 32x32 inputs: the time
of a forward pass depends on the shapes, not on the weights or the pixels, so no checkpoint or dataset is needed (none
can be downloaded on the development machine). Threads: the job's (what a page's run gets, ``cost.job_threads``)
unless ``--threads``. Per task: seconds per image-evaluation, the evaluations the task needs, the largest number of
images among the pages' choices that fits ``--budget`` seconds, the predicted seconds for it, and the standard error of
an accuracy near the published one on that many images. ``--verify`` then runs each task whole at that size and
reports the measured seconds.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from resnet_viz import landscape as land  # noqa: E402
from resnet_viz.host import job_threads  # noqa: E402
from resnet_viz.experiments import lesion as les  # noqa: E402
from resnet_viz.lesion import accuracy, single_block  # noqa: E402
from resnet_viz.models import ResNet  # noqa: E402
from resnet_viz.pretrained import PUBLISHED, Source, net_config, standard_error  # noqa: E402
from resnet_viz.train import describe_device  # noqa: E402

from common import emit  # noqa: E402

LESION_IMAGES = (100, 250, 500, 1000, 2000, 5000, 10_000)  # the ensembles page's choices
SURFACE_IMAGES = (32, 64, 128, 256)  # the landscape page's choices for a published net


def net(name: str) -> ResNet:
    model = ResNet(net_config(Source(pretrained=name)))
    return model.eval()


def per_image(fn, images: int, repeats: int = 3) -> float:
    """Seconds per image of ``fn(images)`` (best of ``repeats``, after one warm-up)."""
    fn(min(images, 16))
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn(images)
        best = min(best, time.perf_counter() - start)
    return best / images


def largest(rates: dict[int, float], evaluations: int, budget: float) -> int:
    """The largest number of images whose ``evaluations`` fit the budget, each size at its own measured rate (a
    larger batch costs more per image: on the 2-core machine 1,000 images cost 1.7x per image what 250 do)."""
    fits = [n for n, s in rates.items() if n * s * evaluations <= budget]
    return max(fits) if fits else min(rates)


def lesion_task(name: str, budget: float, verify: bool, page_spec: les.Spec) -> dict:
    model = net(name)
    blocks = len(model.blocks)
    x = torch.randn(max(LESION_IMAGES[:4]), 3, 32, 32)
    y = torch.randint(0, 10, (len(x),))
    rates = {n: per_image(lambda k: accuracy(model, x[:k], y[:k]), n, repeats=1) for n in LESION_IMAGES[:4]}
    singles = 1 + blocks  # all blocks, then each one removed
    n = largest(rates, singles, budget)
    s = rates[n]
    page = les.evaluations(page_spec, blocks)  # the page's whole run: singles, k random blocks and swaps
    accuracy_near = 1 - PUBLISHED[name].test_error / 100
    out = {"net": name, "blocks": blocks, "seconds_per_image": {str(k): v for k, v in rates.items()},
           "single_removals": {"evaluations": singles, "images": n, "predicted_seconds": singles * n * s,
                               "standard_error": standard_error(accuracy_near, n)},
           "page_run": {"evaluations": page, "samples": page_spec.samples, "max_k": page_spec.max_k,
                        "predicted_seconds_at": {str(k): page * k * v for k, v in rates.items()}}}
    if verify:
        xs = torch.randn(n, 3, 32, 32)
        ys = torch.randint(0, 10, (n,))
        start = time.perf_counter()
        accuracy(model, xs, ys)
        single_block(model, xs, ys)
        out["single_removals"]["measured_seconds"] = time.perf_counter() - start
    return out


def surface_task(name: str, grid: int, budget: float, verify: bool) -> dict:
    model = net(name)
    x = torch.randn(max(SURFACE_IMAGES), 3, 32, 32)
    y = torch.randint(0, 10, (len(x),))
    d1, d2 = land.directions(model, 0)

    def points(n: int) -> None:  # a 2x2 grid: 4 points of n images
        land.loss_surface(model, d1, d2, x[:n], y[:n], [-0.5, 0.5], [-0.5, 0.5])

    rates = {n: per_image(points, n, repeats=1) / 4 for n in SURFACE_IMAGES}  # per image and grid point
    total = grid * grid
    n = largest(rates, total, budget)
    s = rates[n]
    accuracy_near = 1 - PUBLISHED[name].test_error / 100
    out = {"net": name, "grid": grid, "points": total, "seconds_per_image_point": {str(k): v for k, v in rates.items()},
           "images": n, "predicted_seconds": total * n * s,
           "predicted_seconds_at": {str(k): total * k * v for k, v in rates.items()},
           "standard_error_of_accuracy": standard_error(accuracy_near, n)}
    if verify:
        axis = land.grid_axis(grid, 1.0)
        start = time.perf_counter()
        land.loss_surface(model, d1, d2, x[:n], y[:n], axis, axis)
        out["measured_seconds"] = time.perf_counter() - start
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--budget", type=float, default=180.0, help="seconds one task may take (default 180)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: a job's)")
    p.add_argument("--verify", action="store_true", help="run each task whole at the chosen size")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    threads = args.threads or job_threads()
    torch.set_num_threads(threads)
    torch.set_grad_enabled(False)
    page = les.Spec(samples=4, source=Source(pretrained="cifar10-resnet110", test_images=250))  # the page's settings
    result = {"device": describe_device("cpu"), "threads": threads, "budget_seconds": args.budget,
              "inputs": "random 32x32 images through the published nets' shapes (timing does not depend on weights)",
              "lesion": [lesion_task(n, args.budget, args.verify, page)
                         for n in ("cifar10-resnet20", "cifar10-resnet56", "cifar10-resnet110")],
              "landscape": [surface_task("cifar10-resnet56", 21, args.budget, args.verify)]}
    emit(result, args.out)


if __name__ == "__main__":
    main()
