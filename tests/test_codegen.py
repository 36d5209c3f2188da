"""The net as plain PyTorch: for a grid of configurations the generated source, run in a fresh interpreter with
torch only, builds a net with the lab's parameter count, the lab's very initial weights for the same seed and, with
the lab's weights loaded strictly by name, the lab's outputs (eval mode, fp32); the ImageNet ResNet-18/50 code loads
torchvision's state dicts."""

import itertools
import subprocess
import sys
import textwrap

import torch

from resnet_viz.codegen import generated_names, render
from resnet_viz.config import NetConfig
from resnet_viz.models import build_model

GRID = [NetConfig(depth=11 if "bottleneck" in block else 8, width=4, block=block, shortcut=shortcut, shortcut_kind=kind,
                  batchnorm=bn, activation=act, gate_bias=-1.0, scale_branch=kind == "scaling")
        for block, shortcut, kind, bn, act in itertools.product(
            ("basic", "preact", "bottleneck", "preact_bottleneck"), "ABC",
            ("identity", "scaling", "gating", "shortcut_gating", "dropout"), (True, False), ("relu", "sigmoid"))]
GRID += [NetConfig(depth=11 if "bottleneck" in b else 8, width=4, block=b, residual=False) for b in
         ("basic", "preact", "bottleneck", "preact_bottleneck")]
GRID += [NetConfig(depth=8, width=4, stochastic_depth=0.5, residual_scale=0.2),
         NetConfig(depth=11, width=4, block="preact_bottleneck", stochastic_depth=0.5)]
GRID += [NetConfig("imagenet", d, width=8, residual=r, num_classes=10) for d in (18, 50) for r in (True, False)]
GRID += [NetConfig("imagenet", 18, width=8, shortcut=s, shortcut_kind="gating", stochastic_depth=0.5, num_classes=10)
         for s in "AC"]
GRID += [NetConfig(depth=8, width=4, init="xavier", activation="tanh", batchnorm=False)]

CHECK = textwrap.dedent('''
    import importlib.util, sys, torch
    root, count = sys.argv[1], int(sys.argv[2])
    assert "resnet_viz" not in sys.modules
    for i in range(count):
        spec = importlib.util.spec_from_file_location(f"net{i}", f"{root}/net{i}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        saved = torch.load(f"{root}/net{i}.pt", weights_only=True)
        net = module.make_net(seed=i).eval()
        assert sum(p.numel() for p in net.parameters()) == saved["params"], i
        for key, value in net.state_dict().items():  # the lab's initial weights for the same seed
            assert torch.equal(value, saved["state"][key]), (i, key)
        net = module.make_net().eval()
        net.load_state_dict(saved["state"], strict=True)
        with torch.no_grad():
            torch.testing.assert_close(net(saved["x"]), saved["y"], atol=1e-5, rtol=1e-4)
    assert not any(name.startswith("resnet_viz") for name in sys.modules)
    print("ok", count)
''')


