"""Plain and residual CNNs: blocks, builders and the one registry.

Follows torchvision's ``models/resnet.py`` (names from the paper, the projection shortcut made in
one place) with what the lab needs on top: a plain net is the same block with the shortcut off,
every activation is its own module, and the residual add is out-of-place (Captum hooks).
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace
from typing import Callable, Collection, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .config import PREACT, NetConfig, cifar_depths

_ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}

# Which way the backward pass goes through each block (route_gradient); per thread and call, never on the
# modules, so a net shared by many sessions is not changed.
_ROUTES: ContextVar[dict[int, torch.Tensor] | None] = ContextVar("resnet_viz_routes", default=None)


@contextmanager
def route_gradient(model: "ResNet", through_branch: torch.Tensor) -> Iterator[None]:
    """Forward passes inside are unchanged; backward passes go, per image, through the residual
    branch F of some blocks and through the shortcut of the others (Veit et al. 2016, Sec. 6: the
    gradient of one path of the unraveled net).

    Args:
        model: a residual net.
        through_branch: (batch, blocks) of 0/1: 1 sends image i's gradient through block j's F only,
            0 through its shortcut only.
    """
    blocks = model.blocks
    if through_branch.shape[-1] != len(blocks):
        raise ValueError(f"a route names every block: {len(blocks)} columns, got {through_branch.shape[-1]}")
    token = _ROUTES.set({id(b): through_branch[:, j] for j, b in enumerate(blocks)})
    try:
        yield
    finally:
        _ROUTES.reset(token)


def _gradient_only_where(a: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """a's value; its gradient only for the batch items where ``keep`` is 1 (0/1, one per item)."""
    keep = keep.to(a.dtype).view(-1, *([1] * (a.dim() - 1)))
    return a * keep + (a * (1 - keep)).detach()


def _conv(cin: int, cout: int, k: int, stride: int, bias: bool) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=bias)


def _norm(channels: int, on: bool) -> nn.Module:
    return nn.BatchNorm2d(channels) if on else nn.Identity()


