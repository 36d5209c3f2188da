"""Loss landscapes (Li et al. 2018) and gradient paths (Veit et al. 2016): library, experiments, CLI, page."""

import itertools
import json
import math

import pytest
import torch
import torch.nn.functional as F

from conftest import app, wait_for_job

from resnet_viz import landscape as land
from resnet_viz import protocol
from resnet_viz.cli import main
from resnet_viz.config import NetConfig
from resnet_viz.experiments import landscape as landscape_exp
from resnet_viz.models import build_model, route_gradient


def net(depth: int = 8, residual: bool = True, seed: int = 0) -> torch.nn.Module:
    return build_model(NetConfig(depth=depth, width=4, residual=residual, in_channels=1, num_classes=10), seed=seed)


def with_running_statistics(model: torch.nn.Module, seed: int = 1) -> torch.nn.Module:
    """BN running statistics that differ from the defaults (as a trained net's do)."""
    x = torch.randn(64, 1, 16, 16, generator=torch.Generator().manual_seed(seed))
    return land.recompute_batchnorm(model, 1.5 * x + 0.3)


def batch(n: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, 16, 16, generator=g), torch.randint(0, 10, (n,), generator=g)


# --- directions -----------------------------------------------------------------------------------

def test_a_direction_has_exactly_the_filter_norms_of_the_weights_and_zeros_for_bn_and_biases():
    model = net()
    d1, d2 = land.directions(model, seed=0)
    params = dict(model.named_parameters())
    assert set(d1) == set(params) == set(d2)
    zero = [n for n, p in params.items() if p.dim() <= 1]
    assert len(zero) == 2 * 7 + 1  # (weight, bias) of 7 BN layers (stem + 2 per block), the fc bias
    for name, p in params.items():
        for d in (d1, d2):
            assert d[name].shape == p.shape
            if p.dim() <= 1:
                assert torch.count_nonzero(d[name]) == 0, name
            else:
                torch.testing.assert_close(d[name].flatten(1).norm(dim=1), p.detach().flatten(1).norm(dim=1),
                                           rtol=1e-5, atol=1e-7)
    assert not torch.equal(d1["fc.weight"], d2["fc.weight"])


def test_the_same_seed_gives_the_same_directions_and_another_seed_others():
    model = net()
    a, b = land.directions(model, 0), land.directions(model, 0)
    c = land.directions(model, 1)
    assert all(torch.equal(a[0][n], b[0][n]) and torch.equal(a[1][n], b[1][n]) for n in a[0])
    assert not torch.equal(a[0]["stem.0.weight"], c[0]["stem.0.weight"])


# --- the surface --------------------------------------------------------------------------------------

def test_the_grid_centre_is_the_trained_nets_loss_and_the_net_is_left_unchanged():
    model = with_running_statistics(net()).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    x, y = batch()
    d1, d2 = land.directions(model, 0)
    axis = land.grid_axis(5, 1.0)
    grid = land.loss_surface(model, d1, d2, x, y, axis, axis)
    assert axis == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert len(grid["loss"]) == 5 and all(len(row) == 5 for row in grid["loss"])
    loss, accuracy = land.loss_and_accuracy(model, x, y)
    assert grid["loss"][2][2] == pytest.approx(loss, rel=1e-5)
    assert grid["accuracy"][2][2] == accuracy
    # a corner is theta + (-1) d1 + (1) d2: row j = 4 (y = +1), column i = 0 (x = -1)
    moved = land.evaluation_copy(model)
    with torch.no_grad():
        for n, p in moved.named_parameters():
            p.add_(-d1[n] + d2[n])
    assert grid["loss"][4][0] == pytest.approx(land.loss_and_accuracy(moved, x, y)[0], rel=1e-4)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_the_surface_can_be_cancelled():
    import threading

    cancel = threading.Event()
    cancel.set()
    model = net().eval()
    d1, d2 = land.directions(model, 0)
    assert land.loss_surface(model, d1, d2, *batch(), [0.0], [0.0], cancel=cancel) is None


