"""Captum attributions: completeness, shapes, block importance, CLI, figures."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from resnet_viz import attribution as attr
from resnet_viz.cli import main
from resnet_viz.config import DataConfig, NetConfig, TrainConfig
from resnet_viz.data import load_dataset
from resnet_viz.ui.lessons.attributions import attribution_figure, block_importance_figure
from resnet_viz.models import build_model
from resnet_viz.train import fit


@pytest.fixture(scope="module")
def digits():
    return load_dataset(DataConfig("digits"))


@pytest.fixture(scope="module")
def trained(digits):
    model = build_model(NetConfig(depth=8, width=4, in_channels=1), seed=0)
    # on the CPU wherever the tests run: these weights give output changes large enough for a 5% check
    fit(model, digits, TrainConfig(steps=30, batch_size=64, eval_every=0, device="cpu"))
    return model.eval()


@pytest.mark.parametrize("index", [0, 1, 2])
def test_integrated_gradients_adds_steps_until_complete_within_1_percent(digits, trained, index):
    x, label = digits.test_x[index:index + 1], int(digits.test_y[index])
    ig = attr.integrated_gradients(trained, x, label)
    assert ig["map"].shape == (16, 16) and ig["steps"] in attr.IG_STEPS
    assert ig["converged"]
    assert abs(ig["attribution_sum"] - ig["output_change"]) <= 0.01 * abs(ig["output_change"]) + 1e-6
    assert ig["convergence_delta"] == pytest.approx(abs(ig["attribution_sum"] - ig["output_change"]), rel=1e-3,
                                                     abs=1e-5)
    x = x.to(next(trained.parameters()).device)
    with torch.no_grad():  # output_change really is f(x) - f(black) for the target logit
        assert ig["output_change"] == pytest.approx(
            (trained(x)[0, label] - trained(torch.zeros_like(x))[0, label]).item(), rel=1e-5)


def test_integrated_gradients_says_plainly_when_it_did_not_converge(digits, trained):
    x, label = digits.test_x[:1], int(digits.test_y[0])
    rough = attr.integrated_gradients(trained, x, label, steps=(1,))
    assert rough["steps"] == 1 and rough["convergence_delta"] > 0.01 * abs(rough["output_change"])
    assert rough["converged"] is False


@pytest.mark.parametrize("stage", [0, 1, 2, -1])
def test_gradcam_is_upsampled_to_the_input_and_non_negative(digits, trained, stage):
    cam = attr.gradcam(trained, digits.test_x[:1], 3, stage)
    assert cam.shape == (16, 16) and (cam >= 0).all()


def test_saliency_shape_and_bad_input_messages(digits, trained):
    assert attr.saliency(trained, digits.test_x[:1], 0).shape == (16, 16)
    with pytest.raises(ValueError, match="target class must be from 0 to 9; got 10"):
        attr.saliency(trained, digits.test_x[:1], 10)
    with pytest.raises(ValueError, match=r"expected one image of shape \(1, C, H, W\)"):
        attr.saliency(trained, digits.test_x[:2], 0)
    with pytest.raises(ValueError, match="stage must be from 0 to 2; got 3"):
        attr.gradcam(trained, digits.test_x[:1], 0, 3)
    with pytest.raises(ValueError, match="method must be one of saliency, integrated_gradients, gradcam"):
        attr.attribution_map(trained, digits.test_x[:1], 0, "lime")


def test_block_importance_is_zero_for_a_block_whose_branch_outputs_zero(digits, trained):
    model = build_model(NetConfig(depth=8, width=4, in_channels=1), seed=0).eval()
    with torch.no_grad():
        model.blocks[1].bn2.weight.zero_()
        model.blocks[1].bn2.bias.zero_()
    scores = attr.block_importance(model, digits.test_x[:16], digits.test_y[:16])
    assert [s["block"] for s in scores] == [0, 1, 2] and [s["stage"] for s in scores] == [0, 1, 2]
    assert scores[1]["importance"] == 0 and scores[0]["importance"] > 0


def test_cli_writes_the_contract_json_and_pngs(tmp_path, capsys):
    out = tmp_path / "attr.json"
    assert main(["attribute", "--dataset", "digits", "--depth", "8", "--width", "4", "--steps", "20",
                 "--method", "integrated_gradients", "--n-images", "3", "--seed", "0", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert [i["index"] for i in data["images"]] == [0, 1, 2]
    for img in data["images"]:
        assert {"label", "prediction", "convergence_delta", "output_change"} <= set(img)
        assert isinstance(img["convergence_delta"], float) and isinstance(img["output_change"], float)
        assert (tmp_path / img["png"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert img["converged"] is True and img["ig_steps"] in attr.IG_STEPS
    assert [b["block"] for b in data["block_importance"]] == [0, 1, 2]
    with pytest.raises(SystemExit) as exc:
        main(["attribute", "--method", "lime"])
    assert exc.value.code == 2 and "invalid choice: 'lime'" in capsys.readouterr().err
    # an output folder instead of a file: refused before anything runs, nothing written beside it
    folder = tmp_path / "maps"
    folder.mkdir()
    assert main(["attribute", "--depth", "8", "--width", "4", "--steps", "20", "--out", str(folder)]) == 2
    assert "is a folder" in capsys.readouterr().err and not list(tmp_path.glob("maps_*.png"))


def test_attribution_figures():
    fig = attribution_figure(np.zeros((4, 4)), [("a", np.ones((4, 4)), False), ("b", -np.ones((4, 4)), True)])
    assert len(fig.data) == 3 and fig.data[2].zmin == -1 and fig.data[2].zmax == 1
    df = pd.DataFrame([{"variant": v, "depth": 8, "block": b, "importance": 1.0, "accuracy_drop": 0.1}
                       for v in ("plain", "residual") for b in range(3)])
    fig = block_importance_figure(df)
    assert len(fig.data) == 4 and fig.layout.barmode == "group"
    assert [t.name for t in fig.data if t.showlegend] == ["plain-8", "ResNet-8"]
