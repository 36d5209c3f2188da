"""The ResNet family's ancestors and a successor: LeNet-5, AlexNet, VGG, GoogLeNet, ResNet-18..152 on one scale
(:func:`lineage_table`), and each of them layer by layer (:func:`per_layer`), with Inception-ResNet.

Parameters and multiply-adds are counted from modules: torchvision's constructors (``weights=None``, nothing
downloaded, built on the meta device) and the nets built here as their papers describe them (LeNet-5 with its
sparse C3, trained subsampling and fixed RBF output; AlexNet with its two GPU groups; the Inception module naive
and with 1x1 reductions; Inception-ResNet's module A). Errors are torchvision's published single-crop ImageNet
top-1/top-5 errors of its IMAGENET1K_V1 weights, read from the metadata that ships with torchvision; LeNet-5 has
none (it is an MNIST net).
"""

from __future__ import annotations

import re
from collections import OrderedDict

import torch
from torch import nn

from .counting import count_module, torchvision_reference
from .i18n import F_, N_
from .protocol import Published

# (name, torchvision builder or None, year, depth in weighted layers as published, citation)
NETS = [
    ("LeNet-5", None, 1998, 5, "LeCun et al. 1998"),
    ("AlexNet", "alexnet", 2012, 8, "Krizhevsky et al. 2012"),
    ("VGG-16", "vgg16", 2014, 16, "Simonyan and Zisserman 2015"),
    ("VGG-19", "vgg19", 2014, 19, "Simonyan and Zisserman 2015"),
    ("GoogLeNet", "googlenet", 2014, 22, "Szegedy et al. 2015"),
    ("ResNet-18", "resnet18", 2015, 18, "He et al. 2016"),
    ("ResNet-34", "resnet34", 2015, 34, "He et al. 2016"),
    ("ResNet-50", "resnet50", 2015, 50, "He et al. 2016"),
    ("ResNet-101", "resnet101", 2015, 101, "He et al. 2016"),
    ("ResNet-152", "resnet152", 2015, 152, "He et al. 2016"),
]
LENET_PUBLISHED_PARAMS = 60_000  # "about 60,000 free parameters" (LeCun et al. 1998, Sec. II.B)
ERROR_SOURCE = "torchvision IMAGENET1K_V1 weights, single 224 px crop (torchvision metadata)"


def lenet5() -> nn.Sequential:
    """LeNet-5 on a 32x32 image as usually built today: full C3 connections, max-free (average
    pooling), tanh. The paper's C3 connects only some maps, giving its "about 60,000" parameters."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2),  # C1, S2: (B, 6, 14, 14)
        nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2),  # C3, S4: (B, 16, 5, 5)
        nn.Conv2d(16, 120, 5), nn.Tanh(), nn.Flatten(),  # C5: (B, 120)
        nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10),  # F6, output
    )


def lineage_table() -> list[dict]:
    """One row per net: name, year, depth, params, macs (counted), image size, top-1/top-5 error
    (published, None for LeNet-5), and where each number comes from."""
    rows = []
    for name, builder, year, depth, cite in NETS:
        if builder is None:
            counted = count_module(lenet5, (1, 1, 32, 32))
            rows.append({"net": name, "year": year, "depth": depth, "params": counted["params"], "macs": counted["macs"],
                         "image_size": 32, "top1_error": None, "top5_error": None, "paper": cite,
                         "counted_from": N_("LeNet-5 built here (full C3 connections)"),
                         "note": F_("the paper's sparse C3: about {params} parameters; MNIST, not ImageNet",
                                    params=format(LENET_PUBLISHED_PARAMS, ","))})
            continue
        ref = torchvision_reference(builder)
        rows.append({"net": name, "year": year, "depth": depth, "params": ref["params"], "macs": ref["macs"],
                     "image_size": 224, "top1_error": ref["top1_error"], "top5_error": ref["top5_error"],
                     "paper": cite, "counted_from": f"torchvision.models.{builder}(weights=None)", "note": ""})
    return rows


# --- the nets layer by layer --------------------------------------------------------------------------
#
# Each net is built here from real modules, one named child per row of the tables that the papers and
# the write-ups print. A row's parameters are counted with ``numel()``, its multiply-adds with the conv
# and linear formulas of ``torch.utils.flop_counter`` (as everywhere in the lab), and beside them stands
# the arithmetic a write-up does by hand (``formula``, an expression that the tests evaluate).


class ScaledTanh(nn.Module):
    """LeNet-5's squashing function f(a) = A tanh(S a), A = 1.7159, S = 2/3 (LeCun et al. 1998, App. A)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 1.7159 * torch.tanh(x * (2 / 3))


