"""Shortcut kinds, the pre-activation bottleneck, stochastic depth and the "Why identity?" experiment."""

import json

import pytest
import torch

from conftest import app, wait_for_job

from resnet_viz import protocol
from resnet_viz.cli import main
from resnet_viz.config import NetConfig
from resnet_viz.counting import count
from resnet_viz.experiments import shortcuts
from resnet_viz.models import build_model
from resnet_viz.probes import shortcut_gradient_factor

X = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(1))
Y = torch.tensor([0, 1, 2, 3])


def net(**kw) -> torch.nn.Module:
    return build_model(NetConfig(depth=8, width=4, **kw), seed=0)


def branch(block, x):
    """F(x) of the first (shape-keeping) basic block, written out."""
    return block.bn2(block.conv2(block.act1(block.bn1(block.conv1(x)))))


@pytest.mark.parametrize("kw, formula", [
    ({}, lambda s, f, g: s + f),
    ({"shortcut_kind": "scaling", "scale": 0.3}, lambda s, f, g: 0.3 * s + f),
    ({"shortcut_kind": "scaling", "scale": 0.3, "scale_branch": True}, lambda s, f, g: 0.3 * s + 0.7 * f),
    ({"shortcut_kind": "gating", "gate_bias": -1.0}, lambda s, f, g: g * f + (1 - g) * s),
    ({"shortcut_kind": "shortcut_gating", "gate_bias": -1.0}, lambda s, f, g: f + (1 - g) * s),
    ({"shortcut_kind": "dropout", "dropout": 0.25}, lambda s, f, g: 0.75 * s + f),  # test time: the expectation
    ({"stochastic_depth": 0.5}, lambda s, f, g: s + (1 - 1 / 3 * 0.5) * f),  # block 1 of 3 survives with 5/6
])
def test_each_kind_computes_its_formula(kw, formula):
    model = net(**kw).eval()
    block = model.blocks[0]
    x = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(2))
    gate = torch.sigmoid(block.gate(x)) if block.gate is not None else None
    with torch.no_grad():
        expected = torch.relu(formula(x, branch(block, x), gate))
        torch.testing.assert_close(block(x), expected)


def test_dropout_shortcut_drops_elements_without_rescaling_in_training():
    model = net(shortcut_kind="dropout", dropout=0.25).train()
    block = model.blocks[0]
    x = torch.rand(8, 4, 8, 8, generator=torch.Generator().manual_seed(3)) + 1  # positive: the ReLU keeps s + f
    with torch.no_grad():
        carried = block.carry(x)
    kept = carried != 0
    assert torch.equal(carried[kept], x[kept])  # kept elements are not rescaled by 1 / (1 - p)
    assert abs(1 - kept.float().mean().item() - 0.25) < 0.05


def test_scaling_by_one_is_exactly_the_identity_net():
    a, b = net(), net(shortcut_kind="scaling", scale=1.0)
    for mode in (True, False):
        a.train(mode), b.train(mode)
        with torch.no_grad():
            assert torch.equal(a(X), b(X))


