"""The ResNet family's ancestors: LeNet-5, AlexNet, VGG, GoogLeNet, ResNet-18..152 on one scale.

Parameters and multiply-adds are counted here from torchvision's constructors (``weights=None``,
nothing downloaded) and, for LeNet-5, from a LeNet-5 built here. Errors are torchvision's published
single-crop ImageNet top-1/top-5 errors of its IMAGENET1K_V1 weights, read from the metadata that
ships with torchvision; LeNet-5 has none (it is an MNIST net).
"""

from __future__ import annotations

from torch import nn

from .counting import count_module, torchvision_reference
from .i18n import F_, N_

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


__all__ = ["ERROR_SOURCE", "NETS", "lenet5", "lineage_table"]
