import json
import subprocess
import sys

import pytest

from resnet_viz.cli import main
from resnet_viz.train import resolve_device


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_lists_the_subcommands():
    out = subprocess.run([sys.executable, "-m", "resnet_viz", "--help"], capture_output=True, text=True, check=True)
    assert "params" in out.stdout and "train" in out.stdout


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
    (["train", "--steps", "0"], "steps must be a whole number >= 1"),
    (["train", "--dataset", "mnist", "--data-dir", "/nonexistent/x"], "put train-images-idx3-ubyte"),
    (["gradients", "--dataset", "mnist", "--data-dir", "/nonexistent/y"], "/nonexistent/y"),
    (["attribute", "--dataset", "mnist", "--data-dir", "/nonexistent/z"], "/nonexistent/z"),
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