def test_surface_numbers_of_a_bowl_and_a_saddle():
    axis = land.grid_axis(11, 1.0)
    bowl = {"loss": [[a * a + b * b for a in axis] for b in axis]}
    saddle = {"loss": [[1 + a * a - b * b for a in axis] for b in axis]}
    numbers = land.surface_numbers(bowl, axis, axis, chance_loss=0.5)
    assert numbers["curvature_ratio"] == 0 and numbers["convex_share"] == 1
    inside = sum(a * a + b * b < 0.5 for a in axis for b in axis)
    assert numbers["basin_share"] == pytest.approx(inside / 121)
    assert numbers["centre_loss"] == 0 and numbers["max_loss"] == pytest.approx(2)
    numbers = land.surface_numbers(saddle, axis, axis, chance_loss=0.5)
    assert numbers["curvature_ratio"] == pytest.approx(1.0) and numbers["convex_share"] == 0
    assert numbers["basin_share"] == 0  # the centre (loss 1) is above the level


def test_the_interpolation_ends_at_the_weights_with_batchnorm_recomputed():
    start, end = net(seed=0), with_running_statistics(net(seed=1))
    x, y = batch(64)
    line = land.interpolation(start, end, x, y, [0.0, 0.5, 1.0])
    expected = land.loss_and_accuracy(land.recompute_batchnorm(land.evaluation_copy(end), x), x, y)[0]
    assert line["alpha"] == [0.0, 0.5, 1.0]
    assert line["loss"][2] == pytest.approx(expected, rel=1e-5)
    assert line["loss"][0] == pytest.approx(
        land.loss_and_accuracy(land.recompute_batchnorm(land.evaluation_copy(start), x), x, y)[0], rel=1e-5)


# --- paths ---------------------------------------------------------------------------------------------

def test_the_gradients_of_all_paths_add_up_to_the_whole_nets_gradient():
    """The unraveled view, exactly: with 3 blocks, the 8 single-path gradients sum to the gradient."""
    model = with_running_statistics(net(depth=8)).eval()
    x, y = batch(4)
    x.requires_grad_(True)
    (whole,) = torch.autograd.grad(F.cross_entropy(model(x), y), x)
    total = torch.zeros_like(x)
    for route in itertools.product((0.0, 1.0), repeat=3):
        xs = x.detach().clone().requires_grad_(True)
        with route_gradient(model, torch.tensor([route] * len(x))):
            logits = model(xs)
        torch.testing.assert_close(logits, model(x).detach())  # the forward pass is unchanged
        total += torch.autograd.grad(F.cross_entropy(logits, y), xs)[0]
    torch.testing.assert_close(total, whole, rtol=1e-4, atol=1e-7)


@pytest.mark.slow
def test_the_gradient_of_a_path_falls_with_its_length_and_effective_paths_are_short():
    """ResNet-56 (width 4) at initialization on digits, BN statistics set on training images.
    Measured with seeds 0-3: k=0 / k=27 = 1.7e4 to 4.5e5, slope of log(gradient) per block -0.36 to
    -0.46, effective length 10.6-11.3 of typical 13.5. (At depth 20 an untrained net shows no decay:
    the branches' share of the signal falls with depth, and training shortens the paths further.)"""
    from resnet_viz.config import DataConfig
    from resnet_viz.data import load_dataset

    data = load_dataset(DataConfig("digits"))
    cfg = NetConfig(depth=56, width=4, in_channels=1, num_classes=10)
    model = land.recompute_batchnorm(build_model(cfg, seed=0), data.train_x[:256])
    rows = land.path_gradients(model, data.train_x[:8], data.train_y[:8], range(28), samples=10, seed=0)
    assert [r["k"] for r in rows] == list(range(28)) and all(r["samples"] == 10 for r in rows)
    means = [r["grad_norm_mean"] for r in rows]
    assert means[0] > 100 * means[-1]
    slope = sum((k - 13.5) * math.log(m) for k, m in enumerate(means)) / sum((k - 13.5) ** 2 for k in range(28))
    assert slope < -0.2  # exponential decay: a straight line down on the log axis
    assert sum(means[:9]) > 10 * sum(means[19:])
    effective = land.effective_paths(rows, 27)
    assert effective["typical_length"] == 13.5
    assert effective["effective_length"] < 13.5 - 1
    assert sum(s["path_share"] for s in effective["by_length"]) == pytest.approx(1.0)
    assert sum(s["gradient_share"] for s in effective["by_length"]) == pytest.approx(1.0)


