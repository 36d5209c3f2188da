"""Lesion probes (Veit, Wilber and Belongie 2016): delete or reorder blocks of a trained net.

A dropped residual block passes its input through its shortcut alone; a dropped plain block is
the identity, which only works where the block keeps the shape. Nothing here changes the
model: removal and reordering are arguments of its forward pass, so one trained net can be probed
by many sessions at once without a lock.
"""

from __future__ import annotations

import math
import random
from typing import Callable, Iterable

import torch

from .i18n import F_
from .models import ResNet


def check_removable(model: ResNet, blocks: Iterable[int]) -> frozenset[int]:
    """The blocks as a set, after checking each exists and can be removed.

    Raises:
        ValueError: a block index is out of range, or a plain block that changes the shape is asked
            for (the message says why it cannot be removed).
    """
    all_blocks = model.blocks
    chosen = frozenset(blocks)
    for b in sorted(chosen):
        if not isinstance(b, int) or not 0 <= b < len(all_blocks):
            raise ValueError(f"block {b} does not exist: this net has blocks 0 to {len(all_blocks) - 1}")
        if not all_blocks[b].droppable:
            raise ValueError(cannot_drop_reason(model, b))
    return chosen


def cannot_drop_reason(model: ResNet, b: int) -> str:
    block = model.blocks[b]
    return F_("block {b} of this plain net changes the shape ({c_in} -> {c_out} channels, stride {stride}); without a "
              "shortcut nothing carries its input across, so it cannot be removed", b=b, c_in=block.in_planes,
              c_out=block.out_planes, stride=block.stride)


@torch.no_grad()
def accuracy(model: ResNet, x: torch.Tensor, y: torch.Tensor, batch_size: int = 1000, skip: frozenset[int] = frozenset(),
             order: list[int] | None = None) -> float:
    """Accuracy of a net in eval mode, optionally with blocks removed (``skip``) or reordered (``order``).

    A net still in training mode is put in eval mode; shared trained nets are built in eval mode, so
    nothing about them changes here.
    """
    if model.training:
        model.eval()
    device = next(model.parameters()).device
    correct = 0
    for i in range(0, len(y), batch_size):
        logits = model(x[i:i + batch_size].to(device), skip=skip, order=order)
        correct += (logits.argmax(1).cpu() == y[i:i + batch_size].cpu()).sum().item()
    return correct / len(y)


def accuracy_without(model: ResNet, x: torch.Tensor, y: torch.Tensor, blocks: Iterable[int]) -> float:
    """Accuracy with ``blocks`` removed (the model itself is not changed)."""
    return accuracy(model, x, y, skip=check_removable(model, blocks))


def single_block(model: ResNet, x: torch.Tensor, y: torch.Tensor, tick: Callable[[], None] | None = None) -> list[dict]:
    """Accuracy after removing each block alone (Veit et al. Fig. 3); ``tick()`` after each evaluation.

    Returns:
        ``[{"block", "stage", "droppable", "changes_shape", "test_accuracy"}]``; test_accuracy is
        None where the block cannot be removed.
    """
    rows = []
    for b, (block, stage) in enumerate(zip(model.blocks, model.stage_of_block())):
        acc = accuracy_without(model, x, y, [b]) if block.droppable else None
        if tick and acc is not None:
            tick()
        rows.append({"block": b, "stage": stage, "droppable": block.droppable,
                     "changes_shape": block.changes_shape, "test_accuracy": acc})
    return rows


def shape_keeping_blocks(model: ResNet) -> list[int]:
    """Blocks that keep the shape: removable in both the plain and the residual twin."""
    return [b for b, block in enumerate(model.blocks) if not block.changes_shape]


def _mean_std(values: list[float]) -> tuple[float, float]:
    mean = sum(values) / len(values)
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


