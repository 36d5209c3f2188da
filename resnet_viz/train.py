"""``fit()``: the one training loop of the lab.

It never prints: progress goes to a callback, the caller decides what to show (minGPT's trainer).
The dataset lives on the device as whole tensors and batches are index slices (airbench).
"""

from __future__ import annotations

import math
import threading
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .config import TrainConfig
from .data import Dataset

Callback = Callable[[dict], None]


def resolve_device(name: str = "auto") -> torch.device:
    """"auto" -> CUDA, then MPS, then CPU. A forced device that is absent raises ValueError."""
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if name == "cuda" and not cuda:
        raise ValueError("device 'cuda' was asked for but no CUDA GPU is available here; use auto or cpu")
    if name == "mps" and not mps:
        raise ValueError("device 'mps' was asked for but Apple's MPS is not available here; use auto or cpu")
    if name not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be one of auto, cpu, cuda, mps; got {name!r}")
    return torch.device(name)


def resolve_precision(name: str, device: torch.device) -> str:
    """"auto" -> bf16 autocast on a CUDA GPU that supports it, fp32 elsewhere."""
    if name != "auto":
        return name
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return "bf16"
    return "fp32"


def describe_device(name: str = "auto") -> str:
    """One line for people: which device "auto" picks here, e.g. "CPU (2 threads)"."""
    device = resolve_device(name)
    if device.type == "cuda":
        return f"CUDA GPU: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return f"CPU ({torch.get_num_threads()} threads)"


def _autocast(device: torch.device, precision: str):
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return nullcontext()


def lr_factor(schedule: str, step: int, steps: int) -> float:
    """Multiplier of the peak learning rate at a (0-based) step."""
    if schedule == "step":  # /10 at 50% and 75% (the paper: 32k and 48k of 64k iterations)
        return 0.1 ** ((step >= steps // 2) + (step >= (3 * steps) // 4))
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * step / steps))
    return 1.0


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, precision: str = "fp32",
             batch_size: int = 1000) -> tuple[float, float]:
    """Mean cross-entropy and error rate over a whole split, in eval mode (BN running stats).

    Returns:
        (loss, error); the model's train/eval mode is restored afterwards.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total_loss, wrong = 0.0, 0
    with _autocast(device, precision):
        for i in range(0, len(y), batch_size):
            logits = model(x[i:i + batch_size]).float()
            total_loss += F.cross_entropy(logits, y[i:i + batch_size], reduction="sum").item()
            wrong += (logits.argmax(1) != y[i:i + batch_size]).sum().item()
    model.train(was_training)
    return total_loss / len(y), wrong / len(y)


@dataclass
class FitResult:
    """What a training run did.

    ``status`` is "completed", "cancelled" or "diverged"; ``message`` explains the last two.
    ``history`` holds one record per step: step, lr, train_loss, train_error (on the batch, in train
    mode) and, at checkpoints, test_error (whole test split, eval mode).
    """

    status: str
    steps_done: int
    seconds: float
    device: str
    precision: str
    history: list[dict] = field(default_factory=list)
    final_train_loss: float | None = None
    final_train_error: float | None = None
    final_test_error: float | None = None
    message: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def fit(model: nn.Module, data: Dataset, cfg: TrainConfig, callback: Callback | None = None,
        cancel: threading.Event | None = None) -> FitResult:
    """Train ``model`` on ``data`` with SGD + momentum; the model is trained in place.

    Args:
        model: any classifier taking (B, C, H, W) images.
        data: the dataset (moved to the training device here).
        cfg: steps, batch size, learning rate and schedule, device, precision, seed of batch order.
        callback: called after every step with that step's history record.
        cancel: when set, training stops before the next step with status "cancelled".

    Returns:
        A :class:`FitResult`. A NaN/inf loss stops training with status "diverged" and a message
        naming the step and suggesting a lower learning rate.
    """
    start = time.perf_counter()
    device = resolve_device(cfg.device)
    precision = resolve_precision(cfg.precision, device)
    model.to(device).train()
    data = data.to(device)
    n = len(data.train_y)
    batch_size = min(cfg.batch_size, n)
    gen = torch.Generator().manual_seed(cfg.seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                                weight_decay=cfg.weight_decay)
    history: list[dict] = []
    status, message = "completed", ""
    order, pos = torch.randperm(n, generator=gen), 0

    for step in range(1, cfg.steps + 1):
        if cancel is not None and cancel.is_set():
            status, message = "cancelled", f"cancelled after {step - 1} of {cfg.steps} steps"
            break
        if pos + batch_size > n:  # new epoch: reshuffle, drop the ragged end
            order, pos = torch.randperm(n, generator=gen), 0
        idx = order[pos:pos + batch_size].to(device)
        pos += batch_size
        lr = cfg.lr * lr_factor(cfg.schedule, step - 1, cfg.steps)
        for group in optimizer.param_groups:
            group["lr"] = lr

        xb, yb = data.train_x[idx], data.train_y[idx]
        with _autocast(device, precision):
            logits = model(xb).float()  # (B, classes)
        loss = F.cross_entropy(logits, yb)
        loss_value = loss.item()
        if not math.isfinite(loss_value):
            status = "diverged"
            message = (f"training diverged at step {step}: the loss became {loss_value}. "
                       f"Try a lower learning rate than {cfg.lr:g} (e.g. {cfg.lr / 10:g}).")
            break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

        record = {"step": step, "lr": lr, "train_loss": loss_value,
                  "train_error": (logits.argmax(1) != yb).float().mean().item()}
        if (cfg.eval_every and step % cfg.eval_every == 0) or step == cfg.steps:
            record["test_error"] = evaluate(model, data.test_x, data.test_y, precision)[1]
        history.append(record)
        if callback is not None:
            callback(record)

    result = FitResult(status=status, steps_done=len(history), seconds=0.0, device=str(device),
                       precision=precision, history=history, message=message)
    if status != "cancelled":
        result.final_train_loss, result.final_train_error = evaluate(model, data.train_x, data.train_y, precision)
        result.final_test_error = evaluate(model, data.test_x, data.test_y, precision)[1]
    result.seconds = time.perf_counter() - start
    return result
