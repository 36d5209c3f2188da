import json
import re

import pytest

from resnet_viz.protocol import make
from resnet_viz.cli import main
from resnet_viz.experiments import degradation as deg
from resnet_viz.experiments import training
from resnet_viz.ui.lessons.degradation import error_vs_depth_figure, training_curves_figure
from resnet_viz.config import DataConfig, NetConfig
from resnet_viz.protocol import Context
from resnet_viz.store import RunStore
from resnet_viz.train import cpu_has_fast_bf16, fit_many


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_the_effect_plain_degrades_with_depth_residual_does_not(precision):
    """A small budget that still shows Fig. 6: width 4, 16x16 digits, plain/residual 8 vs 32, 150 steps.
    Final training error, seeds 0, 1, 2, on the development CPU: fp32 plain-8 0.25 / 0.13 / 0.03,
    plain-32 0.51 / 0.80 / 0.53, ResNet-32 0.02 / 0.08 / 0.03; bf16 plain-8 0.12 / 0.11 / 0.03, plain-32
    0.53 / 0.62 / 0.50, ResNet-32 0.004 / 0.08 / 0.24. Closest: plain-32 0.26 above plain-8 and 0.25
    above ResNet-32; the test asks for 0.15."""
    spec = make(deg.Spec, depths=(8, 32), width=4, steps=150, batch_size=64, eval_every=0, precision=precision)
    result = deg.run(spec).result
    assert all(effect.holds for effect in deg.effects(result))
    err = {(r["variant"], r["depth"]): r["final_train_error"] for r in result["runs"]}
    assert err[("plain", 32)] > err[("plain", 8)] + 0.15
    assert err[("plain", 32)] > err[("residual", 32)] + 0.15
    assert err[("residual", 32)] < 0.3


def test_run_reports_tidy_history_and_progress_weighted_by_depth(monkeypatch):
    seen = []
    spec = make(deg.Spec, depths=(8, 14), variants=("residual",), width=4, steps=4, batch_size=16, eval_every=2,
                    seeds=(0, 1))
    monkeypatch.setattr(training, "fit_many", lambda jobs, cancel: fit_many(jobs, cancel, workers=1))  # in turn
    outcome = deg.run(spec, Context(progress=seen.append))
    runs = outcome.result["runs"]
    assert [(r["seed"], r["depth"]) for r in runs] == [(0, 8), (0, 14), (1, 8), (1, 14)]
    assert sorted(outcome.weights) == ["residual_14_s0", "residual_14_s1", "residual_8_s0", "residual_8_s1"]
    assert [h["step"] for h in runs[0]["history"]] == [1, 2, 3, 4]
    assert [h["step"] for h in runs[0]["history"] if "test_error" in h] == [2, 4]
    fractions = [rec["fraction"] for rec in seen]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    # after the first run (depth 8 of 8+14+8+14) the share done is 8/44, not 1/4
    assert seen[3]["fraction"] == pytest.approx(8 / 44)
    frame = deg.history_frame(deg.result_history(outcome.result))
    assert list(frame.columns) == ["variant", "depth", "seed", "step", "train_loss", "train_error", "test_error"]
    assert len(frame) == 16 and frame["test_error"].notna().sum() == 8


def test_runs_trained_in_parallel_report_monotone_progress_and_the_fast_path():
    seen = []
    spec = make(deg.Spec, depths=(8, 14), width=4, steps=6, batch_size=16, eval_every=0)
    result = deg.run(spec, Context(progress=seen.append)).result
    fractions = [rec["fraction"] for rec in seen]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert len(seen) == 4 * 6
    assert {rec["run"] for rec in seen} == {"plain-8", "ResNet-8", "plain-14", "ResNet-14"}
    assert {r["precision"] for r in result["runs"]} == {"bf16" if cpu_has_fast_bf16() else "fp32"}


