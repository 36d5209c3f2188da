"""``fit()``: the one training loop of the lab.

It never prints: progress goes to a callback, the caller decides what to show (minGPT's trainer).
The dataset lives on the device as whole tensors and batches are index slices (airbench).
"""

from __future__ import annotations

import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from typing import Callable, TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from .config import TrainConfig
from .data import Dataset

Callback = Callable[[dict], None]
T = TypeVar("T")


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


def cpu_has_fast_bf16() -> bool:
    """Does this CPU multiply bf16 matrices in AMX tiles? Only then does bf16 autocast pay off.

    An earlier development machine showing AVX512-BF16 without AMX measured bf16 1.44x faster per
    ResNet-56 step (README, Performance); a later one with the same flags and torch 2.15 measured it
    *slower*: a 2048² matrix product at 162 GFLOP/s in bf16 against 308 in fp32, a ResNet-20 step (width
    16, 32x32, batch 128) 253 vs 182 ms, ResNet-56 (width 8, 16x16, one thread) 167 vs 132 ms, and the
    engine ran the Fig. 6 nets at 0.8x a plain fp32 loop (bench/results/cifar_speed_cpu.json). Without
    AMX the answer depends on the machine and the build, so fp32, never the slow surprise, is the default."""
    return bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)())


def resolve_precision(name: str, device: torch.device) -> str:
    """"auto" -> bf16 autocast on a CUDA GPU that supports it and on a CPU with AMX
    (:func:`cpu_has_fast_bf16`), fp32 elsewhere. RESNET_VIZ_PRECISION=fp32 forces plain fp32 everywhere."""
    if os.environ.get("RESNET_VIZ_PRECISION") == "fp32":
        return "fp32"
    if name != "auto":
        return name
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu" and cpu_has_fast_bf16():
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


def conv_memory_format(device: torch.device, model: torch.nn.Module | None = None) -> torch.memory_format:
    """The memory format the lab trains ``model``'s convolutions in, decided here alone (the training
    loop, the step timer, the exported notebooks, whose copy of this function is its source).

    channels-last on a GPU and wherever oneDNN runs AVX-512 kernels: 1.16x (fp32) and 1.1x (bf16) per
    step on the AVX-512 development CPU. Under oneDNN's AVX2 kernels channels-last is faster too (an
    isolated conv 0.82x the time, a training step about 0.8x), but their channels-last 1x1 convolution of
    stride 2 with 2 to 7 input channels (a projection shortcut or a gate of a width-4 net) writes past
    its buffers and aborts the process, segfaults or hangs (``bench/conv_shapes.py``, run with
    ONEDNN_MAX_CPU_ISA=AVX2, lists every such shape; contiguous tensors never take that kernel). So
    there a net with such a layer, or a net not named, trains contiguous, and so does every net on an
    older ISA, which was never measured. RESNET_VIZ_MEMORY_FORMAT=channels_last|contiguous forces one
    (for benchmarks)."""
    import os

    forced = os.environ.get("RESNET_VIZ_MEMORY_FORMAT", "")
    if forced in ("channels_last", "contiguous"):
        return torch.channels_last if forced == "channels_last" else torch.contiguous_format
    if device.type != "cpu":
        return torch.channels_last
    # oneDNN's ISA: the CPU's, capped by ONEDNN_MAX_CPU_ISA (or its old name DNNL_MAX_CPU_ISA)
    cap = (os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or "ALL").upper()
    uncapped = cap in ("ALL", "DEFAULT")
    if uncapped or cap.startswith(("AVX512", "AVX10")):
        if getattr(torch.cpu, "_is_avx512_supported", lambda: False)():
            return torch.channels_last
    if not (uncapped or cap.startswith("AVX2")) or not getattr(torch.cpu, "_is_avx2_supported", lambda: False)():
        return torch.contiguous_format  # SSE4.1 or AVX kernels: never measured
    broken = model is None or any(
        isinstance(m, torch.nn.Conv2d) and m.kernel_size == (1, 1) and m.stride != (1, 1) and m.in_channels < 8
        for m in model.modules())
    return torch.contiguous_format if broken else torch.channels_last


