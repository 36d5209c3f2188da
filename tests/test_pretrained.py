"""Published CIFAR-10 ResNets loaded exactly: the shipped checkpoints in ../shared/pretrained reproduce the
reference's own logits (skipped where ../shared is absent); a net in the published format, with its zeros padded
half before and half after, gives its own logits in the lab's net; downloads check the hash; a bad file is one line."""

import hashlib
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from resnet_viz import pretrained
from resnet_viz.pretrained import PUBLISHED, Published, channel_order, fetch, load, load_file

SHARED = Path(__file__).resolve().parents[2] / "shared" / "pretrained"


@pytest.mark.skipif(not (SHARED / "expected_logits.pt").is_file(), reason="../shared/pretrained is absent")
@pytest.mark.parametrize("depth", [20, 32, 44, 56])
def test_every_shipped_checkpoint_reproduces_the_references_logits(depth):
    entry = PUBLISHED[f"cifar10-resnet{depth}"]
    expected = torch.load(SHARED / "expected_logits.pt", weights_only=True)
    model = load_file(SHARED / entry.file)
    assert not model.training and model.cfg.depth == depth and model.cfg.shortcut == "A"
    assert sum(p.numel() for p in model.parameters()) == entry.params
    with torch.no_grad():
        logits = model(expected["inputs"])
    torch.testing.assert_close(logits, expected[f"resnet{depth}"], atol=1e-4, rtol=0)
    assert model.normalization == {"mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}


class _Block(nn.Module):
    """The published format's block, written here from its description: option A with the zeros half before and
    half after the identity channels."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.pad = (cout - cin) // 2
        self.stride = stride

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        short = x[:, :, ::self.stride, ::self.stride] if self.stride > 1 else x
        if self.pad:
            short = F.pad(short, (0, 0, 0, 0, self.pad, self.pad))
        return F.relu(out + short)


class _Published(nn.Module):
    def __init__(self, n=1, width=16):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        widths = [width, 2 * width, 4 * width]
        cin = width
        for i, w in enumerate(widths, start=1):
            blocks = []
            for j in range(n):
                blocks.append(_Block(cin, w, 2 if i > 1 and j == 0 else 1))
                cin = w
            setattr(self, f"layer{i}", nn.Sequential(*blocks))
        self.linear = nn.Linear(4 * width, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.linear(F.adaptive_avg_pool2d(x, 1).flatten(1))


def _published_file(tmp_path, n=1, seed=0) -> tuple[Path, nn.Module]:
    torch.manual_seed(seed)
    ref = _Published(n)
    for m in ref.modules():  # trained-looking batch norm statistics, so that a wrong channel order shows
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    ref.eval()
    state = {f"module.{k}": v for k, v in ref.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "resnet8.th"
    torch.save({"state_dict": state, "best_prec1": 50.0}, path)
    return path, ref


def test_a_net_padded_the_other_way_gives_its_own_logits_in_the_labs_net(tmp_path):
    for n in (1, 2):
        path, ref = _published_file(tmp_path, n, seed=n)
        model = load_file(path)
        x = torch.randn(4, 3, 32, 32, generator=torch.Generator().manual_seed(n))
        with torch.no_grad():
            torch.testing.assert_close(model(x), ref(x), atol=1e-5, rtol=0)
        assert model.cfg.depth == 6 * n + 2


def test_the_channel_order_puts_the_old_channels_where_the_published_net_has_them():
    order = channel_order((16, 32, 64))
    assert order[0].tolist() == list(range(16))
    assert order[1][:16].tolist() == list(range(8, 24)) and sorted(order[1].tolist()) == list(range(32))
    assert order[2][:32].tolist() == [16 + i for i in order[1].tolist()] and sorted(order[2].tolist()) == list(range(64))


def test_bad_files_are_one_line(tmp_path):
    path, _ref = _published_file(tmp_path)
    data = path.read_bytes()
    (tmp_path / "cut.th").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.th").write_text("not a checkpoint")
    torch.save({"state_dict": {"module.fc.weight": torch.zeros(10, 5)}}, tmp_path / "other.th")
    torch.save({"epoch": 3}, tmp_path / "nothing.th")
    for name, words in (("cut.th", "truncated or damaged"), ("text.th", "not a PyTorch checkpoint"),
                        ("other.th", "is not a CIFAR ResNet of He et al."), ("nothing.th", "holds no state dict of tensors"),
                        ("missing.th", "no checkpoint at"), (".", "is a folder: give the checkpoint file in it")):
        with pytest.raises(ValueError, match=words) as info:
            load_file(tmp_path / name)
        assert "\n" not in str(info.value)


def test_by_name_offline_without_the_file_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_VIZ_HOME", str(tmp_path))
    with pytest.raises(ValueError, match=r"put resnet110-1d1ed7c2\.th into .*pretrained") as info:
        load("cifar10-resnet110", download=False)
    assert str(tmp_path) in str(info.value)
    with pytest.raises(ValueError, match="unknown published net 'cifar10-resnet18'; available: cifar10-resnet20"):
        load("cifar10-resnet18")


def test_a_download_is_checked_against_the_hash_in_its_name(tmp_path, monkeypatch, served):
    url, payload = served
    monkeypatch.setenv("RESNET_VIZ_HOME", str(tmp_path / "home"))
    path, ref = _published_file(tmp_path)
    payload["data"] = path.read_bytes()
    digest = hashlib.sha256(payload["data"]).hexdigest()
    good = Published("cifar10-resnet8", f"resnet8-{digest[:8]}.th", 8, 0, 0.0)
    got = fetch(good, url=url)
    assert got == tmp_path / "home" / "pretrained" / good.file and got.read_bytes() == payload["data"]
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(load_file(got)(x), ref(x), atol=1e-5, rtol=0)
    bad = Published("cifar10-resnet8", "resnet8-00000000.th", 8, 0, 0.0)
    with pytest.raises(ValueError, match="does not match its hash"):
        fetch(bad, url=url)
    assert not (pretrained.folder() / bad.file).exists()  # nothing half-checked is left to load later


def _cifar_test_files(root, n=60, seed=0):
    """CIFAR-10's python batches in the official layout (tiny train batches, an ``n``-image test batch)."""
    import pickle

    import numpy as np

    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for name in [f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]:
        size = n if name == "test_batch" else 2
        (folder / name).write_bytes(pickle.dumps({"data": rng.integers(0, 256, (size, 3072), dtype=np.uint8),
                                                  "labels": rng.integers(0, 10, size).tolist()}))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": [str(i) for i in range(10)]}))
    return folder


@pytest.fixture
def cifar_here(tmp_path, monkeypatch):
    """CIFAR-10 test files the test writes, read through torchvision (its md5 check cannot match tiny files)."""
    import os

    import torchvision

    _cifar_test_files(tmp_path / "data")
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda path, md5=None: os.path.isfile(path))
    monkeypatch.setenv("RESNET_VIZ_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("RESNET_VIZ_HOME", str(tmp_path / "home"))
    return tmp_path / "data"


def test_the_lesion_lesson_on_a_published_format_net_measures_it_on_the_cifar_test_images(tmp_path, cifar_here, capsys):
    import json

    from resnet_viz.cli import main
    from resnet_viz.data import cifar10_images

    path, ref = _published_file(tmp_path, n=2, seed=3)
    out = tmp_path / "lesion.json"
    assert main(["lesion", "--weights", str(path), "--test-images", "50", "--samples", "2", "--max-k", "2",
                 "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    run, = result["runs"]
    assert result["source"] == "resnet8.th" and run["variant"] == "residual" and run["test_images"] == 50
    assert run["depth"] == 14 and len(run["single_block"]) == 6 and result["blocks"] == 6
    assert [b["block"] for b in run["single_block"] if b["changes_shape"]] == [2, 4]  # the downsampling blocks, named
    # the same 50 images, normalized as the published nets were trained, through the reference net itself
    x, y = cifar10_images(50, 0, pretrained.NORMALIZATION["mean"], pretrained.NORMALIZATION["std"])
    with torch.no_grad():
        assert run["base_test_accuracy"] == pytest.approx((ref(x).argmax(1) == y).double().mean().item(), abs=1e-9)
        model = load_file(path)
        for b in run["single_block"]:
            kept = (model(x, skip=frozenset({b["block"]})).argmax(1) == y).double().mean().item()
            assert b["test_accuracy"] == pytest.approx(kept, abs=1e-9)
    assert [k["k"] for k in run["random_k"]] == [0, 1, 2] and run["random_k"][1]["samples"] == 2
    printed = capsys.readouterr().out
    assert "without block   2" in printed and "(downsampling)" in printed and "no plain net is published" in printed


def test_a_published_net_by_name_is_read_from_the_teachers_folder(tmp_path, cifar_here):
    from resnet_viz.experiments import lesion as les

    path, _ref = _published_file(tmp_path, n=1)
    folder = pretrained.folder()
    folder.mkdir(parents=True)
    entry = PUBLISHED["cifar10-resnet20"]
    (folder / entry.file).write_bytes(path.read_bytes())  # a stand-in under the published name: read, not downloaded
    spec = les.Spec(samples=1, max_k=1, source=pretrained.Source(pretrained=entry.name, test_images=100))
    assert les.training_runs(spec) == [] and les.blocks_of(spec) == 9  # the cost counts the published ResNet-20
    result = les.run(spec).result
    assert result["status"] == "completed" and result["runs"][0]["published_test_error"] == 8.27
    assert result["test_images"] == 60  # the test batch has 60 images: all of them, not more
    assert les.effects(result)[0].name.startswith("with one block removed the published ResNet")


def test_choosing_a_source_keeps_the_keys_of_the_runs_stored_before_it():
    import dataclasses

    from resnet_viz.experiments import lesion as les
    from resnet_viz.store import ADDED_LATER, spec_key

    spec = les.Spec()
    before = {k: v for k, v in dataclasses.asdict(spec).items() if k != "source"}  # the Spec as it was before
    assert spec_key("lesion", spec) == spec_key("lesion", before)
    assert spec_key("lesion", les.Spec(source=pretrained.Source(test_images=100))) != spec_key("lesion", before)
    assert {f.name: f.default for f in dataclasses.fields(pretrained.Source)}.items() <= ADDED_LATER.items()


@pytest.mark.parametrize("args, words", [
    (["--pretrained", "cifar10-resnet20", "--weights", "x.th"], "choose a published net or a checkpoint file, not both"),
    (["--pretrained", "cifar10-resnet110"], "cifar10-resnet110 is not on this server: put resnet110-1d1ed7c2.th into"),
    (["--test-images", "20"], "test_images must be a whole number from 50 to 10,000"),
    (["--pretrained", "resnet110"], "invalid choice: 'resnet110' (choose from 'cifar10-resnet20', 'cifar10-resnet32'"),
    (["--weights", "."], "is a folder: give the checkpoint file in it"),
])
def test_the_source_options_say_what_is_wrong_in_one_line(args, words, tmp_path, monkeypatch, capsys):
    from resnet_viz.cli import main

    monkeypatch.setenv("RESNET_VIZ_HOME", str(tmp_path))
    try:
        code = main(["lesion", *args])
    except SystemExit as exc:  # argparse's own errors exit; the Spec's are returned
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and words in err and "Traceback" not in err


def test_the_landscape_paths_and_attributions_of_a_published_format_net(tmp_path, cifar_here):
    from resnet_viz.experiments import attribution, landscape, paths

    path, ref = _published_file(tmp_path, n=1, seed=7)
    source = pretrained.Source(weights=str(path))
    surface = landscape.run(landscape.Spec(grid=5, images=16, source=source)).result
    run, = surface["runs"]
    assert surface["source"] == "resnet8.th" and surface["dataset"] == "cifar10" and surface["images"] == 10
    assert run["variant"] == "residual" and run["interpolation"] is None and len(run["grid"]["loss"]) == 5
    x, y = pretrained.train_sample(16)  # the 10 training images the test files hold, as the published nets saw them
    with torch.no_grad():
        centre = F.cross_entropy(ref(x), y).item()
    assert run["grid"]["loss"][2][2] == pytest.approx(centre, rel=1e-4)  # the centre is the published net itself
    gradient = paths.run(paths.Spec(samples=2, images=4, source=source)).result
    assert [r["stage"] for r in gradient["runs"]] == ["trained"] and gradient["blocks"] == 3
    assert [q["k"] for q in gradient["runs"][0]["by_length"]] == [0, 1, 2, 3]
    maps = attribution.run(attribution.Spec(n_images=2, source=source)).result
    first, _labels = pretrained.first_test_images(2)
    with torch.no_grad():
        assert [i["prediction"] for i in maps["images"]] == ref(first).argmax(1).tolist()
    assert maps["source"] == "resnet8.th" and len(maps["block_importance"]) == 3
    assert all(i["converged"] for i in maps["images"])


def test_a_lesson_on_a_published_net_downloads_it_once_where_downloads_are_allowed(tmp_path, cifar_here, served,
                                                                                   monkeypatch):
    from resnet_viz.experiments import lesion as les
    from resnet_viz.protocol import Context

    url, payload = served
    path, _ref = _published_file(tmp_path, n=1)
    payload["data"] = path.read_bytes()
    digest = hashlib.sha256(payload["data"]).hexdigest()
    entry = Published("cifar10-resnet20", f"resnet20-{digest[:8]}.th", 8, 0, 8.27)  # the stand-in, hashed as upstream
    monkeypatch.setitem(PUBLISHED, "cifar10-resnet20", entry)
    monkeypatch.setattr(pretrained, "URL", url.rsplit("/", 1)[0] + "/{file}")
    monkeypatch.setenv("RESNET_VIZ_DOWNLOAD", "1")
    spec = les.Spec(samples=1, max_k=1, source=pretrained.Source(pretrained="cifar10-resnet20", test_images=50))
    records = []
    result = les.run(spec, Context(progress=records.append)).result
    assert result["status"] == "completed" and (pretrained.folder() / entry.file).read_bytes() == payload["data"]
    assert records[-1]["fraction"] == pytest.approx(1.0)
    line = les.describe({"run": "cifar10-resnet110", "what": les.DOWNLOAD, "done": 3_100_000, "total": 6_900_000})
    assert line == "downloading cifar10-resnet110: 3.1 of 6.9 MB"
    payload["data"] = b"not this"  # a second run reads the file it has: no download
    assert les.run(spec, Context()).result["runs"][0]["base_test_accuracy"] == result["runs"][0]["base_test_accuracy"]


def test_gradient_flow_probes_a_published_net_as_trained_and_leaves_the_shared_net_alone(tmp_path, cifar_here):
    from resnet_viz.experiments import gradients

    path, _ref = _published_file(tmp_path, n=1, seed=9)
    spec = gradients.Spec(source=pretrained.Source(weights=str(path)))
    assert gradients.training_runs(spec) == []
    result = gradients.run(spec).result
    run, = result["runs"]
    assert result["dataset"] == "cifar10" and result["probe_images"] == 10 and result["response_images"] == 60
    assert run["variant"] == "residual" and run["depth"] == 8 and run["checkpoints"] is None
    assert len(run["responses_trained"]) == 1 + 2 * 3  # the stem and two 3x3 convs per block (He et al. Fig. 7)
    assert len(run["layers"]) == 7 and all(layer["grad_norm"] > 0 for layer in run["layers"])
    shared = pretrained.open_source(spec.source)
    assert not shared.training and not any(m._forward_hooks for m in shared.modules())
    assert all(p.grad is None for p in shared.parameters())


def test_the_download_progress_reads_the_partial_file_torch_hub_writes(tmp_path):
    import threading
    import time

    target = tmp_path / "resnet110-1d1ed7c2.th"
    (tmp_path / f"{target.name}.0f3a.partial").write_bytes(b"x" * 3_000)  # torch.hub's download, under way
    (tmp_path / "other.th.1234.partial").write_bytes(b"x" * 9_000)  # another file's: not this one
    seen, done = [], threading.Event()
    watcher = threading.Thread(target=pretrained._watch, args=(target, 7_000, lambda d, t: seen.append((d, t)), done))
    watcher.start()
    time.sleep(0.6)
    done.set()
    watcher.join()
    assert seen and seen[-1] == (3_000, 7_000)