@pytest.mark.parametrize("kwargs,message", [
    (dict(depths=(20, 57)), "CIFAR depth must be 6n+2 for basic blocks"),
    (dict(depths=()), "depths must not be empty"),
    (dict(depths=(8, 14, 20, 26, 32, 38, 44)), "depths must be 1 to 6 different values"),
    (dict(variants=("deep",)), "variants must be one of plain, residual; got 'deep'"),
    (dict(seeds=tuple(range(9))), "seeds must be 1 to 5 different values"),
    (dict(width=0), "width must be a whole number from 1 to 1024"),
    (dict(depths=(20, 60002)), "depths must be a whole number from 8 to 1202"),
    (dict(seeds=(-1,)), "seeds must be a whole number from 0 to"),
    (dict(lr=float("nan")), "learning rate must be a finite number"),
    (dict(dataset="imagenet"), "dataset must be one of digits"),
])
def test_bad_specs_name_what_is_allowed(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make(deg.Spec, **kwargs)


def test_spec_normalizes_order_so_equal_experiments_share_a_key():
    assert make(deg.Spec, depths=(56, 20), variants=("residual", "plain")) == make(deg.Spec, depths=(20, 56))
    assert RunStore().key("degradation", make(deg.Spec, depths=[56, 20])) == RunStore().key("degradation", deg.Spec())


def test_cost_follows_counted_work_without_training_or_touching_threads(monkeypatch):
    """The estimate is arithmetic on counted multiply-adds and a measured throughput: it never trains
    in the calling process (the server) and never changes torch's thread count."""
    import torch

    from resnet_viz import cost, train

    assert deg.cost(make(deg.Spec, depths=(8,), width=4)) is None  # nothing measured yet: unknown, not invented
    cost.save_throughput({4: 1e9, 8: 2e9, 16: 4e9, 32: 8e9})
    monkeypatch.setattr(train, "fit", lambda *a, **k: pytest.fail("cost() trained"))
    monkeypatch.setattr(train, "time_steps", lambda *a, **k: pytest.fail("cost() timed steps"))
    threads = torch.get_num_threads()
    small = deg.cost(make(deg.Spec, depths=(20,), width=8, steps=100, eval_every=0))
    deeper = deg.cost(make(deg.Spec, depths=(56,), width=8, steps=100, eval_every=0))
    twice = deg.cost(make(deg.Spec, depths=(20,), width=8, steps=100, eval_every=0, seeds=(0, 1)))
    wider = deg.cost(make(deg.Spec, depths=(20,), width=16, steps=100, eval_every=0))
    assert torch.get_num_threads() == threads
    macs20 = cost.forward_macs(NetConfig(depth=20, width=8), DataConfig())
    macs56 = cost.forward_macs(NetConfig(depth=56, width=8), DataConfig())
    assert macs56 / macs20 == pytest.approx(125_485_696 / 40_551_040, rel=0.05)  # counted, as the paper's nets scale
    assert deeper / small == pytest.approx(macs56 / macs20, rel=1e-6)
    assert twice == pytest.approx(2 * small)
    # 2 variants x (3 x 100 steps x 128 images + the final evaluation of both splits) x MACs / 2e9 MAC/s
    images = 3 * 100 * 128 + 1347 // 3 + 1347
    assert small == pytest.approx(2 * images * macs20 / 2e9, rel=1e-6)
    # twice the width: four times the MACs at twice the measured throughput
    assert wider == pytest.approx(2 * small, rel=0.05)


def test_cli_writes_the_contract_json(tmp_path, capsys):
    out = tmp_path / "deg.json"
    code = main(["degradation", "--dataset", "digits", "--depths", "8,14", "--steps", "3", "--width", "4",
                 "--batch-size", "16", "--seeds", "0,1", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0 and "plain-14" in printed and "ResNet-8" in printed
    data = json.loads(out.read_text())
    assert len(data["runs"]) == 8
    run = data["runs"][0]
    assert {"variant", "depth", "seed", "final_train_error", "final_test_error", "seconds", "history"} <= set(run)
    assert run["variant"] in ("plain", "residual") and isinstance(run["depth"], int)
    assert {"step", "train_loss", "train_error"} <= set(run["history"][0])
    assert main(["degradation", "--depths", "8,14", "--steps", "3", "--width", "4", "--batch-size", "16",
                 "--seeds", "0,1"]) == 0
    assert "(from the run store)" in capsys.readouterr().out


def test_cli_rejects_bad_depth_lists(capsys):
    assert main(["degradation", "--depths", "20,57"]) == 2
    assert "CIFAR depth must be 6n+2" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["degradation", "--depths", "twenty"])
    assert "expected whole numbers separated by commas" in capsys.readouterr().err


RESULT = {"status": "completed", "runs": [
    {"variant": v, "depth": d, "seed": s, "status": "completed", "message": "", "seconds": 1.0,
     "final_train_error": e + 0.01 * s, "final_test_error": e + 0.05, "final_train_loss": 0.1,
     "history": [{"step": i, "train_loss": 1.0, "train_error": e} for i in range(1, 21)]}
    for v, d, e in [("plain", 20, 0.0), ("plain", 56, 0.5), ("residual", 20, 0.0), ("residual", 56, 0.02)]
    for s in (0, 1)]}


def test_training_curves_figure_styles_and_spread():
    fig = training_curves_figure(deg.history_frame(deg.result_history(RESULT)))
    lines = [t for t in fig.data if t.mode == "lines" and t.fill != "toself"]
    assert sorted(t.name for t in lines) == ["ResNet-20", "ResNet-56", "plain-20", "plain-56"]
    dash = {t.name: t.line.dash for t in lines}
    assert dash["plain-56"] == "dash" and dash["ResNet-56"] == "solid"
    color = {t.name: t.line.color for t in lines}
    assert color["plain-56"] == color["ResNet-56"] != color["plain-20"]  # one colour per depth
    assert len([t for t in fig.data if t.fill == "toself"]) == 4  # a seed band per net
    assert max(next(t for t in lines if t.name == "plain-56").y) == pytest.approx(0.5)


def test_error_vs_depth_figure_has_train_and_test_panels():
    fig = error_vs_depth_figure(deg.summary_frame(RESULT))
    assert [a.text for a in fig.layout.annotations] == ["training error", "test error"]
    plain_train = next(t for t in fig.data if t.name == "plain" and t.xaxis == "x")
    assert list(plain_train.x) == [20, 56] and list(plain_train.y) == pytest.approx([0.005, 0.505])
    band = next(t for t in fig.data if t.fill == "toself" and t.legendgroup == "plain" and t.xaxis == "x")
    assert list(band.x) == [20, 56, 56, 20] and list(band.y) == pytest.approx([0.01, 0.51, 0.5, 0.0])  # best..worst seed


def test_the_seed_line_is_the_median_not_the_mean():
    import pandas as pd

    rows = pd.DataFrame([{"variant": "plain", "depth": 20, "seed": s, "final_train_error": e, "final_test_error": e}
                         for s, e in enumerate((0.1, 0.2, 0.9))])
    fig = error_vs_depth_figure(rows)
    line = next(t for t in fig.data if t.name == "plain" and t.xaxis == "x")
    assert list(line.y) == pytest.approx([0.2])  # the mean, 0.4, would follow the one bad seed
    assert len([t for t in fig.data if t.fill == "toself"]) == 2  # a band in each panel
