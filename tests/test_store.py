import json
import pickle
import threading

import pytest
import torch

from resnet_viz.experiments import training
from resnet_viz.protocol import Context, run_cached
from resnet_viz.config import DataConfig, NetConfig, TrainConfig
from resnet_viz.experiments.training import Spec
from resnet_viz.store import RunStore, spec_key


def test_default_root_is_under_resnet_viz_home(lab_home):
    assert RunStore().root == lab_home / "runs"


def test_save_and_get_round_trip_with_safetensors_weights(tmp_path):
    store = RunStore(tmp_path)
    weights = {"w": torch.arange(6.0).view(2, 3), "n": torch.tensor(7)}
    key = store.save("train", {"a": 1}, {"status": "completed", "x": [1, 2]}, {"model": weights})
    run = store.get("train", {"a": 1})
    assert run.key == key and run.result == {"status": "completed", "x": [1, 2]} and run.spec == {"a": 1}
    loaded = store.load_weights(key)
    assert torch.equal(loaded["w"], weights["w"]) and loaded["n"].item() == 7
    assert (tmp_path / key / "model.safetensors").exists()
    assert not list(tmp_path.glob(f"{key}/*.tmp")), "no temporary files left behind"
    assert store.get("train", {"a": 2}) is None


def test_key_depends_on_kind_and_every_field():
    assert spec_key("train", NetConfig()) == spec_key("train", NetConfig(width=16))
    assert spec_key("train", NetConfig()) != spec_key("train", NetConfig(depth=32))
    assert spec_key("train", NetConfig()) != spec_key("degradation", NetConfig())


def test_corrupt_and_half_written_runs_are_reported_and_skipped(tmp_path):
    store = RunStore(tmp_path)
    good = store.save("train", {"a": 1}, {"ok": True})
    corrupt = store.save("train", {"a": 2}, {"ok": True})
    (tmp_path / corrupt / "result.json").write_text('{"ok": tr')  # torn write
    half = store.begin("train", {"a": 3})  # crashed while running: no result
    (tmp_path / "not-a-run").mkdir()
    runs = store.runs()
    assert [r.key for r in runs] == [good]
    assert store.get("train", {"a": 2}) is None and store.get("train", {"a": 3}) is None
    assert len(store.problems) == 1 and corrupt in store.problems[0] and "skipped" in store.problems[0]
    assert store.status(half)["status"] == "running"


def test_keys_never_become_arbitrary_paths(tmp_path):
    store = RunStore(tmp_path)
    with pytest.raises(ValueError, match="not a run key"):
        store.load_weights("../../etc/passwd")
    key = store.save("train", {"a": 1}, {}, {})
    with pytest.raises(ValueError, match="weight name must match"):
        store.load_weights(key, "../model")


def test_weights_are_never_unpickled(tmp_path):
    store = RunStore(tmp_path)
    key = store.save("train", {"a": 1}, {})

    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('pickle ran')",))

    (tmp_path / key / "model.safetensors").write_bytes(pickle.dumps(Boom()))
    with pytest.raises(BaseException) as err:  # BaseException: a SystemExit from the payload would show here
        store.load_weights(key)
    assert not isinstance(err.value, SystemExit), "the pickle payload ran"
    assert "pickle ran" not in str(err.value) and type(err.value).__module__.startswith(("safetensors", "builtins"))


SPEC = Spec(net=NetConfig(depth=8, width=4), data=DataConfig("digits", image_size=8, train_limit=256),
            train=TrainConfig(steps=5, batch_size=32, eval_every=0))


def test_run_cached_trains_once_then_answers_from_the_store(tmp_path):
    store = RunStore(tmp_path)
    seen = []
    first = run_cached(training.EXPERIMENT, SPEC, Context(progress=seen.append, store=store))
    assert not first.from_store and len(seen) == 5 and seen[-1]["done"] == seen[-1]["total"] == 5
    second = run_cached(training.EXPERIMENT, SPEC, Context(progress=seen.append, store=RunStore(tmp_path)))
    assert second.from_store and len(seen) == 5
    assert second.result["final_test_error"] == first.result["final_test_error"]
    state = store.load_weights(second.key)
    assert state["stem.0.weight"].shape == (4, 1, 3, 3)


def test_a_cancelled_run_is_not_stored_and_a_failure_is_recorded(tmp_path, monkeypatch):
    store = RunStore(tmp_path)
    cancel = threading.Event()
    cancel.set()
    out = run_cached(training.EXPERIMENT, SPEC, Context(cancel=cancel, store=store))
    assert out.result["status"] == "cancelled" and store.runs() == []

    def boom(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(training, "fit", boom)
    with pytest.raises(RuntimeError):
        run_cached(training.EXPERIMENT, SPEC, Context(store=store))
    status = store.status(store.key("train", SPEC))
    assert status["status"] == "failed" and "out of memory" in status["error"]
    assert json.loads((tmp_path / store.key("train", SPEC) / "spec.json").read_text())["kind"] == "train"


def test_a_context_device_runs_the_spec_there_and_stores_it_apart(tmp_path):
    store = RunStore(tmp_path)
    out = run_cached(training.EXPERIMENT, SPEC, Context(store=store, device="cpu"))
    assert out.result["device"] == "cpu"
    cpu_spec = Spec(net=SPEC.net, data=SPEC.data, train=TrainConfig(**{**SPEC.train.__dict__, "device": "cpu"}))
    assert out.key == store.key("train", cpu_spec) != store.key("train", SPEC)