def test_a_gate_with_a_very_negative_bias_starts_as_the_identity():
    """g = sigmoid(Wx - 30) ~ 0: a Highway block starts as the identity map y = x (Srivastava et al.
    2015), and shortcut-only gating starts as the ResNet block y = x + F(x)."""
    identity, gated = net().eval(), net(shortcut_kind="shortcut_gating", gate_bias=-30.0).eval()
    missing = gated.load_state_dict(identity.state_dict(), strict=False).missing_keys
    assert missing and all(".gate." in k for k in missing)  # only the gates are new
    highway = net(shortcut_kind="gating", gate_bias=-30.0).eval()
    x = torch.rand(2, 4, 8, 8, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        torch.testing.assert_close(gated(X), identity(X), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(highway.blocks[0](x), x)  # the block passes its (non-negative) input through


def test_exact_parameter_counts_of_every_kind():
    base = 853_018  # ResNet-56, option A, 10 classes (He et al. 2016; SCIENCE.md)
    assert count(NetConfig(depth=56))["params"] == base
    for kind in ("scaling", "dropout"):
        assert count(NetConfig(depth=56, shortcut_kind=kind))["params"] == base
    # a gate is a 1x1 conv with bias per block: in x out + out
    gates = 9 * (16 * 16 + 16) + (16 * 32 + 32) + 8 * (32 * 32 + 32) + (32 * 64 + 64) + 8 * (64 * 64 + 64)
    assert gates == 46_832
    for kind in ("gating", "shortcut_gating"):
        assert count(NetConfig(depth=56, shortcut_kind=kind))["params"] == base + gates
    # a 1x1 conv shortcut in every block (option C): conv + BN affine per block
    projections = 9 * (16 * 16 + 32) + (16 * 32 + 64) + 8 * (32 * 32 + 64) + (32 * 64 + 128) + 8 * (64 * 64 + 128)
    assert count(NetConfig(depth=56, shortcut="C"))["params"] == base + projections


def test_preact_bottleneck_family_counts():
    """ResNet-164 and ResNet-1001 (He et al. 2016b): the paper rounds to 1.7 M and 10.2 M."""
    r164, r1001 = (count(NetConfig(depth=d, block="preact_bottleneck"))["params"] for d in (164, 1001))
    assert (r164, r1001) == (PREACT_164, PREACT_1001)
    assert abs(r164 / 1.7e6 - 1) < 0.03 and abs(r1001 / 10.2e6 - 1) < 0.03
    model = build_model(NetConfig(depth=164, block="preact_bottleneck", width=4))
    assert len(model.blocks) == 54 and model.blocks[0].__class__.__name__ == "PreActBottleneck"
    with pytest.raises(ValueError, match="9n"):
        NetConfig(depth=50, block="preact_bottleneck")


PREACT_164, PREACT_1001 = 1_661_274, 10_285_722  # option A; option B (projections where the shape changes): 1,704,154 and 10,328,602


@pytest.mark.parametrize("kw, expected", [
    ({}, 1.0),
    ({"shortcut_kind": "scaling", "scale": 0.5}, 0.5 ** 9),
    ({"shortcut_kind": "scaling", "scale": 0.9, "scale_branch": True}, 0.9 ** 9),
    ({"shortcut_kind": "dropout", "dropout": 0.3}, 0.7 ** 9),
])
def test_shortcut_gradient_factor_is_the_product_of_the_lambdas_at_init(kw, expected):
    model = build_model(NetConfig(depth=20, width=4, **kw), seed=0)
    measured = shortcut_gradient_factor(model, X, Y)
    assert measured["factor"] == pytest.approx(expected, rel=1e-5)
    assert len(measured["blocks"]) == 9
    assert shortcut_gradient_factor(build_model(NetConfig(depth=20, width=4, residual=False)), X, Y) is None


def test_gates_at_zero_bias_halve_the_gradient_per_block_roughly():
    measured = shortcut_gradient_factor(build_model(NetConfig(depth=20, width=4, shortcut_kind="gating"), seed=0), X, Y)
    assert all(0.2 < f < 0.8 for f in measured["blocks"])  # 1 - sigmoid(Wx + 0) is about 1/2
    assert measured["factor"] < 0.01


@pytest.mark.slow
def test_stochastic_depth_drops_blocks_at_the_linear_rate_in_training():
    model = build_model(NetConfig(depth=20, width=4, stochastic_depth=0.5), seed=0).train()
    blocks = model.blocks
    expected = [1 - l / 9 * 0.5 for l in range(1, 10)]
    assert [b.survival for b in blocks] == pytest.approx(expected)
    ran = [0] * 9
    hooks = [b.conv1.register_forward_hook(lambda m, i, o, k=k: ran.__setitem__(k, ran[k] + 1))
             for k, b in enumerate(blocks)]
    trials = 400
    with torch.no_grad():
        for _ in range(trials):
            model(X[:1])
    for h in hooks:
        h.remove()
    for k in range(9):
        assert abs(ran[k] / trials - expected[k]) < 0.08, (k, ran[k] / trials, expected[k])
    model.eval()
    with torch.no_grad():
        model(X)
    # reproducible: the same seed draws the same blocks
    a, b = (build_model(NetConfig(depth=20, width=4, stochastic_depth=0.5), seed=3).train() for _ in range(2))
    with torch.no_grad():
        assert torch.equal(a(X), b(X))


def test_stochastic_depth_and_kinds_need_shortcuts():
    with pytest.raises(ValueError, match="stochastic depth needs shortcuts"):
        NetConfig(residual=False, stochastic_depth=0.5)
    with pytest.raises(ValueError, match="gating shortcut kind needs shortcuts"):
        NetConfig(residual=False, shortcut_kind="gating")
    with pytest.raises(ValueError, match="stochastic depth p_L must be a finite number > 0 and <= 1"):
        NetConfig(stochastic_depth=0)


def test_spec_runs_and_names():
    spec = protocol.make(shortcuts.Spec, variants=("gating", "identity", "conv1x1"), gate_bias=(-6.0, 0.0))
    assert shortcuts.runs_of(spec) == [("identity", None), ("gating", 0.0), ("gating", -6.0), ("conv1x1", None)]
    nets = [r.net for r in shortcuts.training_runs(spec)]
    assert nets[3].shortcut == "C" and nets[2].gate_bias == -6.0 and nets[2].shortcut_kind == "gating"
    with pytest.raises(ValueError, match="at most 10 runs"):
        protocol.make(shortcuts.Spec, variants=shortcuts.VARIANTS, gate_bias=(0.0, -2.0, -4.0, -6.0))


def test_the_lesson_and_table_1_in_full_are_two_recipes_of_one_spec():
    lesson = shortcuts.Spec()
    assert (lesson.net.depth, lesson.train.steps, lesson.variants, lesson.gate_biases) == (
        74, 200, ("identity", "scaling", "gating", "dropout"), (0.0,))
    table1 = protocol.build(shortcuts.Spec, {**shortcuts.EXPERIMENT.recipes["table1"], "steps": 5})
    assert (table1.net.depth, table1.train.steps, table1.variants, table1.gate_biases) == (
        110, 5, shortcuts.VARIANTS, (0.0, -6.0))
    assert len(shortcuts.runs_of(table1)) == 8 and len(shortcuts.runs_of(lesson)) == 4
    assert [protocol.preset_result(p)["depth"] for p in shortcuts.EXPERIMENT.presets] == [74, 110]


def test_cli_contract(tmp_path, capsys):
    out = tmp_path / "s.json"
    code = main(["shortcuts", "--dataset", "digits", "--depth", "8", "--width", "4", "--variants",
                 "identity,scaling,gating,shortcut_gating,conv1x1,dropout", "--scale", "0.5", "--gate-bias", "0",
                 "--dropout", "0.5", "--steps", "3", "--seed", "0", "--out", str(out)])
    assert code == 0
    runs = json.loads(out.read_text())["runs"]
    assert [r["variant"] for r in runs] == list(shortcuts.VARIANTS)
    for r in runs:
        assert {"variant", "depth", "final_train_error", "final_test_error", "shortcut_gradient_factor",
                "history"} <= set(r)
        assert r["depth"] == 8 and len(r["history"]) == 3
    by = {r["variant"]: r for r in runs}
    assert by["identity"]["shortcut_gradient_factor"] == pytest.approx(1.0)
    assert by["scaling"]["shortcut_gradient_factor"] == pytest.approx(0.5 ** 3)
    assert "shortcut" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_effect_scaled_and_half_gated_shortcuts_train_worse_than_the_identity(precision):
    """Table 1's lesson on a small config (digits, depth 32, width 4, 100 steps at the lesson's lr 0.05).
    Final training error, seeds 0, 1, 2, on the development CPU: fp32 identity 0.001 / 0.014 / 0.011,
    scaling 0.36 / 0.53 / 0.52, gating b_g = 0 0.50 / 0.55 / 0.67; bf16 identity 0.03 / 0.09 / 0.05, scaling
    0.26 / 0.37 / 0.47, gating 0.62 / 0.53 / 0.60. Closest: scaling 0.23 above the identity; the test asks
    for 0.1."""
    spec = protocol.make(shortcuts.Spec, variants=("identity", "scaling", "gating"), gate_bias=(0.0,), depth=32,
                         width=4, steps=100, seed=0, precision=precision)
    result = shortcuts.run(spec).result
    assert all(effect.holds for effect in shortcuts.effects(result))
    runs = {r["variant"]: r for r in result["runs"]}
    identity = runs["identity"]["final_train_error"]
    assert identity < 0.2
    assert runs["scaling"]["final_train_error"] > identity + 0.1
    assert runs["gating"]["final_train_error"] > identity + 0.1
    assert runs["scaling"]["shortcut_gradient_factor"] == pytest.approx(0.5 ** 15, rel=1e-4)
    assert runs["gating"]["shortcut_gradient_factor"] < 0.01 < runs["identity"]["shortcut_gradient_factor"]


# --- pages ----------------------------------------------------------------------------------------

def test_why_identity_page_shows_the_preset_the_published_table_and_the_factors():
    at = app("pages/6_Why_identity.py").run()
    assert not at.exception
    assert any("Precomputed result of this lesson" in i.value for i in at.info)
    assert any("python -m resnet_viz shortcuts" in c.value for c in at.caption)
    published = next(t.value for t in at.table if "setting" in t.value.columns)
    assert published["test error (%)"].tolist()[:2] == ["6.61", "fail"]
    assert published["shortcut"].tolist()[6] == "shortcut gating"  # words, not code names
    assert any("Published, not measured here" in m.value for m in at.markdown)
    measured = next(t.value for t in at.table if "factor trained" in t.value.columns)
    assert measured["shortcut"].tolist() == ["identity", "scaling, λ = 0.5", "gating, b_g = 0", "dropout, p = 0.5"]
    row = measured.set_index("shortcut").loc["scaling, λ = 0.5"]
    assert row["factor trained"] == "1.46 × 10⁻¹¹"  # 0.5^36 (depth 74), measured on the net, not typed in

    # the second choice: Table 1 in full, its own precomputed result at once, its fixed settings said
    run = next(r for r in at.radio if r.label == "Run")
    assert run.options[0].startswith("the lesson") and run.options[1].startswith("Table 1 in full")
    run.set_value("table1").run()
    assert not at.exception
    assert not any(w.label in ("Depth", "Steps", "Shortcut kinds") for w in list(at.select_slider) + list(at.multiselect))
    assert any("Table 1 in full fixes the depth (110)" in c.value for c in at.caption)
    assert any("Precomputed result of this lesson" in i.value for i in at.info)
    measured = next(t.value for t in at.table if "factor trained" in t.value.columns)
    assert len(measured) == len(shortcuts.training_runs(protocol.build(shortcuts.Spec, shortcuts.TABLE1))) == 8
    row = measured.set_index("shortcut").loc["scaling, λ = 0.5"]
    assert row["factor trained"] == "5.55 × 10⁻¹⁷"  # 0.5^54 (54 blocks)


@pytest.mark.slow
def test_why_identity_page_trains_a_tiny_spec_in_the_background():
    at = app("pages/6_Why_identity.py").run()
    at.multiselect[0].set_value(["identity", "scaling"]).run()
    next(s for s in at.select_slider if s.label == "Depth").set_value(8).run()
    next(s for s in at.select_slider if s.label == "Width").set_value(4).run()
    next(s for s in at.select_slider if s.label == "Steps").set_value(50).run()
    assert any("Nothing is stored for these settings yet" in i.value for i in at.info)
    next(b for b in at.button if b.label == "Train").click().run()
    wait_for_job()
    at.run()
    assert not at.exception
    assert any("Measured on this server" in c.value for c in at.caption)
    measured = next(t.value for t in at.table if "factor trained" in t.value.columns)
    assert measured["shortcut"].tolist() == ["identity", "scaling, λ = 0.5"]


def test_parameters_page_counts_the_gates():
    at = app("pages/3_Parameters_and_compute.py").run()
    next(s for s in at.selectbox if s.label == "Shortcut kind").set_value("gating").run()
    assert not at.exception
    gates = 3 * (16 * 16 + 16) + (16 * 32 + 32) + 2 * (32 * 32 + 32) + (32 * 64 + 64) + 2 * (64 * 64 + 64)
    assert [m.value for m in at.metric][:2] == ["ResNet-20 (gating b_g=0)", f"{269_722 + gates:,}"]


@pytest.mark.slow
def test_stochastic_depth_on_degradation_and_lesion():
    from resnet_viz.experiments import degradation as deg
    from resnet_viz.experiments import lesion as les

    spec = protocol.make(deg.Spec, depths=(8,), width=4, stochastic_depth=0.5)
    plain, residual = (r.net for r in deg.training_runs(spec))
    assert (plain.residual, plain.stochastic_depth, residual.stochastic_depth) == (False, 1.0, 0.5)

    spec = protocol.make(les.Spec, depth=8, width=4, steps=20, samples=2, max_k=2, stochastic_depth=0.5)
    assert [les.variant_of(r) for r in les.training_runs(spec)] == ["plain", "residual", "stochastic_depth"]
    result = les.run(spec).result
    assert [r["variant"] for r in result["runs"]] == ["plain", "residual", "stochastic_depth"]
    assert [r["stochastic_depth"] for r in result["runs"]] == [1.0, 1.0, 0.5]
    # the plain and residual nets are the same stored runs as without stochastic depth
    without = protocol.make(les.Spec, depth=8, width=4, steps=20, samples=2, max_k=2)
    assert les.training_runs(without) == les.training_runs(spec)[:2]


@pytest.mark.slow
def test_gradient_page_offers_the_pre_activation_bottleneck():
    at = app("pages/2_Gradient_flow.py").run()
    at.radio(key="gf_block").set_value("preact_bottleneck").run()
    assert not at.exception
    labels = [m.label for m in at.metric]
    assert any("ResNet-56 (pre-activation bottleneck)" in label for label in labels), labels


@pytest.mark.parametrize("extra", [["--stochastic-depth", "0.5"], ["--shortcut-kind", "dropout"],
                                   ["--shortcut-kind", "gating", "--gate-bias", "-6"]])
def test_train_cli_runs_random_and_gated_nets(extra, tmp_path):
    """The pre-run memory check counts these nets on the meta device, where nothing can be drawn."""
    out = tmp_path / "t.json"
    assert main(["train", "--depth", "8", "--width", "4", "--steps", "2", "--out", str(out)] + extra) == 0
    assert json.loads(out.read_text())["status"] == "completed"


def test_page_prose_has_no_control_characters():
    """A LaTeX command typed into a non-raw string (\\frac, \\right, \\approx) turns into a control
    character and breaks the formula on the page."""
    from resnet_viz.ui.texts import text_classes

    for cls in text_classes():
        for name, value in vars(cls).items():
            for text in value if isinstance(value, (list, tuple)) else [value]:
                if isinstance(text, str):
                    assert not [c for c in text if ord(c) < 32 and c != "\n"], f"{cls.__name__}.{name}"


@pytest.mark.slow
def test_ensembles_page_trains_a_third_net_with_stochastic_depth():
    """The Ensembles page trains its small pair (and here a third net) in the background, then shows it."""
    at = app("pages/4_Ensembles.py").run()
    for label, value in (("Depth (both nets)", 8), ("Width", 4), ("Training steps", 100),
                         ("Stochastic depth p_L (third net)", 0.5)):
        next(s for s in at.select_slider if s.label == label).set_value(value).run()
    assert any("Not trained yet" in i.value for i in at.info)
    next(b for b in at.button if b.label == "Train and remove blocks").click().run()
    wait_for_job()
    at.run()
    assert not at.exception
    assert any("Measured on this server" in c.value for c in at.caption)
    assert [m.label for m in at.metric] == ["plain-8", "ResNet-8", "ResNet-8 + stochastic depth"]
    at.button_group(key="lesion_blocks").set_value([1]).run()
    assert not at.exception and len(at.metric) == 3


@pytest.mark.slow
def test_a_gated_net_trains_the_same_beside_another_thread():
    """fit_many's promise for the gated nets: under bf16 autocast (whose weight-cast cache is shared by
    all threads) a gate used twice per forward once made training depend on the neighbour thread."""
    from resnet_viz.config import DataConfig, TrainConfig
    from resnet_viz.experiments import training
    from resnet_viz.train import fit_many

    spec = training.Spec(net=NetConfig(depth=20, width=4, shortcut_kind="gating"), data=DataConfig(),
                         train=TrainConfig(steps=30, precision="bf16"))

    def job():
        model, data, _ = training.prepare(spec)
        return model, data, spec.train, None

    losses = [[f.history[-1]["train_loss"] for f in fit_many([job(), job()], workers=2)] for _ in range(2)]
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        alone = fit_many([job()], workers=1)[0].history[-1]["train_loss"]
    finally:
        torch.set_num_threads(before)
    assert losses[0] == losses[1] == [alone, alone]
