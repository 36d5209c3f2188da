"""Parameters and multiply-adds of a net, per stage and in total.

Multiply-adds come from ``torch.utils.flop_counter`` (convs and the classifier; it counts one
multiply-add as two FLOPs), on a net built on the meta device so that even ResNet-1202 or
ResNet-152 at 224 px costs no memory and little time.
"""

from __future__ import annotations

import torch
from torch.utils.flop_counter import FlopCounterMode

from .config import NetConfig
from .models import ResNet

RESOLUTION = {"cifar": 32, "imagenet": 224}


def _stage_key(name: str) -> str:
    parts = name.split(".")
    if parts[0] == "stages":
        return f"stage{int(parts[1]) + 1}"
    return {"stem": "stem"}.get(parts[0], "head")


def count(cfg: NetConfig, image_size: int | None = None) -> dict:
    """Count a net's parameters and multiply-adds for one image.

    Args:
        cfg: the net.
        image_size: input side in pixels (default: 32 for CIFAR, 224 for ImageNet).

    Returns:
        ``{"params", "macs", "image_size", "stages": [{"stage", "params", "macs"}, ...]}``;
        stages are "stem", "stage1".., "head" (final norm, pool and classifier).
    """
    size = image_size or RESOLUTION[cfg.family]
    with torch.device("meta"):
        model = ResNet(cfg)
        x = torch.empty(1, cfg.in_channels, size, size)
    stage_params: dict[str, int] = {}
    for name, p in model.named_parameters():
        key = _stage_key(name)
        stage_params[key] = stage_params.get(key, 0) + p.numel()
    counter = FlopCounterMode(display=False, depth=None)
    with counter, torch.no_grad():
        model(x)
    flops = counter.get_flop_counts()
    stage_macs: dict[str, int] = {}
    for module_name, ops in flops.items():
        parts = module_name.split(".")
        # FlopCounterMode keys are "Global", "ResNet", "ResNet.stem", "ResNet.stages.0", ...
        if len(parts) == 2 or (len(parts) == 3 and parts[1] == "stages"):
            key = _stage_key(".".join(parts[1:]) if parts[1] != "stages" else f"stages.{parts[2]}")
            stage_macs[key] = stage_macs.get(key, 0) + sum(ops.values()) // 2
    total_macs = counter.get_total_flops() // 2
    order = ["stem"] + [f"stage{i + 1}" for i in range(len(cfg.blocks_per_stage))] + ["head"]
    stage_macs["head"] = total_macs - sum(v for k, v in stage_macs.items() if k != "head")
    stages = [{"stage": k, "params": stage_params.get(k, 0), "macs": stage_macs.get(k, 0)} for k in order]
    return {"params": sum(stage_params.values()), "macs": total_macs, "image_size": size, "stages": stages}
