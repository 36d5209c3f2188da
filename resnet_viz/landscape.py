"""Loss landscapes (Li et al. 2018) and the paths that carry the gradient (Veit et al. 2016).

The surface: the training loss at theta + a d1 + b d2 over a grid of (a, b), where theta are the trained
weights and d1, d2 random directions, each filter scaled to the norm of the weight's filter so that
nets of different scales compare (Li et al. 2018, Sec. 4). Biases and BN parameters get no direction
(zero), as in their plots. Losses are in eval mode (BN uses its running statistics).

The paths: a residual net of n blocks unravels into 2^n paths (Veit et al. 2016); the gradient of one
path of length k is what reaches the input when the backward pass goes through the residual branch of
k blocks and the shortcut of the others.

Nothing here changes a model it is given: weights are read and evaluated functionally, or copied.
"""

from __future__ import annotations

import copy
import math
import threading
from typing import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn

from .models import ResNet, route_gradient

Direction = dict[str, torch.Tensor]


# --- directions -------------------------------------------------------------------------------------

def filter_normalized_direction(model: nn.Module, generator: torch.Generator) -> Direction:
    """A Gaussian direction in weight space with each filter scaled to its weight's filter norm.

    A filter is one output unit's slice of a weight (``w[i]``: a conv kernel's (in, k, k) or a row of
    a linear layer). Parameters with one dimension (biases, BN's scale and shift) get zeros. Drawn on
    the CPU in the order of ``named_parameters``, so a seed gives the same direction everywhere.
    """
    found = {}
    for name, p in model.named_parameters():
        w = p.detach().float().cpu()
        if w.dim() <= 1:
            found[name] = torch.zeros_like(w)
            continue
        d = torch.randn(w.shape, generator=generator)
        w_norm = w.flatten(1).norm(dim=1)
        d_norm = d.flatten(1).norm(dim=1)
        found[name] = d * (w_norm / (d_norm + 1e-10)).view(-1, *([1] * (w.dim() - 1)))
    return found


def directions(model: nn.Module, seed: int) -> tuple[Direction, Direction]:
    """The two filter-normalized directions of a seed (x first). Nets with the same parameter shapes
    (a plain net and its residual twin) get the same random numbers, each scaled to its own filters."""
    generator = torch.Generator().manual_seed(seed)
    return filter_normalized_direction(model, generator), filter_normalized_direction(model, generator)


# --- evaluating nets ---------------------------------------------------------------------------------

def evaluation_copy(model: nn.Module, device: torch.device | str = "cpu") -> nn.Module:
    """A private copy in eval mode on ``device`` (the caller's model is never changed)."""
    return copy.deepcopy(model).to(device).eval()


@torch.no_grad()
def recompute_batchnorm(model: nn.Module, x: torch.Tensor, batch: int = 256) -> nn.Module:
    """Set every BN layer's running statistics to the exact mean and variance of the activations on
    ``x`` (with the current weights), in place, and return the model in eval mode. Used where weights
    move away from those the statistics were kept for (the net at initialization, points between it
    and the trained net), as Garipov et al. 2018 do along their curves."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the batches
    model.train()
    try:
        for i in range(0, len(x), batch):
            model(x[i:i + batch])
    finally:
        for m, momentum in zip(bns, saved):
            m.momentum = momentum
    return model.eval()


@torch.no_grad()
def loss_and_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 1024) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of a net in its current mode."""
    total, correct = 0.0, 0
    for i in range(0, len(x), batch):
        logits = model(x[i:i + batch]).float()
        total += F.cross_entropy(logits, y[i:i + batch], reduction="sum").item()
        correct += (logits.argmax(1) == y[i:i + batch]).sum().item()
    return total / len(x), correct / len(x)


def grid_axis(points: int, span: float) -> list[float]:
    """``points`` evenly spaced coordinates on [-span, span] (0 is one of them when ``points`` is odd)."""
    return [(-span + 2 * span * i / (points - 1)) if points > 1 else 0.0 for i in range(points)]


