"""Parameters and compute: the block calculator, the 3x3 argument, the family table, the lineage,
the architecture diagram, their figures and CLI. Every count quoted in the issue, exactly."""

import argparse
import json

import pandas as pd
import pytest
from torch import nn

from resnet_viz.cli import main
from resnet_viz.config import NetConfig
from resnet_viz.counting import block_cost, count, family_rows, receptive_field, three_by_three
from resnet_viz.diagram import architecture_dot
from resnet_viz.ui.lessons.parameters import block_cost_figure, family_stages_figure, lineage_figure, stage_cost_figure
from resnet_viz.lineage import lineage_table


def test_basic_vs_bottleneck_at_256_channels_the_seeds_example():
    basic, bottleneck = block_cost("basic", 256), block_cost("bottleneck", 256)
    assert basic["conv_weights"] == 3 * 3 * 256 * 256 * 2 == 1_179_648
    assert bottleneck["conv_weights"] == 256 * 64 + 3 * 3 * 64 * 64 + 64 * 256 == 69_632
    assert round(basic["conv_weights"] / bottleneck["conv_weights"], 2) == 16.94
    assert [c["formula"] for c in bottleneck["convs"]] == ["1x1x256x64", "3x3x64x64", "1x1x64x256"]
    assert (basic["bn_params"], bottleneck["bn_params"]) == (2 * 2 * 256, 2 * (64 + 64 + 256))
    assert basic["shortcut_params"] == bottleneck["shortcut_params"] == 0  # identity


def test_the_papers_own_pairing_64_d_basic_vs_256_d_bottleneck():
    assert block_cost("basic", 64)["conv_weights"] == 73_728
    assert block_cost("bottleneck", 256, bottleneck_width=64)["conv_weights"] == 69_632


@pytest.mark.parametrize("kind, shortcut, cin, expected", [
    ("basic", "B", 64, 64 * 128 + 2 * 128),  # 1x1 projection + BN where the shape changes
    ("basic", "A", 64, 0),  # zero-padding has no weights
    ("basic", "B", 128, 0),  # identity
    ("basic", "C", 128, 128 * 128 + 2 * 128),  # projection everywhere
    ("bottleneck", "B", 64, 64 * 128 + 2 * 128),
])
def test_shortcut_parameters_are_counted_separately(kind, shortcut, cin, expected):
    assert block_cost(kind, 128, in_channels=cin, shortcut=shortcut)["shortcut_params"] == expected


def test_block_calculator_rejects_bad_settings_with_a_message():
    with pytest.raises(ValueError, match=r"bottleneck width must divide the channels \(256\); got 60"):
        block_cost("bottleneck", 256, bottleneck_width=60)
    with pytest.raises(ValueError, match="channels must be a whole number from 1 to 4096"):
        block_cost("basic", 0)
    with pytest.raises(ValueError, match="option A"):
        block_cost("basic", 64, in_channels=128, shortcut="A")


def test_three_3x3_convs_see_7x7_for_27_c_squared_weights():
    r = three_by_three(64)
    assert r["stacked"]["weights"] == 27 * 64 ** 2 == 110_592
    assert r["single"]["weights"] == 49 * 64 ** 2 == 200_704
    assert r["stacked"]["receptive_field"] == r["single"]["receptive_field"] == 7
    assert r["ratio"] == pytest.approx(49 / 27)


def test_receptive_field_is_measured_not_assumed():
    one = nn.Conv2d(2, 2, 3, padding=1)
    two = nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), nn.Conv2d(2, 2, 3, padding=1))
    strided = nn.Sequential(nn.Conv2d(2, 2, 3, padding=1, stride=2), nn.Conv2d(2, 2, 3, padding=1))
    assert (receptive_field(one, 2), receptive_field(two, 2), receptive_field(strided, 2)) == (3, 5, 7)


