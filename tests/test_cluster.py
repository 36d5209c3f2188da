"""Past one machine: the Ray backend (a local 2-CPU cluster started here), sweeps, the paper's
augmentation and TensorBoard files."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import torch

from resnet_viz import sweep
from resnet_viz.backends import LocalBackend, RayBackend, Unit, check_address
from resnet_viz.experiments import degradation as deg
from resnet_viz.jobs import JobManager
from resnet_viz.protocol import make
from resnet_viz.store import RunStore
from resnet_viz.train import augment_batch
from test_cli import run_cli
from test_jobs import wait

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = make(deg.Spec, depths=(8, 14), seeds=(0, 1), width=4, steps=12, batch_size=16, eval_every=6, device="cpu")
LONG = make(deg.Spec, depths=(8,), variants=("plain",), width=4, steps=100_000, batch_size=16, eval_every=0,
            device="cpu")


def without_seconds(result: dict) -> dict:
    return {**result, "runs": [{k: v for k, v in r.items() if k != "seconds"} for r in result["runs"]]}


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray cluster of 2 CPUs for this module, started the way RESNET_VIZ_RAY=auto starts one."""
    ray = pytest.importorskip("ray")
    os.environ["RESNET_VIZ_RAY_CPUS"] = "2"
    from resnet_viz.backends import connect

    connect("auto")
    yield ray
    ray.shutdown()
    os.environ.pop("RESNET_VIZ_RAY_CPUS", None)


def stored_results(store: RunStore, spec) -> dict:
    return {u.spec.seeds + u.spec.depths + (u.spec.variants,): without_seconds(store.get(u.kind, u.spec).result)
            for u in sweep.units(deg.EXPERIMENT, spec)}


@pytest.mark.slow
def test_a_sweep_on_ray_stores_the_same_results_as_local_processes(ray_cluster, tmp_path, monkeypatch):
    local_store, ray_store = RunStore(tmp_path / "local"), RunStore(tmp_path / "ray")
    monkeypatch.delenv("RESNET_VIZ_RAY", raising=False)
    local = JobManager(local_store)
    assert local.mode == "process"
    job = wait(local.submit_sweep("degradation", TINY))
    assert job.state == "done", job.error
    monkeypatch.setenv("RESNET_VIZ_RAY", "auto")
    manager = JobManager(ray_store)
    assert manager.mode == "ray"
    ray_job = wait(manager.submit_sweep("degradation", TINY))
    assert ray_job.state == "done", ray_job.error
    assert ray_job.result["backend"] == "ray" and ray_job.result["ran"] == 8
    # the progress came back through the relay: every unit reported its steps, the fraction reached 1
    assert {r["run_index"] for r in ray_job.records} == set(range(8))
    assert ray_job.records[-1]["fraction"] == pytest.approx(1.0)
    assert sorted(p.name for p in ray_store.root.iterdir()) == sorted(p.name for p in local_store.root.iterdir())
    assert stored_results(ray_store, TINY) == stored_results(local_store, TINY)
    assert without_seconds(ray_job.result)["runs"] == without_seconds(job.result)["runs"]
    assert ray_job.result["summary"] == job.result["summary"]
    # a page job (one unit) on Ray: the whole spec in one task
    single = wait(manager.submit("degradation", make(deg.Spec, depths=(8,), width=4, steps=5, batch_size=16,
                                                     eval_every=0, device="cpu")))
    assert single.state == "done" and single.result["runs"][0]["final_train_error"] is not None