def loss_surface(model: nn.Module, d1: Direction, d2: Direction, x: torch.Tensor, y: torch.Tensor,
                 xs: list[float], ys: list[float], progress: Callable[[int, int], None] | None = None,
                 cancel: threading.Event | None = None) -> dict | None:
    """The loss and accuracy at theta + a d1 + b d2 for every (a in xs, b in ys), in eval mode.

    One forward pass of all of ``x`` per grid point: the weights of a private copy are set in place
    between points (no autograd, no state dict rebuilt and loaded). That forward pass is the whole
    cost. Measured on the 2-core development CPU for ResNet-56 (width 8) on 256 digits
    (``bench/landscape_speed.py``): stacking grid points under ``torch.func.vmap`` and bf16 autocast
    were slower; folding BN into the convs (``torch.nn.utils.fusion``) saved about 12% per point but
    its setup (checking each fold) took what that saves over a 21x21 grid. None of them is used.

    Args:
        model: the trained net (not changed); evaluated on the device of ``x``.
        d1, d2: directions from :func:`directions`.
        x, y: the fixed images and labels the loss is measured on.
        xs, ys: the grid's coordinates along d1 and d2.
        progress: called with (points done, points) after every row of the grid.
        cancel: stop early when set (returns None).

    Returns:
        ``{"loss": [[...]], "accuracy": [[...]]}`` with ``loss[j][i]`` at (xs[i], ys[j]) (rows along
        y, as plotly's contour reads them).
    """
    net = evaluation_copy(model, x.device).requires_grad_(False)
    params = dict(net.named_parameters())
    theta = {n: p.detach().clone() for n, p in params.items()}
    u = {n: d1[n].to(x.device, p.dtype) for n, p in params.items()}
    v = {n: d2[n].to(x.device, p.dtype) for n, p in params.items()}
    loss, accuracy = [], []
    with torch.inference_mode():
        for j, b in enumerate(ys):
            if cancel is not None and cancel.is_set():
                return None
            row_loss, row_acc = [], []
            for a in xs:
                for n, p in params.items():
                    torch.add(theta[n], u[n], alpha=a, out=p)
                    p.add_(v[n], alpha=b)
                point_loss, point_acc = loss_and_accuracy(net, x, y)
                row_loss.append(point_loss)
                row_acc.append(point_acc)
            loss.append(row_loss)
            accuracy.append(row_acc)
            if progress is not None:
                progress((j + 1) * len(xs), len(xs) * len(ys))
    return {"loss": loss, "accuracy": accuracy}


def interpolation(start: nn.Module, end: nn.Module, x: torch.Tensor, y: torch.Tensor,
                  alphas: Iterable[float]) -> dict:
    """Loss and accuracy along theta(alpha) = (1 - alpha) theta_start + alpha theta_end (Goodfellow,
    Vinyals, Saxe 2015), with BN statistics recomputed on ``x`` at every point (the running
    statistics belong to the trained weights only).

    Returns:
        ``{"alpha": [...], "loss": [...], "accuracy": [...]}``.
    """
    net = evaluation_copy(end, x.device)
    a_state = {n: p.detach().to(x.device) for n, p in start.named_parameters()}
    b_state = {n: p.detach().to(x.device) for n, p in end.named_parameters()}
    out = {"alpha": [], "loss": [], "accuracy": []}
    for alpha in alphas:
        with torch.no_grad():
            for n, p in net.named_parameters():
                p.copy_((1 - alpha) * a_state[n] + alpha * b_state[n])
        recompute_batchnorm(net, x)
        loss, acc = loss_and_accuracy(net, x, y)
        out["alpha"].append(float(alpha))
        out["loss"].append(loss)
        out["accuracy"].append(acc)
    return out


# --- numbers per surface ------------------------------------------------------------------------------