class Subsample(nn.Module):
    """LeNet-5's S2/S4: the sum of each 2x2 window times a trainable coefficient, plus a trainable bias,
    per map, then the squashing function: 2 parameters per map."""

    def __init__(self, maps: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(maps))
        self.bias = nn.Parameter(torch.zeros(maps))
        self.act = ScaledTanh()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = nn.functional.avg_pool2d(x, 2) * 4
        return self.act(pooled * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1))


# LeCun et al. 1998, Table I: the S2 maps each C3 map reads. Maps 0-5 read 3 neighbouring maps, 6-11
# four neighbouring, 12-14 four not all neighbouring, 15 all six: 60 kernels instead of 96.
C3_TABLE = ((0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 0), (5, 0, 1),
            (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (3, 4, 5, 0), (4, 5, 0, 1), (5, 0, 1, 2),
            (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5), (0, 1, 2, 3, 4, 5))


class SparseConv(nn.Module):
    """A convolution whose output map j reads only the input maps ``table[j]``: one small conv per
    output map, so that only the connected kernels exist (and are counted)."""

    def __init__(self, table: tuple[tuple[int, ...], ...], kernel: int) -> None:
        super().__init__()
        self.table = table
        self.maps = nn.ModuleList(nn.Conv2d(len(inputs), 1, kernel) for inputs in table)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([conv(x[:, list(inputs)]) for conv, inputs in zip(self.maps, self.table)], dim=1)


class RBFOutput(nn.Module):
    """LeNet-5's output layer: 10 Euclidean radial basis units, each the squared distance of F6's 84
    outputs to a fixed 84-value code (a 7x12 bitmap of the character, +1/-1): 840 numbers, not trained."""

    def __init__(self, inputs: int = 84, classes: int = 10) -> None:
        super().__init__()
        codes = torch.where(torch.rand(classes, inputs, generator=torch.Generator().manual_seed(0)) < 0.5, -1.0, 1.0)
        self.register_buffer("centers", codes)  # fixed: the paper's bitmaps are drawn by hand; these are stand-ins

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return -((x.unsqueeze(1) - self.centers) ** 2).sum(-1)  # the largest output is the nearest code


def _layers(*rows: tuple[str, nn.Module, str | None]) -> tuple[nn.Sequential, dict[str, str]]:
    return nn.Sequential(OrderedDict((name, module) for name, module, _f in rows)), {
        name: formula for name, _m, formula in rows if formula}


def lenet5_paper(sparse_c3: bool = True) -> tuple[nn.Sequential, dict[str, str]]:
    """LeNet-5 as LeCun et al. 1998 describe it (Sec. II.B): 32x32 input, C1 6@28x28, S2 with a
    coefficient and a bias per map, C3 16@10x10 with the connection table (or every S2 map when
    ``sparse_c3`` is False), S4, C5 120 (a 5x5 conv on 5x5 maps), F6 84, the scaled tanh after
    every layer but the output, and the fixed RBF output. Returns (net, write-up formula per layer)."""
    c3 = (SparseConv(C3_TABLE, 5), "6*3*(5*5) + 9*4*(5*5) + 1*6*(5*5) + 16") if sparse_c3 else \
        (nn.Conv2d(6, 16, 5), "16*(6*5*5 + 1)")
    return _layers(
        ("C1", nn.Sequential(nn.Conv2d(1, 6, 5), ScaledTanh()), "6*(5*5 + 1)"),
        ("S2", Subsample(6), "6*2"),
        ("C3", nn.Sequential(c3[0], ScaledTanh()), c3[1]),
        ("S4", Subsample(16), "16*2"),
        ("C5", nn.Sequential(nn.Conv2d(16, 120, 5), ScaledTanh(), nn.Flatten()), "120*(16*5*5 + 1)"),
        ("F6", nn.Sequential(nn.Linear(120, 84), ScaledTanh()), "84*(120 + 1)"),
        ("output (RBF)", RBFOutput(), None))


def alexnet_paper() -> tuple[nn.Sequential, dict[str, str]]:
    """AlexNet as Krizhevsky et al. 2012 trained it on two GPUs (Fig. 2): conv2, conv4 and conv5 read
    only the half of the previous layer on their own GPU (``groups=2``); conv3 and the fully connected
    layers read both halves. 227x227 input (the paper's 224 does not give its 55x55 maps)."""
    relu = nn.ReLU
    return _layers(
        ("conv1", nn.Sequential(nn.Conv2d(3, 96, 11, stride=4), relu(), nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0),
                                nn.MaxPool2d(3, 2)), "96*(11*11*3 + 1)"),
        ("conv2", nn.Sequential(nn.Conv2d(96, 256, 5, padding=2, groups=2), relu(),
                                nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0), nn.MaxPool2d(3, 2)), "256*(5*5*48 + 1)"),
        ("conv3", nn.Sequential(nn.Conv2d(256, 384, 3, padding=1), relu()), "384*(3*3*256 + 1)"),
        ("conv4", nn.Sequential(nn.Conv2d(384, 384, 3, padding=1, groups=2), relu()), "384*(3*3*192 + 1)"),
        ("conv5", nn.Sequential(nn.Conv2d(384, 256, 3, padding=1, groups=2), relu(), nn.MaxPool2d(3, 2),
                                nn.Flatten()), "256*(3*3*192 + 1)"),
        ("fc6", nn.Sequential(nn.Dropout(0.5), nn.Linear(6 * 6 * 256, 4096), relu()), "4096*(6*6*256 + 1)"),
        ("fc7", nn.Sequential(nn.Dropout(0.5), nn.Linear(4096, 4096), relu()), "4096*(4096 + 1)"),
        ("fc8", nn.Linear(4096, 1000), "1000*(4096 + 1)"))