@pytest.mark.slow
def test_a_killed_ray_task_shows_as_interrupted_and_cancel_stops_one(ray_cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_VIZ_RAY", "auto")
    monkeypatch.setenv("RESNET_VIZ_MAX_STEPS", str(LONG.train.steps))  # the host's cap on CPU jobs
    store = RunStore(tmp_path / "runs")
    manager = JobManager(store)
    key = store.key("degradation", LONG)
    job = manager.submit("degradation", LONG)
    end = time.time() + 120
    while not job.records:
        assert time.time() < end and job.state in ("queued", "running"), job.error
        time.sleep(0.1)
    pid = store.status(key)["pid"]  # the Ray worker that trains it, on this machine
    os.kill(pid, signal.SIGKILL)
    wait(job, timeout=120)
    assert job.state == "interrupted"
    assert "lost" in job.error
    assert store.state(key)["status"] == "interrupted" and store.get("degradation", LONG) is None

    again = manager.submit("degradation", LONG)  # the button trains it again; then Cancel stops it
    while not again.records:
        assert again.state in ("queued", "running"), again.error
        time.sleep(0.1)
    manager.cancel(again.key)
    wait(again, timeout=60)
    assert again.state == "cancelled" and store.state(key) is None


class Counting:
    """A backend that counts the units it is given and runs them in this process."""

    name = "counting"

    def __init__(self):
        self.units = []

    def run(self, units, store_root, report, cancel):
        from resnet_viz.backends import UnitOutcome, run_unit

        self.units += units
        out = []
        for i, u in enumerate(units):
            done = run_unit(u.kind, u.spec, store_root, 1, lambda rec, i=i: report(i, rec), cancel, lower=False)
            out.append(UnitOutcome("done", done["result"], done["from_store"]))
        return out


def test_a_sweep_skips_stored_runs_and_summarizes_per_net(tmp_path):
    store = RunStore(tmp_path / "runs")
    first_spec = make(deg.Spec, depths=(8,), seeds=(0,), width=4, steps=4, batch_size=16, eval_every=0, device="cpu")
    backend = Counting()
    first = sweep.run(deg.EXPERIMENT, first_spec, store, backend)
    assert first["ran"] == 2 and first["skipped"] == 0 and len(backend.units) == 2
    wider = make(deg.Spec, depths=(8,), seeds=(0, 1, 2), width=4, steps=4, batch_size=16, eval_every=0, device="cpu")
    backend = Counting()
    result = sweep.run(deg.EXPERIMENT, wider, store, backend)
    assert result["skipped"] == 2 and result["ran"] == 4 and len(backend.units) == 4
    assert {u.spec.seeds for u in backend.units} == {(1,), (2,)}  # only the new seeds
    assert sweep.run(deg.EXPERIMENT, wider, store, Counting())["ran"] == 0
    assert sweep.stored(store, deg.EXPERIMENT, wider)["runs"] == result["runs"]
    plain = next(s for s in result["summary"] if s["variant"] == "plain")
    errors = sorted(r["final_train_error"] for r in result["runs"] if r["variant"] == "plain")
    assert plain["seeds"] == [0, 1, 2] and plain["median_final_train_error"] == errors[1]
    assert (plain["min_final_train_error"], plain["max_final_train_error"]) == (errors[0], errors[-1])
    assert [(r["seed"], r["variant"]) for r in result["runs"]] == [(s, v) for s in (0, 1, 2) for v in ("plain", "residual")]


def test_summary_of_known_errors():
    runs = [{"variant": "plain", "depth": 20, "seed": s, "final_train_error": e, "final_test_error": t}
            for s, e, t in ((0, 0.3, 0.4), (1, 0.1, 0.2), (2, 0.2, 0.3), (3, None, None))]
    (row,) = sweep.summarize(runs)
    assert row == {"variant": "plain", "depth": 20, "median_final_train_error": 0.2, "min_final_train_error": 0.1,
                   "max_final_train_error": 0.3, "median_final_test_error": 0.3, "seeds": [0, 1, 2, 3], "diverged": 1}


@pytest.mark.slow
def test_a_local_sweep_worker_that_dies_fails_its_unit_only(tmp_path):
    store = RunStore(tmp_path / "runs")
    units = [Unit("degradation", make(deg.Spec, depths=(8,), variants=("plain",), width=4, steps=4, batch_size=16,
                                      eval_every=0, device="cpu")), Unit("degradation", LONG)]
    cancel = threading.Event()
    seen = []

    def report(i, rec):
        seen.append(i)
        if i == 1 and rec["done"] == 3:
            os.kill(store.status(store.key("degradation", LONG))["pid"], signal.SIGKILL)

    first, second = LocalBackend(2, threads=1).run(units, str(store.root), report, cancel)
    assert first.state == "done" and second.state == "failed" and "stopped unexpectedly" not in second.error and "crashed (SIGKILL)" in second.error


def test_ray_addresses_are_checked():
    assert check_address("auto") == "auto" and check_address("ray://head:10001") == "ray://head:10001"
    assert check_address("10.0.0.5:6379") == "10.0.0.5:6379"
    for bad in ("", "ray://", "head", "head:port", "head:70000"):
        with pytest.raises(ValueError, match="auto .* ray://host:port"):
            check_address(bad)
    assert RayBackend("auto").resources(Unit("degradation", TINY), cluster_gpus=0) == {"num_cpus": 1, "num_gpus": 0}
    gpu = make(deg.Spec, depths=(8,), width=4)  # device auto: a GPU share where the cluster has GPUs
    assert RayBackend("auto", gpu_share=0.25).resources(Unit("degradation", gpu), 4) == {"num_cpus": 1, "num_gpus": 0.25}
    assert RayBackend("auto").resources(Unit("degradation", TINY), 4)["num_gpus"] == 0  # device cpu


def test_bad_ray_variable_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("RESNET_VIZ_RAY", "somewhere")
    with pytest.raises(ValueError, match="RESNET_VIZ_RAY must be auto"):
        JobManager(RunStore(tmp_path))


# --- the paper's augmentation ---------------------------------------------------------------------

def test_augmentation_keeps_labels_and_shapes():
    n = 64
    x = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 3, 32, 32) + 1  # image i is filled with i+1
    y = torch.arange(n)
    out = augment_batch(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == x.dtype
    # each image keeps its own pixels (and so its label): only i+1 and the zero padding appear in image i
    for i in range(n):
        values = set(out[i].unique().tolist())
        assert values <= {0.0, float(i + 1)} and float(i + 1) in values
    # every crop is a shift of at most 4 pixels: at least 28 of 32 columns and rows are the image
    assert ((out != 0).float().mean(dim=(1, 2, 3)) >= (28 / 32) ** 2 - 1e-6).all()
    assert torch.equal(y, torch.arange(n))  # labels untouched


def test_augmentation_is_a_crop_of_the_padded_image_and_flips_half():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(256, 3, 8, 8, generator=g)
    out = augment_batch(x, torch.Generator().manual_seed(2))
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    gen = torch.Generator().manual_seed(2)
    shifts = torch.randint(0, 9, (2, 256), generator=gen)
    flips = torch.rand(256, generator=gen) < 0.5
    for i in range(256):
        crop = padded[i, :, shifts[0, i]:shifts[0, i] + 8, shifts[1, i]:shifts[1, i] + 8]
        assert torch.equal(out[i], crop.flip(2) if flips[i] else crop)
    assert 0.35 < flips.float().mean() < 0.65
    again = augment_batch(x, torch.Generator().manual_seed(2))
    assert torch.equal(out, again)  # same seed, same batches


def test_training_with_augmentation_runs_and_recipes_build():
    from resnet_viz.protocol import build

    spec = make(deg.Spec, depths=(8,), variants=("residual",), width=4, steps=6, batch_size=16, eval_every=0,
                device="cpu", augment=True)
    result = deg.run(spec).result
    assert result["status"] == "completed" and result["runs"][0]["final_train_error"] is not None
    paper = build(deg.Spec, deg.RECIPES["paper"])
    assert (paper.data.name, paper.train.steps, paper.train.batch_size, paper.train.lr, paper.train.schedule,
            paper.train.augment, paper.net.width) == ("cifar10", 64_000, 128, 0.1, "step", True, 16)
    assert (paper.train.momentum, paper.train.weight_decay) == (0.9, 1e-4)
    from resnet_viz.train import lr_factor
    assert [lr_factor("step", s, 64_000) for s in (31_999, 32_000, 47_999, 48_000)] == pytest.approx([1, 0.1, 0.1, 0.01])
    short = build(deg.Spec, deg.RECIPES["paper_short"])
    assert short.train.steps == 8000 and short.train.schedule == "step" and short.train.augment


# --- TensorBoard ----------------------------------------------------------------------------------

def test_tensorboard_files_round_trip(tmp_path):
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    from resnet_viz.tboard import write

    spec = make(deg.Spec, depths=(8,), seeds=(0, 1), width=4, steps=8, batch_size=16, eval_every=4, lr=0.05,
                schedule="step", device="cpu")
    result = deg.run(spec).result
    folders = write(result, spec, tmp_path / "tb")
    assert sorted(f.name for f in folders) == ["ResNet-8_seed0", "ResNet-8_seed1", "plain-8_seed0", "plain-8_seed1"]
    for run in result["runs"]:
        name = ("plain-8" if run["variant"] == "plain" else "ResNet-8") + f"_seed{run['seed']}"
        acc = event_accumulator.EventAccumulator(str(tmp_path / "tb" / name))
        acc.Reload()
        tags = acc.Tags()["scalars"]
        assert {"loss/train", "error/train", "error/test", "lr", "final/train_error", "final/test_error"} <= set(tags)
        loss = acc.Scalars("loss/train")
        assert [e.step for e in loss] == [h["step"] for h in run["history"]]
        assert [e.value for e in loss] == pytest.approx([h["train_loss"] for h in run["history"]], rel=1e-6)
        assert [e.step for e in acc.Scalars("error/test")] == [4, 8]
        assert [e.value for e in acc.Scalars("lr")] == pytest.approx([0.05] * 4 + [0.005] * 2 + [0.0005] * 2)
        assert acc.Scalars("final/train_error")[0].value == pytest.approx(run["final_train_error"], rel=1e-6)


def test_tensorboard_gradient_probes_and_zip(tmp_path):
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    import io
    import zipfile

    from resnet_viz.experiments import gradients as gf
    from resnet_viz.tboard import zipped

    spec = make(gf.Spec, depths=(8,), variants=("residual",), width=4, steps=4, probe_every=2, device="cpu")
    result = gf.run(spec).result
    data = zipped(result, spec)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        assert names and all(n.startswith("runs/ResNet-8/events.out.tfevents") for n in names)
        zf.extractall(tmp_path)
    acc = event_accumulator.EventAccumulator(str(tmp_path / "runs" / "ResNet-8"))
    acc.Reload()
    layers = result["runs"][0]["checkpoints"]["layer_names"]
    first = acc.Scalars(f"gradient_norm/{layers[0]}")
    assert [e.step for e in first] == result["runs"][0]["checkpoints"]["steps"] == [0, 2, 4]
    assert first[0].value == pytest.approx(result["runs"][0]["checkpoints"]["grad_norms"][0][0], rel=1e-6)


# --- the CLI --------------------------------------------------------------------------------------

def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "resnet_viz", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": ROOT, **(env or {})}, timeout=600)


@pytest.mark.slow
def test_cli_sweep_contract_and_skip(tmp_path):
    out = tmp_path / "s.json"
    args = ("sweep", "degradation", "--depths", "8,14", "--seeds", "0-1", "--width", "4", "--steps", "6",
            "--batch-size", "16", "--eval-every", "0", "--device", "cpu", "--workers", "2")
    done = cli(*args, "--out", str(out), "--tensorboard", str(tmp_path / "tb"))
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text())
    assert len(data["runs"]) == 8 and data["ran"] == 8 and data["skipped"] == 0
    assert {k for k in data["runs"][0]} >= {"variant", "depth", "seed", "final_train_error", "final_test_error", "history"}
    assert [(s["variant"], s["depth"]) for s in data["summary"]] == [("plain", 8), ("residual", 8), ("plain", 14),
                                                                     ("residual", 14)]
    for s in data["summary"]:
        assert set(s) >= {"variant", "depth", "median_final_train_error", "min_final_train_error",
                          "max_final_train_error", "median_final_test_error", "seeds"}
        assert s["seeds"] == [0, 1]
        assert s["min_final_train_error"] <= s["median_final_train_error"] <= s["max_final_train_error"]
    assert "median train err" in done.stdout and len(list((tmp_path / "tb").iterdir())) == 8
    again = cli(*args, "--seeds", "0-2")  # one more seed: only its four runs train
    assert again.returncode == 0, again.stderr
    assert "12 runs, 8 already stored, 4 to run" in again.stderr