def random_drops(model: ResNet, x: torch.Tensor, y: torch.Tensor, ks: Iterable[int], samples: int = 10,
                 seed: int = 0, tick: Callable[[], None] | None = None) -> list[dict]:
    """Accuracy after removing k random shape-keeping blocks, ``samples`` draws per k (Fig. 5a).

    The same draws are used for a plain net and its residual twin when given the same seed.

    Returns:
        ``[{"k", "mean_test_accuracy", "std", "samples"}]``.
    """
    pool, ks = shape_keeping_blocks(model), list(ks)
    for k in ks:
        if not 0 <= k <= len(pool):
            raise ValueError(f"k must be from 0 to {len(pool)} (the blocks that keep the shape); got {k}")
    rng = random.Random(seed)
    return _curve(ks, samples, lambda k: accuracy_without(model, x, y, rng.sample(pool, k)), tick)


def _curve(ks: Iterable[int], samples: int, trial, tick: Callable[[], None] | None = None) -> list[dict]:
    """Mean and std of ``trial(k)`` over ``samples`` draws for each k (one draw for k = 0)."""
    out = []
    for k in ks:
        accs = []
        for _ in range(samples if k else 1):
            accs.append(trial(k))
            if tick:
                tick()
        mean, std = _mean_std(accs)
        out.append({"k": k, "mean_test_accuracy": mean, "std": std, "samples": len(accs)})
    return out


def adjacent_pairs(model: ResNet) -> list[tuple[int, int]]:
    """Pairs of neighbouring blocks in one stage that both keep the shape (so they can swap)."""
    stages = model.stage_of_block()
    keep = set(shape_keeping_blocks(model))
    return [(b, b + 1) for b in range(len(stages) - 1) if stages[b] == stages[b + 1] and {b, b + 1} <= keep]


def swapped_order(model: ResNet, pairs: Iterable[tuple[int, int]]) -> list[int]:
    """The order of the blocks after swapping the blocks at the given neighbouring positions, one pair
    after another."""
    order = list(range(len(model.blocks)))
    for a, b in pairs:
        order[a], order[b] = order[b], order[a]
    return order


def random_swaps(model: ResNet, x: torch.Tensor, y: torch.Tensor, ks: Iterable[int], samples: int = 10,
                 seed: int = 0, tick: Callable[[], None] | None = None) -> list[dict]:
    """Accuracy after k random swaps of neighbouring shape-keeping blocks (Veit et al. Fig. 5b).

    Returns:
        ``[{"k", "mean_test_accuracy", "std", "samples"}]``.
    """
    pairs, ks = adjacent_pairs(model), list(ks)
    for k in ks:
        if k < 0 or (k and not pairs):
            raise ValueError(f"k must be >= 0 and the net needs neighbouring blocks that keep the shape; got {k}")
    rng = random.Random(seed)

    def trial(k: int) -> float:
        return accuracy(model, x, y, order=swapped_order(model, [rng.choice(pairs) for _ in range(k)]))

    return _curve(ks, samples, trial, tick)


def path_lengths(n: int) -> list[dict]:
    """The unraveled view: a net of n residual blocks has 2^n paths; the number that pass through
    k blocks is C(n, k), so path lengths follow Binomial(n, 1/2) (Veit et al. Sec. 4).

    Returns:
        ``[{"length", "paths", "share"}]`` for k = 0..n.
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 2000:
        raise ValueError(f"n must be a whole number of blocks from 1 to 2000; got {n!r}")
    return [{"length": k, "paths": math.comb(n, k), "share": math.comb(n, k) / 2 ** n} for k in range(n + 1)]


def central_range(dist: list[dict], mass: float = 0.95) -> tuple[int, int]:
    """The narrowest symmetric range of path lengths around the middle holding ``mass`` of the paths."""
    n = len(dist) - 1
    for half in range(n // 2 + 1):
        lo, hi = max(0, n // 2 - half), min(n, (n + 1) // 2 + half)
        if sum(d["share"] for d in dist[lo:hi + 1]) >= mass:
            return lo, hi
    return 0, n


__all__ = ["accuracy", "accuracy_without", "adjacent_pairs", "cannot_drop_reason", "central_range", "check_removable",
           "path_lengths", "random_drops", "random_swaps", "shape_keeping_blocks", "single_block", "swapped_order"]
