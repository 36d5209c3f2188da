"""Plain and residual CNNs: blocks, builders and the one registry.

Follows torchvision's ``models/resnet.py`` (names from the paper, the projection shortcut made in
one place) with what the lab needs on top: a plain net is the same block with the shortcut off,
every activation is its own module, and the residual add is out-of-place (Captum hooks).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Collection, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .config import NetConfig, cifar_depths

_ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


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


class Block(nn.Module):
    """What every block shares: its shortcut (None when plain) and whether it changes shape.

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
        self.shortcut: nn.Module | None = None  # set by _add_shortcut, last, so convs come first in order

    def _add_shortcut(self, cfg: NetConfig) -> None:
        self.shortcut = _shortcut(cfg, self.in_planes, self.out_planes, self.stride)

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

    def bypass(self, x: torch.Tensor) -> torch.Tensor:
        """The block removed: its shortcut alone (identity for a plain block that keeps the shape)."""
        if not self.droppable:
            raise ValueError("a plain block that changes the shape cannot be removed")
        return x if self.shortcut is None else self.shortcut(x)

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
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return self.act2(out)

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
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.act2(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return self.act3(out)

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
        out = self.act1(self.bn1(x))
        # A projection shortcut sees the pre-activated input (as in the paper's code); identity sees x.
        shortcut_in = out if isinstance(self.shortcut, nn.Sequential) else x
        out = self.conv1(out)
        out = self.conv2(self.act2(self.bn2(out)))
        if self.shortcut is not None:
            out = out + self.shortcut(shortcut_in)
        return out

    def responses(self) -> list[tuple[str, nn.Module]]:
        return [("conv1", self.bn2), ("conv2", self.conv2)]  # conv2 meets the addition un-normalized


_BLOCKS: dict[str, type[Block]] = {"basic": BasicBlock, "bottleneck": Bottleneck, "preact": PreActBlock}


class ResNet(nn.Module):
    """Stem, stages of blocks, global average pool, linear classifier.

    CIFAR family: 3x3 stem, 3 stages of n blocks at widths w, 2w, 4w (He et al. 2016 Sec. 4.2).
    ImageNet family: 7x7/2 stem + 3x3/2 max-pool, 4 stages at 64..512 (Table 1).
    """

    def __init__(self, cfg: NetConfig) -> None:
        super().__init__()
        self.cfg = cfg
        block_cls = _BLOCKS[cfg.block]
        w = cfg.width
        bias = not cfg.batchnorm
        act = _ACTIVATIONS[cfg.activation]
        preact = cfg.block == "preact"
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
for _d in (164, 1001):  # the original (post-activation) bottleneck unit; pre-activation ones come with their block
    register_model(f"resnet{_d}", NetConfig("cifar", _d, block="bottleneck"))
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
        return ResNet(cfg)


__all__ = ["BasicBlock", "Block", "Bottleneck", "PreActBlock", "ResNet", "ZeroPadShortcut",
           "build_model", "cifar_depths", "get_model", "list_models", "model_config", "register_model"]
