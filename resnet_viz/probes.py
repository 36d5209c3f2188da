"""Probes: measure what happens inside a net without changing it.

Gradient flow (He et al. 2016, Sec. 3.1; Identity Mappings, Sec. 3): the gradient norm of every
conv layer's weights, and each block's gradient gain ||dL/dx_in|| / ||dL/dx_out||, on one batch of
real data. Response std (He et al. 2016, Fig. 7): the std of each 3x3 conv's output after BN and
before the nonlinearity. Nothing here steps an optimizer, touches ``.grad`` or updates BN running
statistics, so a probe can run in the middle of training without changing it.
"""

from __future__ import annotations

import copy
import math
from contextlib import contextmanager
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from .data import Dataset
from .i18n import N_
from .models import ResNet, ZeroPadShortcut


def probe_batch(data: Dataset, n: int = 128) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` training images and labels: one fixed batch, so probes are comparable."""
    return data.train_x[:n], data.train_y[:n]


@contextmanager
def frozen_batchnorm(model: nn.Module) -> Iterator[None]:
    """Train-mode BN (batch statistics, as in training) that does not update its running statistics."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.track_running_stats for m in bns]
    for m in bns:
        m.track_running_stats = False
    try:
        yield
    finally:
        for m, s in zip(bns, saved):
            m.track_running_stats = s


def gradient_probe(model: ResNet, x: torch.Tensor, y: torch.Tensor, dtype: torch.dtype | None = None) -> dict:
    """One forward and backward pass of the cross-entropy on (x, y), in train mode.

    Args:
        model: the net (left unchanged: weights, ``.grad``, BN running statistics, train/eval mode).
        x, y: a batch of images and labels.
        dtype: compute in this dtype on a copy of the model. ``torch.float64`` shows vanishing
            gradients as the tiny numbers they are; in float32 (what training uses) anything below
            about 1e-38 becomes exactly 0.

    Returns:
        ``{"loss": float, "layers": [{"index", "name", "grad_norm"}] (every conv, network order),
        "blocks": [{"block", "stage", "grad_in", "grad_out", "gain"}]}`` where ``grad_in`` and
        ``grad_out`` are the norms of dL/d(block input) and dL/d(block output), and ``gain`` their
        ratio: how much the block multiplies the gradient passing back through it.
    """
    was_training = model.training
    net = copy.deepcopy(model).to(dtype) if dtype is not None else model
    device = next(net.parameters()).device
    x = x.to(device=device, dtype=dtype or x.dtype)
    y = y.to(device)
    outputs: list[torch.Tensor] = []
    hooks = [net.stem.register_forward_hook(lambda m, i, o: outputs.append(o))]
    hooks += [b.register_forward_hook(lambda m, i, o: outputs.append(o)) for b in net.blocks]
    convs = net.conv_layers()
    net.train()
    try:
        with frozen_batchnorm(net), torch.enable_grad():
            logits = net(x)
            loss = F.cross_entropy(logits if logits.dtype == torch.float64 else logits.float(), y)
            grads = torch.autograd.grad(loss, [conv.weight for _, conv in convs] + outputs)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    weight_grads, act_grads = grads[:len(convs)], grads[len(convs):]
    act_norms = [g.double().norm().item() for g in act_grads]  # stem output, then every block's output
    layers = [{"index": i, "name": name, "grad_norm": g.double().norm().item()}
              for i, ((name, _), g) in enumerate(zip(convs, weight_grads))]
    blocks = [{"block": b, "stage": stage, "grad_in": act_norms[b], "grad_out": act_norms[b + 1],
               "gain": _ratio(act_norms[b], act_norms[b + 1])}
              for b, stage in enumerate(net.stage_of_block())]
    return {"loss": loss.item(), "layers": layers, "blocks": blocks}


def _ratio(a: float, b: float) -> float:
    return a / b if b else (0.0 if a == 0 else float("inf"))


def first_last_ratio(layers: list[dict]) -> float:
    """Gradient norm of the first block's first conv over the last block's last conv.

    Above 1: gradients grow toward the input (explode); far below 1: they vanish. Stem and
    projection-shortcut convs are left out, so the ratio compares residual-branch layers only.
    """
    inside = [l for l in layers if l["name"].startswith("stages.") and ".shortcut" not in l["name"]
              and ".gate" not in l["name"]]
    return _ratio(inside[0]["grad_norm"], inside[-1]["grad_norm"])


def describe_ratio(ratio: float) -> str:
    """A first/last ratio in words (short: a metric's delta): explodes above 100, vanishes below 0.01."""
    if ratio > 100:
        return N_("explodes")
    if ratio < 1e-2:
        return N_("vanishes")
    return N_("stays within 100x")


def chain_product(blocks: list[dict]) -> list[float]:
    """Running product of block gains from the output back: entry k is prod_{j >= k} gain_j.

    The chain rule made visible: entry k equals ||dL/d(input of block k)|| / ||dL/d(output of the
    last block)||, so the product of measured per-block gains says how the gradient reaching block k
    compares with the gradient leaving the net's top.
    """
    product, out = 1.0, []
    for b in reversed(blocks):
        product *= b["gain"]
        out.append(product)
    return out[::-1]


def shortcut_gradient_factor(model: ResNet, x: torch.Tensor, y: torch.Tensor) -> dict | None:
    """How much of the gradient the shortcuts alone carry from the last block back to the first,
    relative to identity shortcuts (He et al. 2016b, Sec. 3: through scaled shortcuts the gradient is
    multiplied by the product of the λ's, 0.5^27 ~ 7e-9 through 27 blocks).

    One forward and backward pass of the cross-entropy on (x, y) in eval mode (dropout shortcuts then
    carry their expected 1 - p) gives each block's gradient u at its addition. The block's factor is
    ||u backpropagated through its shortcut term, s(x) times its multiplier held fixed (λ, 1 - g(x) at
    this input, 1 - p)|| over ||u backpropagated through a parameter-free identity shortcut||
    (zero-padded where the shape changes); the net's factor is their product: 1 for identity
    shortcuts, λ^L for constant scaling, the product of the gates' 1 - g for gated ones, and whatever a
    1x1 convolution does to the gradient for those. The gate's own dependence on x is a path through
    the gate's weights, not along the shortcut, so it is held fixed, as in He et al. 2016b's argument.

    Returns:
        ``{"factor": float, "blocks": [per-block factor]}``, or None for a plain net. The model is
        left unchanged (mode, weights, ``.grad``).
    """
    blocks = [b for b in model.blocks if b.shortcut is not None]
    if not blocks:
        return None
    was_training = model.training
    device = next(model.parameters()).device
    inputs: list[torch.Tensor] = []
    added: list[torch.Tensor] = []
    hooks = [b.register_forward_pre_hook(lambda m, a: inputs.append(a[0])) for b in blocks]
    hooks += [b.add.register_forward_hook(lambda m, a, o: added.append(o)) for b in blocks]
    model.eval()
    factors = []
    try:
        with torch.enable_grad():
            loss = F.cross_entropy(model(x.to(device)).float(), y.to(device))
            grads = torch.autograd.grad(loss, added)
            for block, x_in, u in zip(blocks, inputs, grads):
                x_in = x_in.detach().requires_grad_()
                through = torch.autograd.grad(block.carry(x_in, hold=True), x_in, u)[0]
                reference = ZeroPadShortcut(block.in_planes, block.out_planes, block.stride) if block.changes_shape else None
                ref = torch.autograd.grad(reference(x_in) if reference else x_in * 1, x_in, u)[0]
                factors.append(_ratio(through.double().norm().item(), ref.double().norm().item()))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    return {"factor": math.prod(factors), "blocks": factors}


@torch.no_grad()
def response_stds(model: ResNet, x: torch.Tensor, batch_size: int = 500) -> list[dict]:
    """Std of every 3x3 conv's response (after BN, before the nonlinearity or addition), eval mode.

    He et al. 2016, Fig. 7 measured these on the test set of trained nets: residual functions are
    closer to zero than the unreferenced functions of plain nets.

    Returns:
        ``[{"index", "name", "std"}]`` in network order (the stem conv first, for the CIFAR family).
    """
    points = model.response_modules()
    sums = [[0.0, 0.0, 0] for _ in points]  # sum, sum of squares, count

    def hook_for(i: int):
        def hook(module, inputs, output):
            o = output.double()
            sums[i][0] += o.sum().item()
            sums[i][1] += (o * o).sum().item()
            sums[i][2] += o.numel()
        return hook

    was_training = model.training
    model.eval()
    hooks = [module.register_forward_hook(hook_for(i)) for i, (_, module) in enumerate(points)]
    device = next(model.parameters()).device
    try:
        for i in range(0, len(x), batch_size):
            model(x[i:i + batch_size].to(device))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    stds = []
    for i, ((name, _), (s, ss, n)) in enumerate(zip(points, sums)):
        mean = s / n
        stds.append({"index": i, "name": name, "std": max(ss / n - mean * mean, 0.0) ** 0.5})
    return stds


__all__ = ["chain_product", "describe_ratio", "first_last_ratio", "frozen_batchnorm", "gradient_probe", "probe_batch",
           "response_stds", "shortcut_gradient_factor"]
