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

from .i18n import N_

FAMILIES = ("cifar", "imagenet")
BLOCKS = ("basic", "preact", "bottleneck", "preact_bottleneck")
BOTTLENECKS = ("bottleneck", "preact_bottleneck")  # three convs per block: depth 9n+2
PREACT = ("preact", "preact_bottleneck")  # nothing after the addition (He et al. 2016b)
BLOCK_WORDS = {"basic": N_("basic"), "preact": N_("pre-activation"), "bottleneck": N_("bottleneck"),
               "preact_bottleneck": N_("pre-activation bottleneck"), "auto": N_("the family's own")}  # as people name them
KIND_WORDS = {"identity": N_("identity"), "scaling": N_("scaling"), "gating": N_("gating"),
              "shortcut_gating": N_("shortcut gating"), "dropout": N_("dropout")}
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
            aliases: tuple[str, ...] = (), low_open: bool = False, label: str | None = None,
            max_items: int | None = None, words: dict | None = None) -> Any:
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
        max_items: for a list, how many values one run may take at most (the run limits: depths,
            seeds); a list's values are always different from each other.
        words: how the pages name each choice (choice -> English message id), where the value is a
            code name (``preact_bottleneck`` is shown as "pre-activation bottleneck").

    The help text is written once, here, for people: the pages show it as a tooltip and the CLI
    beside its option, so it never names a CLI flag.
    """
    meta = {"help": help, "choices": choices, "low": low, "high": high, "option": option, "flag": flag,
            "aliases": aliases, "low_open": low_open, "label": label, "max_items": max_items, "words": words}
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
        checked = tuple(check_value(name, v, item, meta) for v in value)
        most = meta.get("max_items")
        if len(set(checked)) != len(checked) or (most is not None and len(checked) > most):
            count = f"1 to {most}" if most is not None else "one or more"
            raise ValueError(f"{name} must be {count} different values; got {', '.join(map(str, value))}")
        return checked
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
    """One catalog entry: {"name", "type", "default", "choices", "help", "min", "max", "max_items"}."""
    return {"name": name, "type": _type_name(tp), "default": list(default) if isinstance(default, tuple) else default,
            "choices": list(meta["choices"]) if meta.get("choices") is not None else None,
            "help": meta["help"], "min": meta.get("low"), "max": meta.get("high"), "max_items": meta.get("max_items")}


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
    """A plain or residual CNN: the CIFAR family (3 stages at full, 1/2 and 1/4 resolution; He et al.
    2016, Sec. 4.2) or the ImageNet family (7x7 stem and 4 stages; ResNet-18..152).

    Each field's meaning is its setting's help (below; ``python -m resnet_viz experiments`` lists
    them). "auto" and 0 resolve to the family's own choice when the config is made, so equal nets
    have equal (hashable) configs.
    """

    family: str = setting("cifar", "cifar: 3 stages for small images; imagenet: 7x7 stem and 4 stages",
                          choices=FAMILIES)
    depth: int = setting(20, "weighted layers: CIFAR 6n+2 (9n+2 with bottleneck blocks) up to 1202; ImageNet "
                             "18, 34, 50, 101 or 152", low=1, high=MAX_CIFAR_DEPTH)
    block: str = setting("auto", "basic, preact (pre-activation, He et al. 2016b), bottleneck or preact_bottleneck "
                                 "(ResNet-164/1001, 9n+2); auto: basic for CIFAR, the paper's block for ImageNet",
                         choices=BLOCKS + ("auto",), words=BLOCK_WORDS)
    residual: bool = setting(True, "shortcuts on (a residual net); off: the plain net, the same blocks without "
                                   "their shortcuts", flag="--plain", label="shortcuts")
    shortcut: str = setting("auto", "A: zero-padded identity; B: 1x1 projection where the shape changes; C: "
                                    "projection everywhere; auto: A for CIFAR, B for ImageNet",
                            choices=SHORTCUTS + ("auto",))
    width: int = setting(0, f"first-stage channels, 1 to {MAX_WIDTH} (the family's own: 16 CIFAR, 64 ImageNet)",
                         low=1, high=MAX_WIDTH)
    batchnorm: bool = setting(True, "batch norm after every conv; off: the convs get biases instead",
                              flag="--no-batchnorm", label="batch norm")
    activation: str = setting("relu", "the nonlinearity", choices=ACTIVATIONS)
    init: str = setting("he", "conv initialization: he (Kaiming normal, fan out) or xavier (Glorot normal)",
                        choices=INITS, words={"he": "He", "xavier": "Xavier"})
    shortcut_kind: str = setting("identity", "how the shortcut s(x) joins the branch F(x) (He et al. 2016b, Table "
                                             "1): identity s + F; scaling λs + F; gating (Highway) g F + (1 - g) s "
                                             "with g = σ(1x1 conv + b_g); shortcut_gating F + (1 - g) s; dropout "
                                             "drops elements of s in training and scales s by 1 - p at test",
                                 choices=SHORTCUT_KINDS, label="shortcut kind", words=KIND_WORDS)
    scale: float = setting(0.5, "λ of the scaling kind: the shortcut is multiplied by it", low=0.0, high=1.0,
                           low_open=True)
    scale_branch: bool = setting(False, "scaling kind: also multiply F by 1 - λ", flag="--scale-branch",
                                 label="scale F by 1 - λ")
    gate_bias: float = setting(0.0, "b_g, the bias of the gate g = σ(1x1 conv + b_g); very negative: the gate "
                                    "starts open to the shortcut", low=-30.0, high=30.0, label="gate bias")
    dropout: float = setting(0.5, "dropout kind: probability of dropping each shortcut element in training (no "
                                  "rescaling)", low=0.0, high=1.0, label="shortcut dropout")
    stochastic_depth: float = setting(1.0, "stochastic depth (Huang et al. 2016): survival probability p_L of the "
                                           "last block; block l of L survives a step with 1 - l/L (1 - p_L) and its "
                                           "branch is scaled by that at test; 1 = off (the paper: 0.5)",
                                      low=0.0, high=1.0, low_open=True, label="stochastic depth p_L")
    residual_scale: float = setting(1.0, "residual scaling (Szegedy et al. 2017, Inception-ResNet): the branch F is "
                                         "multiplied by a before the addition, x + a F(x); 1 = off (the paper: 0.1 "
                                         "to 0.3)", low=0.0, high=1.0, low_open=True, label="residual scale a")
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
        if not self.residual and (self.shortcut_kind != "identity" or self.stochastic_depth < 1
                                  or self.residual_scale < 1):
            what = ("stochastic depth" if self.stochastic_depth < 1 else "residual scaling" if self.residual_scale < 1
                    else f"the {self.shortcut_kind} shortcut kind")
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
        """Short human name in English, e.g. "ResNet-56", "plain-20 (bottleneck)"."""
        return self.title()

    def title(self, tr: Callable[[str], str] = str) -> str:
        """Short human name, its words passed through ``tr`` (a page's translation): "ResNet-56",
        "plain-56 (pre-activation, no BN, sigmoid)". Run names (plain-56, ResNet-56) stay as they are."""
        base = f"{'ResNet' if self.residual else 'plain'}-{self.depth}"
        extras = []
        if self.family == "cifar" and self.block != "basic":
            extras.append(tr(BLOCK_WORDS[self.block]))
        if self.residual and self.shortcut != ("A" if self.family == "cifar" else "B"):
            extras.append(tr(N_("option {option}")).format(option=self.shortcut))
        extras += self.shortcut_words(tr)
        if not self.batchnorm:
            extras.append(tr(N_("no BN")))
        if self.activation != "relu":
            extras.append(self.activation)
        if self.init != "he":
            extras.append(tr(N_("{init} init")).format(init=self.init.capitalize()))
        return base + (f" ({', '.join(extras)})" if extras else "")

    def shortcut_words(self, tr: Callable[[str], str] = str) -> list[str]:
        """The shortcut kind and stochastic depth in words, e.g. ["shortcut x0.5"]; [] for the identity."""
        words = {"identity": [],
                 "scaling": [tr(N_("shortcut x{scale}")).format(scale=f"{self.scale:g}") + (
                     f", F x{1 - self.scale:g}" if self.scale_branch else "")],
                 "gating": [tr(N_("gating b_g={bias}")).format(bias=f"{self.gate_bias:g}")],
                 "shortcut_gating": [tr(N_("shortcut gating b_g={bias}")).format(bias=f"{self.gate_bias:g}")],
                 "dropout": [tr(N_("shortcut dropout {p}")).format(p=f"{self.dropout:g}")]}[self.shortcut_kind]
        if self.stochastic_depth < 1:
            words.append(tr(N_("stochastic depth p_L={p}")).format(p=f"{self.stochastic_depth:g}"))
        if self.residual_scale < 1:
            words.append(tr(N_("residual scale {a}")).format(a=f"{self.residual_scale:g}"))
        return words

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
    """Which images to load, whole, into memory; "digits" (scikit-learn's bundled handwritten digits)
    works offline and is the default. Each field's meaning is its setting's help."""

    name: str = setting("digits", "digits and synthetic work offline; mnist, fashion_mnist and cifar10 need their "
                                  "files in RESNET_VIZ_DATA", choices=DATASET_NAMES, option="dataset", label="dataset",
                         words={"digits": N_("digits"), "synthetic": N_("synthetic"), "mnist": "MNIST",
                                "fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10"})
    image_size: int = setting(0, f"resize images to this side, 8 to {MAX_IMAGE_SIZE} (0 = the dataset's own: "
                                 "digits and synthetic 16, MNIST 28, CIFAR-10 32)", low=0, high=MAX_IMAGE_SIZE)
    train_limit: int = setting(0, "use at most this many training images, a seeded subset of every class (0 = all)",
                               low=0, high=10_000_000)
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
    """How :func:`resnet_viz.train.fit` trains (SGD with momentum). Each field's meaning is its
    setting's help; the augmentation is :func:`resnet_viz.train.augment_batch`, the paper's (He et al.
    2016, Sec. 4.2), done on the device for the whole batch at once."""

    steps: int = setting(300, "SGD steps (mini-batches)", low=1, high=MAX_STEPS)
    batch_size: int = setting(128, "images per step", low=1, high=MAX_BATCH)
    lr: float = setting(0.1, "peak learning rate", low=0.0, high=10.0, low_open=True, label="learning rate")
    momentum: float = setting(0.9, "SGD momentum", low=0.0, high=0.999)
    weight_decay: float = setting(1e-4, "L2 penalty (the paper: 1e-4)", low=0.0, high=1.0)
    schedule: str = setting("constant", "learning-rate schedule: constant, step (divided by 10 at half and three "
                                        "quarters of the steps, like the paper's 32k and 48k of 64k) or cosine",
                            choices=SCHEDULES)
    eval_every: int = setting(50, "test-error checkpoint interval in steps (0 = only at the end)", low=0,
                              high=MAX_STEPS)
    seed: int = setting(0, "seeds the init and the batch order", low=0, high=2**31 - 1)
    augment: bool = setting(False, "pad 4 pixels, random crop and horizontal flip of every batch, on the device "
                                   "(the paper's augmentation)", flag="--augment",
                            label="augmentation")
    device: str = setting("auto", "auto (CUDA, then MPS, then CPU), cpu, cuda or mps", choices=DEVICES)
    precision: str = setting("auto", "auto (bf16 autocast where the hardware has it), fp32 or bf16",
                             choices=PRECISIONS)

    def __post_init__(self) -> None:
        validate(self)