@pytest.mark.parametrize("args, message", [
    (("--seeds", "4-0"), "a range must go up"),
    (("--seeds", "0-x"), "a-b for a range"),
    (("--seeds", "0-7"), "seeds must be 1 to 5"),
    (("--ray", "nowhere"), "--ray must be auto"),
    (("--workers", "0"), "workers must be a whole number from 1 to 256"),
    (("--tensorboard", "/proc/tb"), "--tensorboard /proc/tb cannot be written"),
    (("--dataset", "cifar10"), "Dataset 'cifar10' is not available offline"),
    (("--recipe", "fast"), "invalid choice: 'fast'"),
])
def test_cli_sweep_bad_input(args, message, tmp_path, monkeypatch, capsys):
    # in this process (the CLI's main, as `python -m resnet_viz` calls it): an uncaught error would fail the test
    monkeypatch.setenv("RESNET_VIZ_DATA", str(tmp_path))
    code, _, err = run_cli(capsys, "sweep", "degradation", "--depths", "8", "--steps", "2", *args)
    assert code == 2 and message in err, err


def test_cli_sweep_of_an_experiment_that_cannot_be_swept(capsys):
    code, _, err = run_cli(capsys, "sweep", "lesion")
    assert code == 2 and "invalid choice: 'lesion'" in err
