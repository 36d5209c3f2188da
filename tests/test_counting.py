import pytest

from resnet_viz.config import NetConfig
from resnet_viz.counting import count


@pytest.mark.parametrize("n", [3, 5, 7, 9, 18])
def test_cifar_multiply_adds_follow_the_formula(n):
    c = count(NetConfig(depth=6 * n + 2))
    assert c["macs"] == 14_155_776 * n - 1_916_288
    assert c["params"] == 97_216 * n - 21_926


@pytest.mark.parametrize("depth,params,gmacs", [(18, 11_689_512, 1.814), (34, 21_797_672, 3.664),
                                                (50, 25_557_032, 4.089), (101, 44_549_160, 7.801),
                                                (152, 60_192_808, 11.514)])
def test_imagenet_counts_match_torchvision(depth, params, gmacs):
    c = count(NetConfig("imagenet", depth, num_classes=1000))
    assert c["params"] == params
    assert round(c["macs"] / 1e9, 3) == gmacs
    assert c["image_size"] == 224


def test_stages_add_up_to_the_totals():
    c = count(NetConfig(depth=56))
    assert [s["stage"] for s in c["stages"]] == ["stem", "stage1", "stage2", "stage3", "head"]
    assert sum(s["params"] for s in c["stages"]) == c["params"]
    assert sum(s["macs"] for s in c["stages"]) == c["macs"]
    assert c["stages"][-1]["macs"] == 64 * 10  # the classifier


@pytest.mark.parametrize("cfg", [NetConfig(depth=20), NetConfig(depth=56, residual=False, width=8, in_channels=1),
                                 NetConfig(depth=29, block="bottleneck", shortcut="C"),
                                 NetConfig("imagenet", 50, num_classes=1000)])
def test_layer_counts_equal_torch_flop_counter_mode(cfg):
    """count() applies torch.utils.flop_counter's formulas layer by layer (FlopCounterMode hooks every
    module of the process, which broke other sessions' autograd); both must agree exactly."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from resnet_viz.counting import _materialize
    from resnet_viz.models import ResNet

    size = 224 if cfg.family == "imagenet" else 32
    model = _materialize(lambda: ResNet(cfg))
    mode = FlopCounterMode(display=False)
    with mode, torch.no_grad():
        model(torch.zeros(1, cfg.in_channels, size, size))
    assert count(cfg)["macs"] == mode.get_total_flops() // 2