def _autocast(device: torch.device, precision: str, cache: bool = True):
    if precision == "bf16":  # a CUDA graph capture needs the cast cache off
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16, cache_enabled=cache)
    return nullcontext()


def use_cuda_graphs(device: torch.device, steps: int, model: nn.Module | None = None) -> bool:
    """Replay each training step as one CUDA graph? On a GPU the lab's small nets are bound by kernel
    launches (hundreds per step, each shorter than its launch), so capturing forward and backward
    once and replaying them pays for the capture (a few warm-up steps) within tens of steps.
    Not for a net whose forward pass draws random numbers on the host (stochastic depth, shortcut
    dropout): a replay would repeat the captured draw. RESNET_VIZ_CUDA_GRAPHS=0 turns this off."""
    random = bool(getattr(getattr(model, "cfg", None), "random_forward", False))
    return device.type == "cuda" and steps >= 20 and not random and os.environ.get("RESNET_VIZ_CUDA_GRAPHS") != "0"


def lr_factor(schedule: str, step: int, steps: int) -> float:
    """Multiplier of the peak learning rate at a (0-based) step."""
    if schedule == "step":  # /10 at 50% and 75% (the paper: 32k and 48k of 64k iterations)
        return 0.1 ** ((step >= steps // 2) + (step >= (3 * steps) // 4))
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * step / steps))
    return 1.0


def augment_batch(x: torch.Tensor, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """He et al. (2016, Sec. 4.2): pad ``pad`` pixels of zeros (the mean colour, since images are
    standardized) on each side, take a random crop of the image's own size and flip half of the images
    horizontally. One gather on the images' device for the whole batch (no per-image loop); the random
    offsets and flips come from ``generator`` (on the CPU, so a seed gives the same batches on any device).

    Returns:
        A new (N, C, H, W) batch (channels-last in memory; :func:`fit` lays it out as it trains), in the
        same order: labels stay valid.
    """
    n, _, h, w = x.shape
    device = x.device
    shifts = torch.randint(0, 2 * pad + 1, (2, n), generator=generator).to(device)
    flips = (torch.rand(n, generator=generator) < 0.5).to(device)
    padded = F.pad(x, (pad, pad, pad, pad))
    rows = shifts[0][:, None] + torch.arange(h, device=device)  # (N, H)
    cols = shifts[1][:, None] + torch.arange(w, device=device)  # (N, W)
    cols = torch.where(flips[:, None], cols.flip(1), cols)  # a flipped crop reads its columns backwards
    out = padded[torch.arange(n, device=device)[:, None, None], :, rows[:, :, None], cols[:, None, :]]  # (N, H, W, C)
    return out.permute(0, 3, 1, 2)


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


def _step(model: nn.Module, optimizer: torch.optim.Optimizer, xb: torch.Tensor, yb: torch.Tensor,
          device: torch.device, precision: str) -> tuple[float, torch.Tensor]:
    """One SGD step; returns the loss (a NaN/inf loss skips the update) and the logits."""
    with _autocast(device, precision):
        logits = model(xb).float()  # (B, classes)
    loss = F.cross_entropy(logits, yb)
    loss_value = loss.item()
    if math.isfinite(loss_value):
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return loss_value, logits


_CAPTURE_LOCK = threading.Lock()


class _GraphedStep:
    """Forward, loss and backward of one training batch captured as a CUDA graph and replayed.

    The batch is copied into static input tensors, the replay rewrites the logits, the loss and every
    parameter's ``.grad`` in place; the optimizer step stays eager (a few foreach kernels) so that the
    learning rate can change. Warm-up passes run before the capture and their effect on the batch-norm
    running statistics is undone, so training matches the eager loop step for step.
    """

    def __init__(self, model: nn.Module, xb: torch.Tensor, yb: torch.Tensor, precision: str, warmup: int = 3):
        device = xb.device
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.x, self.y = xb.clone(), yb.clone()
        buffers = [(b, b.clone()) for b in model.buffers()]
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):
            for _ in range(warmup):
                model.zero_grad(set_to_none=True)
                with _autocast(device, precision, cache=False):
                    loss = F.cross_entropy(model(self.x).float(), self.y)
                loss.backward()
            del loss  # frees the warm-up's autograd nodes, which the capture must not reuse
        torch.cuda.current_stream(device).wait_stream(side)
        model.zero_grad(set_to_none=True)
        self.graph = torch.cuda.CUDAGraph()
        # Own capture stream, errors only for this thread's work, one capture at a time: other
        # models may be training on other threads (fit_many).
        with _CAPTURE_LOCK, torch.cuda.graph(self.graph, stream=torch.cuda.Stream(device),
                                             capture_error_mode="thread_local"):
            with _autocast(device, precision, cache=False):
                self.logits = model(self.x).float()
            self.loss = F.cross_entropy(self.logits, self.y)
            self.loss.backward()
        self.grads = [p.grad for p in self.params]
        for buffer, saved in buffers:
            buffer.copy_(saved)

    def __call__(self, optimizer: torch.optim.Optimizer, xb: torch.Tensor, yb: torch.Tensor) -> tuple[float, torch.Tensor]:
        self.x.copy_(xb)
        self.y.copy_(yb)
        self.graph.replay()
        loss_value = self.loss.item()
        if math.isfinite(loss_value):
            for p, g in zip(self.params, self.grads):
                p.grad = g  # whatever ran in between (a probe), the step uses this batch's gradients
            optimizer.step()
        return loss_value, self.logits


