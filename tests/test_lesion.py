"""Residual nets as ensembles: lesion probes, the effect, the experiment, CLI and figures."""

import json

import pandas as pd
import pytest
import torch

from resnet_viz.protocol import make
from resnet_viz.cli import main
from resnet_viz.config import DataConfig, NetConfig, TrainConfig
from resnet_viz.data import load_dataset
from resnet_viz.experiments import lesion as les
from resnet_viz.protocol import Context, run_cached
from resnet_viz.ui.lessons.ensembles import lesion_curve_figure, lesion_single_figure, path_length_figure
from resnet_viz.lesion import (accuracy, accuracy_without, adjacent_pairs, central_range, check_removable,
                               path_lengths, random_drops, random_swaps, single_block, swapped_order)
from resnet_viz.models import build_model
from resnet_viz.store import RunStore
from resnet_viz.train import fit


@pytest.fixture(scope="module")
def digits():
    return load_dataset(DataConfig("digits"))


def net(residual=True, depth=14, width=4):
    return build_model(NetConfig(depth=depth, width=width, residual=residual, in_channels=1), seed=0).eval()


@pytest.mark.parametrize("residual", [True, False])
def test_dropping_a_block_equals_a_forward_pass_without_it(digits, residual):
    model = net(residual)
    x = digits.test_x[:16]
    b = 3  # stage 2's second block: keeps the shape
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        out = model(x, skip=check_removable(model, [b]))  # by hand: the same modules, block b replaced by its shortcut (identity here)
        h = model.stem(x)
        for i, block in enumerate(model.blocks):
            if i != b:
                h = block(h)
        expected = model.fc(model.pool(model.final(h)).flatten(1))
    assert torch.equal(out, expected)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())  # the net itself is unchanged
    with torch.no_grad():
        assert not torch.equal(model(x), out)


def test_a_dropped_downsampling_residual_block_keeps_its_shortcut(digits):
    model = net()
    b = 2  # first block of stage 2: 4 -> 8 channels, stride 2
    x = torch.randn(2, 4, 16, 16)
    with torch.no_grad():
        assert torch.equal(model.blocks[b].bypass(x), model.blocks[b].shortcut(x))


def test_a_plain_block_that_changes_the_shape_cannot_be_dropped_and_says_why():
    model = net(residual=False)
    with pytest.raises(ValueError, match=r"block 2 of this plain net changes the shape \(4 -> 8 channels, stride 2\)"):
        check_removable(model, [2])
    with pytest.raises(ValueError, match="this net has blocks 0 to 5"):
        accuracy_without(model, torch.zeros(2, 1, 16, 16), torch.zeros(2, dtype=torch.long), [6])
    rows = single_block(model, torch.zeros(4, 1, 16, 16), torch.zeros(4, dtype=torch.long))
    assert [r["droppable"] for r in rows] == [True, True, False, True, False, True]
    assert rows[2]["test_accuracy"] is None


def test_swapping_neighbours_reorders_and_restores(digits):
    model = net()
    assert adjacent_pairs(model) == [(0, 1)]  # depth 14: stages 2 and 3 start with a downsampling block
    deep = net(depth=20)
    assert adjacent_pairs(deep) == [(0, 1), (1, 2), (4, 5), (7, 8)]
    assert swapped_order(deep, [(1, 2)])[:4] == [0, 2, 1, 3]
    assert swapped_order(deep, [(1, 2), (1, 2)])[:4] == [0, 1, 2, 3]  # swapping twice restores
    x = digits.test_x[:8]
    with torch.no_grad():  # the order is an argument of the forward pass: by hand, blocks 0, 2, 1, 3, ...
        h = deep.stem(x)
        for i in swapped_order(deep, [(1, 2)]):
            h = deep.blocks[i](h)
        expected = deep.fc(deep.pool(deep.final(h)).flatten(1))
        assert torch.equal(deep(x, order=swapped_order(deep, [(1, 2)])), expected)


