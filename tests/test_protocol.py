"""The experiment record and everything derived from it, for every registered experiment: CLI
subcommands, the catalog, preset commands, run limits, help texts, stored units; and a tiny experiment
registered at run time (CONTRIBUTING.md's promise: a lesson needs no other file touched)."""

import json
import shlex
from dataclasses import dataclass

import pytest

from resnet_viz import experiments, protocol
from resnet_viz.cli import _spec, build_parser, main
from resnet_viz.config import DataConfig, NetConfig, TrainConfig, nested, setting, validate
from resnet_viz.experiments import degradation as deg
from resnet_viz.experiments import shortcuts as sc
from resnet_viz.protocol import Context, Experiment, Outcome, options
from resnet_viz.store import RunStore

RECORDS = list(experiments.EXPERIMENTS.values())


def _subcommands() -> dict:
    return next(a for a in build_parser()._actions if a.dest == "command").choices


@pytest.mark.parametrize("experiment", RECORDS, ids=lambda e: e.name)
def test_every_experiment_is_one_record_with_its_subcommand_and_catalog_entry(experiment):
    assert isinstance(experiment, Experiment) and experiments.get(experiment.name) is experiment
    commands = _subcommands()
    for name in (experiment.name, *experiment.aliases):
        flags = {o for a in commands[name]._actions for o in a.option_strings}
        assert {o.flag if not o.meta.get("flag") else o.meta["flag"] for o in options(experiment.Spec)} <= flags
    entry = protocol.catalog_entry(experiment)
    assert [f["name"] for f in entry["fields"]] == [o.name for o in options(experiment.Spec)]
    assert experiment.cost(experiment.Spec()) is None or experiment.cost(experiment.Spec()) >= 0
    assert experiment.run is not None and experiment.training_runs(experiment.Spec()) is not None


@pytest.mark.parametrize("preset", [(e, p) for e in RECORDS for p in e.presets], ids=lambda ep: ep[1].file)
def test_every_shown_preset_command_parses_back_to_the_shipped_preset(preset):
    """The command a page shows under a precomputed result is derived from the preset's spec: parsed by
    the CLI it gives that spec again, and the shipped asset was made with it."""
    experiment, shipped = preset
    command = protocol.preset_command(experiment, shipped)
    words = shlex.split(command)
    assert words[:4] == ["python", "-m", "resnet_viz", experiment.name]
    args = build_parser().parse_args(words[3:])
    assert _spec(experiment, args) == shipped.spec and args.out == f"assets/{shipped.file}"
    assert protocol.preset_result(shipped) is not None, f"{shipped.file} was not made with {command}"


def test_help_is_written_once_for_people_without_cli_flags():
    for experiment in RECORDS:
        for o in options(experiment.Spec):
            assert o.meta["help"] and "--" not in o.meta["help"], (experiment.name, o.name)


def test_run_limits_are_declared_with_the_settings_and_reach_cli_catalog_and_widgets(capsys):
    fields = {f["name"]: f for f in protocol.catalog_entry(deg.EXPERIMENT)["fields"]}
    assert fields["depths"]["max_items"] == 6 and fields["seeds"]["max_items"] == 5
    with pytest.raises(ValueError, match="seeds must be 1 to 5 different values"):
        protocol.make(deg.Spec, seeds=(0, 1, 2, 3, 4, 5))
    with pytest.raises(ValueError, match="depths must be 1 to 6 different values"):
        protocol.make(deg.Spec, depths=(8, 8))
    assert main(["degradation", "--seeds", "0-5"]) == 2
    assert "seeds must be 1 to 5 different values" in capsys.readouterr().err


def test_the_lesson_nets_defaults_are_one_constant():
    """The ensembles, attributions and landscape lessons study the same two trained nets."""
    from resnet_viz.experiments import attribution, landscape, lesion, paths

    pair = lesion.training_runs(lesion.Spec())
    assert landscape.training_runs(landscape.Spec()) == pair
    assert paths.training_runs(paths.Spec()) == pair[1:]
    assert attribution.training_runs(attribution.Spec()) == pair[1:]  # the residual net (was depth 20 once)


@pytest.mark.parametrize("experiment", [e for e in RECORDS if e.answer is not None], ids=lambda e: e.name)
def test_every_quiz_answer_is_read_from_a_result(experiment):
    for shipped in experiment.presets:
        assert experiment.answer(protocol.preset_result(shipped)) in (0, 1, 2, 3)