def _stepper(model: nn.Module, xb: torch.Tensor, yb: torch.Tensor, device: torch.device, precision: str,
             graphs: bool) -> Callable:
    """``step(optimizer, xb, yb) -> (loss, logits)`` for batches shaped like ``xb``: a replayed CUDA
    graph when ``graphs``, else :func:`_step`."""
    if graphs:
        return _GraphedStep(model, xb, yb, precision)
    return lambda optimizer, x, y: _step(model, optimizer, x, y, device, precision)


def time_steps(model: nn.Module, data: Dataset, batch_size: int, device: torch.device, precision: str = "auto",
               steps: int = 3) -> float:
    """Seconds of one training step as :func:`fit` takes it (same precision, memory format and
    optimizer; learning rate 0), the fastest of ``steps`` after a warm-up step."""
    precision = resolve_precision(precision, device)
    layout = conv_memory_format(device, model)
    model.to(device).to(memory_format=layout).train()
    x = data.train_x[:batch_size].to(device).contiguous(memory_format=layout)
    y = data.train_y[:batch_size].to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0, foreach=True)
    step = _stepper(model, x, y, device, precision, use_cuda_graphs(device, 1000, model))
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        step(optimizer, x, y)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    model.to(memory_format=torch.contiguous_format)
    return min(times[1:])


@dataclass
class FitResult:
    """What a training run did.

    ``status`` is "completed", "cancelled" or "diverged"; ``message`` explains the last two.
    ``cuda_graphs`` says whether the steps were replayed as a CUDA graph (:func:`use_cuda_graphs`).
    ``history`` holds one record per step: step, lr, train_loss, train_error (on the batch, in train
    mode) and, at checkpoints, test_error (whole test split, eval mode).
    """

    status: str
    steps_done: int
    seconds: float
    device: str
    precision: str
    cuda_graphs: bool = False
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
    layout = conv_memory_format(device, model)  # the model and every batch: a batch's layout picks the kernel too
    model.to(device).to(memory_format=layout).train()
    data = data.to(device)
    n = len(data.train_y)
    batch_size = min(cfg.batch_size, n)
    gen = torch.Generator().manual_seed(cfg.seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum,
                                weight_decay=cfg.weight_decay, foreach=True)
    history: list[dict] = []
    status, message = "completed", ""
    order, pos = torch.randperm(n, generator=gen), 0
    augment = torch.Generator().manual_seed(cfg.seed + 1) if cfg.augment else None  # batch order unchanged
    graphs = use_cuda_graphs(device, cfg.steps, model)
    step_fn = None

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
        if augment is not None:  # laid out anew: a one-channel crop's strides read as channels-last too
            xb = augment_batch(xb, augment).clone(memory_format=layout)
        if step_fn is None:
            step_fn = _stepper(model, xb, yb, device, precision, graphs)
        loss_value, logits = step_fn(optimizer, xb, yb)
        if not math.isfinite(loss_value):
            status = "diverged"
            message = (f"training diverged at step {step}: the loss became {loss_value}. "
                       f"Try a lower learning rate than {cfg.lr:g} (e.g. {cfg.lr / 10:g}).")
            break

        record = {"step": step, "lr": lr, "train_loss": loss_value,
                  "train_error": (logits.argmax(1) != yb).float().mean().item()}
        if (cfg.eval_every and step % cfg.eval_every == 0) or step == cfg.steps:
            record["test_error"] = evaluate(model, data.test_x, data.test_y, precision)[1]
        history.append(record)
        if callback is not None:
            callback(record)

    model.to(memory_format=torch.contiguous_format)  # stored weights must be contiguous (safetensors)
    result = FitResult(status=status, steps_done=len(history), seconds=0.0, device=str(device),
                       precision=precision, cuda_graphs=graphs, history=history, message=message)
    if status != "cancelled":
        result.final_train_loss, result.final_train_error = evaluate(model, data.train_x, data.train_y, precision)
        result.final_test_error = evaluate(model, data.test_x, data.test_y, precision)[1]
    result.seconds = time.perf_counter() - start
    return result