def surface_numbers(grid: dict, xs: list[float], ys: list[float], chance_loss: float) -> dict:
    """What a student can compare besides the pictures.

    At every interior grid point the surface's 2x2 Hessian (second differences) has eigenvalues
    lo <= hi: its curvature in the most and the least upward direction.

    - ``curvature_ratio``: the mean over those points of |lo / hi| where lo < 0 (0 where the surface
      curves up in every direction, capped at 1), the ratio Li et al. 2018 (Fig. 7) map for the full
      Hessian, here on the plotted plane. 0 for a convex bowl; the more the surface folds, the
      higher. Each point's ratio is free of scale, so the huge losses far from the minimum do not
      outweigh the rest.
    - ``convex_share``: the share of those points where lo >= 0 (locally convex).
    - ``basin_share``: the share of the grid in the connected region around the centre where the
      loss stays below chance (ln of the number of classes): how far one can walk from the minimum
      and still be better than guessing.
    - ``centre_loss``: the loss at the trained weights; ``max_loss``: the highest on the grid.
    """
    z = torch.tensor(grid["loss"], dtype=torch.float64)  # (len(ys), len(xs))
    z = torch.nan_to_num(z, nan=1e6, posinf=1e6).clamp(max=1e6)  # a diverged point counts as a wall
    hx, hy = xs[1] - xs[0], ys[1] - ys[0]
    fxx = (z[1:-1, 2:] - 2 * z[1:-1, 1:-1] + z[1:-1, :-2]) / hx ** 2
    fyy = (z[2:, 1:-1] - 2 * z[1:-1, 1:-1] + z[:-2, 1:-1]) / hy ** 2
    fxy = (z[2:, 2:] - z[2:, :-2] - z[:-2, 2:] + z[:-2, :-2]) / (4 * hx * hy)
    mean, root = (fxx + fyy) / 2, torch.sqrt(((fxx - fyy) / 2) ** 2 + fxy ** 2)
    lo, hi = mean - root, mean + root
    ratio = torch.where(lo >= 0, torch.zeros_like(lo), (-lo / hi.clamp(min=1e-300)).clamp(max=1.0))
    return {"curvature_ratio": ratio.mean().item(), "convex_share": (lo >= 0).double().mean().item(),
            "basin_share": _basin(z < chance_loss),
            "centre_loss": z[len(ys) // 2, len(xs) // 2].item(), "max_loss": z.max().item()}


def _basin(below: torch.Tensor) -> float:
    """Share of the grid 4-connected to the centre through points that are True."""
    rows, cols = below.shape
    start = (rows // 2, cols // 2)
    if not below[start]:
        return 0.0
    seen, todo = {start}, [start]
    while todo:
        r, c = todo.pop()
        for nr, nc in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
            if 0 <= nr < rows and 0 <= nc < cols and (nr, nc) not in seen and below[nr, nc]:
                seen.add((nr, nc))
                todo.append((nr, nc))
    return len(seen) / (rows * cols)


# --- paths -----------------------------------------------------------------------------------------------

def path_gradients(model: ResNet, x: torch.Tensor, y: torch.Tensor, ks: Iterable[int], samples: int, seed: int,
                   progress: Callable[[int, int], None] | None = None,
                   cancel: threading.Event | None = None, max_images: int = 2048) -> list[dict] | None:
    """The norm of the gradient at the input through single paths of each length k (Veit et al. 2016,
    Sec. 6): the forward pass is the whole net's; backward goes through the residual branch of k
    blocks chosen at random and the shortcut of the other n - k.

    Every sample is a copy of the batch ``x`` with its own route, so one forward and backward pass
    measures many paths at once (in eval mode the images of a batch do not interact).

    Args:
        model: a residual net in eval mode with BN statistics that fit its weights (not changed).
        x, y: the images and labels; a sample's number is ||d mean-loss / d x|| over the batch.
        ks: the path lengths to measure (0..n).
        samples: random paths per length.
        seed: seeds the choice of blocks.
        progress: called with (lengths done, lengths).
        cancel: stop early when set (returns None).

    Returns:
        ``[{"k", "grad_norm_mean", "grad_norm_std", "samples"}]`` per length.
    """
    if not all(b.shortcut is not None for b in model.blocks):
        raise ValueError("paths need a residual net: a plain net has one path only")
    net = evaluation_copy(model, x.device).requires_grad_(False)
    n = len(net.blocks)
    ks = list(ks)
    generator = torch.Generator().manual_seed(seed)
    per_call = max(1, max_images // len(x))
    found = []
    for done, k in enumerate(ks):
        if not 0 <= k <= n:
            raise ValueError(f"a path length is from 0 to {n} (the number of blocks); got {k}")
        norms = []
        for start in range(0, samples, per_call):
            if cancel is not None and cancel.is_set():
                return None
            s = min(per_call, samples - start)
            routes = torch.zeros(s, n)
            for i in range(s):
                routes[i, torch.randperm(n, generator=generator)[:k]] = 1
            xs = x.repeat(s, 1, 1, 1).requires_grad_(True)
            with route_gradient(net, routes.repeat_interleave(len(x), dim=0).to(x.device)):
                logits = net(xs).float()
            loss = F.cross_entropy(logits, y.repeat(s), reduction="sum") / len(x)  # one mean loss per sample
            (grad,) = torch.autograd.grad(loss, xs)
            norms.append(grad.view(s, -1).double().norm(dim=1))
        values = torch.cat(norms)
        found.append({"k": k, "grad_norm_mean": values.mean().item(),
                      "grad_norm_std": values.std().item() if len(values) > 1 else 0.0, "samples": len(values)})
        if progress is not None:
            progress(done + 1, len(ks))
    return found


def effective_paths(by_length: list[dict], n: int, mass: float = 0.9) -> dict:
    """How much of the gradient each path length carries: the number of paths of length k (C(n, k))
    times one path's mean gradient, as shares (Veit et al. 2016, Fig. 6c).

    Returns:
        ``{"by_length": [{"k", "path_share", "gradient_share"}], "typical_length": n / 2 (the mean
        path length), "effective_length": the gradient-weighted mean length, "effective_range":
        [lo, hi], the shortest range of lengths that carries ``mass`` of the gradient}``.
    """
    total_paths = 2.0 ** n
    rows = [(r["k"], math.comb(n, r["k"]) / total_paths, math.comb(n, r["k"]) * r["grad_norm_mean"]) for r in by_length]
    weight = sum(g for _, _, g in rows) or 1.0
    shares = [{"k": k, "path_share": p, "gradient_share": g / weight} for k, p, g in rows]
    best = (rows[0][0], rows[-1][0]) if rows else (0, 0)
    for i in range(len(shares)):  # the shortest window of consecutive lengths holding `mass`
        acc = 0.0
        for j in range(i, len(shares)):
            acc += shares[j]["gradient_share"]
            if acc >= mass:
                if shares[j]["k"] - shares[i]["k"] < best[1] - best[0]:
                    best = (shares[i]["k"], shares[j]["k"])
                break
    return {"by_length": shares, "typical_length": n / 2,
            "effective_length": sum(s["k"] * s["gradient_share"] for s in shares),
            "effective_range": list(best)}


__all__ = ["directions", "effective_paths", "filter_normalized_direction", "grid_axis", "interpolation",
           "loss_and_accuracy", "loss_surface", "path_gradients", "recompute_batchnorm", "surface_numbers"]
