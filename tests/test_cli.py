import json
import subprocess
import sys

import pytest

from resnet_viz.cli import main
from resnet_viz.experiments import EXPERIMENTS
from resnet_viz.train import resolve_device


def run_cli(capsys, *argv):
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's own checks (a word where a number belongs)
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_help_lists_the_subcommands():
    out = subprocess.run([sys.executable, "-m", "resnet_viz", "--help"], capture_output=True, text=True, check=True)
    assert "params" in out.stdout and "train" in out.stdout


@pytest.mark.slow
def test_params_imagenet_50_json_via_python_m():
    out = subprocess.run([sys.executable, "-m", "resnet_viz", "params", "--family", "imagenet", "--depth", "50",
                          "--json"], capture_output=True, text=True, check=True)
    data = json.loads(out.stdout)
    assert data["params"] == 25_557_032 and data["macs"] == 4_089_184_256 and data["image_size"] == 224


@pytest.mark.parametrize("argv,params", [
    (["--depth", "20"], 269_722), (["--depth", "56", "--plain"], 853_018), (["--depth", "110"], 1_727_962),
    (["--depth", "20", "--shortcut", "B"], 272_474),
    (["--family", "imagenet", "--depth", "18"], 11_689_512),
])
def test_params_json(capsys, argv, params):
    code, out, _ = run_cli(capsys, "params", *argv, "--json")
    assert code == 0 and json.loads(out)["params"] == params


def test_params_stages_and_human_summary(capsys):
    code, out, _ = run_cli(capsys, "params", "--depth", "20", "--json", "--stages")
    data = json.loads(out)
    assert data["macs"] == 40_551_040 and [s["stage"] for s in data["stages"]][1] == "stage1"
    code, out, _ = run_cli(capsys, "params", "--depth", "20")
    assert "ResNet-20" in out and "269,722 parameters" in out and "40.55 M multiply-adds" in out


@pytest.mark.parametrize("argv,message", [
    (["params", "--depth", "57"], "CIFAR depth must be 6n+2 for basic blocks: 8, 14, 20"),
    (["params", "--width", "-3"], "width must be a whole number from 1 to 1024"),
    (["train", "--lr", "nan"], "learning rate must be a finite number > 0"),
    (["train", "--steps", "0"], "steps must be a whole number from 1 to 1,000,000; got 0"),
    (["train", "--depth", "60002"], "depth must be a whole number from 1 to 1202; got 60002"),
    (["train", "--width", "0"], "width must be a whole number from 1 to 1024; got 0"),
    (["train", "--image-size", "5000"], "image_size must be a whole number from 0 to 256"),
    pytest.param(["train", "--depth", "1202", "--width", "1024", "--batch-size", "4096"], "GB of memory",
                 marks=pytest.mark.slow),
    (["degradation", "--seeds", "0,1,2,3,4,5"], "seeds must be 1 to 5 different values"),
    (["lesion", "--samples", "0"], "samples must be a whole number from 1 to 100; got 0"),
    (["attribute", "--n-images", "0"], "n_images must be a whole number from 1 to 1000; got 0"),
    (["params", "--depth", "6002"], "depth must be a whole number from 1 to 1202"),
    (["params", "--classes", "0"], "num_classes must be a whole number from 2 to 100,000; got 0"),
    (["params", "--image-size", "0"], "image-size must be a whole number from 8 to 1024; got 0"),
    (["train", "--steps", "3", "--out", "/nonexistent-folder/run.json"], "the folder /nonexistent-folder does not exist"),
    (["train", "--steps", "3", "--out", "/"], "is a folder"),
    (["train", "--steps", "3", "--out", "/proc/resnet-viz-run.json"], "cannot be written here"),
    (["train", "--dataset", "mnist", "--data-dir", "/nonexistent/x"], "put train-images-idx3-ubyte"),
    (["gradients", "--dataset", "mnist", "--data-dir", "/nonexistent/y"], "/nonexistent/y"),
    (["attribute", "--dataset", "mnist", "--data-dir", "/nonexistent/z"], "/nonexistent/z"),
    (["shortcuts", "--variants", "identity,highway"], "variants must be one of identity, scaling"),
    (["shortcuts", "--gate-bias", "99"], "gate bias must be a finite number from -30 to 30; got 99"),
    (["shortcuts", "--gate-bias", "zero"], "expected numbers separated by commas"),
    (["shortcuts", "--scale", "0"], "scale must be a finite number > 0 and <= 1"),
    (["shortcuts", "--dropout", "1"], "shortcut dropout must be below 1"),
    (["shortcuts", "--depth", "57"], "6n+2"),
    (["train", "--plain", "--stochastic-depth", "0.5"], "stochastic depth needs shortcuts"),
    (["train", "--stochastic-depth", "1.5"], "stochastic depth p_L must be a finite number > 0 and <= 1"),
    (["landscape", "--grid", "20"], "grid must be odd"),
    (["landscape", "--grid", "101"], "grid must be a whole number from 5 to 51; got 101"),
    (["landscape", "--variants", "plain,highway"], "variants must be one of plain, residual"),
    (["landscape", "--span", "0"], "span must be"),
    (["landscape", "--images", "5"], "images must be a whole number from 16 to 4096"),
    (["paths", "--samples", "0"], "samples must be a whole number from 1 to 1000"),
    (["paths", "--samples", "many"], "argument --samples: invalid int value: 'many'"),
    (["paths", "--depth", "21"], "6n+2"),
])
def test_bad_input_is_a_message_and_exit_2_not_a_traceback(capsys, argv, message):
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and message in err and "Traceback" not in err