class ZeroPadShortcut(nn.Module):
    """Option A: identity that subsamples by the stride and zero-pads the new channels (no weights)."""

    def __init__(self, in_planes: int, out_planes: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.extra = out_planes - in_planes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.extra:
            x = F.pad(x, (0, 0, 0, 0, 0, self.extra))  # (B, C + extra, H, W)
        return x


def _shortcut(cfg: NetConfig, in_planes: int, out_planes: int, stride: int) -> nn.Module | None:
    """The one place a shortcut is made. None for a plain net."""
    if not cfg.residual:
        return None
    changes = stride != 1 or in_planes != out_planes
    if cfg.shortcut == "C" or (cfg.shortcut == "B" and changes):
        return nn.Sequential(_conv(in_planes, out_planes, 1, stride, not cfg.batchnorm),
                             _norm(out_planes, cfg.batchnorm))
    if changes:
        return ZeroPadShortcut(in_planes, out_planes, stride)
    return nn.Identity()


class _Noise:
    """The random numbers of one net's training forward passes (shortcut dropout, stochastic depth):
    its own generators, seeded with the net, so a run is reproducible whatever else trains beside it."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.generators: dict[str, torch.Generator] = {}

    def on(self, device: torch.device) -> torch.Generator:
        key = str(device)
        if key not in self.generators:
            self.generators[key] = torch.Generator(device=device).manual_seed(self.seed)
        return self.generators[key]


class Block(nn.Module):
    """What every block shares: its shortcut (None when plain), how the shortcut joins the residual
    branch (:meth:`join`), and whether the block changes shape.

    :meth:`bypass` is the block removed (Veit et al. 2016): a residual block then passes its input
    through the shortcut alone; a plain block can only be removed where it keeps the shape. Removal
    is a forward-pass argument (:meth:`ResNet.forward`), never a change to the module, so one trained
    net can serve many sessions at once.
    """

    expansion = 1

    def __init__(self, cfg: NetConfig, in_planes: int, planes: int, stride: int, expansion: int | None = None) -> None:
        super().__init__()
        self.in_planes = in_planes
        self.out_planes = planes * (expansion or self.expansion)
        self.stride = stride
        self.changes_shape = stride != 1 or in_planes != self.out_planes
        self.residual = cfg.residual
        self.kind = cfg.shortcut_kind if cfg.residual else "none"
        self.scale, self.scale_branch = cfg.scale, cfg.scale_branch
        self.residual_scale = cfg.residual_scale if cfg.residual else 1.0  # Inception-ResNet: x + a F(x)
        self.gate_bias, self.dropout = cfg.gate_bias, cfg.dropout
        self.survival = 1.0  # stochastic depth: set by ResNet per block
        self.noise: _Noise | None = None  # set by ResNet
        self.shortcut: nn.Module | None = None  # set by _add_shortcut, last, so convs come first in order
        self.gate: nn.Conv2d | None = None
        self.add = nn.Identity()  # marks the addition's output (before any activation after it) for probes

    def _add_shortcut(self, cfg: NetConfig) -> None:
        self.shortcut = _shortcut(cfg, self.in_planes, self.out_planes, self.stride)
        if self.kind in ("gating", "shortcut_gating"):  # g = sigmoid(1x1 conv(x) + b_g), one gate per output unit
            self.gate = nn.Conv2d(self.in_planes, self.out_planes, 1, stride=self.stride, bias=True)

    @property
    def droppable(self) -> bool:
        """Can this block be removed and the net still run? Residual: always; plain: same shape only."""
        return self.residual or not self.changes_shape

    def residual_branch(self, x: torch.Tensor) -> torch.Tensor:  # F(x)
        raise NotImplementedError

    def responses(self) -> list[tuple[str, nn.Module]]:
        """(conv name, module) for each 3x3 conv: the module whose output is that conv's response
        after BN and before any nonlinearity or addition (He et al. 2016, Fig. 7)."""
        raise NotImplementedError

    def _gate(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.gate(x))

    def multiplier(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor | float | None:
        """What the kind multiplies the shortcut s(x) by: λ, 1 - g(x), a dropout mask in training
        (1 - p at test); None for the identity."""
        if self.kind == "scaling":
            return self.scale
        if self.kind in ("gating", "shortcut_gating"):
            return 1 - self._gate(x)
        if self.kind == "dropout":
            keep = 1 - self.dropout
            if not self.training or s.is_meta:  # test time, or counting on the meta device
                return keep
            # no rescaling: the expected scale of the shortcut is 1 - p (He et al. 2016b)
            return torch.empty_like(s).bernoulli_(keep, generator=self.noise.on(s.device))
        return None

    def carry(self, x: torch.Tensor, shortcut_in: torch.Tensor | None = None, hold: bool = False,
              gate: torch.Tensor | None = None) -> torch.Tensor:
        """The shortcut's term of the addition: s(x) times its :meth:`multiplier`. ``hold`` treats
        the multiplier as a constant (no gradient through a gate), as in He et al. 2016b's argument;
        ``gate``: g(x) already computed (exclusive gating uses it on F too)."""
        s = self.shortcut(x if shortcut_in is None else shortcut_in)
        m = self.multiplier(x, s) if gate is None else 1 - gate
        if m is None:
            return s
        return (m.detach() if hold and isinstance(m, torch.Tensor) else m) * s

    def survives(self, x: torch.Tensor) -> bool:
        """Stochastic depth: does the branch take part in this training step? Always at test, and
        when counting on the meta device (the whole net is what must fit)."""
        if self.survival >= 1 or not self.training or x.is_meta:
            return True
        cpu = torch.device("cpu")
        return bool(torch.rand((), generator=self.noise.on(cpu), device=cpu) < self.survival)

    def join(self, x: torch.Tensor, f: torch.Tensor | None, shortcut_in: torch.Tensor | None = None) -> torch.Tensor:
        """The addition: F(x) (None: the branch dropped by stochastic depth) joined with the shortcut,
        before any activation after it. A plain block returns F(x)."""
        if self.shortcut is None:
            return self.add(f)
        gate = self._gate(x) if self.kind == "gating" else None
        # Exclusive gating computes its gate once and uses it twice. Computing it twice used the gate's
        # weight twice per forward, and under bf16 autocast such a net's training then depended on what
        # trained beside it in another thread (measured; most likely autocast's weight-cast cache, which
        # another thread can clear, deciding whether the two uses share one cast and so where their
        # gradients are summed). tests/test_shortcuts.py checks it.
        carried = self.carry(x, shortcut_in, gate=gate)
        if f is None:
            return self.add(carried)
        if not self.training and self.survival < 1:
            f = self.survival * f  # test time: the branch's expected contribution (Huang et al. 2016)
        if self.kind == "scaling" and self.scale_branch:
            f = (1 - self.scale) * f
        elif gate is not None:
            f = gate * f
        if self.residual_scale != 1:
            f = self.residual_scale * f
        routes = _ROUTES.get()
        if routes is not None and id(self) in routes:
            branch = routes[id(self)]
            carried, f = _gradient_only_where(carried, 1 - branch), _gradient_only_where(f, branch)
        return self.add(carried + f)

    def bypass(self, x: torch.Tensor) -> torch.Tensor:
        """The block removed: its shortcut alone (identity for a plain block that keeps the shape)."""
        if not self.droppable:
            raise ValueError("a plain block that changes the shape cannot be removed")
        return x if self.shortcut is None else self.carry(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.residual_branch(x)


class BasicBlock(Block):
    """Two 3x3 convs; the activation after the addition (He et al. 2016, Fig. 2)."""

    def __init__(self, cfg: NetConfig, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__(cfg, in_planes, planes, stride)
        bias = not cfg.batchnorm
        act = _ACTIVATIONS[cfg.activation]
        self.conv1 = _conv(in_planes, planes, 3, stride, bias)
        self.bn1 = _norm(planes, cfg.batchnorm)
        self.act1 = act()
        self.conv2 = _conv(planes, planes, 3, 1, bias)
        self.bn2 = _norm(planes, cfg.batchnorm)
        self.act2 = act()
        self._add_shortcut(cfg)

    def residual_branch(self, x: torch.Tensor) -> torch.Tensor:
        out = None
        if self.survives(x):
            out = self.act1(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
        return self.act2(self.join(x, out))

    def responses(self) -> list[tuple[str, nn.Module]]:
        return [("conv1", self.bn1), ("conv2", self.bn2)]


class Bottleneck(Block):
    """1x1 reduce, 3x3, 1x1 restore (x4). Stride in the 3x3 conv, as torchvision ("V1.5").

    ``expansion`` overrides the restore factor (the block calculator's other bottleneck widths).
    """

    expansion = 4

    def __init__(self, cfg: NetConfig, in_planes: int, planes: int, stride: int = 1, expansion: int | None = None) -> None:
        super().__init__(cfg, in_planes, planes, stride, expansion)
        bias = not cfg.batchnorm
        act = _ACTIVATIONS[cfg.activation]
        self.conv1 = _conv(in_planes, planes, 1, 1, bias)
        self.bn1 = _norm(planes, cfg.batchnorm)
        self.act1 = act()
        self.conv2 = _conv(planes, planes, 3, stride, bias)
        self.bn2 = _norm(planes, cfg.batchnorm)
        self.act2 = act()
        self.conv3 = _conv(planes, self.out_planes, 1, 1, bias)
        self.bn3 = _norm(self.out_planes, cfg.batchnorm)
        self.act3 = act()
        self._add_shortcut(cfg)

    def residual_branch(self, x: torch.Tensor) -> torch.Tensor:
        out = None
        if self.survives(x):
            out = self.act1(self.bn1(self.conv1(x)))
            out = self.act2(self.bn2(self.conv2(out)))
            out = self.bn3(self.conv3(out))
        return self.act3(self.join(x, out))

    def responses(self) -> list[tuple[str, nn.Module]]:
        return [("conv2", self.bn2)]


class PreActBlock(Block):
    """BN -> act -> conv, twice; nothing after the addition (He et al. 2016b, Fig. 4e)."""

    def __init__(self, cfg: NetConfig, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__(cfg, in_planes, planes, stride)
        bias = not cfg.batchnorm
        act = _ACTIVATIONS[cfg.activation]
        self.bn1 = _norm(in_planes, cfg.batchnorm)
        self.act1 = act()
        self.conv1 = _conv(in_planes, planes, 3, stride, bias)
        self.bn2 = _norm(planes, cfg.batchnorm)
        self.act2 = act()
        self.conv2 = _conv(planes, planes, 3, 1, bias)
        self._add_shortcut(cfg)

    def residual_branch(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.act1(self.bn1(x))
        # A projection shortcut sees the pre-activated input (as in the paper's code); identity sees x.
        shortcut_in = pre if isinstance(self.shortcut, nn.Sequential) else x
        return self.join(x, self.branch(pre) if self.survives(x) else None, shortcut_in)

    def branch(self, pre: torch.Tensor) -> torch.Tensor:
        """F of the pre-activated input."""
        return self.conv2(self.act2(self.bn2(self.conv1(pre))))

    def carry(self, x: torch.Tensor, shortcut_in: torch.Tensor | None = None, hold: bool = False,
              gate: torch.Tensor | None = None) -> torch.Tensor:
        if shortcut_in is None and isinstance(self.shortcut, nn.Sequential):
            shortcut_in = self.act1(self.bn1(x))
        return super().carry(x, shortcut_in, hold, gate)

    def responses(self) -> list[tuple[str, nn.Module]]:
        return [("conv1", self.bn2), ("conv2", self.conv2)]  # conv2 meets the addition un-normalized


class PreActBottleneck(PreActBlock):
    """BN -> act -> 1x1 reduce, BN -> act -> 3x3, BN -> act -> 1x1 restore (x4); nothing after the
    addition: the unit of ResNet-164 and ResNet-1001 (He et al. 2016b, Sec. 4 and Table 3)."""

    expansion = 4

    def __init__(self, cfg: NetConfig, in_planes: int, planes: int, stride: int = 1) -> None:
        Block.__init__(self, cfg, in_planes, planes, stride)
        bias = not cfg.batchnorm
        act = _ACTIVATIONS[cfg.activation]
        self.bn1 = _norm(in_planes, cfg.batchnorm)
        self.act1 = act()
        self.conv1 = _conv(in_planes, planes, 1, 1, bias)
        self.bn2 = _norm(planes, cfg.batchnorm)
        self.act2 = act()
        self.conv2 = _conv(planes, planes, 3, stride, bias)
        self.bn3 = _norm(planes, cfg.batchnorm)
        self.act3 = act()
        self.conv3 = _conv(planes, self.out_planes, 1, 1, bias)
        self._add_shortcut(cfg)

    def branch(self, pre: torch.Tensor) -> torch.Tensor:
        return self.conv3(self.act3(self.bn3(super().branch(pre))))

    def responses(self) -> list[tuple[str, nn.Module]]:
        return [("conv2", self.bn3)]  # the 3x3 conv's response after BN


_BLOCKS: dict[str, type[Block]] = {"basic": BasicBlock, "bottleneck": Bottleneck, "preact": PreActBlock,
                                   "preact_bottleneck": PreActBottleneck}


class ResNet(nn.Module):
    """Stem, stages of blocks, global average pool, linear classifier.

    CIFAR family: 3x3 stem, 3 stages of n blocks at widths w, 2w, 4w (He et al. 2016 Sec. 4.2).
    ImageNet family: 7x7/2 stem + 3x3/2 max-pool, 4 stages at 64..512 (Table 1).
    """

    def __init__(self, cfg: NetConfig, noise_seed: int = 0) -> None:
        super().__init__()
        self.cfg = cfg
        block_cls = _BLOCKS[cfg.block]
        w = cfg.width
        bias = not cfg.batchnorm
        act = _ACTIVATIONS[cfg.activation]
        preact = cfg.block in PREACT
        if cfg.family == "cifar":
            stem = [_conv(cfg.in_channels, w, 3, 1, bias)]
            if not preact:
                stem += [_norm(w, cfg.batchnorm), act()]
            widths = (w, 2 * w, 4 * w)
        else:
            stem = [_conv(cfg.in_channels, w, 7, 2, bias), _norm(w, cfg.batchnorm), act(),
                    nn.MaxPool2d(3, stride=2, padding=1)]
            widths = (w, 2 * w, 4 * w, 8 * w)
        self.stem = nn.Sequential(*stem)

        in_planes = w
        stages = []
        for i, (planes, count) in enumerate(zip(widths, cfg.blocks_per_stage)):
            blocks = []
            for j in range(count):
                stride = 2 if i > 0 and j == 0 else 1
                blocks.append(block_cls(cfg, in_planes, planes, stride))
                in_planes = planes * block_cls.expansion
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.ModuleList(stages)
        noise = _Noise(noise_seed)
        blocks = self.blocks
        for l, block in enumerate(blocks, start=1):  # Huang et al. 2016: p_l = 1 - l/L (1 - p_L)
            block.survival = 1 - l / len(blocks) * (1 - cfg.stochastic_depth)
            block.noise = noise

        # Pre-activation nets end with BN + act, since no block ends with one (He et al. 2016b).
        self.final = nn.Sequential(_norm(in_planes, cfg.batchnorm), act()) if preact else nn.Identity()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(in_planes, cfg.num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        if self.fc.weight.is_meta:  # counting on the meta device: there are no values to initialize
            return
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if self.cfg.init == "he":
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                else:
                    nn.init.xavier_normal_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for block in self.blocks:  # the gate's bias b_g sets how open it starts (g = sigmoid(Wx + b_g))
            if block.gate is not None:
                nn.init.constant_(block.gate.bias, block.gate_bias)

    @property
    def blocks(self) -> list[Block]:
        """Every block in network order."""
        return [b for stage in self.stages for b in stage]

    def conv_layers(self) -> list[tuple[str, nn.Conv2d]]:
        """Named conv layers in network order (stem, blocks, shortcut projections inline)."""
        return [(name, m) for name, m in self.named_modules() if isinstance(m, nn.Conv2d)]

    def response_modules(self) -> list[tuple[str, nn.Module]]:
        """(conv name, module) for every 3x3 conv in order, the module's output being that conv's
        response after BN, before the nonlinearity or addition (He et al. 2016, Fig. 7)."""
        found = [("stem.0", self.stem[1] if len(self.stem) > 1 else self.stem[0])] if self.cfg.family == "cifar" else []
        for stage_index, stage in enumerate(self.stages):
            for block_index, block in enumerate(stage):
                found += [(f"stages.{stage_index}.{block_index}.{name}", module) for name, module in block.responses()]
        return found

    def stage_of_block(self) -> list[int]:
        """Stage index of every block, aligned with :attr:`blocks`."""
        return [i for i, stage in enumerate(self.stages) for _ in stage]

    def forward(self, x: torch.Tensor, skip: Collection[int] = (), order: Sequence[int] | None = None) -> torch.Tensor:
        """Logits; ``skip`` removes blocks (network-order indices) and ``order`` runs the blocks in
        another order (lesion studies, Veit et al. 2016) for this call only."""
        x = self.stem(x)  # (B, w, H, W)

        if not skip and order is None:
            for stage in self.stages:
                x = stage(x)
        else:
            blocks = self.blocks
            for b in order if order is not None else range(len(blocks)):
                x = blocks[b].bypass(x) if b in skip else blocks[b](x)

        x = self.final(x)
        x = self.pool(x).flatten(1)  # (B, C)
        return self.fc(x)


# --- the registry -------------------------------------------------------------------------------

_REGISTRY: dict[str, Callable[..., ResNet]] = {}


def register_model(name: str, cfg: NetConfig) -> None:
    def builder(**overrides) -> ResNet:
        return ResNet(replace(cfg, **overrides))
    builder.__doc__ = f"{cfg.name} ({cfg.family} family). Keyword arguments override NetConfig fields."
    builder.config = cfg  # type: ignore[attr-defined]
    _REGISTRY[name] = builder


for _d in (20, 32, 44, 56, 110, 1202):
    register_model(f"resnet{_d}", NetConfig("cifar", _d))
    register_model(f"plain{_d}", NetConfig("cifar", _d, residual=False))
for _d in (164, 1001):  # the original (post-activation) bottleneck unit, and He et al. 2016b's pre-activation one
    register_model(f"resnet{_d}", NetConfig("cifar", _d, block="bottleneck"))
    register_model(f"preact_resnet{_d}", NetConfig("cifar", _d, block="preact_bottleneck"))
register_model("preact_resnet110", NetConfig("cifar", 110, block="preact"))
for _d in (18, 34, 50, 101, 152):
    register_model(f"imagenet_resnet{_d}", NetConfig("imagenet", _d, in_channels=3, num_classes=1000))
    register_model(f"imagenet_plain{_d}", NetConfig("imagenet", _d, residual=False, in_channels=3,
                                                    num_classes=1000))


def list_models() -> list[str]:
    """Names in the registry."""
    return sorted(_REGISTRY)


def model_config(name: str) -> NetConfig:
    """The NetConfig a registry name stands for."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(list_models())}")
    return _REGISTRY[name].config  # type: ignore[attr-defined]


def get_model(name: str, **overrides) -> ResNet:
    """Build a registered model; keyword arguments override its NetConfig fields."""
    model_config(name)
    return _REGISTRY[name](**overrides)


def build_model(cfg: NetConfig, seed: int | None = None) -> ResNet:
    """Build a net from a config; with a seed its initial weights are reproducible."""
    if seed is None:
        return ResNet(cfg)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return ResNet(cfg, noise_seed=seed)


__all__ = ["BasicBlock", "Block", "Bottleneck", "PreActBlock", "PreActBottleneck", "ResNet", "ZeroPadShortcut",
           "build_model", "cifar_depths", "get_model", "list_models", "model_config", "register_model", "route_gradient"]