def test_generated_code_builds_the_same_net_in_a_fresh_interpreter(tmp_path):
    for i, cfg in enumerate(GRID):
        lab = build_model(cfg, seed=i).eval()
        size = 32 if cfg.family == "cifar" else 64
        x = torch.randn(2, cfg.in_channels, size, size, generator=torch.Generator().manual_seed(i))
        with torch.no_grad():
            y = lab(x)
        (tmp_path / f"net{i}.py").write_text(render(cfg))
        torch.save({"state": generated_names(cfg, lab.state_dict()), "x": x, "y": y, "params": sum(p.numel() for p in lab.parameters())},
                   tmp_path / f"net{i}.pt")
    done = subprocess.run([sys.executable, "-c", CHECK, str(tmp_path), str(len(GRID))], capture_output=True, text=True,
                          timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == f"ok {len(GRID)}"


def test_the_code_is_as_short_as_the_configuration_allows():
    plain = "\n".join(l.split("#")[0] for l in render(NetConfig(depth=20, residual=False)).splitlines() if '"""' not in l)
    assert "gate" not in plain and "shortcut" not in plain and "F.pad" not in plain and "survival" not in plain
    gated = render(NetConfig(depth=20, shortcut_kind="gating", gate_bias=-6.0))
    assert "self.gate = nn.Conv2d" in gated and "-6.0" in gated
    assert "ZeroPadShortcut" in render(NetConfig(depth=20)) and "ZeroPadShortcut" not in render(NetConfig(depth=20, shortcut="B"))


def test_cli_code_writes_a_file_that_builds_the_net_and_refuses_bad_input(tmp_path, capsys):
    from resnet_viz.cli import main

    out = tmp_path / "net.py"
    assert main(["code", "--depth", "20", "--shortcut-kind", "gating", "--out", str(out)]) == 0
    done = subprocess.run([sys.executable, str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.split()[:2] == ["ResNet", "283626"]  # params counts it too
    capsys.readouterr()
    assert main(["code", "--depth", "21"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "6n+2" in err
    assert main(["code", "--out", str(tmp_path / "missing" / "net.py")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "does not exist" in err


TORCHVISION = textwrap.dedent('''
    import importlib.util, sys, torch, torchvision
    spec = importlib.util.spec_from_file_location("net", sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    theirs = getattr(torchvision.models, sys.argv[2])(weights=None).eval()
    net = module.make_net().eval()
    assert sum(p.numel() for p in net.parameters()) == sum(p.numel() for p in theirs.parameters())
    net.load_state_dict(theirs.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(net(x), theirs(x), atol=1e-5, rtol=1e-4)
    print("ok", sum(p.numel() for p in net.parameters()))
''')


def test_the_imagenet_code_is_torchvisions_resnet18_and_resnet50(tmp_path):
    for depth, params in ((18, 11_689_512), (50, 25_557_032)):
        cfg = NetConfig("imagenet", depth, in_channels=3, num_classes=1000)
        (tmp_path / "net.py").write_text(render(cfg))
        done = subprocess.run([sys.executable, "-c", TORCHVISION, str(tmp_path / "net.py"), f"resnet{depth}"],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.split() == ["ok", str(params)]


def test_comments_come_in_the_sessions_language():
    from resnet_viz.i18n import translate

    zh = render(NetConfig(depth=20, shortcut_kind="gating"), lambda m: translate(m, "zh"))
    en = render(NetConfig(depth=20, shortcut_kind="gating"))
    assert "He et al. 2016, Fig. 2" in en and "Two 3x3 convs" in en and "Two 3x3 convs" not in zh
    assert any("\u4e00" <= c <= "\u9fff" for c in zh)  # Chinese comments
    def code(source):  # the code without its comments, docstrings and the one printed word
        return [line.split("#")[0] for line in source.splitlines() if '"""' not in line and "print(" not in line]

    assert code(zh) == code(en) and '"参数量")' in zh


LINEAGE_CHECK = textwrap.dedent('''
    import importlib.util, sys, torch
    root, names = sys.argv[1], sys.argv[2:]
    for i, name in enumerate(names):
        spec = importlib.util.spec_from_file_location(f"lineage{i}", f"{root}/lineage{i}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        saved = torch.load(f"{root}/lineage{i}.pt", weights_only=True)
        net = module.make_net().eval()
        assert sum(p.numel() for p in net.parameters()) == saved["params"], name
        net.load_state_dict(saved["state"], strict=True)
        with torch.no_grad():
            torch.testing.assert_close(net(saved["x"]), saved["y"], atol=1e-4, rtol=1e-4)
    assert not any(n.startswith("resnet_viz") for n in sys.modules)
    print("ok", len(names))
''')


def test_the_lineage_nets_code_builds_the_modules_the_lab_counts(tmp_path):
    """LeNet-5 (sparse C3, trainable subsampling, fixed RBF), AlexNet's two groups, VGG, Inception 3a and
    Inception-ResNet-A: the same parameters by name and count, the same outputs."""
    from resnet_viz.codegen import render_lineage
    from resnet_viz.lineage import CODE_INPUTS, code_nets

    names = list(code_nets())
    for i, name in enumerate(names):
        torch.manual_seed(i)
        lab = code_nets()[name]().eval()
        shape = CODE_INPUTS[name] if "VGG" not in name else (3, 64, 64)  # VGG's adaptive pool takes any size
        x = torch.randn(1, *shape, generator=torch.Generator().manual_seed(i))
        with torch.no_grad():
            y = lab(x)
        (tmp_path / f"lineage{i}.py").write_text(render_lineage(name))
        torch.save({"state": lab.state_dict(), "x": x, "y": y, "params": sum(p.numel() for p in lab.parameters())},
                   tmp_path / f"lineage{i}.pt")
    done = subprocess.run([sys.executable, "-c", LINEAGE_CHECK, str(tmp_path), *names], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == f"ok {len(names)}"
    lenet = subprocess.run([sys.executable, str(tmp_path / "lineage0.py")], capture_output=True, text=True, timeout=120)
    assert lenet.stdout.split() == ["LeNet-5", "60000", "parameters", "(1,", "10)"]  # the paper's 60,000
