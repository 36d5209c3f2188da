import math
import threading
from dataclasses import replace

import pytest
import torch

from resnet_viz.config import DataConfig, NetConfig, TrainConfig
from resnet_viz.data import load_dataset
from resnet_viz.models import build_model
from resnet_viz.train import cpu_has_fast_bf16, fit, lr_factor, resolve_device

SMALL = NetConfig(depth=8, width=8, in_channels=1)


@pytest.fixture(scope="module")
def digits():
    return load_dataset(DataConfig("digits", image_size=8))


def test_loss_falls_on_digits_within_a_few_dozen_steps(digits):
    result = fit(build_model(SMALL, seed=0), digits, TrainConfig(steps=40, batch_size=64, eval_every=20))
    losses = [h["train_loss"] for h in result.history]
    assert result.status == "completed" and result.steps_done == 40
    assert sum(losses[-5:]) / 5 < 0.5 * losses[0]
    assert result.final_test_error < 0.5  # chance is 0.9
    assert [h["step"] for h in result.history if "test_error" in h] == [20, 40]
    if result.device == "cpu":  # on a GPU host "auto" trains there (tests/test_cuda.py)
        assert result.precision == ("bf16" if cpu_has_fast_bf16() else "fp32")  # the auto policy on a CPU
    assert result.device == resolve_device("auto").type


def test_training_is_deterministic_on_cpu_for_a_seed(digits):
    cfg = TrainConfig(steps=8, batch_size=32, eval_every=0)
    a = fit(build_model(SMALL, seed=1), digits, cfg)
    b = fit(build_model(SMALL, seed=1), digits, cfg)
    c = fit(build_model(SMALL, seed=1), digits, replace(cfg, seed=1))
    assert [h["train_loss"] for h in a.history] == [h["train_loss"] for h in b.history]
    assert [h["train_loss"] for h in a.history] != [h["train_loss"] for h in c.history]


def test_cancel_stops_cleanly_before_the_next_step(digits):
    cancel = threading.Event()
    seen = []

    def callback(rec):
        seen.append(rec["step"])
        if rec["step"] == 3:
            cancel.set()

    result = fit(build_model(SMALL, seed=0), digits, TrainConfig(steps=50, batch_size=16), callback, cancel)
    assert result.status == "cancelled" and result.steps_done == 3 and seen == [1, 2, 3]
    assert "cancelled after 3 of 50 steps" in result.message
    assert result.final_test_error is None


def test_a_nan_loss_stops_with_the_step_and_a_hint(digits):
    poisoned = replace(digits, train_x=digits.train_x.clone())
    poisoned.train_x[:] = float("nan")
    result = fit(build_model(SMALL, seed=0), poisoned, TrainConfig(steps=20, batch_size=16, lr=0.5))
    assert result.status == "diverged" and result.steps_done == 0
    assert "diverged at step 1" in result.message and "lower learning rate than 0.5 (e.g. 0.05)" in result.message


def test_a_huge_learning_rate_diverges_and_says_so(digits):
    net = replace(SMALL, batchnorm=False)
    result = fit(build_model(net, seed=0), digits, TrainConfig(steps=60, batch_size=64, lr=5.0, eval_every=0, precision="fp32"))
    assert result.status == "diverged" and result.steps_done < 60
    assert f"diverged at step {result.steps_done + 1}" in result.message
    assert "Try a lower learning rate than 5 (e.g. 0.5)" in result.message
    assert all(math.isfinite(h["train_loss"]) for h in result.history)


def test_schedules():
    assert [lr_factor("step", s, 100) for s in (0, 49, 50, 74, 75, 99)] == pytest.approx(
        [1, 1, 0.1, 0.1, 0.01, 0.01])
    assert lr_factor("cosine", 0, 100) == 1 and lr_factor("cosine", 50, 100) == pytest.approx(0.5)
    assert lr_factor("constant", 77, 100) == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_forcing_an_absent_gpu_is_a_clear_error():
    with pytest.raises(ValueError, match="no CUDA GPU is available here; use auto or cpu"):
        resolve_device("cuda")
    assert resolve_device("auto").type in ("cpu", "mps")


@pytest.mark.parametrize("kwargs,message", [
    (dict(lr=float("nan")), "learning rate must be a finite number > 0"),
    (dict(lr=0), "learning rate must be a finite number > 0"),
    (dict(steps=0), "steps must be a whole number from 1 to 1,000,000"),
    (dict(steps=10**9), "steps must be a whole number from 1 to 1,000,000"),
    (dict(batch_size=10**6), "batch_size must be a whole number from 1 to 4096"),
    (dict(schedule="linear"), "schedule must be one of constant, step, cosine"),
    (dict(device="tpu"), "device must be one of auto, cpu, cuda, mps"),
])
def test_bad_train_configs(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)


def test_fp32_can_be_forced_per_run_and_for_the_whole_server(monkeypatch):
    data = load_dataset(DataConfig("digits"))
    cfg = TrainConfig(steps=2, batch_size=32, eval_every=0, precision="fp32")
    assert fit(build_model(NetConfig(depth=8, width=4, in_channels=1), seed=0), data, cfg).precision == "fp32"
    monkeypatch.setenv("RESNET_VIZ_PRECISION", "fp32")
    auto = TrainConfig(steps=2, batch_size=32, eval_every=0)
    assert fit(build_model(NetConfig(depth=8, width=4, in_channels=1), seed=0), data, auto).precision == "fp32"


@pytest.mark.slow
def test_training_several_models_at_once_gives_each_the_result_it_gets_alone():
    import torch

    from resnet_viz.train import fit_many

    data = load_dataset(DataConfig("digits"))
    cfg = TrainConfig(steps=5, batch_size=32, eval_every=0)
    nets = [NetConfig(depth=8, width=4, in_channels=1, residual=r) for r in (False, True)]
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        alone = [fit(build_model(n, seed=0), data, cfg) for n in nets]
    finally:
        torch.set_num_threads(before)
    together = fit_many([(build_model(n, seed=0), data, cfg, None) for n in nets], workers=2)
    assert [r.final_train_loss for r in together] == [r.final_train_loss for r in alone]
    assert [[h["train_loss"] for h in r.history] for r in together] == [[h["train_loss"] for h in r.history] for r in alone]
    assert torch.get_num_threads() == before  # restored