def _auto_formula(module: nn.Module) -> str | None:
    """The hand arithmetic of a layer's one conv or linear: out x (k x k x in/groups + 1)."""
    convs = [m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    if len(convs) != 1:
        return None
    m = convs[0]
    bias = " + 1" if m.bias is not None else ""
    if isinstance(m, nn.Linear):
        return f"{m.out_features}*({m.in_features}{bias})"
    k = m.kernel_size
    return f"{m.out_channels}*({k[0]}*{k[1]}*{m.in_channels // m.groups}{bias})"


def vgg(depth: int = 16, gap: bool = False) -> tuple[nn.Sequential, dict[str, str]]:
    """torchvision's VGG-16/19 (Simonyan and Zisserman 2015, configurations D and E) regrouped into
    named layers (conv1_1 ... fc8); ``gap`` replaces the three fully connected layers by global
    average pooling and one 512 -> 1000 classifier (as GoogLeNet and ResNet end)."""
    import torchvision

    tv = getattr(torchvision.models, f"vgg{depth}")(weights=None)
    rows, block, index, pending = [], 1, 1, []
    for layer in tv.features:
        pending.append(layer)
        if isinstance(layer, nn.MaxPool2d):
            rows[-1] = (rows[-1][0], nn.Sequential(*rows[-1][1], layer), None)
            block, index, pending = block + 1, 1, []
        elif isinstance(layer, nn.ReLU):
            rows.append((f"conv{block}_{index}", nn.Sequential(*pending), None))
            index, pending = index + 1, []
    if gap:
        rows.append(("GAP + fc", nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 1000)), None))
    else:
        fc = [m for m in tv.classifier if isinstance(m, nn.Linear)]
        rows.append(("fc6", nn.Sequential(nn.AdaptiveAvgPool2d(7), nn.Flatten(), fc[0], nn.ReLU()), None))
        rows.append(("fc7", nn.Sequential(fc[1], nn.ReLU()), None))
        rows.append(("fc8", fc[2], None))
    net = nn.Sequential(OrderedDict((name, module) for name, module, _f in rows))
    return net, {name: _auto_formula(module) for name, module, _f in rows}


