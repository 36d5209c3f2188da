"""Frozen, validated settings for nets, data and training.

Every experiment is described by these dataclasses; they are hashable, so a spec made of them keys
the run store and the job queue. Invalid values raise ``ValueError`` naming what is allowed.
"""

from __future__ import annotations

import functools
import math
import typing
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable

FAMILIES = ("cifar", "imagenet")
BLOCKS = ("basic", "preact", "bottleneck", "preact_bottleneck")
BOTTLENECKS = ("bottleneck", "preact_bottleneck")  # three convs per block: depth 9n+2
PREACT = ("preact", "preact_bottleneck")  # nothing after the addition (He et al. 2016b)
SHORTCUTS = ("A", "B", "C")
# How the shortcut s(x) joins the residual branch F(x) (He et al. 2016b, Table 1 and Fig. 2).
SHORTCUT_KINDS = ("identity", "scaling", "gating", "shortcut_gating", "dropout")
ACTIVATIONS = ("relu", "sigmoid", "tanh")
INITS = ("he", "xavier")
SCHEDULES = ("constant", "step", "cosine")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16")
IMAGENET_DEPTHS = {18: "basic", 34: "basic", 50: "bottleneck", 101: "bottleneck", 152: "bottleneck"}
IMAGENET_LAYERS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3),
                   152: (3, 8, 36, 3)}
MAX_WIDTH = 1024
MAX_CIFAR_DEPTH = 1202  # ResNet-1202, the deepest net of the paper; deeper ones do not fit a class's machine


def _check_choice(name: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(str, allowed))}; got {value!r}")


def setting(default: Any, help: str, *, choices: tuple | None = None, low: float | None = None,
            high: float | None = None, option: str | None = None, flag: str | None = None,
            aliases: tuple[str, ...] = (), low_open: bool = False, label: str | None = None) -> Any:
    """A config field declared once: its default, a one-line help text and its allowed values.

    Everything else is read from this declaration: validation (:func:`validate`), the CLI options
    (:mod:`resnet_viz.cli`), the catalog (``python -m resnet_viz experiments --json``) and the
    pages' widgets (``resnet_viz.ui.widgets``).

    Args:
        default: the default value (tuples for lists).
        help: one line for people.
        choices: the allowed values, when they are a fixed set.
        low, high: bounds of a number, or of each element of a tuple (inclusive unless ``low_open``).
        option: the CLI option's name without dashes when it differs from the field's (``dataset``).
        flag: for a bool, the one CLI flag that sets the opposite of the default (``--plain``).
        aliases: further CLI option strings for the same field (``--seed`` for ``--seeds``).
        label: a widget's label (default: the field name, capitalized).
    """
    meta = {"help": help, "choices": choices, "low": low, "high": high, "option": option, "flag": flag,
            "aliases": aliases, "low_open": low_open, "label": label}
    return field(default=default, metadata=meta)


def nested(default_factory: Callable[[], Any], expose: tuple[str, ...]) -> Any:
    """A shared config (``NetConfig``, ``TrainConfig``, ``DataConfig``) inside an experiment's Spec.

    Args:
        default_factory: makes the experiment's defaults (e.g. ``lambda: NetConfig(width=8)``).
        expose: the sub-fields a user sets for this experiment (the rest stay at their defaults);
            their help, bounds and choices are those declared on the shared config.
    """
    return field(default_factory=default_factory, metadata={"expose": expose})


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is tuple:
        return f"list[{typing.get_args(tp)[0].__name__}]"
    return tp.__name__


@functools.lru_cache(maxsize=None)
def hints(cls: type) -> dict[str, Any]:
    """Field name -> resolved type of a dataclass (annotations are strings here)."""
    return typing.get_type_hints(cls)


def _num(v: float) -> str:
    return (f"{v:,.0f}" if abs(v) >= 10_000 else f"{v:.0f}") if float(v).is_integer() else f"{v:g}"


def _number_text(low: float | None, high: float | None, whole: bool, low_open: bool) -> str:
    kind = "a whole number" if whole else "a finite number"
    if low is not None and high is not None:
        if low_open:
            return f"{kind} > {_num(low)} and <= {_num(high)}"
        return f"{kind} from {_num(low)} to {_num(high)}"
    if low is not None:
        return f"{kind} {'>' if low_open else '>='} {_num(low)}"
    if high is not None:
        return f"{kind} <= {_num(high)}"
    return kind