@pytest.mark.slow
def test_cifar_family_table_matches_table_6_within_its_rounding():
    rows = family_rows("cifar", "A")
    assert [r["params"] for r in rows] == [269_722, 464_154, 658_586, 853_018, 1_727_962, 19_421_274]
    assert [r["published_params"] for r in rows] == [270_000, 460_000, 660_000, 850_000, 1_700_000, 19_400_000]
    assert all(abs(r["params_diff_pct"]) < 2 for r in rows)
    assert rows[0]["macs"] == 40_551_040 and rows[3]["macs"] == 125_485_696
    assert [s["stage"] for s in rows[0]["stages"]] == ["stem", "stage1", "stage2", "stage3", "head"]
    assert [r["params"] for r in family_rows("cifar", "plain")] == [r["params"] for r in rows]  # option A: free
    assert all(r["published_params"] is None for r in family_rows("cifar", "B"))  # no published B numbers


@pytest.mark.slow
def test_imagenet_family_table_equals_torchvision_and_cites_table_1():
    rows = family_rows("imagenet", "B")
    assert [r["params"] for r in rows] == [11_689_512, 21_797_672, 25_557_032, 44_549_160, 60_192_808]
    assert all(r["params"] == r["torchvision_params"] == r["published_params"] for r in rows)
    assert [r["published_macs"] for r in rows] == [1.8e9, 3.6e9, 3.8e9, 7.6e9, 11.3e9]
    assert [r["macs"] for r in rows][0] == 1_814_073_344
    assert "Table 1" in rows[0]["source"]


@pytest.mark.slow
def test_lineage_counts_from_torchvision_constructors_and_cites_errors():
    table = {r["net"]: r for r in lineage_table()}
    assert list(table) == ["LeNet-5", "AlexNet", "VGG-16", "VGG-19", "GoogLeNet", "ResNet-18", "ResNet-34",
                           "ResNet-50", "ResNet-101", "ResNet-152"]
    assert table["AlexNet"]["params"] == 61_100_840
    assert table["VGG-16"]["params"] == 138_357_544 and table["VGG-19"]["params"] == 143_667_240
    assert table["GoogLeNet"]["params"] == 6_624_904
    assert table["LeNet-5"]["params"] == 61_706 and table["LeNet-5"]["macs"] == 416_520
    assert table["LeNet-5"]["top1_error"] is None
    assert table["ResNet-50"]["top1_error"] == pytest.approx(23.87)  # 100 - torchvision's acc@1 76.13
    # the page's headline: ResNet-152 is deeper, cheaper and better than VGG-16
    assert table["ResNet-152"]["macs"] < table["VGG-16"]["macs"]
    assert table["ResNet-152"]["params"] < table["VGG-16"]["params"] / 2
    assert table["ResNet-152"]["top1_error"] < table["VGG-16"]["top1_error"]


def _shortcut_edges(dot: str) -> list[str]:
    return [line for line in dot.splitlines() if "constraint=false" in line]


def test_diagram_draws_identity_shortcuts_solid_and_shape_changes_dashed():
    edges = _shortcut_edges(architecture_dot(NetConfig(depth=20)))
    assert len(edges) == 9
    assert sum("style=dashed" in e for e in edges) == 2 and sum("zero-pad" in e for e in edges) == 2
    assert _shortcut_edges(architecture_dot(NetConfig(depth=20, residual=False))) == []
    resnet50 = _shortcut_edges(architecture_dot(NetConfig("imagenet", 50), expanded=range(4)))
    assert len(resnet50) == 16 and sum("1x1 projection" in e for e in resnet50) == 4


def test_diagram_collapses_stages_of_deep_nets():
    dot = architecture_dot(NetConfig(depth=110))  # 54 blocks: collapsed by default
    assert _shortcut_edges(dot) == []
    assert dot.count("x 18\\n18 shortcuts (1 dashed)") == 2 and "x 18\\n18 shortcuts (0 dashed)" in dot
    assert len(_shortcut_edges(architecture_dot(NetConfig(depth=110), expanded=[1]))) == 18