class Inception(nn.Module):
    """GoogLeNet's Inception module (Szegedy et al. 2015, Fig. 2): parallel 1x1, 3x3, 5x5 convolutions and
    a 3x3 max pool on the same input, their outputs concatenated along the channels. ``reduce`` puts a 1x1
    convolution before the 3x3 and the 5x5 (and ``pool_proj`` one after the pool): Fig. 2(b); without
    them, Fig. 2(a), the naive module. Weights only (``bias=False``), as the write-ups count them."""

    def __init__(self, cin: int, c1: int, c3: int, c5: int, reduce3: int = 0, reduce5: int = 0,
                 pool_proj: int = 0) -> None:
        super().__init__()
        self.args = (cin, c1, c3, c5, reduce3, reduce5, pool_proj)  # for the Code view (resnet_viz.codegen)
        conv = lambda i, o, k: nn.Conv2d(i, o, k, padding=k // 2, bias=False)  # noqa: E731
        self.branch1 = conv(cin, c1, 1)
        self.branch3 = nn.Sequential(conv(cin, reduce3, 1), conv(reduce3, c3, 3)) if reduce3 else conv(cin, c3, 3)
        self.branch5 = nn.Sequential(conv(cin, reduce5, 1), conv(reduce5, c5, 5)) if reduce5 else conv(cin, c5, 5)
        self.pool = nn.Sequential(nn.MaxPool2d(3, 1, 1), *([conv(cin, pool_proj, 1)] if pool_proj else []))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch1(x), self.branch3(x), self.branch5(x), self.pool(x)], dim=1)


INCEPTION_3A = {"cin": 192, "c1": 64, "c3": 128, "c5": 32, "reduce3": 96, "reduce5": 16, "pool_proj": 32}  # Table 1


def inception_3a(variant: str) -> Inception:
    """GoogLeNet's module 3a (Table 1) on its 28x28x192 input: "naive" (no 1x1 reductions), "reduced" (the
    1x1 reductions before the 3x3 and 5x5, as the write-ups list them) or "full" (also the pool projection,
    the module as built)."""
    t = INCEPTION_3A
    if variant == "naive":
        return Inception(t["cin"], t["c1"], t["c3"], t["c5"])
    return Inception(t["cin"], t["c1"], t["c3"], t["c5"], t["reduce3"], t["reduce5"],
                     t["pool_proj"] if variant == "full" else 0)


