"""No crash, no hang, on any CPU: the memory format the lab trains in, the formerly broken oneDNN shapes
trained in a subprocess (an abort there fails this test, not the run), and jobs that die by a signal or stop
reporting progress, in the process backend, the job manager and the hall's queue."""

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import torch

from resnet_viz import experiments
from resnet_viz.backends import LocalBackend, Unit
from resnet_viz.jobqueue import QueueRunner, SharedJobManager
from resnet_viz.jobs import JobManager, stall_after
from resnet_viz.store import RunStore
from resnet_viz.train import conv_memory_format

ROOT = Path(__file__).resolve().parents[1]
AVX2 = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}


# --- one place decides the memory format -------------------------------------------------------------------

def test_channels_last_except_for_the_layers_oneDNNs_avx2_kernels_break_on(monkeypatch):
    from resnet_viz.config import NetConfig
    from resnet_viz.models import build_model

    cpu = torch.device("cpu")
    width4, width8 = build_model(NetConfig(depth=8, width=4, shortcut="B")), build_model(NetConfig(depth=8, width=8, shortcut="B"))
    gated = build_model(NetConfig(depth=8, width=4, shortcut_kind="gating"))
    plain4 = build_model(NetConfig(depth=8, width=4, residual=False))  # no 1x1 conv at all
    monkeypatch.delenv("RESNET_VIZ_MEMORY_FORMAT", raising=False)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert conv_memory_format(cpu, width4) == conv_memory_format(cpu, gated) == torch.contiguous_format
    assert conv_memory_format(cpu) == torch.contiguous_format  # a net not named: the safe layout
    avx2 = torch.cpu._is_avx2_supported()
    expect = torch.channels_last if avx2 else torch.contiguous_format
    assert conv_memory_format(cpu, width8) == conv_memory_format(cpu, plain4) == expect
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "SSE41")  # never measured: contiguous
    assert conv_memory_format(cpu, width8) == torch.contiguous_format
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_AMX")
    avx512 = torch.cpu._is_avx512_supported()
    assert conv_memory_format(cpu, width4) == (torch.channels_last if avx512 else torch.contiguous_format)
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA")
    monkeypatch.setattr(torch.cpu, "_is_avx512_supported", lambda: False)  # an AVX2 CPU (AMD Zen 2, older Intel)
    assert conv_memory_format(cpu, width4) == torch.contiguous_format
    assert conv_memory_format(cpu, width8) == expect
    assert conv_memory_format(torch.device("cuda"), width4) == torch.channels_last
    monkeypatch.setenv("RESNET_VIZ_MEMORY_FORMAT", "channels_last")  # a benchmark may force one
    assert conv_memory_format(cpu, width4) == torch.channels_last


def test_the_notebook_lays_out_its_nets_with_the_labs_own_rule():
    import inspect

    from resnet_viz.experiments import degradation as deg
    from resnet_viz.notebook import build as build_notebook
    from resnet_viz.protocol import make

    book = build_notebook(experiments.get("degradation"), make(deg.Spec, depths=(8,), width=4, steps=3))
    code = "\n".join(c.source for c in book.cells if c.cell_type == "code")
    assert inspect.getsource(conv_memory_format).strip() in code
    assert "channels_last).train()" not in code and "conv_memory_format(torch.device(DEVICE), net)" in code


# --- the shapes that crashed oneDNN's AVX2 kernels, trained through the lab as an AVX2 CPU --------------------

BROKEN = textwrap.dedent("""
    import torch
    from torch import nn
    from resnet_viz.config import DataConfig, NetConfig, TrainConfig
    from resnet_viz.data import load_dataset
    from dataclasses import replace
    from resnet_viz.models import build_model
    from resnet_viz.train import fit

    torch.set_num_threads(1)
    data = load_dataset(DataConfig("digits"))
    # width 4: projection shortcuts and gates are 1x1 convs of stride 2 from 4 channels, the kernel that wrote
    # past its buffers (bench/conv_shapes.py); option B projects, gating adds 1x1 gates; width 8 trains
    # channels-last (its 1x1 convs have 8 and 16 input channels), the rest contiguous
    for net in (NetConfig(depth=8, width=4, shortcut="B"), NetConfig(depth=8, width=4, shortcut_kind="gating"),
                NetConfig(depth=8, width=2, shortcut="B"), NetConfig(depth=8, width=8, shortcut_kind="gating")):
        net = replace(net, in_channels=data.in_channels, num_classes=data.num_classes)
        result = fit(build_model(net, seed=0), data, TrainConfig(steps=4, batch_size=128, eval_every=0, augment=True))
        assert result.status == "completed", result.message
    print("trained", torch.backends.cpu.get_cpu_capability())
""")


def test_the_formerly_broken_shapes_train_as_an_avx2_cpu():
    env = {**os.environ, **AVX2, "MALLOC_CHECK_": "3", "PYTHONPATH": str(ROOT)}
    env.pop("RESNET_VIZ_MEMORY_FORMAT", None)
    proc = subprocess.run([sys.executable, "-c", BROKEN], env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr[-2000:]}"
    assert proc.stdout.strip() == "trained AVX2"