def test_effective_paths_of_a_known_decay():
    n = 10
    rows = [{"k": k, "grad_norm_mean": 0.25 ** k} for k in range(n + 1)]
    e = land.effective_paths(rows, n)
    weights = [math.comb(n, k) * 0.25 ** k for k in range(n + 1)]  # C(n,k) (1/4)^k: Binomial(n, 1/5) shape
    assert e["effective_length"] == pytest.approx(sum(k * w for k, w in enumerate(weights)) / sum(weights))
    assert e["effective_length"] == pytest.approx(n / 5)
    lo, hi = e["effective_range"]
    assert sum(weights[lo:hi + 1]) / sum(weights) >= 0.9 and lo <= 2 <= hi < 5


def test_paths_refuse_a_plain_net_and_a_length_out_of_range():
    with pytest.raises(ValueError, match="paths need a residual net"):
        land.path_gradients(net(residual=False), *batch(2), [0], 1, 0)
    with pytest.raises(ValueError, match="a path length is from 0 to 3"):
        land.path_gradients(net().eval(), *batch(2), [4], 1, 0)


# --- the experiments ----------------------------------------------------------------------------------

TINY = dict(depth=8, width=4, steps=10, grid=5, images=32)


@pytest.mark.slow
def test_the_same_seed_gives_the_same_surface_and_the_directions_are_stored(lab_home):
    spec = protocol.make(landscape_exp.Spec, **TINY)
    first = protocol.run_cached(landscape_exp.EXPERIMENT, spec, protocol.Context(store=None))
    second = landscape_exp.run(spec)
    assert [r["grid"]["loss"] for r in first.result["runs"]] == [r["grid"]["loss"] for r in second.result["runs"]]
    assert [r["interpolation"]["loss"] for r in first.result["runs"]] == [
        r["interpolation"]["loss"] for r in second.result["runs"]]
    assert set(first.weights) == {"directions_plain", "directions_residual"}
    assert "x.stem.0.weight" in first.weights["directions_residual"]
    other = landscape_exp.run(protocol.make(landscape_exp.Spec, **{**TINY, "seed": 1}))
    assert other.result["runs"][1]["grid"]["loss"] != first.result["runs"][1]["grid"]["loss"]


def test_landscape_spec_checks():
    with pytest.raises(ValueError, match="grid must be odd"):
        protocol.make(landscape_exp.Spec, grid=20)
    with pytest.raises(ValueError, match="variants must not be empty"):
        landscape_exp.Spec(variants=())
    spec = protocol.make(landscape_exp.Spec, variants=("residual", "plain"))
    assert spec.variants == ("plain", "residual")
    # that the nets are the ensembles page's (one constant, lesion.NET): tests/test_protocol.py


@pytest.mark.slow
def test_effect_the_residual_surface_is_smoother_than_the_plain_one_at_depth_56():
    """Li et al.'s Fig. 5 on a small config (digits, depth 56, width 4, 100 steps, an 11x11 grid on
    64 images). Measured on the development CPU with seeds 0, 1, 2: curvature ratio plain 0.40 / 0.40
    / 0.29 vs residual 0.055 / 0.064 / 0.048 in bf16 and 0.27 / 0.38 / 0.43 vs 0.050 / 0.048 / 0.014 in
    fp32 (2 threads); seed 0 in fp32 with 1 thread: 0.242 vs 0.087, the closest (2.8x). Convex share
    plain 0.07-0.23 vs residual 0.60-0.84. The test asserts less than the closest of those, in fp32 (bf16
    over seeds 0-2 at the page's defaults is bench/effects.py's, to keep CI under 25 minutes)."""
    spec = protocol.make(landscape_exp.Spec, depth=56, width=4, steps=100, grid=11, images=64, seed=0,
                         precision="fp32")
    result = landscape_exp.run(spec).result
    assert all(effect.holds for effect in landscape_exp.effects(result))
    runs = {r["variant"]: r["numbers"] for r in result["runs"]}
    assert runs["plain"]["curvature_ratio"] > 2 * runs["residual"]["curvature_ratio"]
    assert runs["plain"]["curvature_ratio"] > runs["residual"]["curvature_ratio"] + 0.1
    assert runs["residual"]["convex_share"] > runs["plain"]["convex_share"] + 0.25


# --- CLI ---------------------------------------------------------------------------------------------

