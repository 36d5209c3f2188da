import threading
import time

import pytest

from resnet_viz.protocol import Outcome, make
from resnet_viz.experiments import degradation as deg
from resnet_viz.jobs import JobManager, QueueFull
from resnet_viz.store import RunStore

TINY = make(deg.Spec, depths=(8,), width=4, steps=6, batch_size=16, eval_every=0)


def wait(job, timeout=120.0):
    end = time.time() + timeout
    while job.state in ("queued", "running"):
        assert time.time() < end, f"job still {job.state} after {timeout} s"
        time.sleep(0.05)
    return job


class Blocking:
    """A fake runner that waits for a release, counting its calls."""

    def __init__(self, fail: bool = False):
        self.release = threading.Event()
        self.calls = 0
        self.fail = fail

    def __call__(self, kind, spec, store, progress, cancel):
        self.calls += 1
        progress({"done": 1, "total": 2, "fraction": 0.5})
        self.release.wait(30)
        if self.fail:
            raise RuntimeError("CUDA out of memory")
        return Outcome({"status": "completed", "runs": []})


def test_identical_requests_share_one_job(tmp_path):
    runner = Blocking()
    manager = JobManager(RunStore(tmp_path), mode="thread", runner=runner)
    first = manager.submit("degradation", TINY)
    same = manager.submit("degradation", make(deg.Spec, depths=[8], width=4, steps=6, batch_size=16, eval_every=0))  # another session
    assert same is first
    runner.release.set()
    wait(first)
    assert runner.calls == 1 and first.state == "done"


def test_progress_and_eta_while_running(tmp_path):
    runner = Blocking()
    manager = JobManager(RunStore(tmp_path), mode="thread", runner=runner)
    job = manager.submit("degradation", TINY, estimate=10.0)
    while not job.records:
        time.sleep(0.01)
    time.sleep(0.3)
    snap = job.snapshot()
    # half done after `elapsed` seconds: as long again to go (not the estimate, which was 10 s)
    assert snap["state"] == "running" and snap["fraction"] == 0.5
    assert snap["eta"] == pytest.approx(snap["elapsed"], abs=0.2) and snap["eta"] < 5
    runner.release.set()
    wait(job)


def test_a_failure_is_reported_and_the_worker_goes_on(tmp_path):
    runner = Blocking(fail=True)
    runner.release.set()
    manager = JobManager(RunStore(tmp_path), mode="thread", runner=runner)
    job = wait(manager.submit("degradation", TINY))
    assert job.state == "failed" and job.error == "RuntimeError: CUDA out of memory"
    runner.fail = False
    other = wait(manager.submit("degradation", make(deg.Spec, depths=(14,), width=4, steps=6)))
    assert other.state == "done"


def test_a_full_queue_answers_with_the_expected_wait(tmp_path):
    runner = Blocking()
    manager = JobManager(RunStore(tmp_path), mode="thread", runner=runner, max_queue=1)
    running = manager.submit("degradation", TINY, estimate=90)
    while running.state != "running":
        time.sleep(0.01)
    manager.submit("degradation", make(deg.Spec, depths=(14,), width=4), estimate=120)
    with pytest.raises(QueueFull, match=r"The job queue is full \(1 experiments waiting.*Expected wait: about \d+ min"):
        manager.submit("degradation", make(deg.Spec, depths=(20,), width=4))
    runner.release.set()


def test_unknown_experiment_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="unknown experiment 'nope'; available: "):
        JobManager(RunStore(tmp_path), mode="thread").submit("nope", TINY)


def test_cancel_a_real_run_in_a_thread_stores_nothing(tmp_path):
    store = RunStore(tmp_path)
    manager = JobManager(store, mode="thread")
    job = manager.submit("degradation", make(deg.Spec, depths=(8,), width=4, steps=2000, batch_size=16))
    while len(job.records) < 3:
        time.sleep(0.01)
    assert manager.cancel(job.key)
    wait(job)
    assert job.state == "cancelled" and store.runs() == []
    assert not manager.cancel(job.key)  # nothing left to cancel