def test_the_answers_follow_the_numbers():
    runs = [{"variant": "plain", "depth": d, "final_train_error": e} for d, e in ((20, 0.01), (56, 0.4))]
    assert deg.answer({"runs": runs}) == 0
    runs[1]["final_train_error"] = 0.001
    assert deg.answer({"runs": runs}) == 1
    assert deg.answer({"runs": runs[:1]}) is None
    rows = [{"variant": v, "gate_bias": None, "final_train_error": e} for v, e in
            (("identity", 0.2), ("scaling", 0.1), ("dropout", 0.5))]
    assert sc.answer({"runs": rows}) == 1
    rows += [{"variant": "shortcut_gating", "gate_bias": -6.0, "final_train_error": 0.0}]
    assert sc.answer({"runs": rows}) == 2  # the shortcut gate that starts open trained best
    rows[0]["final_train_error"] = 0.011
    assert sc.answer({"runs": rows}) == 0  # within a batch or two of it: a tie, and the identity is the simpler


# --- stored one by one: a grown spec trains only the new runs -----------------------------------------

TINY = dict(width=4, steps=4, batch_size=16, eval_every=0, device="cpu")


def test_adding_a_depth_trains_only_the_new_nets(tmp_path):
    from resnet_viz import cost

    cost.save_throughput({4: 1e9, 8: 2e9, 16: 4e9, 32: 8e9})  # estimates need a measured speed (any will do)
    store = RunStore(tmp_path)
    first = protocol.run_cached(deg.EXPERIMENT, protocol.make(deg.Spec, depths=(8,), **TINY), Context(store=store))
    records = []
    grown = protocol.make(deg.Spec, depths=(8, 14), **TINY)
    assert protocol.estimate(deg.EXPERIMENT, grown, store) < deg.EXPERIMENT.cost(grown)  # only what will train
    assert [u.depths for u in protocol.missing_units(deg.EXPERIMENT, grown, store)] == [(14,), (14,)]
    out = protocol.run_cached(deg.EXPERIMENT, grown, Context(store=store, progress=records.append))
    assert {r["depth"] for r in records if "depth" in r} == {14}  # the depth-8 nets were not trained again
    assert [(r["variant"], r["depth"]) for r in out.result["runs"]] == [("plain", 8), ("residual", 8),
                                                                       ("plain", 14), ("residual", 14)]
    assert out.result["runs"][:2] == first.result["runs"]
    again = protocol.run_cached(deg.EXPERIMENT, grown, Context(store=RunStore(tmp_path)))
    assert again.from_store and again.result == out.result


def test_changing_the_gate_biases_keeps_the_identity_run():
    a = protocol.make(sc.Spec, variants=("identity", "gating"), gate_bias=(0.0,), scale=0.3)
    b = protocol.make(sc.Spec, variants=("identity", "gating"), gate_bias=(-6.0,), scale=0.7)
    assert sc.split(a)[0] == sc.split(b)[0]  # the identity's unit ignores settings it does not use
    assert sc.split(a)[1] != sc.split(b)[1]


# --- a lesson added at run time: the record is all it takes -----------------------------------------------

@dataclass(frozen=True)
class TinySpec:
    """A made-up experiment: one own setting and the net's width."""

    flips: int = setting(3, "how many times to flip a coin", low=1, high=9)
    net: NetConfig = nested(lambda: NetConfig(depth=8, width=4), expose=("width",))
    data: DataConfig = nested(DataConfig, expose=("name",))
    train: TrainConfig = nested(TrainConfig, expose=("seed",))

    def __post_init__(self) -> None:
        validate(self)


def _tiny_run(spec: TinySpec, ctx: Context | None = None) -> Outcome:
    return Outcome({"status": "completed", "value": spec.flips * spec.net.width})


TINY_EXPERIMENT = Experiment(name="tiny", help="a made-up experiment registered by a test", Spec=TinySpec,
                             run=_tiny_run, cost=lambda spec: 0.0, training_runs=lambda spec: [],
                             summary=lambda spec, outcome: f"value {outcome.result['value']}")


@pytest.fixture
def tiny():
    experiments.register(TINY_EXPERIMENT)
    yield TINY_EXPERIMENT
    experiments.unregister("tiny")