def parallel_workers(n_jobs: int, device: torch.device) -> int:
    """How many models to train at once. On a CPU, one per torch thread (each then uses one core),
    which beat one model at a time on all cores by 1.25x on the 2-core development machine. On a
    CUDA GPU, all of them (up to 8), each on its own stream: a small net's kernels leave most of the
    GPU idle, and the streams fill it."""
    if n_jobs < 2:
        return 1
    if device.type == "cuda":
        return min(n_jobs, 8)
    if device.type != "cpu":
        return 1
    return max(1, min(n_jobs, torch.get_num_threads()))


def _fit_on_own_stream(model, data, cfg, callback, cancel) -> FitResult:
    device = resolve_device(cfg.device)
    if device.type != "cuda":
        return fit(model, data, cfg, callback, cancel)
    with torch.cuda.stream(torch.cuda.Stream(device)):
        result = fit(model, data, cfg, callback, cancel)
        torch.cuda.current_stream(device).synchronize()
    return result


def fit_many(jobs: list[tuple[nn.Module, Dataset, TrainConfig, Callback | None]],
             cancel: threading.Event | None = None, workers: int | None = None) -> list[FitResult]:
    """Train several models at once: in threads on a multi-core CPU (one core each) or on a CUDA GPU
    (one stream each), else in turn.

    Args:
        jobs: (model, data, config, callback) per model. Build the models beforehand: building
            draws from the global random generator, which threads would share.
        cancel: stops every model before its next step.
        workers: threads (default :func:`parallel_workers`).

    Returns:
        One FitResult per job, in the order given. Each model's training is the same as alone with
        one thread, so results do not depend on which models share the machine.
    """
    if not jobs:
        return []
    device = resolve_device(jobs[0][2].device)
    cost = [c.steps * sum(1 for _ in m.modules()) for m, _, c, _ in jobs]
    return run_parallel([lambda job=job: _fit_on_own_stream(*job, cancel) for job in jobs], device, cost, workers)


def run_parallel(tasks: list[Callable[[], T]], device: torch.device, cost: list[float] | None = None,
                 workers: int | None = None) -> list[T]:
    """Call independent pieces of torch work at once, as :func:`fit_many` trains: on a multi-core CPU
    one thread each with one torch thread (intra-op threads are global), longest first; on a CUDA
    GPU several at once; else one after another.

    Args:
        tasks: the callables.
        device: where they compute.
        cost: relative cost per task (longest first balances the cores).
        workers: threads (default :func:`parallel_workers`).

    Returns:
        Their results, in the order given.
    """
    workers = workers or parallel_workers(len(tasks), device)
    if workers <= 1:
        return [task() for task in tasks]
    before = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)  # intra-op threads are global: each worker thread then uses its own core
    try:
        with ThreadPoolExecutor(workers, thread_name_prefix="rv") as pool:
            order = sorted(range(len(tasks)), key=lambda i: -(cost[i] if cost else 0))  # longest first
            futures = {i: pool.submit(tasks[i]) for i in order}
            return [futures[i].result() for i in range(len(tasks))]
    finally:
        torch.set_num_threads(before)
