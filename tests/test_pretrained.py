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
                        ("missing.th", "no checkpoint at")):
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