@pytest.mark.slow
def test_a_process_job_trains_stores_and_survives_a_server_restart(tmp_path):
    store = RunStore(tmp_path)
    job = wait(JobManager(store).submit("degradation", TINY))
    assert job.state == "done", job.error
    assert not job.from_store and len(job.records) == 12  # 6 steps x (plain, residual)
    assert [r["variant"] for r in job.result["runs"]] == ["plain", "residual"]
    # a new server (new manager, new store object) answers from disk at once
    again = JobManager(RunStore(tmp_path), mode="thread").submit("degradation", TINY)
    assert again.state == "done" and again.from_store and again.result == job.result
    # its runs are stored one by one (so a spec with one more depth trains only the new nets)
    assert store.load_weights(store.key("degradation", deg.split(TINY)[1]), "residual_8_s0")


def test_a_missing_dataset_is_refused_at_submit_with_the_message(tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_VIZ_DATA", str(tmp_path / "nothing-here"))
    with pytest.raises(ValueError, match="Dataset 'mnist' is not available offline: put train-images-idx3-ubyte"):
        JobManager(RunStore(tmp_path), mode="thread").submit("degradation", make(deg.Spec, dataset="mnist", depths=(8,)))


@pytest.mark.slow
def test_a_process_job_failure_shows_the_message_not_a_traceback(tmp_path, monkeypatch):
    raw = tmp_path / "data" / "MNIST" / "raw"  # the files are there, but not MNIST: the loader fails in the job
    raw.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (raw / name).write_bytes(b"not an idx file")
    monkeypatch.setenv("RESNET_VIZ_DATA", str(tmp_path / "data"))
    job = wait(JobManager(RunStore(tmp_path)).submit("degradation", make(deg.Spec, dataset="mnist", depths=(8,))))
    assert job.state == "failed" and job.error and "\n" not in job.error.strip()
    assert "Traceback" not in job.error


@pytest.mark.slow
def test_cancel_reaches_a_process_job(tmp_path):
    store = RunStore(tmp_path)
    manager = JobManager(store)
    job = manager.submit("degradation", make(deg.Spec, depths=(8,), width=4, steps=2000, batch_size=16))
    while len(job.records) < 3:
        time.sleep(0.05)
    manager.cancel(job.key)
    wait(job, timeout=60)
    assert job.state == "cancelled" and store.runs() == []
    assert job.records[-1]["done"] < 2000  # stopped before the end: the cancel reached the process


def test_a_job_process_lowers_its_cpu_priority_so_pages_come_first():
    import subprocess
    import sys

    code = ("import os; from resnet_viz.host import lower_priority; before = os.nice(0); lower_priority(); "
            "print(os.nice(0) - before)")
    for env, expected in (({}, "10"), ({"RESNET_VIZ_JOB_NICE": "3"}, "3"), ({"RESNET_VIZ_JOB_NICE": "lots"}, "0")):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                             env={**__import__("os").environ, **env})
        assert out.stdout.strip() == expected


def test_queue_position_and_finished_jobs_leave_memory(tmp_path):
    runner = Blocking()
    manager = JobManager(RunStore(tmp_path), mode="thread", runner=runner, keep_seconds=0.5)
    first = manager.submit("degradation", TINY, estimate=1)
    while first.state != "running":
        time.sleep(0.01)
    second = manager.submit("degradation", make(deg.Spec, depths=(14,), width=4, steps=6), estimate=1)
    third = manager.submit("degradation", make(deg.Spec, depths=(20,), width=4, steps=6), estimate=1)
    assert [manager.position(j.key) for j in (first, second, third)] == [None, 1, 2]
    runner.release.set()
    for job in (first, second, third):
        wait(job)
    assert len(manager.jobs()) == 3 and first.records  # kept for a while after they end
    time.sleep(0.6)
    assert manager.jobs() == [] and manager.get(first.key) is None  # then forgotten; the store keeps results


@pytest.mark.slow
@pytest.mark.calibrates
def test_a_process_manager_measures_the_throughput_in_a_worker_for_the_estimates(tmp_path):
    from resnet_viz import cost

    assert cost.throughput() is None and deg.cost(TINY) is None
    manager = JobManager(RunStore(tmp_path), calibrate=True)
    job = wait(manager.submit("degradation", TINY))  # queued behind the measurement
    assert job.state == "done"
    table = cost.throughput()
    assert sorted(table) == [4, 8, 16, 32] and all(rate > 1e6 for rate in table.values())
    assert deg.cost(TINY) > 0
