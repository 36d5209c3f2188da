"""The CUDA path: run wherever a GPU is present (skipped on the CPU-only CI machine)."""

import copy

import pytest
import torch

from resnet_viz.config import DataConfig, NetConfig, TrainConfig
from resnet_viz.data import load_dataset
from resnet_viz.models import build_model
from resnet_viz.train import fit, time_steps, use_cuda_graphs

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

NET = NetConfig(depth=20, width=8, in_channels=1)


@pytest.fixture(scope="module")
def digits():
    return load_dataset(DataConfig("digits"))


def test_the_graph_policy_is_on_for_cuda_runs_and_can_be_switched_off(monkeypatch):
    assert use_cuda_graphs(torch.device("cuda"), 300)
    assert not use_cuda_graphs(torch.device("cuda"), 5)  # too short to pay for the capture
    assert not use_cuda_graphs(torch.device("cpu"), 300)
    monkeypatch.setenv("RESNET_VIZ_CUDA_GRAPHS", "0")
    assert not use_cuda_graphs(torch.device("cuda"), 300)


def test_graph_replay_trains_like_the_eager_loop(digits, monkeypatch):
    cfg = TrainConfig(steps=60, batch_size=64, eval_every=30, device="cuda", precision="fp32")
    torch.backends.cudnn.deterministic = True
    try:
        graphed_model = build_model(NET, seed=0)
        eager_model = copy.deepcopy(graphed_model)
        graphed = fit(graphed_model, digits, cfg)
        monkeypatch.setenv("RESNET_VIZ_CUDA_GRAPHS", "0")
        eager = fit(eager_model, digits, cfg)
    finally:
        torch.backends.cudnn.deterministic = False
    assert graphed.cuda_graphs and not eager.cuda_graphs
    assert graphed.device.startswith("cuda") and graphed.steps_done == 60
    g_loss = torch.tensor([h["train_loss"] for h in graphed.history])
    e_loss = torch.tensor([h["train_loss"] for h in eager.history])
    assert torch.allclose(g_loss, e_loss, rtol=1e-3, atol=1e-4), (g_loss - e_loss).abs().max()
    # warm-up passes before the capture must not leak into the batch-norm statistics
    for (name, a), b in zip(graphed_model.state_dict().items(), eager_model.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), rtol=1e-3, atol=1e-4), name
    assert abs(graphed.final_test_error - eager.final_test_error) <= 0.01


def test_bf16_graphed_training_learns_digits(digits):
    result = fit(build_model(NET, seed=0), digits, TrainConfig(steps=100, batch_size=128, device="cuda"))
    assert result.precision == "bf16" and result.cuda_graphs
    assert result.final_test_error < 0.2  # chance is 0.9


def test_step_timing_uses_the_graphed_step(digits):
    seconds = time_steps(build_model(NET, seed=0), digits, 128, torch.device("cuda"))
    assert 0 < seconds < 1.0


def test_models_trained_together_on_streams_match_each_alone(digits):
    from resnet_viz.train import fit_many, parallel_workers

    assert parallel_workers(8, torch.device("cuda")) == 8
    cfg = TrainConfig(steps=40, batch_size=64, eval_every=20, device="cuda", precision="fp32")
    nets = [NetConfig(depth=d, width=8, in_channels=1, residual=r) for d in (8, 20) for r in (False, True)]
    torch.backends.cudnn.deterministic = True
    try:
        alone = [fit(build_model(n, seed=0), digits, cfg) for n in nets]
        together = fit_many([(build_model(n, seed=0), digits, cfg, None) for n in nets])
    finally:
        torch.backends.cudnn.deterministic = False
    assert all(r.cuda_graphs and r.status == "completed" for r in together)
    for a, b in zip(alone, together):
        la = torch.tensor([h["train_loss"] for h in a.history])
        lb = torch.tensor([h["train_loss"] for h in b.history])
        assert torch.allclose(la, lb, rtol=1e-3, atol=1e-4), (la - lb).abs().max()


def test_the_paper_augmentation_runs_on_the_gpu_and_matches_the_cpu():
    from resnet_viz.train import augment_batch

    x = torch.randn(128, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    on_cpu = augment_batch(x, torch.Generator().manual_seed(1))
    on_gpu = augment_batch(x.cuda(), torch.Generator().manual_seed(1))  # same draws, gathered on the device
    assert on_gpu.device.type == "cuda" and torch.equal(on_gpu.cpu(), on_cpu)


def test_a_graphed_run_with_augmentation_trains(digits):
    cfg = TrainConfig(steps=40, batch_size=64, eval_every=0, device="cuda", augment=True, schedule="step")
    result = fit(build_model(NET, seed=0), digits, cfg)
    assert result.cuda_graphs and result.status == "completed" and result.final_train_error < 0.9