def test_path_lengths_are_binomial_and_the_papers_range_holds():
    dist = path_lengths(54)
    assert sum(d["paths"] for d in dist) == 2 ** 54
    assert dist[27]["paths"] == 1_946_939_425_648_112
    assert sum(d["share"] for d in dist[19:36]) > 0.95  # Veit et al.: > 95% of paths use 19 to 35 blocks
    lo, hi = central_range(dist)
    assert 19 <= lo and hi <= 35
    with pytest.raises(ValueError, match="n must be a whole number of blocks"):
        path_lengths(0)


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_trained_residual_net_survives_losing_a_middle_block_plain_net_falls_to_chance(digits, precision):
    """The effect on a small, fast config: depth 20, width 8, 150 steps (both nets train to > 0.9).
    Measured with seeds 0, 1, 2 in fp32 and bf16: the residual net's median accuracy over the 9
    single-block removals 0.70-0.88 (its block 5: 0.73-0.97), the plain net's 0.06-0.11 (chance 0.1)."""
    cfg = TrainConfig(steps=150, batch_size=128, eval_every=0, precision=precision)
    result = {}
    for residual in (True, False):
        model = build_model(NetConfig(depth=20, width=8, residual=residual, in_channels=1), seed=0)
        fit(model, digits, cfg)
        rows = [r["test_accuracy"] for r in single_block(model, digits.test_x, digits.test_y) if r["droppable"]]
        result[residual] = (accuracy(model, digits.test_x, digits.test_y), rows)
    base, single = result[True]
    assert base > 0.9 and single[5] > 0.6  # block 5: the last block of stage 2
    assert sorted(single)[len(single) // 2] > 0.6  # median over all 9 blocks
    base, single = result[False]
    assert base > 0.9 and single[4] < 0.2  # the same block (index 4 among the 7 removable ones): 0.08
    assert sorted(single)[len(single) // 2] < 0.2  # chance is 0.1


def test_random_drops_and_swaps_report_mean_and_std(digits):
    model = net(depth=20)
    drops = random_drops(model, digits.test_x, digits.test_y, range(3), samples=4, seed=1)
    assert [d["k"] for d in drops] == [0, 1, 2] and [d["samples"] for d in drops] == [1, 4, 4]
    assert drops[0]["std"] == 0
    swaps = random_swaps(model, digits.test_x, digits.test_y, [0, 2], samples=3)
    assert [s["k"] for s in swaps] == [0, 2] and swaps[0]["mean_test_accuracy"] == drops[0]["mean_test_accuracy"]
    with pytest.raises(ValueError, match="k must be from 0 to 7"):
        random_drops(model, digits.test_x, digits.test_y, [8])


def test_experiment_trains_through_the_store_and_reuses_the_nets(digits):
    store = RunStore()
    spec = make(les.Spec, depth=8, width=4, steps=20, samples=2, max_k=2)
    first = run_cached(les.EXPERIMENT, spec, Context(store=store)).result
    assert [r["variant"] for r in first["runs"]] == ["plain", "residual"]
    assert all(r["trained_now"] for r in first["runs"])
    assert len(store.runs("train")) == 2
    for r in first["runs"]:
        assert len(r["single_block"]) == first["blocks"] == 3
        weights = store.load_weights(r["train_key"])
        model = les.trained_model(les.training_runs(spec)[0 if r["variant"] == "plain" else 1], weights)
        assert accuracy(model, digits.test_x, digits.test_y) == r["base_test_accuracy"]
    again = run_cached(les.EXPERIMENT, spec, Context(store=store), rerun=True).result
    assert not any(r["trained_now"] for r in again["runs"])  # the nets came from the store
    assert again["runs"][1]["base_test_accuracy"] == first["runs"][1]["base_test_accuracy"]


@pytest.mark.parametrize("kw, message", [({"depth": 21}, "6n+2"), ({"samples": 0}, "samples must be"),
                                         ({"width": 0}, "width must be"), ({"dataset": "imagenet"}, "dataset must")])
def test_spec_rejects_bad_settings(kw, message):
    with pytest.raises(ValueError, match=message.replace("+", r"\+")):
        make(les.Spec, **kw)


def test_cli_writes_the_contract_json(tmp_path, capsys):
    out = tmp_path / "lesion.json"
    assert main(["lesion", "--dataset", "digits", "--depth", "8", "--width", "4", "--steps", "20", "--seed", "0",
                 "--samples", "2", "--max-k", "1", "--out", str(out)]) == 0
    runs = json.loads(out.read_text())["runs"]
    assert [(r["variant"], r["depth"]) for r in runs] == [("plain", 8), ("residual", 8)]
    for r in runs:
        assert isinstance(r["base_test_accuracy"], float)
        assert [(b["block"], b["droppable"]) for b in r["single_block"]][:2] == [(0, True), (1, r["variant"] == "residual")]
        assert [k["k"] for k in r["random_k"]] == [0, 1]
        assert {"mean_test_accuracy", "std"} <= set(r["random_k"][1])
    assert "one block removed: median" in capsys.readouterr().out
    assert main(["lesion", "--depth", "9"]) == 2
    assert "6n+2" in capsys.readouterr().err


def test_the_shipped_preset_matches_its_spec_and_weights(digits):
    from safetensors.torch import load_file

    from resnet_viz.ui.nets import PRESET, PRESET_WEIGHTS

    preset = json.loads(PRESET.path.read_text())
    assert preset["spec"]["net"]["depth"] == les.Spec().net.depth == 56
    for r, sub in zip(preset["runs"], les.training_runs(les.Spec())):
        model = les.trained_model(sub, load_file(PRESET_WEIGHTS / f"{r['variant']}.safetensors"))
        assert accuracy(model, digits.test_x, digits.test_y) == pytest.approx(r["base_test_accuracy"])


def test_lesion_figures():
    rows = pd.DataFrame([{"variant": v, "depth": 8, "block": b, "stage": 0, "changes_shape": b == 1, "base_test_accuracy": 0.9,
                          "test_accuracy": None if (v == "plain" and b == 1) else 0.5} for v in ("plain", "residual")
                         for b in range(3)])
    rows["test_accuracy"] = rows["test_accuracy"].astype(float)
    fig = lesion_single_figure(rows, 0.1)
    assert [t.name for t in fig.data] == ["plain-8", "plain-8: cannot remove", "ResNet-8"]
    assert list(fig.data[1].x) == [1]
    curves = pd.DataFrame([{"variant": "residual", "depth": 8, "k": k, "mean_test_accuracy": 0.9 - 0.1 * k, "std": 0.05}
                           for k in range(3)])
    fig = lesion_curve_figure(curves, "k", 0.1)
    assert fig.data[0].fill == "toself" and list(fig.data[1].y) == pytest.approx([0.9, 0.8, 0.7])
    fig = path_length_figure(pd.DataFrame(path_lengths(4)), (1, 3))
    assert list(fig.data[0].y) == pytest.approx([6.25, 25, 37.5, 25, 6.25])


def test_sessions_share_the_preset_nets_without_a_lock_and_never_change_them():
    """Every session gets the same nets (st.cache_resource). Removing blocks is an argument of the
    forward pass, so threads removing different blocks at once each get what a lone evaluation
    gives, and the shared weights are bit-for-bit the same afterwards."""
    import threading

    from resnet_viz.ui import nets

    result = json.loads(nets.PRESET.path.read_text())
    a, b = nets.pair(les.Spec(), result, None), nets.pair(les.Spec(), result, None)
    assert a.nets is b.nets and a.id == b.id
    model = a.nets["residual"]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = a.data.test_x[:200], a.data.test_y[:200]
    expected = {blocks: accuracy_without(model, x, y, blocks) for blocks in [(1,), (5, 6), (), (0, 3, 12)]}
    assert len(set(expected.values())) > 1
    got, errors = {}, []

    def worker(blocks):
        try:
            for _ in range(5):
                got.setdefault(blocks, set()).add(accuracy_without(model, x, y, blocks))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(blocks,)) for blocks in expected]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert got == {blocks: {acc} for blocks, acc in expected.items()}
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert not model.training