class InceptionResNetA(nn.Module):
    """Inception-ResNet-v1's 35x35 module (Szegedy et al. 2017, Fig. 10): three branches (1x1 32; 1x1 32 ->
    3x3 32; 1x1 32 -> 3x3 32 -> 3x3 32) concatenated (96 channels), a linear 1x1 convolution back to the
    input's 256 channels, the result multiplied by ``scale`` and *added* to the input, then ReLU. With
    ``add=False`` the branches are instead concatenated to the input (256 + 96 channels), GoogLeNet's way."""

    def __init__(self, channels: int = 256, scale: float = 1.0, add: bool = True) -> None:
        super().__init__()

        def unit(i: int, o: int, k: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(i, o, k, padding=k // 2), nn.ReLU())

        self.scale, self.adds = scale, add
        self.args = (channels, scale, add)  # for the Code view (resnet_viz.codegen)
        self.branch1 = unit(channels, 32, 1)
        self.branch2 = nn.Sequential(unit(channels, 32, 1), unit(32, 32, 3))
        self.branch3 = nn.Sequential(unit(channels, 32, 1), unit(32, 32, 3), unit(32, 32, 3))
        self.project = nn.Conv2d(96, channels, 1) if add else None  # linear: no activation before the addition
        self.out_channels = channels if add else channels + 96

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = torch.cat([self.branch1(x), self.branch2(x), self.branch3(x)], dim=1)
        if not self.adds:
            return torch.cat([x, branches], dim=1)
        return torch.relu(x + self.scale * self.project(branches))


def layer_rows(net: nn.Sequential, input_shape: tuple[int, ...], formulas: dict[str, str] | None = None) -> list[dict]:
    """One row per named child: output shape, trainable parameters, fixed numbers (buffers that are part
    of the function, such as LeNet-5's RBF codes; not batch-norm statistics), multiply-adds for one input,
    and the write-up's formula where there is one."""
    from .counting import _macs_by_module

    formulas = formulas or {}
    shapes: dict[str, tuple[int, ...]] = {}
    handles = [child.register_forward_hook(lambda m, i, o, name=name: shapes.__setitem__(name, tuple(o.shape[1:])))
               for name, child in net.named_children()]
    device = next((p.device for p in net.parameters()), torch.device("cpu"))
    try:
        macs = _macs_by_module(net.eval(), torch.zeros(input_shape, device=device))
    finally:
        for h in handles:
            h.remove()
    rows = []
    for name, child in net.named_children():
        params = sum(p.numel() for p in child.parameters() if p.requires_grad)
        fixed = sum(b.numel() for n, b in child.named_buffers() if n.endswith("centers"))
        rows.append({"layer": name, "output": "x".join(map(str, shapes[name])), "params": params, "fixed": fixed,
                     "macs": sum(v for k, v in macs.items() if k == name or k.startswith(name + ".")),
                     "formula": formulas.get(name)})
    return rows


def evaluate_formula(formula: str) -> int:
    """The value of a write-up formula ("96*(11*11*3 + 1)"): whole numbers, +, * and brackets only."""
    if not re.fullmatch(r"[0-9+*() ]+", formula):
        raise ValueError(f"not a formula of whole numbers, + and *: {formula!r}")
    return int(eval(formula, {"__builtins__": {}}))  # noqa: S307 - checked above: digits, +, *, brackets


def shown_formula(formula: str | None) -> str:
    """A formula as printed: 96 × (11 × 11 × 3 + 1)."""
    return "" if not formula else formula.replace("*", " × ").replace("  ", " ")


def _meta(build):
    """Build on the meta device: counting needs shapes, not values (VGG-16's 138 M weights take seconds
    to initialize, and its forward pass seconds more on a CPU; on the meta device both take none)."""
    with torch.device("meta"):
        return build()


def _googlenet(aux: bool) -> tuple[nn.Module, dict[str, int]]:
    """torchvision's GoogLeNet (with batch norm, which the 2014 net lacked) as named layers, and the
    parameters of each auxiliary classifier (used in training only)."""
    import torchvision

    tv = torchvision.models.googlenet(weights=None, aux_logits=aux, init_weights=False)
    skip = {"aux1", "aux2", "dropout", "fc", "avgpool"}
    rows = [(n, m) for n, m in tv.named_children() if n not in skip]
    rows.append(("avgpool + fc", nn.Sequential(tv.avgpool, nn.Flatten(), tv.dropout, tv.fc)))
    aux_params = {n: sum(p.numel() for p in getattr(tv, n).parameters()) for n in ("aux1", "aux2")
                  if getattr(tv, n, None) is not None}
    return nn.Sequential(OrderedDict(rows)), aux_params


def _resnet_rows(depth: int) -> list[dict]:
    from .config import NetConfig
    from .counting import count

    counted = count(NetConfig("imagenet", depth, num_classes=1000))
    return [{"layer": s["stage"], "output": "", "params": s["params"], "fixed": 0, "macs": s["macs"], "formula": None}
            for s in counted["stages"]]


def _net_entry(name: str, rows: list[dict], input_size: str, source: str, **extra) -> dict:
    return {"net": name, "input": input_size, "source": source, "rows": rows,
            "params": sum(r["params"] for r in rows), "fixed": sum(r["fixed"] for r in rows),
            "macs": sum(r["macs"] for r in rows), **extra}


LENET_SOURCE = "LeCun, Bottou, Bengio, Haffner 1998, Sec. II.B and Table I"
ALEXNET_SOURCE = "Krizhevsky, Sutskever, Hinton 2012, Sec. 3.5 and Fig. 2"
VGG_SOURCE = "Simonyan and Zisserman 2015, Table 1 (D, E); torchvision.models.vgg16/vgg19"
GOOGLENET_SOURCE = "Szegedy et al. 2015, Table 1 and Sec. 5; torchvision.models.googlenet (adds batch norm)"
INCEPTION_RESNET_SOURCE = "Szegedy, Ioffe, Vanhoucke, Alemi 2017, Fig. 10 and Sec. 3.3"
# Szegedy et al. 2015, Sec. 1: "uses 12x fewer parameters than the winning architecture of Krizhevsky et al";
# Sec. 5: the auxiliary classifiers' losses "weighted by 0.3" during training, discarded at inference.
GOOGLENET_FEWER = 12
AUX_WEIGHT = 0.3
# Szegedy et al. 2017, Sec. 3.3: residuals scaled by "factors between 0.1 and 0.3" before the addition, needed
# when "the number of filters exceeded 1000".
RESIDUAL_SCALES = (0.1, 0.3)
SCALING_FILTERS = 1000


# He et al. 2016: ImageNet top-1 error (%), 10-crop testing. Table 2 (plain vs residual, option A) and Table 3.
HE_TABLE2 = Published(
    rows=({"layers": "18", "plain": "27.94", "ResNet": "27.88"}, {"layers": "34", "plain": "28.54", "ResNet": "25.03"}),
    source="He, Zhang, Ren, Sun 2016, Deep Residual Learning for Image Recognition, Table 2 (ImageNet val, 10-crop)",
    columns=(N_("layers"), N_("plain"), "ResNet"))
HE_TABLE3 = Published(
    rows=tuple({"net": net, "top-1 error (%)": err} for net, err in (
        ("plain-34", "28.54"), ("ResNet-34 A", "25.03"), ("ResNet-34 B", "24.52"), ("ResNet-34 C", "24.19"))),
    source="He, Zhang, Ren, Sun 2016, Deep Residual Learning for Image Recognition, Table 3 (ImageNet val, 10-crop)",
    columns=(N_("net"), N_("top-1 error (%)")))


def per_layer() -> dict:
    """Every net of the lineage, layer by layer, and the comparisons the write-ups make, counted.

    Returns:
        ``{"nets": [{"net", "input", "source", "rows": [{"layer", "output", "params", "fixed", "macs",
        "formula"}], "params", "fixed", "macs", ...}], "inception_3a": {...}, "alexnet_split": {...},
        "vgg16_fc": {...}, "stacked_3x3": [...], "googlenet": {...}, "concat_or_add": {...}}``, every
        count an exact integer.
    """
    from .counting import count_module, three_by_three

    nets = []
    for sparse in (True, False):
        net, f = lenet5_paper(sparse)
        nets.append(_net_entry("LeNet-5" + ("" if sparse else " (full C3)"), layer_rows(net, (1, 1, 32, 32), f),
                               "1x32x32", LENET_SOURCE,
                               activations=sum(isinstance(m, ScaledTanh) for m in net.modules())))
    today = count_module(lenet5, (1, 1, 32, 32))
    nets.append({"net": "LeNet-5 (as built today)", "input": "1x32x32", "source": "nn.Conv2d/nn.Linear, max-free",
                 "rows": [], **today, "fixed": 0})
    net, f = _meta(alexnet_paper)
    alex = _net_entry("AlexNet (two GPUs)", layer_rows(net, (1, 3, 227, 227), f), "3x227x227", ALEXNET_SOURCE)
    nets.append(alex)
    tv_alex = torchvision_reference("alexnet")
    nets.append({"net": "AlexNet (torchvision)", "input": "3x224x224", "rows": [], "fixed": 0,
                 "params": tv_alex["params"], "macs": tv_alex["macs"],
                 "source": "torchvision.models.alexnet: Krizhevsky 2014, One weird trick, one column"})
    for depth in (16, 19):
        net, f = _meta(lambda: vgg(depth))
        nets.append(_net_entry(f"VGG-{depth}", layer_rows(net, (1, 3, 224, 224), f), "3x224x224", VGG_SOURCE))
    net, f = _meta(lambda: vgg(16, gap=True))
    nets.append(_net_entry("VGG-16 (GAP)", layer_rows(net, (1, 3, 224, 224), f), "3x224x224",
                           "VGG-16 with global average pooling and one 512 -> 1000 layer"))
    goog, aux = _meta(lambda: _googlenet(aux=True))
    nets.append(_net_entry("GoogLeNet", layer_rows(goog, (1, 3, 224, 224)), "3x224x224", GOOGLENET_SOURCE))
    for depth in (18, 34):
        nets.append(_net_entry(f"ResNet-{depth}", _resnet_rows(depth), "3x224x224",
                               "He et al. 2016, Table 1 (the lab's ImageNet family)"))
    block = InceptionResNetA()
    nets.append(_net_entry("Inception-ResNet-A", layer_rows(block, (1, 256, 35, 35), {
        "branch1": "32*(1*1*256 + 1)", "branch2": "32*(1*1*256 + 1) + 32*(3*3*32 + 1)",
        "branch3": "32*(1*1*256 + 1) + 2*32*(3*3*32 + 1)", "project": "256*(1*1*96 + 1)"}), "256x35x35",
        INCEPTION_RESNET_SOURCE))
    by_name = {n["net"]: n for n in nets}

    conv = sum(r["params"] for r in alex["rows"] if r["layer"].startswith("conv"))
    fc = sum(r["params"] for r in alex["rows"] if r["layer"].startswith("fc"))
    vgg16 = by_name["VGG-16"]
    vgg_fc = sum(r["params"] for r in vgg16["rows"] if r["layer"].startswith("fc"))
    inception = {}
    for variant, formulas in (("naive", {"branch1": "1*1*192*64", "branch3": "3*3*192*128", "branch5": "5*5*192*32"}),
                              ("reduced", {"branch1": "1*1*192*64", "branch3": "1*1*192*96 + 3*3*96*128",
                                           "branch5": "1*1*192*16 + 5*5*16*32"}),
                              ("full", {"branch1": "1*1*192*64", "branch3": "1*1*192*96 + 3*3*96*128",
                                        "branch5": "1*1*192*16 + 5*5*16*32", "pool": "1*1*192*32"})):
        rows = layer_rows(inception_3a(variant), (1, 192, 28, 28), formulas)
        inception[variant] = {"rows": rows, "weights": sum(r["params"] for r in rows),
                              "macs": sum(r["macs"] for r in rows),
                              "out_channels": sum(int(r["output"].split("x")[0]) for r in rows)}
    return {
        "nets": nets,
        "alexnet_split": {"conv": conv, "fc": fc, "total": alex["params"], "conv_share": conv / alex["params"],
                          "fc_share": fc / alex["params"], "torchvision": tv_alex["params"]},
        "vgg16_fc": {"fc": vgg_fc, "total": vgg16["params"], "fc_share": vgg_fc / vgg16["params"],
                     "gap_total": by_name["VGG-16 (GAP)"]["params"]},
        "inception_3a": {**inception, "reduced_share": inception["reduced"]["weights"] / inception["naive"]["weights"]},
        "stacked_3x3": [{"layers": n, "kernel": 2 * n + 1, "stacked_per_c2": 9 * n, "single_per_c2": (2 * n + 1) ** 2,
                         **{k: three_by_three(64, n)[k] for k in ("stacked", "single")}} for n in (2, 3)],
        "googlenet": {"params": by_name["GoogLeNet"]["params"], "aux": aux, "aux_weight": AUX_WEIGHT,
                      "batchnorm": sum(p.numel() for m in goog.modules() if isinstance(m, nn.BatchNorm2d)
                                       for p in m.parameters()),
                      "with_aux": by_name["GoogLeNet"]["params"] + sum(aux.values()),
                      "alexnet_ratio": alex["params"] / by_name["GoogLeNet"]["params"],
                      "published_fewer": GOOGLENET_FEWER},
        "concat_or_add": concat_or_add(),
    }


def concat_or_add(channels: int = 256, blocks: int = 4) -> dict:
    """GoogLeNet concatenates, ResNet adds: the Inception-ResNet-A block both ways, counted.

    For ``blocks`` blocks in a row on a 35x35 map: the channels after each, the blocks' parameters and
    multiply-adds (a block's 1x1 convolutions read every channel it is given), summed, and what one 3x3
    convolution of ``channels`` filters after them costs (it reads every channel the blocks leave).
    """
    rows = []
    for add in (True, False):
        width, params, macs, widths = channels, 0, 0, []
        for _ in range(blocks):
            block = InceptionResNetA(width, add=add)
            counted = layer_rows(block, (1, width, 35, 35))
            params += sum(r["params"] for r in counted)
            macs += sum(r["macs"] for r in counted)
            width = block.out_channels
            widths.append(width)
        following = layer_rows(nn.Sequential(OrderedDict(next=nn.Conv2d(width, channels, 3, padding=1, bias=False))),
                               (1, width, 35, 35))[0]
        rows.append({"join": "add" if add else "concatenate", "channels": widths, "params": params, "macs": macs,
                     "next_conv_params": following["params"], "next_conv_macs": following["macs"]})
    return {"input_channels": channels, "blocks": blocks, "next_conv": f"3x3 conv, {channels} filters", "rows": rows}


__all__ = ["AUX_WEIGHT", "C3_TABLE", "CODE_INPUTS", "code_nets", "ERROR_SOURCE", "INCEPTION_3A", "Inception", "InceptionResNetA", "NETS",
           "RBFOutput", "SparseConv", "Subsample", "alexnet_paper", "concat_or_add", "evaluate_formula",
           "inception_3a", "layer_rows", "lenet5", "lenet5_paper", "lineage_table", "per_layer", "shown_formula",
           "vgg", "HE_TABLE2", "HE_TABLE3"]


def code_nets() -> dict:
    """The nets the lineage lesson builds, by name, as builders of the modules (for the Code view)."""
    return {"LeNet-5": lambda: lenet5_paper()[0], "LeNet-5 (full C3)": lambda: lenet5_paper(False)[0],
            "AlexNet (two GPUs)": lambda: alexnet_paper()[0], "VGG-16": lambda: vgg(16)[0],
            "VGG-16 (GAP)": lambda: vgg(16, gap=True)[0], "VGG-19": lambda: vgg(19)[0],
            "Inception 3a (naive)": lambda: inception_3a("naive"), "Inception 3a": lambda: inception_3a("full"),
            "Inception-ResNet-A": lambda: InceptionResNetA(256, 0.1)}


CODE_INPUTS = {"LeNet-5": (1, 32, 32), "LeNet-5 (full C3)": (1, 32, 32), "AlexNet (two GPUs)": (3, 227, 227),
               "VGG-16": (3, 224, 224), "VGG-16 (GAP)": (3, 224, 224), "VGG-19": (3, 224, 224),
               "Inception 3a (naive)": (192, 28, 28), "Inception 3a": (192, 28, 28), "Inception-ResNet-A": (256, 35, 35)}
