"""Parameters and multiply-adds of a net, per stage and in total.

Multiply-adds come from ``torch.utils.flop_counter``'s formulas applied to every conv and linear
layer (it counts one multiply-add as two FLOPs); see :func:`_macs_by_module` for why not its mode.
The net is built on the meta device (no weight initialization) and given uninitialized CPU memory
for one batch-1 forward pass: the values do not matter for counting, and a real CPU forward is 3x faster than a meta one (ResNet-1202: about 1 s instead of 3.3 s).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.utils.flop_counter import conv_flop_count, mm_flop

from .config import IMAGENET_DEPTHS, NetConfig
from .i18n import N_
from .models import BasicBlock, Bottleneck, ResNet

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
    model = _materialize(lambda: ResNet(cfg))
    x = torch.zeros(1, cfg.in_channels, size, size)
    stage_params: dict[str, int] = {}
    for name, p in model.named_parameters():
        key = _stage_key(name)
        stage_params[key] = stage_params.get(key, 0) + p.numel()
    per_module = _macs_by_module(model, x)
    stage_macs: dict[str, int] = {}
    for module_name, macs in per_module.items():
        key = _stage_key(module_name)
        stage_macs[key] = stage_macs.get(key, 0) + macs
    total_macs = sum(per_module.values())
    order = ["stem"] + [f"stage{i + 1}" for i in range(len(cfg.blocks_per_stage))] + ["head"]
    stage_macs["head"] = total_macs - sum(v for k, v in stage_macs.items() if k != "head")
    stages = [{"stage": k, "params": stage_params.get(k, 0), "macs": stage_macs.get(k, 0)} for k in order]
    return {"params": sum(stage_params.values()), "macs": total_macs, "image_size": size, "stages": stages}


def _materialize(build: Callable[[], nn.Module]) -> nn.Module:
    """Build on the meta device (no initialization), then give it uninitialized CPU memory."""
    with torch.device("meta"):
        model = build()
    return model.to_empty(device="cpu").eval()


def count_module(build: Callable[[], nn.Module], input_shape: tuple[int, ...], meta: bool = False) -> dict:
    """Parameters and multiply-adds of any module for one input of ``input_shape`` (batch included).

    Args:
        build: makes the module (called on the meta device, e.g. ``torchvision.models.vgg16``).
        input_shape: e.g. ``(1, 3, 224, 224)``.
        meta: run the counting pass on the meta device too: shapes only, no arithmetic. Much faster for
            a few large layers (VGG-19: 0.1 s instead of 3 s); slower for many small ones (ResNet-1202).

    Returns:
        ``{"params", "macs"}``.
    """
    if meta:
        with torch.device("meta"):
            model = build().eval()
    else:
        model = _materialize(build)
    x = torch.zeros(input_shape, device="meta" if meta else "cpu")
    macs = sum(_macs_by_module(model, x).values())
    return {"params": sum(p.numel() for p in model.parameters()), "macs": macs}


def _macs_by_module(model: nn.Module, x: torch.Tensor) -> dict[str, int]:
    """Multiply-adds of every conv and linear layer in one forward pass, by module name, with
    ``torch.utils.flop_counter``'s own formulas (``conv_flop_count``, ``mm_flop``; one multiply-add is
    two FLOPs there).

    Hooks on this model's own layers, not ``FlopCounterMode``: that mode tracks modules with hooks
    registered for *every* module of the process, and in the server another session's autograd pass
    (Captum) then failed ("A leaf node was passed to _will_engine_execute_node ...", found by
    bench/load_protocol.py). A test checks both give the same counts.
    """
    counts: dict[str, int] = {}

    def hook(name: str):
        def count_layer(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            if isinstance(module, nn.Conv2d):
                flops = conv_flop_count(list(inputs[0].shape), list(module.weight.shape), list(output.shape))
            else:  # nn.Linear: (N, in) @ (in, out)
                flops = mm_flop(inputs[0].reshape(-1, module.in_features).shape, (module.in_features, module.out_features))
            counts[name] = counts.get(name, 0) + flops // 2
        return count_layer

    handles = [m.register_forward_hook(hook(name)) for name, m in model.named_modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return counts


# --- the block calculator (He et al. 2016, Sec. 4.1 "Deeper Bottleneck Architectures") -----------

def block_cost(kind: str, channels: int, bottleneck_width: int | None = None, in_channels: int | None = None,
               shortcut: str = "B", batchnorm: bool = True) -> dict:
    """Weights of one block, counted from the real module, split into convs, BN and shortcut.

    Args:
        kind: "basic" (two 3x3 convs) or "bottleneck" (1x1 reduce, 3x3, 1x1 restore).
        channels: the block's output channels (and input, unless ``in_channels`` says otherwise).
        bottleneck_width: channels of the bottleneck's 3x3 conv (default channels / 4, the paper's);
            must divide ``channels``.
        in_channels: input channels; when they differ from ``channels`` the shortcut must change the
            shape (option A pads with zeros, B and C use a 1x1 projection).
        shortcut: "A", "B" or "C".
        batchnorm: BN after every conv (without it, convs have biases).

    Returns:
        ``{"kind", "channels", "convs": [{"name", "kernel", "in", "out", "weights", "formula"}],
        "conv_weights", "bn_params", "shortcut_params", "total"}``.
    """
    for name, value in (("channels", channels), ("in_channels", in_channels or channels)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4096:
            raise ValueError(f"{name} must be a whole number from 1 to 4096; got {value!r}")
    if kind not in ("basic", "bottleneck"):
        raise ValueError(f"block must be basic or bottleneck; got {kind!r}")
    cin = in_channels or channels
    if shortcut == "A" and cin > channels:
        raise ValueError("option A (zero-padding) cannot shrink channels; pick B or C when the input is wider")
    cfg = NetConfig(depth=29 if kind == "bottleneck" else 20, block=kind, shortcut=shortcut, batchnorm=batchnorm)
    stride = 1 if cin == channels else 2
    if kind == "basic":
        block = BasicBlock(cfg, cin, channels, stride)
    else:
        width = bottleneck_width or max(1, channels // 4)
        if isinstance(width, bool) or not isinstance(width, int) or width < 1 or channels % width:
            raise ValueError(f"bottleneck width must divide the channels ({channels}); got {width!r}, "
                             f"e.g. {channels // 4 if channels % 4 == 0 else 1}")
        block = Bottleneck(cfg, cin, width, stride, expansion=channels // width)
    convs, bn = [], 0
    for name, m in block.named_modules():
        if name.startswith("shortcut"):
            continue
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size[0]
            formula = f"{k}x{k}x{m.in_channels}x{m.out_channels}" + (f" + {m.out_channels} biases" if m.bias is not None else "")
            convs.append({"name": name, "kernel": k, "in": m.in_channels, "out": m.out_channels,
                          "weights": sum(p.numel() for p in m.parameters()), "formula": formula})
        elif isinstance(m, nn.BatchNorm2d):
            bn += sum(p.numel() for p in m.parameters())
    short = sum(p.numel() for p in block.shortcut.parameters()) if block.shortcut is not None else 0
    conv_weights = sum(c["weights"] for c in convs)
    return {"kind": kind, "channels": channels, "in_channels": cin, "convs": convs, "conv_weights": conv_weights,
            "bn_params": bn, "shortcut_params": short, "total": conv_weights + bn + short}


# --- the 3x3 argument (Simonyan and Zisserman 2015; ResNet's 3x3 design) --------------------------

def receptive_field(model: nn.Module, channels: int, size: int = 31) -> int:
    """Side of the input region that one output pixel depends on, measured by backpropagation.

    All weights are set to 1 on a copy, so no path cancels; the gradient of the centre output with
    respect to the input is non-zero exactly on the receptive field.
    """
    import copy

    probe = copy.deepcopy(model).double()
    with torch.no_grad():
        for p in probe.parameters():
            p.fill_(1.0)
    x = torch.zeros(1, channels, size, size, dtype=torch.float64, requires_grad=True)
    out = probe(x)  # (1, C, H, W), same padding
    out[0, :, out.shape[2] // 2, out.shape[3] // 2].sum().backward()
    rows = x.grad[0].abs().sum(0).sum(1).nonzero()
    return int(rows.max() - rows.min() + 1)


def three_by_three(channels: int, layers: int = 3) -> dict:
    """``layers`` stacked 3x3 convs vs the one conv of the same receptive field ((2 layers + 1) square),
    C channels in and out, counted and measured: three 3x3 (27 C^2) vs one 7x7 (49 C^2), two 3x3 (18 C^2)
    vs one 5x5 (25 C^2).

    Returns:
        ``{"channels", "layers", "stacked": {"weights", "receptive_field", "nonlinearities"}, "single": {...},
        "ratio"}``.
    """
    if isinstance(channels, bool) or not isinstance(channels, int) or not 1 <= channels <= 1024:
        raise ValueError(f"channels must be a whole number from 1 to 1024; got {channels!r}")
    if layers not in (2, 3):
        raise ValueError(f"layers must be 2 or 3; got {layers!r}")
    k = 2 * layers + 1
    stacked = nn.Sequential(*[layer for _ in range(layers)
                              for layer in (nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.ReLU())])
    single = nn.Sequential(nn.Conv2d(channels, channels, k, padding=k // 2, bias=False), nn.ReLU())
    rf_c = min(channels, 4)  # the field does not depend on the channel count; keep the probe small
    rf = {name: receptive_field(nn.Sequential(*[nn.Conv2d(rf_c, rf_c, m.kernel_size, padding=m.padding, bias=False)
                                                   for m in net if isinstance(m, nn.Conv2d)]), rf_c)
          for name, net in (("stacked", stacked), ("single", single))}
    w_stacked = sum(p.numel() for p in stacked.parameters())
    w_single = sum(p.numel() for p in single.parameters())
    return {"channels": channels, "layers": layers,
            "stacked": {"weights": w_stacked, "receptive_field": rf["stacked"], "nonlinearities": layers},
            "single": {"weights": w_single, "receptive_field": rf["single"], "nonlinearities": 1},
            "ratio": w_single / w_stacked}


# --- the family table ----------------------------------------------------------------------------

# He et al. 2016, Table 6: parameters of the CIFAR-10 nets (millions, rounded by the paper).
PAPER_CIFAR_PARAMS_M = {20: 0.27, 32: 0.46, 44: 0.66, 56: 0.85, 110: 1.7, 1202: 19.4}
# He et al. 2016, Table 1: multiply-adds ("FLOPs") of the ImageNet nets, x 10^9.
PAPER_IMAGENET_GMACS = {18: 1.8, 34: 3.6, 50: 3.8, 101: 7.6, 152: 11.3}
CIFAR_TABLE_DEPTHS = (20, 32, 44, 56, 110, 1202)
# He et al. 2016b (Identity Mappings), Sec. 4: ResNet-164 has 1.7M parameters, ResNet-1001 10.2M (CIFAR-10).
PAPER_PREACT_PARAMS_M = {164: 1.7, 1001: 10.2}
PREACT_SOURCE = N_("He et al. 2016b, Sec. 4 (parameters, rounded to 0.1 M)")


def torchvision_reference(name: str) -> dict:
    """Parameters counted from torchvision's constructor (``weights=None``) and the metadata that
    torchvision publishes with its IMAGENET1K_V1 weights (parameters, GFLOPS as multiply-adds,
    single-crop top-1/top-5 accuracy). Nothing is downloaded."""
    import torchvision

    builder = getattr(torchvision.models, name)
    kwargs = {"aux_logits": False, "init_weights": False} if name == "googlenet" else {}
    counted = count_module(lambda: builder(weights=None, **kwargs), (1, 3, 224, 224), meta=True)
    meta = torchvision.models.get_model_weights(name).IMAGENET1K_V1.meta
    metrics = meta["_metrics"]["ImageNet-1K"]
    return {**counted, "meta_params": meta["num_params"], "meta_gmacs": meta["_ops"],
            "top1_error": round(100 - metrics["acc@1"], 3), "top5_error": round(100 - metrics["acc@5"], 3)}


def preact_rows() -> list[dict]:
    """ResNet-164 and ResNet-1001 with pre-activation bottleneck blocks (9n+2, 10 classes), counted
    with option A and option B shortcuts, beside the parameters He et al. 2016b give."""
    rows = []
    for depth, published in PAPER_PREACT_PARAMS_M.items():
        for shortcut in ("A", "B"):
            cfg = NetConfig("cifar", depth, block="preact_bottleneck", shortcut=shortcut)
            counted = count(cfg)
            ref = round(published * 1e6)
            rows.append({"net": f"ResNet-{depth} (pre-activation bottleneck, option {shortcut})", "depth": depth,
                         "shortcut": shortcut, "params": counted["params"], "published_params": ref,
                         "params_diff_pct": 100 * (counted["params"] - ref) / ref, "macs": counted["macs"],
                         "source": PREACT_SOURCE})
    return rows


def family_rows(family: str, variant: str) -> list[dict]:
    """One row per depth of a family: counted parameters and multiply-adds, per-stage costs, and
    the published reference with its source and the difference.

    Args:
        family: "cifar" (ResNet-20..1202 at 32 px, 10 classes) or "imagenet" (18..152 at 224 px).
        variant: "plain" or a shortcut option "A", "B", "C".
    """
    if family not in RESOLUTION:
        raise ValueError(f"family must be cifar or imagenet; got {family!r}")
    if variant not in ("plain", "A", "B", "C"):
        raise ValueError(f"variant must be plain, A, B or C; got {variant!r}")
    depths = CIFAR_TABLE_DEPTHS if family == "cifar" else tuple(IMAGENET_DEPTHS)
    default = "A" if family == "cifar" else "B"
    rows = []
    for depth in depths:
        cfg = NetConfig(family, depth, residual=variant != "plain", shortcut=default if variant == "plain" else variant,
                        in_channels=3, num_classes=10 if family == "cifar" else 1000)
        counted = count(cfg)
        row = {"family": family, "net": cfg.name, "depth": depth, "variant": variant, "params": counted["params"],
               "macs": counted["macs"], "stages": counted["stages"], "published_params": None,
               "published_macs": None, "source": ""}
        if family == "cifar" and variant in ("plain", default):
            row.update(published_params=round(PAPER_CIFAR_PARAMS_M[depth] * 1e6),
                       source=N_("He et al. 2016, Table 6 (parameters, rounded to 0.01 M)"))
        elif family == "imagenet" and variant == default:
            tv = torchvision_reference(f"resnet{depth}")
            row.update(published_params=tv["meta_params"], published_macs=round(PAPER_IMAGENET_GMACS[depth] * 1e9),
                       torchvision_params=tv["params"], torchvision_gmacs=tv["meta_gmacs"],
                       source=N_("parameters: torchvision IMAGENET1K_V1 metadata; multiply-adds: He et al. 2016, Table 1"))
        for key in ("params", "macs"):
            ref = row[f"published_{key}"]
            row[f"{key}_diff_pct"] = None if not ref else 100 * (row[key] - ref) / ref
        rows.append(row)
    return rows