def test_unknown_choice_is_rejected_by_argparse(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--dataset", "imagenet"])
    assert exc.value.code == 2
    assert "invalid choice: 'imagenet'" in capsys.readouterr().err


def test_train_writes_json_and_reuses_the_store(capsys, tmp_path):
    out_file = tmp_path / "run.json"
    argv = ["train", "--depth", "8", "--width", "4", "--steps", "6", "--batch-size", "32", "--image-size", "8",
            "--train-limit", "300", "--eval-every", "3", "--out", str(out_file)]
    code, out, err = run_cli(capsys, *argv)
    assert code == 0 and f"ResNet-8 on digits, 6 steps, trained on {resolve_device('auto').type}" in out
    data = json.loads(out_file.read_text())
    assert data["status"] == "completed" and data["from_store"] is False
    assert [h["step"] for h in data["history"]] == [1, 2, 3, 4, 5, 6]
    assert [h["step"] for h in data["history"] if "test_error" in h] == [3, 6]
    assert 0 <= data["final_train_error"] <= 1 and 0 <= data["final_test_error"] <= 1
    assert "step 6/6" in err  # progress went to stderr
    code, out, _ = run_cli(capsys, *argv)
    assert "from the run store" in out and json.loads(out_file.read_text())["from_store"] is True


def test_the_catalog_lists_exactly_each_subcommands_options(capsys):
    """``experiments --json`` and the generated subcommands come from the same declarations."""
    from resnet_viz.cli import build_parser
    from resnet_viz.experiments import EXPERIMENTS

    code, out, _ = run_cli(capsys, "experiments", "--json")
    catalog = json.loads(out)["experiments"]
    assert code == 0 and [e["name"] for e in catalog] == list(EXPERIMENTS) and len(catalog) >= 8
    subparsers = next(a for a in build_parser()._actions if a.dest == "command").choices
    general = {"-h", "--help", "--out", "--rerun", "--data-dir", "--download", "--tensorboard", "--recipe"}
    for entry in catalog:
        assert entry["help"] and all(set(f) >= {"name", "type", "default", "choices", "help"} for f in entry["fields"])
        assert all(f["help"] for f in entry["fields"])
        options = {o for a in subparsers[entry["name"]]._actions for o in a.option_strings} - general
        aliases = {o for a in subparsers[entry["name"]]._actions for o in a.option_strings[1:]}
        assert options - aliases == {f["option"] for f in entry["fields"]}, entry["name"]
    deg = next(e for e in catalog if e["name"] == "degradation")
    fields = {f["name"]: f for f in deg["fields"]}
    assert fields["depths"]["default"] == [20, 56] and fields["depths"]["type"] == "list[int]"
    assert fields["width"]["default"] == 8 and fields["width"]["max"] == 1024
    assert fields["dataset"]["choices"][0] == "digits" and fields["variants"]["choices"] == ["plain", "residual"]
    assert {f["option"] for f in next(e for e in catalog if e["name"] == "train")["fields"]} >= {
        "--plain", "--no-batchnorm", "--depth", "--steps", "--lr", "--seed", "--image-size", "--train-limit"}


def test_attribute_is_an_alias_of_the_attribution_experiment(capsys, tmp_path):
    argv = ["--depth", "8", "--width", "4", "--steps", "20", "--n-images", "1", "--method", "saliency"]
    assert main(["attribution", *argv, "--out", str(tmp_path / "a.json")]) == 0
    assert main(["attribute", *argv, "--out", str(tmp_path / "b.json")]) == 0
    a, b = (json.loads((tmp_path / f).read_text()) for f in ("a.json", "b.json"))
    assert a["key"] == b["key"] and b["from_store"] is True


def test_an_unwritable_store_is_a_message_before_training(capsys, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("RESNET_VIZ_HOME", str(blocker / "home"))
    code, out, err = run_cli(capsys, "train", "--depth", "8", "--steps", "3")
    assert code == 2 and "cannot be written" in err and "Traceback" not in err and "step" not in err


@pytest.mark.slow
def test_a_closed_pipe_ends_quietly():
    proc = subprocess.run(f"{sys.executable} -m resnet_viz params --diagram --depth 110 | head -1", shell=True,
                          capture_output=True, text=True)
    assert proc.stdout.startswith("digraph") and "BrokenPipeError" not in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("name", ["params", "sweep", "experiments"] + list(EXPERIMENTS))
def test_every_subcommand_prints_its_help(name, capsys):
    """argparse formats help texts with %: a literal "50%" in a declaration once broke train --help."""
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_python_m_resnet_viz_is_the_cli(monkeypatch, capsys):
    import runpy

    monkeypatch.setattr(sys, "argv", ["resnet_viz", "experiments"])
    with pytest.raises(SystemExit) as exc:
        runpy.run_module("resnet_viz", run_name="__main__")
    assert exc.value.code == 0 and "degradation:" in capsys.readouterr().out