def test_a_lesson_registered_at_run_time_gets_its_cli_catalog_and_widgets(tiny, tmp_path, capsys):
    out = tmp_path / "tiny.json"
    assert main(["tiny", "--flips", "5", "--width", "2", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["value"] == 10 and "value 10" in capsys.readouterr().out
    assert main(["tiny", "--flips", "0"]) == 2
    assert "flips must be a whole number from 1 to 9; got 0" in capsys.readouterr().err
    main(["experiments", "--json"])
    entry = next(e for e in json.loads(capsys.readouterr().out)["experiments"] if e["name"] == "tiny")
    assert [f["name"] for f in entry["fields"]] == ["flips", "width", "dataset", "seed"]

    from resnet_viz.ui.catalog import extract

    assert "how many times to flip a coin" in extract()  # its words reach the catalog

    from streamlit.testing.v1 import AppTest

    def page():
        from resnet_viz.ui.widgets import setting
        from test_protocol import TinySpec

        setting(TinySpec, "flips")

    at = AppTest.from_function(page, default_timeout=60).run()
    assert not at.exception
    widget = at.number_input[0]
    assert (widget.label, widget.value, widget.help) == ("Flips", 3, "how many times to flip a coin")


def test_a_record_that_does_not_fit_is_refused():
    with pytest.raises(TypeError, match="frozen dataclass"):
        Experiment(name="x", help="x", Spec=dict, run=_tiny_run, cost=lambda s: 0.0, training_runs=lambda s: [],
                   summary=lambda s, o: "")
    with pytest.raises(TypeError, match="split and merge"):
        Experiment(name="x", help="x", Spec=TinySpec, run=_tiny_run, cost=lambda s: 0.0,
                   training_runs=lambda s: [], summary=lambda s, o: "", split=lambda s: [s])
    with pytest.raises(ValueError, match="registered already"):
        experiments.register(Experiment(name="degradation", help="x", Spec=TinySpec, run=_tiny_run,
                                        cost=lambda s: 0.0, training_runs=lambda s: [], summary=lambda s, o: ""))


@pytest.mark.parametrize("experiment", [e for e in RECORDS if e.effects is not None], ids=lambda e: e.name)
def test_every_effect_is_judged_on_a_result_with_its_numbers(experiment):
    """The shipped lessons show their effects (the depth-20 landscape is the exception the page
    teaches: at 20 layers the two surfaces are close)."""
    from resnet_viz.experiments.landscape import EXPERIMENT as landscape

    for shipped in experiment.presets:
        found = experiment.effects(protocol.preset_result(shipped))
        assert found and all(isinstance(e.holds, bool) and e.numbers and e.rule for e in found)
        assert all(e.holds for e in found) or (experiment is landscape and shipped.spec.net.depth == 20)


def test_an_effect_that_does_not_show_is_said_so():
    runs = [{"variant": v, "depth": d, "seed": 0, "final_train_error": e}
            for (v, d), e in {("plain", 20): 0.01, ("plain", 56): 0.04, ("residual", 56): 0.0}.items()]
    (effect,) = deg.effects({"runs": runs})
    assert not effect.holds and effect.numbers == {"plain-20": 0.01, "plain-56": 0.04, "ResNet-56": 0.0}
    runs[1]["final_train_error"] = 0.3
    assert deg.effects({"runs": runs})[0].holds


@pytest.mark.parametrize("experiment", [e for e in RECORDS if e.training_runs(e.Spec())], ids=lambda e: e.name)
def test_every_experiment_that_trains_takes_a_precision_that_is_part_of_its_runs_keys(experiment, tmp_path):
    """--precision {auto,fp32,bf16} everywhere a net is trained: declared once, and an fp32 run is never
    answered with a bf16 one from the store."""
    names = {o.name: o for o in options(experiment.Spec)}
    assert "precision" in names and set(names["precision"].describe()["choices"]) == {"auto", "fp32", "bf16"}
    store = RunStore(tmp_path)
    keys = {p: [store.key("train", run) for run in experiment.training_runs(protocol.build(experiment.Spec,
                                                                                           {"precision": p}))]
            for p in ("fp32", "bf16")}
    assert keys["fp32"] and not set(keys["fp32"]) & set(keys["bf16"])
    args = build_parser().parse_args([experiment.name, "--precision", "bf16"])
    assert all(run.train.precision == "bf16" for run in experiment.training_runs(_spec(experiment, args)))
