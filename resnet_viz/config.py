"""Frozen, validated settings for nets, data and training.

Every experiment is described by these dataclasses; they are hashable, so a spec made of them keys
the run store and the job queue. Invalid values raise ``ValueError`` naming what is allowed.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

FAMILIES = ("cifar", "imagenet")
BLOCKS = ("basic", "preact", "bottleneck")
SHORTCUTS = ("A", "B", "C")
ACTIVATIONS = ("relu", "sigmoid", "tanh")
INITS = ("he", "xavier")
SCHEDULES = ("constant", "step", "cosine")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16")
IMAGENET_DEPTHS = {18: "basic", 34: "basic", 50: "bottleneck", 101: "bottleneck", 152: "bottleneck"}
IMAGENET_LAYERS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3),
                   152: (3, 8, 36, 3)}
MAX_WIDTH = 1024


def _choice(name: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(str, allowed))}; got {value!r}")


def _positive_int(name: str, value: Any, maximum: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a whole number >= 1; got {value!r}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be at most {maximum}; got {value}")


def _finite(name: str, value: Any, low: float, high: float, low_open: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and value <= high
    if not ok:
        bound = f"{'>' if low_open else '>='} {low:g} and <= {high:g}"
        raise ValueError(f"{name} must be a finite number {bound}; got {value!r}")


def cifar_depths(block: str, up_to: int = 1202) -> list[int]:
    """Valid CIFAR depths for a block kind: 6n+2 (basic, preact) or 9n+2 (bottleneck)."""
    step = 9 if block == "bottleneck" else 6
    return list(range(step + 2, up_to + 1, step))


def cifar_blocks_per_stage(depth: int, block: str) -> int:
    """n in depth = 6n+2 (two 3x3 convs per block) or 9n+2 (three convs per bottleneck)."""
    step = 9 if block == "bottleneck" else 6
    if depth < step + 2 or (depth - 2) % step:
        rule = f"{step}n+2 for {block} blocks"
        examples = ", ".join(map(str, cifar_depths(block, up_to=step * 8 + 2)))
        raise ValueError(f"CIFAR depth must be {rule}: {examples}, ...; got {depth}")
    return (depth - 2) // step


@dataclass(frozen=True)
class NetConfig:
    """A plain or residual CNN.

    Args:
        family: "cifar" (3 stages at full, 1/2, 1/4 resolution; He et al. 2016 Sec. 4.2) or
            "imagenet" (7x7 stem + 4 stages; ResNet-18..152).
        depth: weighted layers. CIFAR: 6n+2 (basic, preact) or 9n+2 (bottleneck).
            ImageNet: 18, 34, 50, 101 or 152.
        block: "basic", "preact" (pre-activation, He et al. 2016b) or "bottleneck";
            "auto" picks basic for CIFAR and the paper's block for an ImageNet depth.
        residual: False gives the plain net: the same blocks with the shortcut switched off.
        shortcut: "A" zero-pad identity, "B" projection where the shape changes, "C" projection
            everywhere; "auto" is A for CIFAR and B for ImageNet (as in the paper and torchvision).
        width: channels of the first stage (0 = the family's: 16 CIFAR, 64 ImageNet).
        batchnorm: batch norm after every conv.
        activation: "relu", "sigmoid" or "tanh".
        init: "he" (Kaiming normal, fan_out) or "xavier" (Glorot normal) for the convs.
        in_channels: image channels (from the dataset).
        num_classes: classes (from the dataset).
    """

    family: str = "cifar"
    depth: int = 20
    block: str = "auto"
    residual: bool = True
    shortcut: str = "auto"
    width: int = 0
    batchnorm: bool = True
    activation: str = "relu"
    init: str = "he"
    in_channels: int = 3
    num_classes: int = 10

    def __post_init__(self) -> None:
        _choice("family", self.family, FAMILIES)
        _positive_int("depth", self.depth)
        _choice("block", self.block, BLOCKS + ("auto",))
        _choice("shortcut", self.shortcut, SHORTCUTS + ("auto",))
        _choice("activation", self.activation, ACTIVATIONS)
        _choice("init", self.init, INITS)
        if isinstance(self.width, bool) or not isinstance(self.width, int) or not 0 <= self.width <= MAX_WIDTH:
            raise ValueError(f"width must be a whole number from 1 to {MAX_WIDTH} (0 = default); got {self.width!r}")
        _positive_int("in_channels", self.in_channels, maximum=64)
        _positive_int("num_classes", self.num_classes, maximum=100_000)
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be at least 2; got {self.num_classes}")
        if self.family == "cifar":
            block = "basic" if self.block == "auto" else self.block
            cifar_blocks_per_stage(self.depth, block)
            defaults = {"block": block, "shortcut": "A", "width": 16}
        else:
            if self.depth not in IMAGENET_DEPTHS:
                allowed = ", ".join(map(str, IMAGENET_DEPTHS))
                raise ValueError(f"ImageNet depth must be one of {allowed}; got {self.depth}")
            block = IMAGENET_DEPTHS[self.depth]
            if self.block not in ("auto", block):
                raise ValueError(
                    f"ImageNet ResNet-{self.depth} uses {block} blocks; got block={self.block!r} "
                    "(pre-activation blocks are available in the CIFAR family)")
            defaults = {"block": block, "shortcut": "B", "width": 64}
        # Resolve "auto"/0 so that equal nets have equal (hashable) configs.
        for name, value in defaults.items():
            if getattr(self, name) in ("auto", 0):
                object.__setattr__(self, name, value)

    @property
    def blocks_per_stage(self) -> tuple[int, ...]:
        if self.family == "imagenet":
            return IMAGENET_LAYERS[self.depth]
        return (cifar_blocks_per_stage(self.depth, self.block),) * 3

    @property
    def name(self) -> str:
        """Short human name, e.g. "ResNet-56", "plain-20 (bottleneck)"."""
        base = f"{'ResNet' if self.residual else 'plain'}-{self.depth}"
        extras = []
        if self.family == "cifar" and self.block != "basic":
            extras.append(self.block)
        if self.residual and self.shortcut != ("A" if self.family == "cifar" else "B"):
            extras.append(f"option {self.shortcut}")
        if not self.batchnorm:
            extras.append("no BN")
        if self.activation != "relu":
            extras.append(self.activation)
        if self.init != "he":
            extras.append(f"{self.init} init")
        return base + (f" ({', '.join(extras)})" if extras else "")


def to_dict(obj: Any) -> dict:
    """A dataclass as plain JSON-ready data (nested dataclasses included)."""
    return asdict(obj)


def from_dict(cls: type, data: dict) -> Any:
    """Build a (possibly nested) config dataclass from :func:`to_dict` output; unknown keys raise."""
    known = {f.name: f for f in fields(cls)}
    unknown = set(data) - set(known)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields: {', '.join(sorted(unknown))}; "
                         f"allowed: {', '.join(known)}")
    return cls(**data)


DATASET_NAMES = ("digits", "synthetic", "mnist", "fashion_mnist", "cifar10")
MAX_IMAGE_SIZE = 256


@dataclass(frozen=True)
class DataConfig:
    """Which images to load, whole, into memory.

    Args:
        name: one of ``DATASET_NAMES``; "digits" (scikit-learn's bundled handwritten digits) works
            offline and is the default.
        image_size: side in pixels (0 = the dataset's own: digits 16, synthetic 16, MNIST 28,
            CIFAR-10 32).
        train_limit: keep at most this many training images (0 = all), a seeded class-mixed subset.
        test_limit: the same for the test split.
        seed: seeds the synthetic generator and the subsets.
    """

    name: str = "digits"
    image_size: int = 0
    train_limit: int = 0
    test_limit: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        _choice("dataset", self.name, DATASET_NAMES)
        for field_name in ("image_size", "train_limit", "test_limit", "seed"):
            value = getattr(self, field_name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{field_name} must be a whole number >= 0; got {value!r}")
        if self.image_size and not 8 <= self.image_size <= MAX_IMAGE_SIZE:
            raise ValueError(f"image_size must be 0 (native) or from 8 to {MAX_IMAGE_SIZE}; "
                             f"got {self.image_size}")


MAX_STEPS = 1_000_000
MAX_BATCH = 4096


@dataclass(frozen=True)
class TrainConfig:
    """How :func:`resnet_viz.train.fit` trains.

    Args:
        steps: SGD steps (mini-batches).
        batch_size: images per step.
        lr: peak learning rate.
        momentum: SGD momentum.
        weight_decay: L2 penalty (the paper: 1e-4).
        schedule: "constant", "step" (/10 at 50% and 75% of the steps, like the paper's 32k/48k of
            64k) or "cosine".
        eval_every: measure test error every this many steps (0 = only at the end).
        seed: seeds the batch order (the net's init is seeded by the experiment).
        device: "auto" (CUDA, then MPS, then CPU), "cpu", "cuda" or "mps".
        precision: "auto" (bf16 autocast on CUDA when supported, fp32 elsewhere), "fp32" or
            "bf16" (autocast; weights stay fp32).
    """

    steps: int = 300
    batch_size: int = 128
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 1e-4
    schedule: str = "constant"
    eval_every: int = 50
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"

    def __post_init__(self) -> None:
        _positive_int("steps", self.steps, maximum=MAX_STEPS)
        _positive_int("batch_size", self.batch_size, maximum=MAX_BATCH)
        _finite("learning rate", self.lr, 0.0, 10.0, low_open=True)
        _finite("momentum", self.momentum, 0.0, 0.999)
        _finite("weight_decay", self.weight_decay, 0.0, 1.0)
        _choice("schedule", self.schedule, SCHEDULES)
        if isinstance(self.eval_every, bool) or not isinstance(self.eval_every, int) or self.eval_every < 0:
            raise ValueError(f"eval_every must be a whole number >= 0; got {self.eval_every!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a whole number >= 0; got {self.seed!r}")
        _choice("device", self.device, DEVICES)
        _choice("precision", self.precision, PRECISIONS)
