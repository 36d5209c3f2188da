import itertools
import re

import pytest
import torch
import torchvision

from resnet_viz.config import NetConfig
from resnet_viz.models import ResNet, ZeroPadShortcut, build_model, get_model, list_models, model_config


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("depth,expected", [(20, 269_722), (32, 464_154), (44, 658_586), (56, 853_018),
                                            (110, 1_727_962)])
def test_cifar_option_a_counts_match_the_paper(depth, expected):
    assert n_params(ResNet(NetConfig(depth=depth))) == expected
    # plain twin: the same blocks with the shortcut off has exactly the same parameters
    assert n_params(ResNet(NetConfig(depth=depth, residual=False))) == expected
    # option B adds 1x1 projections where the shape changes: 2,752 more (SCIENCE.md)
    assert n_params(ResNet(NetConfig(depth=depth, shortcut="B"))) == expected + 2_752


def test_cifar_count_formula_holds_for_resnet1202():
    with torch.device("meta"):
        assert n_params(ResNet(NetConfig(depth=1202))) == 97_216 * 200 - 21_926 == 19_421_274


@pytest.mark.parametrize("depth", [18, 34, 50, 101, 152])
def test_imagenet_counts_equal_torchvision(depth):
    with torch.device("meta"):
        ours = ResNet(NetConfig("imagenet", depth, num_classes=1000))
        theirs = getattr(torchvision.models, f"resnet{depth}")(weights=None)
    assert n_params(ours) == n_params(theirs)
    # the same tensors in the same order, shape by shape
    assert [p.shape for p in ours.parameters()] == [p.shape for p in theirs.parameters()]


def test_option_c_projects_every_block():
    net = ResNet(NetConfig(depth=20, shortcut="C"))
    assert all(isinstance(b.shortcut, torch.nn.Sequential) for b in net.blocks)
    a = ResNet(NetConfig(depth=20, shortcut="A"))
    assert [type(b.shortcut).__name__ for b in a.blocks].count("ZeroPadShortcut") == 2


@pytest.mark.parametrize("kwargs,message", [
    (dict(depth=57), "CIFAR depth must be 6n+2 for basic blocks: 8, 14, 20"),
    (dict(depth=22, block="bottleneck"), "CIFAR depth must be 9n+2 for bottleneck blocks: 11, 20, 29"),
    (dict(depth=21, block="bottleneck"), "9n+2"),
    (dict(depth=2), "6n+2"),
    (dict(family="imagenet", depth=20), "ImageNet depth must be one of 18, 34, 50, 101, 152"),
    (dict(family="imagenet", depth=18, block="bottleneck"), "ResNet-18 uses basic blocks"),
    (dict(shortcut="D"), "shortcut must be one of A, B, C"),
    (dict(width=-1), "width must be a whole number from 1 to 1024"),
    (dict(activation="gelu"), "activation must be one of relu, sigmoid, tanh"),
    (dict(family="mnist"), "family must be one of cifar, imagenet"),
    (dict(num_classes=1), "num_classes must be a whole number from 2 to 100,000"),
])
def test_invalid_configs_name_what_is_allowed(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        NetConfig(**kwargs)


def test_auto_fields_resolve_so_equal_nets_hash_equal():
    assert NetConfig() == NetConfig(block="basic", shortcut="A", width=16)
    assert NetConfig("imagenet", 50).block == "bottleneck"
    assert NetConfig("imagenet", 50).shortcut == "B"
    assert hash(NetConfig()) == hash(NetConfig(width=16))


def _small_input(cfg: NetConfig) -> torch.Tensor:
    size = 64 if cfg.family == "imagenet" else 8
    return torch.randn(2, cfg.in_channels, size, size)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n.endswith(("1001", "1202")) else n
                                  for n in list_models()])  # the 1000-layer nets take a second or two each
def test_every_registry_entry_forwards_and_every_parameter_gets_a_gradient(name):
    model = get_model(name, width=2 if model_config(name).depth > 200 else 4)
    x = _small_input(model.cfg)
    out = model(x)
    assert out.shape == (2, model.cfg.num_classes)
    out.square().mean().backward()
    # Plain-1202's gradients overflow at init: with batch norm they grow toward the input layer by
    # layer (the effect the gradient page shows), so only there finiteness is not expected.
    overflow_expected = not model.cfg.residual and model.cfg.depth > 200
    for pname, p in model.named_parameters():
        assert p.grad is not None, pname
        assert overflow_expected or torch.isfinite(p.grad).all(), pname


@pytest.mark.parametrize("block,residual,shortcut,batchnorm,activation", [
    c for c in itertools.product(["basic", "preact", "bottleneck"], [True, False], ["A", "B", "C"],
                                 [True, False], ["relu", "sigmoid", "tanh"])
    if c[1] or c[2] == "A"])  # the shortcut option means nothing for a plain net
def test_every_combination_trains_a_step(block, residual, shortcut, batchnorm, activation):
    depth = 11 if block == "bottleneck" else 8
    cfg = NetConfig(depth=depth, block=block, residual=residual, shortcut=shortcut, batchnorm=batchnorm,
                    activation=activation, width=4, in_channels=1, num_classes=3)
    model = ResNet(cfg)
    out = model(torch.randn(2, 1, 8, 8))
    out.sum().backward()
    assert out.shape == (2, 3)
    assert all(p.grad is not None for p in model.parameters())


def test_unknown_model_lists_the_registry():
    with pytest.raises(ValueError, match="unknown model 'resnet21'; available: .*resnet20"):
        get_model("resnet21")


def test_blocks_expose_order_shape_changes_and_named_convs():
    net = ResNet(NetConfig(depth=20))
    assert len(net.blocks) == 9
    assert [b.changes_shape for b in net.blocks] == [False] * 3 + [True, False, False] * 2
    assert net.stage_of_block() == [0] * 3 + [1] * 3 + [2] * 3
    names = [n for n, _ in net.conv_layers()]
    assert names[:3] == ["stem.0", "stages.0.0.conv1", "stages.0.0.conv2"]
    assert len(names) == 19  # 6n+1 convs + the classifier = 20 weighted layers
    # separate activation modules, one per use (Captum hooks need that)
    acts = [m for m in net.modules() if isinstance(m, torch.nn.ReLU)]
    assert len(acts) == len(set(map(id, acts))) == 19


def test_plain_blocks_that_change_shape_are_not_droppable():
    plain = ResNet(NetConfig(depth=20, residual=False))
    assert [b.droppable for b in plain.blocks] == [not b.changes_shape for b in plain.blocks]
    assert all(b.droppable for b in ResNet(NetConfig(depth=20)).blocks)


def test_a_dropped_residual_block_passes_its_input_through_the_shortcut():
    net = ResNet(NetConfig(depth=20, width=4, in_channels=1)).eval()
    block = net.blocks[3]  # first block of stage 2: stride 2, 4 -> 8 channels
    x = torch.randn(2, 4, 8, 8)
    assert torch.equal(block.bypass(x), ZeroPadShortcut(4, 8, 2)(x))
    with pytest.raises(ValueError, match="cannot be removed"):
        ResNet(NetConfig(depth=20, width=4, residual=False)).blocks[3].bypass(x)


def test_build_model_with_a_seed_is_reproducible():
    a = build_model(NetConfig(depth=8), seed=3)
    b = build_model(NetConfig(depth=8), seed=3)
    c = build_model(NetConfig(depth=8), seed=4)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a.stem[0].weight, c.stem[0].weight)