# --- a job that dies or hangs never holds the queue ------------------------------------------------------------

@pytest.fixture
def faulty(monkeypatch):
    sys.path.insert(0, str(Path(__file__).parent))  # the spawned job process imports it too (spawn passes sys.path)
    import faulty as module

    experiments.register(module.FAULTY)
    yield module
    experiments.unregister("faulty")


def _units(module, *faults):
    return [Unit("faulty", module.FaultSpec(fault=f, token=i)) for i, f in enumerate(faults)]


def test_a_job_process_that_aborts_is_reported_and_the_next_unit_runs(faulty, tmp_path):
    seen = []
    outcomes = LocalBackend(1, threads=1).run(_units(faulty, "abort", "finish"), str(tmp_path / "runs"),
                                              lambda i, rec: seen.append(i), threading.Event())
    assert outcomes[0].state == "failed"
    assert outcomes[0].error == "the training process crashed (SIGABRT) on this machine; the run was not stored"
    assert outcomes[1].state == "done" and outcomes[1].result["fault"] == "finish"  # a fresh process took it
    assert seen.count(0) == 1 and seen.count(1) == 2


def test_a_job_process_that_stops_reporting_is_stopped_and_the_next_unit_runs(faulty, tmp_path):
    start = time.monotonic()
    outcomes = LocalBackend(1, threads=1, stall=3.0).run(_units(faulty, "hang", "finish"), str(tmp_path / "runs"),
                                                         lambda i, rec: None, threading.Event())
    assert outcomes[0].state == "failed" and "stopped reporting progress" in outcomes[0].error
    assert outcomes[0].error.endswith("so it was stopped; the run was not stored")
    assert outcomes[1].state == "done"
    assert time.monotonic() - start < 60


def test_the_stall_limit_is_generous():
    assert stall_after(10.0) == 300.0  # at least five minutes
    assert stall_after(600.0) == 3000.0  # five times a long job's estimate
    assert stall_after(None) == 900.0


def _wait(job_of, seconds=90.0):
    end = time.time() + seconds
    while (job := job_of()).state in ("queued", "running"):
        assert time.time() < end, f"still {job.state}"
        time.sleep(0.1)
    return job


@pytest.mark.slow  # spawns job processes one after another (the backend's own tests above stay fast)
def test_the_job_manager_reports_a_crash_and_a_hang_and_serves_the_next(faulty, tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_VIZ_STALL_MIN", "3")
    manager = JobManager(RunStore(tmp_path / "runs"), mode="process")
    crashed = manager.submit("faulty", faulty.FaultSpec(fault="abort"))
    hung = manager.submit("faulty", faulty.FaultSpec(fault="hang"), estimate=0.1)
    fine = manager.submit("faulty", faulty.FaultSpec(fault="finish"))
    assert _wait(lambda: manager.get(crashed.key)).error.startswith("the training process crashed (SIGABRT)")
    assert "stopped reporting progress" in _wait(lambda: manager.get(hung.key)).error
    done = _wait(lambda: manager.get(fine.key))
    assert (crashed.state, hung.state, done.state) == ("failed", "failed", "done")


@pytest.mark.slow
def test_the_halls_queue_reports_a_crash_and_a_hang_in_every_process_and_goes_on(faulty, tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_VIZ_STALL_MIN", "3")
    store = RunStore(tmp_path / "runs")
    runner = QueueRunner(store, tmp_path, JobManager(store, mode="process"), every=0.05).start()
    try:
        one, other = SharedJobManager(store, tmp_path), SharedJobManager(store, tmp_path)
        keys = [one.submit("faulty", faulty.FaultSpec(fault=f), estimate=0.1).key for f in ("abort", "hang", "finish")]
        crashed, hung, fine = (_wait(lambda k=k: other.get(k)) for k in keys)
        assert crashed.state == "failed" and "crashed (SIGABRT)" in crashed.error
        assert hung.state == "failed" and "stopped reporting progress" in hung.error
        assert fine.state == "done"
    finally:
        runner.stop()


def test_a_crash_or_a_hang_is_said_in_chinese_even_when_another_process_composed_it():
    from resnet_viz import i18n
    from resnet_viz.backends import FAILURES, death_message, stall_message

    crashed, hung = death_message(-6), stall_message(900)
    i18n._COMPOSED.clear()  # as in a server process that only read the text from the hall's queue
    assert i18n.translate(i18n.recompose(crashed, FAILURES), "zh") == "训练进程在这台机器上崩溃了（SIGABRT），这次运行没有保存"
    assert "15 分钟没有报告进度" in i18n.translate(i18n.recompose(hung, FAILURES), "zh")
    assert i18n.recompose("CUDA out of memory", FAILURES) == "CUDA out of memory"  # anything else: as it is
