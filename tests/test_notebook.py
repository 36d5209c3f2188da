"""The lesson as a notebook: every experiment exports one that nbformat validates, in the reader's language, with
each net's generated code; one runs end to end in a real Jupyter kernel (nbclient, ipykernel) and reproduces the
lab's run of the same spec; the CLI writes it and refuses bad input in one line."""

import json
import shutil

import nbformat
import pytest

from resnet_viz import experiments
from resnet_viz.cli import main
from resnet_viz.codegen import render
from resnet_viz.i18n import translate
from resnet_viz.notebook import NotebookError, build, dumps, lab_link
from resnet_viz.protocol import make

nbclient = pytest.importorskip("nbclient")


def zh(message: str) -> str:
    return translate(message, "zh")


def _execute(notebook, folder, timeout=600):
    client = nbclient.NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                     resources={"metadata": {"path": str(folder)}})
    client.execute()
    return notebook


def _outputs(notebook) -> str:
    return "\n".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)


@pytest.mark.parametrize("name", list(experiments.EXPERIMENTS))
def test_every_experiment_exports_a_valid_notebook_with_its_nets_code(name):
    experiment = experiments.get(name)
    spec = experiment.Spec()
    notebook = build(experiment, spec, zh, "zh", ("标题", "讲解"))
    nbformat.validate(notebook)
    text = dumps(notebook)
    assert json.loads(text)["metadata"]["resnet_viz"] == {"experiment": name, "lang": "zh"}
    sources = [c.source for c in notebook.cells]
    assert sources[0].startswith("# 标题") and "讲解" in sources[0]
    assert any("与实验室的不同之处" in s for s in sources)  # the note on what differs, in the reader's language
    assert any("localhost:8501/" in s and "lang=zh" in s for s in sources)  # the link back
    written = [s for s in sources if s.startswith("%%writefile")]
    assert written and all("def make_net(seed=None)" in s for s in written)
    table = next(s for s in sources if "RUNS = {" in s)  # one line per training run, with its recipe and seed
    assert sum('"train": ' in line for line in table.splitlines()) == len(experiment.training_runs(spec))


def test_the_notebook_carries_exactly_the_generated_code_of_each_net():
    experiment = experiments.get("shortcuts")
    spec = experiment.Spec()
    notebook = build(experiment, spec)
    written = {c.source.split("\n", 1)[0]: c.source.split("\n", 1)[1] for c in notebook.cells
               if c.source.startswith("%%writefile")}
    from dataclasses import replace

    from resnet_viz.data import shape_of

    nets = {replace(r.net, in_channels=shape_of(r.data)[0], num_classes=shape_of(r.data)[2])
            for r in experiment.training_runs(spec)}
    assert sorted(written.values()) == sorted(render(n) for n in nets)


