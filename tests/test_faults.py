"""Classroom faults: a server killed mid-training, corrupt or unwritable stores, host caps, bad specs."""

import math
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resnet_viz.protocol import make
from resnet_viz.experiments import degradation as deg
from resnet_viz.host import check_caps
from resnet_viz.jobs import JobManager
from resnet_viz.store import RunStore

SPEC = make(deg.Spec, depths=(8,), width=4, steps=2000, batch_size=16, eval_every=0)


@pytest.mark.slow
def test_a_server_killed_mid_training_leaves_the_run_interrupted_and_finished_runs_intact(tmp_path):
    store = RunStore(tmp_path / "runs")
    done_key = store.save("train", {"a": 1}, {"status": "completed"})
    server = textwrap.dedent(f"""
        import time
        from resnet_viz.experiments import degradation as deg
        from resnet_viz.jobs import JobManager
        from resnet_viz.protocol import make
        from resnet_viz.store import RunStore
        if __name__ == "__main__":
            manager = JobManager(RunStore({str(tmp_path / "runs")!r}))
            job = manager.submit("degradation", make(deg.Spec, depths=(8,), width=4, steps=2000, batch_size=16, eval_every=0))
            while not job.records:
                time.sleep(0.1)
            print("training", flush=True)
            time.sleep(600)
    """)
    script = tmp_path / "server.py"
    script.write_text(server)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=root,
                            env={**os.environ, "PYTHONPATH": root})
    try:
        assert proc.stdout.readline().strip() == "training"
        key = store.key("degradation", deg.split(SPEC)[1])  # its runs are stored one by one: the residual net's
        assert store.state(key)["status"] == "running"
        proc.send_signal(signal.SIGKILL)  # the server dies without any chance to clean up
        proc.wait(10)
        deadline = time.time() + 20  # its job process notices the parent is gone and exits
        while store.state(key)["status"] == "running" and time.time() < deadline:
            time.sleep(0.2)
    finally:
        proc.kill()
    restarted = RunStore(tmp_path / "runs")
    assert restarted.state(key)["status"] == "interrupted"
    assert restarted.get("degradation", SPEC) is None
    assert restarted.get("train", {"a": 1}).result == {"status": "completed"}  # finished runs intact
    assert [r.key for r in restarted.runs()] == [done_key]
    # and it can be restarted: a new manager trains it (a smaller variant of the same code path)
    manager = JobManager(restarted, mode="thread")
    small = make(deg.Spec, depths=(8,), width=4, steps=3, batch_size=16, eval_every=0)
    job = manager.submit("degradation", small)
    while job.state in ("queued", "running"):
        time.sleep(0.1)
    assert job.state == "done"
    assert [restarted.state(restarted.key("degradation", u))["status"] for u in deg.split(small)] == ["done", "done"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only folders")
def test_a_read_only_store_is_a_clear_message(tmp_path):
    root = tmp_path / "runs"
    root.mkdir()
    root.chmod(0o500)
    try:
        with pytest.raises(ValueError, match="cannot be written"):
            JobManager(RunStore(root), mode="thread").submit("degradation", SPEC)
    finally:
        root.chmod(0o700)


def test_an_unwritable_store_is_a_clear_message_even_for_root(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store should be")
    store = RunStore(blocker / "runs")  # mkdir fails for everyone, root included
    with pytest.raises(ValueError, match=r"cannot be written .*RESNET_VIZ_HOME"):
        store.check_writable()
    with pytest.raises(ValueError, match="cannot be written"):
        JobManager(store, mode="thread").submit("degradation", SPEC)
    assert store.runs() == []  # reading still works: nothing stored


def test_a_corrupt_result_is_skipped_with_a_warning(tmp_path):
    store = RunStore(tmp_path)
    good = store.save("train", {"a": 1}, {"ok": True})
    bad = store.save("train", {"a": 2}, {"ok": True})
    (tmp_path / bad / "result.json").write_text('{"ok": tr')
    assert [r.key for r in store.runs()] == [good]
    assert any(bad in p and "corrupt" in p for p in store.problems)


def test_host_caps_refuse_a_job_that_would_stall_the_class(monkeypatch):
    # the caps hold for CPU jobs (a GPU host is not limited by them)
    def caps_of(spec):
        check_caps(deg.training_runs(spec), spec.train.device)

    caps_of(make(deg.Spec, depths=(20, 110), width=32, steps=2000, device="cpu"))  # the defaults allow these
    caps_of(make(deg.Spec, depths=(164,), block="preact_bottleneck", device="cpu"))  # ResNet-164 on a CPU host
    with pytest.raises(ValueError, match="depth 1202 is above this server's limit of 164 .*RESNET_VIZ_MAX_DEPTH"):
        caps_of(make(deg.Spec, depths=(20, 1202), device="cpu"))
    monkeypatch.setenv("RESNET_VIZ_MAX_STEPS", "100")
    with pytest.raises(ValueError, match="steps 300 is above this server's limit of 100"):
        JobManager(RunStore(), mode="thread").submit("degradation", make(deg.Spec, device="cpu"))
    monkeypatch.setenv("RESNET_VIZ_MAX_WIDTH", "lots")
    with pytest.raises(ValueError, match="RESNET_VIZ_MAX_WIDTH must be a whole number"):
        caps_of(make(deg.Spec, device="cpu"))


specs = st.fixed_dictionaries({
    "depths": st.lists(st.sampled_from([-4, 0, 7, 8, 9, 14, 57]), min_size=0, max_size=3),
    "variants": st.lists(st.sampled_from(["plain", "residual", "dense", ""]), min_size=0, max_size=3),
    "width": st.sampled_from([-1, 0, 1, 4, 2000, 2.5, True]),
    "steps": st.sampled_from([-5, 0, 1, 2, 10 ** 9]),
    "batch_size": st.sampled_from([0, 1, 16, 10 ** 6]),
    "lr": st.sampled_from([0.1, 0.0, -1.0, math.nan, math.inf, 1e-3]),
    "block": st.sampled_from(["basic", "bottleneck", "preact", "wide"]),
    "shortcut": st.sampled_from(["A", "B", "C", "D"]),
    "dataset": st.sampled_from(["digits", "synthetic", "imagenet", ""]),
})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs)
def test_every_spec_is_either_valid_and_runs_or_a_value_error(fields):
    try:
        spec = make(deg.Spec, **{**fields, "depths": tuple(fields["depths"]), "variants": tuple(fields["variants"]),
                           "eval_every": 0})
    except ValueError as exc:
        assert str(exc)  # a message, never an empty error
        return
    result = deg.run(spec).result  # valid specs here are small: they really train
    assert result["status"] == "completed" and len(result["runs"]) == len(deg.training_runs(spec))