def check_value(name: str, value: Any, tp: Any, meta: dict) -> Any:
    """Check one value against its declaration; returns it normalized (lists become tuples).

    Raises:
        ValueError: naming the field and what is allowed.
    """
    if typing.get_origin(tp) is tuple:
        if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list)):
            raise ValueError(f"{name} must be a list; got {value!r}")
        if not value:
            raise ValueError(f"{name} must not be empty")
        item = typing.get_args(tp)[0]
        return tuple(check_value(name, v, item, meta) for v in value)
    if tp is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false; got {value!r}")
        return value
    if meta.get("choices") is not None:
        if value not in meta["choices"]:
            raise ValueError(f"{name} must be one of {', '.join(map(str, meta['choices']))}; got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ValueError(f"{name} must be text; got {value!r}")
        return value
    whole = tp is int
    low, high, low_open = meta.get("low"), meta.get("high"), meta.get("low_open", False)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok and whole:
        ok = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        value = int(value) if ok else value
    if ok:
        ok = math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value <= high
    if not ok:
        raise ValueError(f"{name} must be {_number_text(low, high, whole, low_open)}; got {value!r}")
    return value


def validate(obj: Any) -> None:
    """Check every declared field of a frozen config against its :func:`setting` (in place)."""
    types = hints(type(obj))
    for f in fields(obj):
        if "help" not in f.metadata:
            continue
        value = check_value(f.metadata.get("label") or f.name, getattr(obj, f.name), types[f.name], f.metadata)
        object.__setattr__(obj, f.name, value)


def describe_field(name: str, tp: Any, default: Any, meta: dict) -> dict:
    """One catalog entry: {"name", "type", "default", "choices", "help", "min", "max"}."""
    return {"name": name, "type": _type_name(tp), "default": list(default) if isinstance(default, tuple) else default,
            "choices": list(meta["choices"]) if meta.get("choices") is not None else None,
            "help": meta["help"], "min": meta.get("low"), "max": meta.get("high")}


def cifar_depths(block: str, up_to: int = 1202) -> list[int]:
    """Valid CIFAR depths for a block kind: 6n+2 (basic, preact) or 9n+2 (bottlenecks)."""
    step = 9 if block in BOTTLENECKS else 6
    return list(range(step + 2, up_to + 1, step))


def cifar_blocks_per_stage(depth: int, block: str) -> int:
    """n in depth = 6n+2 (two 3x3 convs per block) or 9n+2 (three convs per bottleneck)."""
    step = 9 if block in BOTTLENECKS else 6
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
        block: "basic", "preact" (pre-activation, He et al. 2016b), "bottleneck" or
            "preact_bottleneck" (ResNet-164/1001 of He et al. 2016b); "auto" picks basic for CIFAR
            and the paper's block for an ImageNet depth.
        residual: False gives the plain net: the same blocks with the shortcut switched off.
        shortcut: "A" zero-pad identity, "B" projection where the shape changes, "C" projection
            everywhere; "auto" is A for CIFAR and B for ImageNet (as in the paper and torchvision).
        width: channels of the first stage (0 = the family's: 16 CIFAR, 64 ImageNet).
        batchnorm: batch norm after every conv.
        activation: "relu", "sigmoid" or "tanh".
        init: "he" (Kaiming normal, fan_out) or "xavier" (Glorot normal) for the convs.
        shortcut_kind: how the shortcut s(x) joins the branch F(x) (He et al. 2016b, Table 1):
            "identity" s + F; "scaling" scale*s + F (or + (1-scale)*F with ``scale_branch``);
            "gating" (Highway, exclusive) g*F + (1-g)*s with g = sigmoid(1x1 conv(x) + gate_bias);
            "shortcut_gating" F + (1-g)*s; "dropout" s dropped elementwise with probability
            ``dropout`` in training (no rescaling) and scaled by 1 - dropout at test.
        scale, scale_branch, gate_bias, dropout: the parameters of those kinds.
        stochastic_depth: survival probability p_L of the last block (Huang et al. 2016); block l
            of L survives a training step with p_l = 1 - l/L (1 - p_L) and its branch is scaled by
            p_l at test. 1 = off.
        in_channels: image channels (from the dataset).
        num_classes: classes (from the dataset).
    """

    family: str = setting("cifar", "cifar: 3 stages for small images; imagenet: 7x7 stem + 4 stages",
                          choices=FAMILIES)
    depth: int = setting(20, "weighted layers: CIFAR 6n+2 (9n+2 bottleneck) up to 1202; ImageNet 18/34/50/101/152",
                         low=1, high=MAX_CIFAR_DEPTH)
    block: str = setting("auto", "basic, preact (pre-activation), bottleneck or preact_bottleneck (ResNet-164/1001, "
                                 "9n+2); auto: basic (CIFAR), the paper's block (ImageNet)", choices=BLOCKS + ("auto",))
    residual: bool = setting(True, "shortcuts on (residual net); --plain turns them off: the plain counterpart",
                             flag="--plain", label="shortcuts")
    shortcut: str = setting("auto", "A zero-pad identity, B projection where the shape changes, C projection "
                                    "everywhere; auto: A (CIFAR), B (ImageNet)", choices=SHORTCUTS + ("auto",))
    width: int = setting(0, f"first-stage channels, 1 to {MAX_WIDTH}",
                         low=1, high=MAX_WIDTH)
    batchnorm: bool = setting(True, "batch norm after every conv; --no-batchnorm leaves it out (convs get biases)",
                              flag="--no-batchnorm", label="batch norm")
    activation: str = setting("relu", "the nonlinearity", choices=ACTIVATIONS)
    init: str = setting("he", "conv initialization: he (Kaiming normal) or xavier (Glorot normal)", choices=INITS)
    shortcut_kind: str = setting("identity", "how the shortcut s(x) joins the branch F(x): identity (s + F), scaling "
                                             "(scale*s + F), gating (Highway: g*F + (1-g)*s), shortcut_gating "
                                             "(F + (1-g)*s) or dropout on s", choices=SHORTCUT_KINDS,
                                 label="shortcut kind")
    scale: float = setting(0.5, "λ of the scaling kind: the shortcut is multiplied by it", low=0.0, high=1.0,
                           low_open=True)
    scale_branch: bool = setting(False, "scaling kind: also multiply F by 1 - λ (--scale-branch)", flag="--scale-branch",
                                 label="scale F by 1 - λ")
    gate_bias: float = setting(0.0, "b_g, the bias of the gate g = sigmoid(1x1 conv + b_g); very negative: the gate "
                                    "starts open to the shortcut", low=-30.0, high=30.0, label="gate bias")
    dropout: float = setting(0.5, "dropout kind: probability of dropping each shortcut element in training", low=0.0,
                             high=1.0, label="shortcut dropout")
    stochastic_depth: float = setting(1.0, "stochastic depth: survival probability p_L of the last block, falling "
                                           "linearly from 1 (Huang et al. 2016: 0.5); 1 = off", low=0.0, high=1.0,
                                      low_open=True, label="stochastic depth p_L")
    in_channels: int = setting(3, "image channels (from the dataset)", low=1, high=64)
    num_classes: int = setting(10, "classes (from the dataset)", low=2, high=100_000)

    def __post_init__(self) -> None:
        _check_choice("family", self.family, FAMILIES)
        if self.family == "cifar":
            block = "basic" if self.block == "auto" else self.block
            defaults = {"block": block, "shortcut": "A", "width": 16}
        else:
            block = IMAGENET_DEPTHS.get(self.depth, "basic") if isinstance(self.depth, int) else "basic"
            defaults = {"block": block, "shortcut": "B", "width": 64}
        # Resolve "auto"/0 so that equal nets have equal (hashable) configs.
        for name, value in defaults.items():
            if getattr(self, name) in ("auto", 0) and not isinstance(getattr(self, name), bool):
                object.__setattr__(self, name, value)
        validate(self)
        if not self.residual and (self.shortcut_kind != "identity" or self.stochastic_depth < 1):
            what = "stochastic depth" if self.stochastic_depth < 1 else f"the {self.shortcut_kind} shortcut kind"
            raise ValueError(f"{what} needs shortcuts: a plain net has none (leave out --plain)")
        if self.shortcut_kind == "dropout" and self.dropout >= 1:
            raise ValueError(f"shortcut dropout must be below 1 (1 would cut every shortcut); got {self.dropout}")
        if self.family == "cifar":
            cifar_blocks_per_stage(self.depth, self.block)
        else:
            if self.depth not in IMAGENET_DEPTHS:
                allowed = ", ".join(map(str, IMAGENET_DEPTHS))
                raise ValueError(f"ImageNet depth must be one of {allowed}; got {self.depth}")
            if self.block != IMAGENET_DEPTHS[self.depth]:
                raise ValueError(
                    f"ImageNet ResNet-{self.depth} uses {IMAGENET_DEPTHS[self.depth]} blocks; got block={self.block!r} "
                    "(pre-activation blocks are available in the CIFAR family)")

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
        extras += self.shortcut_words()
        if not self.batchnorm:
            extras.append("no BN")
        if self.activation != "relu":
            extras.append(self.activation)
        if self.init != "he":
            extras.append(f"{self.init} init")
        return base + (f" ({', '.join(extras)})" if extras else "")


    def shortcut_words(self) -> list[str]:
        """The shortcut kind and stochastic depth in words, e.g. ["shortcut x0.5"]; [] for the identity."""
        words = {"identity": [], "scaling": [f"shortcut x{self.scale:g}" + (f", F x{1 - self.scale:g}"
                                                                              if self.scale_branch else "")],
                 "gating": [f"gating b_g={self.gate_bias:g}"], "shortcut_gating": [f"shortcut gating b_g={self.gate_bias:g}"],
                 "dropout": [f"shortcut dropout {self.dropout:g}"]}[self.shortcut_kind]
        return words + ([f"stochastic depth p_L={self.stochastic_depth:g}"] if self.stochastic_depth < 1 else [])

    @property
    def random_forward(self) -> bool:
        """Does a training forward pass draw random numbers (dropout shortcut, stochastic depth)?"""
        return self.shortcut_kind == "dropout" or self.stochastic_depth < 1


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

    name: str = setting("digits", "digits and synthetic work offline; mnist, fashion_mnist and cifar10 need their "
                                  "files in RESNET_VIZ_DATA", choices=DATASET_NAMES, option="dataset", label="dataset")
    image_size: int = setting(0, f"resize images to this side, 8 to {MAX_IMAGE_SIZE} (0 = the dataset's own)",
                              low=0, high=MAX_IMAGE_SIZE)
    train_limit: int = setting(0, "use at most this many training images (0 = all)", low=0, high=10_000_000)
    test_limit: int = setting(0, "use at most this many test images (0 = all)", low=0, high=10_000_000)
    seed: int = setting(0, "seeds the synthetic images and the subsets", low=0, high=2**31 - 1, option="data_seed")

    def __post_init__(self) -> None:
        validate(self)
        if self.image_size and self.image_size < 8:
            raise ValueError(f"image_size must be 0 (native) or from 8 to {MAX_IMAGE_SIZE}; got {self.image_size}")


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
        augment: the paper's augmentation of every batch, on the device (He et al. 2016, Sec. 4.2): 4
            pixels padded on each side, a random 32x32 crop (the image's own size) and a random
            horizontal flip (:func:`resnet_viz.train.augment_batch`).
        seed: seeds the net's initialization and the batch order.
        device: "auto" (CUDA, then MPS, then CPU), "cpu", "cuda" or "mps".
        precision: "auto" (bf16 autocast on CUDA when supported, fp32 elsewhere), "fp32" or
            "bf16" (autocast; weights stay fp32).
    """

    steps: int = setting(300, "SGD steps (mini-batches)", low=1, high=MAX_STEPS)
    batch_size: int = setting(128, "images per step", low=1, high=MAX_BATCH)
    lr: float = setting(0.1, "peak learning rate", low=0.0, high=10.0, low_open=True, label="learning rate")
    momentum: float = setting(0.9, "SGD momentum", low=0.0, high=0.999)
    weight_decay: float = setting(1e-4, "L2 penalty (the paper: 1e-4)", low=0.0, high=1.0)
    schedule: str = setting("constant", "learning-rate schedule: constant, step (/10 at 50% and 75%) or cosine",
                            choices=SCHEDULES)
    eval_every: int = setting(50, "test-error checkpoint interval in steps (0 = only at the end)", low=0,
                              high=MAX_STEPS)
    seed: int = setting(0, "seeds the init and the batch order", low=0, high=2**31 - 1)
    augment: bool = setting(False, "pad 4 pixels, random crop and horizontal flip of every batch, on the device "
                                   "(the paper's augmentation); --augment turns it on", flag="--augment",
                            label="augmentation")
    device: str = setting("auto", "auto (CUDA, then MPS, then CPU), cpu, cuda or mps", choices=DEVICES)
    precision: str = setting("auto", "auto (bf16 autocast where the hardware has it), fp32 or bf16",
                             choices=PRECISIONS)

    def __post_init__(self) -> None:
        validate(self)