def test_block_cost_figure_stacks_convs_bn_and_shortcut():
    fig = block_cost_figure([block_cost("basic", 256), block_cost("bottleneck", 256)])
    totals = [sum(t.y[i] for t in fig.data) for i in range(2)]
    assert totals == [1_179_648 + 1_024, 69_632 + 768]


def test_family_stages_figure_shows_shares_that_sum_to_100():
    rows = family_rows("cifar", "A")[:2]
    stages = pd.DataFrame([{"net": r["net"], **s} for r in rows for s in r["stages"]])
    fig = family_stages_figure(stages, "macs")
    assert [sum(t.y[i] for t in fig.data) for i in range(2)] == [pytest.approx(100)] * 2


@pytest.mark.slow
def test_lineage_figure_is_log_log_with_every_net():
    fig = lineage_figure(pd.DataFrame(lineage_table()))
    assert fig.layout.xaxis.type == fig.layout.yaxis.type == "log"
    assert sum(len(t.x) for t in fig.data) == 10


@pytest.mark.slow
def test_cli_params_covers_blocks_three_by_three_and_lineage(capsys):
    assert main(["params", "--compare-blocks", "256", "--three-by-three", "64", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["blocks"]["basic"]["conv_weights"] == 1_179_648
    assert out["blocks"]["bottleneck"]["conv_weights"] == 69_632
    assert out["blocks"]["basic_quarter_width"]["conv_weights"] == 73_728
    assert out["three_by_three"]["single"]["weights"] == 200_704
    assert main(["params", "--family-table", "--family", "cifar", "--variant", "A"]) == 0
    assert "ResNet-1202" in capsys.readouterr().out
    assert main(["params", "--depth", "8", "--diagram"]) == 0
    assert capsys.readouterr().out.startswith("digraph resnet {")


def test_cli_bad_bottleneck_width_is_a_message(capsys):
    assert main(["params", "--compare-blocks", "256", "--bottleneck-width", "60"]) == 2
    assert "must divide the channels" in capsys.readouterr().err


def test_stage_cost_figure_stacks_each_stage_share():
    df = pd.DataFrame(count(NetConfig(depth=20))["stages"])
    fig = stage_cost_figure(df)
    assert fig.layout.barmode == "stack"
    assert [t.name for t in fig.data] == ["stem", "stage 1", "stage 2", "stage 3", "head"]
    for i in range(2):  # parameters, multiply-adds: the shares add up to the whole net
        assert sum(t.y[i] for t in fig.data) == pytest.approx(100)
    stage3 = fig.data[3]
    assert stage3.y[0] == pytest.approx(100 * 203_520 / 269_722)
    assert stage3.customdata[0][0] == "203,520"


def test_params_takes_every_net_setting_that_train_takes(capsys):
    from resnet_viz.cli import build_parser
    from resnet_viz.experiments import training
    from resnet_viz.protocol import options

    def flags(command: str) -> set[str]:
        sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
        return {s for a in sub._actions for s in a.option_strings}

    train_net = [o for o in options(training.Spec) if o.path[0] == "net"]
    assert {o.one_flag or o.flag for o in train_net} <= flags("params")
    for argv, cfg in ((["--no-batchnorm"], NetConfig(batchnorm=False)),
                      (["--shortcut-kind", "gating", "--gate-bias", "-6"], NetConfig(shortcut_kind="gating", gate_bias=-6.0)),
                      (["--block", "preact", "--residual-scale", "0.2", "--activation", "tanh"],
                       NetConfig(block="preact", residual_scale=0.2, activation="tanh"))):
        assert main(["params", *argv, "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["params"] == count(cfg)["params"] and out["net"]["batchnorm"] == cfg.batchnorm
    assert main(["params", "--plain", "--shortcut-kind", "gating"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "needs shortcuts" in err