def test_a_dataset_only_the_lab_has_is_refused_with_what_is_allowed(capsys):
    experiment = experiments.get("degradation")
    with pytest.raises(NotebookError, match="digits, mnist, fashion_mnist, cifar10"):
        build(experiment, make(experiment.Spec, dataset="synthetic"))
    assert main(["notebook", "degradation", "--dataset", "synthetic", "--out", "x.ipynb"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "synthetic" in err
    assert main(["notebook", "degradation", "--depths", "21", "--out", "x.ipynb"]) == 2
    assert "6n+2" in capsys.readouterr().err
    assert main(["notebook", "degradation", "--out", "/no/such/folder/x.ipynb"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_the_link_back_carries_the_settings_that_differ():
    experiment = experiments.get("degradation")
    link = lab_link(experiment, make(experiment.Spec, depths=(20, 32), width=4), "http://lab:8501/", "zh")
    assert link.startswith("http://lab:8501/Degradation?") and "depths=20,32" in link and "width=4" in link
    assert "lang=zh" in link and "steps" not in link


def test_an_exported_notebook_runs_in_jupyter_and_reproduces_the_labs_run(tmp_path, monkeypatch):
    """A real kernel runs every cell; the first steps' losses are the lab's to rounding and the final errors agree
    within the drift of rounding (one thread vs two, plain fp32 both)."""
    monkeypatch.setenv("RESNET_VIZ_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RESNET_VIZ_PRECISION", "fp32")
    out = tmp_path / "lesson.ipynb"
    settings = ["--depths", "8", "--width", "4", "--steps", "30", "--lr", "0.03"]
    assert main(["notebook", "degradation", *settings, "--lang", "zh", "--out", str(out)]) == 0
    notebook = _execute(nbformat.read(out, as_version=4), tmp_path)
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    assert all(c.execution_count for c in notebook.cells if c.cell_type == "code")
    printed = _outputs(notebook)
    assert "训练 1347 张图像，测试 450 张" in printed and "plain-8 seed 0：训练误差" in printed
    assert any("application/vnd.plotly.v1+json" in o.get("data", {}) for o in notebook.cells[-1].outputs)
    ran = json.loads((tmp_path / "results.json").read_text())

    experiment = experiments.get("degradation")
    spec = make(experiment.Spec, depths=(8,), width=4, steps=30, lr=0.03)
    lab = experiment.run(spec).result["runs"]
    assert len(lab) == len(ran) == 2
    for mine, theirs in zip(ran.values(), lab):
        first = [r["train_loss"] for r in mine["history"][:3]]
        assert first == pytest.approx([r["train_loss"] for r in theirs["history"][:3]], abs=1e-3)
        assert abs(mine["final_train_error"] - theirs["final_train_error"]) < 0.03
        assert abs(mine["final_test_error"] - theirs["final_test_error"]) < 0.03


@pytest.mark.slow
@pytest.mark.parametrize("name, settings", [
    ("gradients", {"depths": (8,), "width": 4, "steps": 5}),
    ("lesion", {"depth": 8, "width": 4, "steps": 5}),
    ("landscape", {"depth": 8, "width": 4, "steps": 5, "grid": 5, "images": 16}),
    ("attribution", {"depth": 8, "width": 4, "steps": 5}),
    ("shortcuts", {"depth": 8, "width": 4, "steps": 5}),
    ("residual_scaling", {"depth": 8, "width": 4, "steps": 5}),
    ("paths", {"depth": 8, "width": 4, "steps": 5}),
    ("lesion", {"depth": 8, "width": 4, "steps": 5, "stochastic_depth": 0.5}),
])
def test_each_lessons_main_plot_runs_in_jupyter(name, settings, tmp_path):
    experiment = experiments.get(name)
    notebook = build(experiment, make(experiment.Spec, **settings), zh, "zh")
    notebook = _execute(notebook, tmp_path)
    errors = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    assert any("application/vnd.plotly.v1+json" in o.get("data", {}) for o in notebook.cells[-1].outputs)
    assert json.loads((tmp_path / "results.json").read_text())


def test_jupyter_is_there_for_the_end_to_end_test():
    """requirements-dev installs ipykernel: the end-to-end test above must not silently have no kernel."""
    from jupyter_client.kernelspec import KernelSpecManager

    assert "python3" in KernelSpecManager().find_kernel_specs() and shutil.which("python") is not None


LESSON_PAGES = ["pages/1_Degradation.py", "pages/2_Gradient_flow.py", "pages/4_Ensembles.py", "pages/5_Attributions.py",
                "pages/6_Why_identity.py", "pages/7_Landscape.py", "pages/8_From_LeNet_to_ResNet.py",
                "pages/3_Parameters_and_compute.py"]


@pytest.mark.parametrize("path", LESSON_PAGES)
def test_every_page_that_builds_a_net_shows_its_code_and_offers_the_notebook(path):
    from conftest import app

    at = app(path, lang="zh")
    if "LeNet" in path:
        at.session_state["lineage_tab"] = "ResNet"  # the tab that trains (tabs are drawn when open)
    at.run()
    assert not at.exception
    code = [c.value for c in at.main.code if "def make_net(seed=None)" in c.value]
    assert code, "no Code view"
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in c) for c in code)  # comments in the session's language
    labels = [b.proto.label for b in at.get("download_button")]
    assert "下载代码（.py）" in labels and "下载笔记本" in labels


def test_the_code_view_follows_the_settings():
    from conftest import app

    at = app("pages/3_Parameters_and_compute.py", kind="gating", residual="true").run()
    code = next(c.value for c in at.main.code if "def make_net" in c.value)
    assert "self.gate = nn.Conv2d" in code and "ResNet-20 (gating b_g=0)" in code
    at = app("pages/3_Parameters_and_compute.py", residual="false").run()
    code = next(c.value for c in at.main.code if "def make_net" in c.value)
    assert "class PlainNet" in code and "self.gate" not in code and "shortcut =" not in code


@pytest.mark.slow
def test_an_mnist_notebook_reads_the_files_through_torchvision_as_the_lab_does(tmp_path, monkeypatch):
    """The notebook's torchvision path on small files in MNIST's own format (nothing can be downloaded here)."""
    import numpy as np
    from test_data import _write_idx

    rng = np.random.default_rng(0)
    raw = tmp_path / "data" / "MNIST" / "raw"
    _write_idx(raw, "train", rng.integers(0, 256, (96, 28, 28), dtype=np.uint8), np.arange(96, dtype=np.uint8) % 10)
    _write_idx(raw, "t10k", rng.integers(0, 256, (20, 28, 28), dtype=np.uint8), np.arange(20, dtype=np.uint8) % 10)
    monkeypatch.setenv("RESNET_VIZ_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("RESNET_VIZ_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RESNET_VIZ_PRECISION", "fp32")
    experiment = experiments.get("train")
    spec = make(experiment.Spec, dataset="mnist", depth=8, width=4, steps=4, batch_size=32, image_size=16)
    notebook = _execute(build(experiment, spec), tmp_path)
    assert "train 96 images, test 20, shape (1, 16, 16)" in _outputs(notebook)
    ran = next(iter(json.loads((tmp_path / "results.json").read_text()).values()))
    lab = experiment.run(spec).result
    lab = lab["runs"][0] if "runs" in lab else lab
    assert [r["train_loss"] for r in ran["history"]] == pytest.approx([r["train_loss"] for r in lab["history"]], abs=1e-3)