def test_cli_landscape_contract(tmp_path, capsys):
    out = tmp_path / "l.json"
    code = main(["landscape", "--dataset", "digits", "--depth", "8", "--width", "4", "--steps", "5",
                 "--variants", "plain,residual", "--grid", "5", "--images", "32", "--seed", "0", "--out", str(out)])
    assert code == 0
    runs = json.loads(out.read_text())["runs"]
    assert [(r["variant"], r["depth"]) for r in runs] == [("plain", 8), ("residual", 8)]
    for r in runs:
        assert r["grid"]["x"] == r["grid"]["y"] == [-1.0, -0.5, 0.0, 0.5, 1.0]
        assert len(r["grid"]["loss"]) == 5 and all(len(row) == 5 and all(v > 0 for v in row) for row in r["grid"]["loss"])
        assert r["interpolation"]["alpha"] == list(landscape_exp.ALPHAS)
        assert len(r["interpolation"]["loss"]) == len(landscape_exp.ALPHAS)
        assert r["curvature_ratio"] == r["numbers"]["curvature_ratio"]
    assert "curvature ratio" in capsys.readouterr().out


def test_cli_paths_contract(tmp_path, capsys):
    out = tmp_path / "p.json"
    code = main(["paths", "--dataset", "digits", "--depth", "8", "--width", "4", "--steps", "5", "--samples", "3",
                 "--images", "4", "--seed", "0", "--out", str(out)])
    assert code == 0
    result = json.loads(out.read_text())
    assert [r["stage"] for r in result["runs"]] == ["init", "trained"]
    for r in result["runs"]:
        assert [q["k"] for q in r["by_length"]] == [0, 1, 2, 3]
        for q in r["by_length"]:
            assert {"k", "grad_norm_mean", "grad_norm_std"} <= set(q) and q["grad_norm_mean"] > 0
    assert "effective paths" in capsys.readouterr().out


# --- the page -----------------------------------------------------------------------------------------

def test_landscape_page_shows_the_precomputed_surfaces_paths_and_published_errors():
    at = app("pages/7_Landscape.py").run()
    assert not at.exception
    assert [t.label for t in at.tabs] == ["Loss surface", "Paths of the gradient"]
    assert sum("Precomputed result of this lesson" in i.value for i in at.info) == 2
    captions = " ".join(c.value for c in at.caption)
    assert "python -m resnet_viz landscape" in captions and "python -m resnet_viz paths" in captions
    metrics = {m.label: m.value for m in at.metric}
    plain, residual = float(metrics["plain-56: curvature ratio"]), float(metrics["ResNet-56: curvature ratio"])
    assert plain > 5 * residual  # measured in the shipped preset, not typed in
    assert metrics["Typical path"] == "13.5"
    assert metrics["Effective paths"] == "3 to 10"
    published = next(t.value for t in at.table if "no shortcuts test error (%)" in t.value.columns)
    assert published.set_index("depth").loc["56"].tolist() == ["5.89", "13.31"]
    assert any("Published, not measured here" in m.value for m in at.markdown)
    next(s for s in at.select_slider if s.label == "Depth").set_value(20).run()
    assert not at.exception
    assert "plain-20: curvature ratio" in {m.label for m in at.metric}


@pytest.mark.slow
def test_landscape_page_trains_a_tiny_spec_in_the_background(lab_home):
    from resnet_viz.ui.jobs import job_manager

    at = app("pages/7_Landscape.py").run()
    next(s for s in at.select_slider if s.label == "Depth").set_value(8).run()
    next(s for s in at.select_slider if s.label == "Width").set_value(4).run()
    next(s for s in at.select_slider if s.label == "Training steps").set_value(100).run()
    next(s for s in at.select_slider if s.label == "Grid points per axis").set_value(11).run()
    # nothing stored for these settings: the lesson's precomputed results stay, labelled as other settings
    assert sum("Nothing is stored for these settings yet" in i.value for i in at.info) == 2
    next(b for b in at.button if b.label == "Map the surfaces").click().run()
    wait_for_job(job_manager().jobs()[0])
    at.run()
    assert not at.exception
    assert any("Measured on this server" in c.value and "121 points" in c.value for c in at.caption)
    assert {"plain-8: curvature ratio", "ResNet-8: curvature ratio"} <= {m.label for m in at.metric}
