"""A lesson as a Jupyter notebook that runs on its own (torch, plotly; scikit-learn for digits, torchvision for
MNIST, Fashion-MNIST and CIFAR-10): the experiment's settings, the data, each net's code from
:mod:`resnet_viz.codegen`, the lab's training loop with the lesson's recipe and seeds, the evaluation and the
lesson's main plot, with the page's explanation as markdown in the reader's language.

What it keeps from the lab, so that its numbers are the lab's: the same data (the same split, subset, resize and
standardization), the same initial weights for a seed (``make_net(seed)``), the same batch order and augmentation
(seeded generators), the same SGD and learning-rate schedule. What it leaves out is said in its first cells:
bf16 autocast, CUDA graphs, the run store. It lays out its nets in memory as the lab does (the source of
:func:`resnet_viz.train.conv_memory_format` is one of its cells). tests/test_notebook.py runs one with a real
Jupyter kernel (nbclient) and compares it with the lab's run of the same spec.

``nbformat`` writes the file; the lab needs nothing else to export one.
"""

from __future__ import annotations

import textwrap
from dataclasses import replace
from typing import Any, Callable
from urllib.parse import urlencode

from .codegen import class_names, render
from .config import NetConfig
from .data import shape_of
from .i18n import N_
from .protocol import Experiment, _encode, _value_at, options

CURVES = ("train", "degradation", "shortcuts", "shortcut_options", "residual_scaling", "paths")
# The lab's page of each experiment (its URL path), for the link back.
PAGES = {"train": "Parameters_and_compute", "degradation": "Degradation", "gradients": "Gradient_flow",
         "lesion": "Ensembles", "attribution": "Attributions", "shortcuts": "Why_identity",
         "landscape": "Landscape", "paths": "Landscape", "shortcut_options": "From_LeNet_to_ResNet",
         "residual_scaling": "From_LeNet_to_ResNet"}
DATASETS = ("digits", "mnist", "fashion_mnist", "cifar10")
SMOOTH = 10  # steps in the moving average of the training-error curves, as on the pages
AX_LAYER, AX_GRADIENT = N_("3x3 conv layer, input to output"), N_("gradient norm at initialization")
AX_REMOVED, AX_TEST, AX_LOSS = N_("removed block"), N_("test error"), N_("training loss")
AX_PREDICTED, AX_STEP, AX_ERROR = N_("predicted class"), N_("step"), N_("training error")
AX_BLOCK, AX_STD = N_("block (0: after the stem)"), N_("standard deviation of the signal (log)")

DIFFERS = N_("**What differs from the lab.** This notebook trains in plain fp32 on whatever device it finds (the lab "
             "uses bf16 autocast on GPUs and on CPUs with AMX, and CUDA graphs on GPUs), one net after another (the "
             "lab trains several at once), and it keeps nothing in the lab's run store. Everything else is the lab's: "
             "the data split, the initial weights of each seed, the batch order, the optimizer and the schedule. The "
             "first steps' losses are the lab's to rounding; as training goes on, rounding differences grow, as "
             "between two machines, so final errors agree closely but not to the last digit.")
BACK = N_("Open this lesson in the lab with the same settings: {url}")
SETTINGS = N_("## Settings\nThe lesson's settings as configured in the lab; change them here and run all cells again.")
DATA = N_("## Data\nThe dataset, split, resized and standardized as in the lab (mean and standard deviation of the "
          "training split, per channel).")
NETS = N_("## The nets\nEach net is written to its own file as plain PyTorch (the lab's **Code** view), then imported: "
          "`make_net(seed)` gives the lab's initial weights for that seed.")
TRAINING = N_("## Training\nThe lab's loop: SGD with momentum, a fixed seeded batch order (reshuffled every epoch, the "
              "ragged end dropped), the learning-rate schedule, and the error on the whole test split at checkpoints.")
RUN = N_("## Train every net of the lesson")
RESULT = N_("## The result")
CURVES_NOTE = N_("Training error (moving average of {smooth} steps) against the step, one line per net: the lesson's "
                 "main plot.")
GRADIENTS_NOTE = N_("The gradient norm of every conv layer's weights on one batch at initialization, from input to "
                    "output (log scale): the lesson's main plot.")
LESION_NOTE = N_("Each block removed in turn from the trained nets (a residual block keeps its shortcut; a plain "
                 "block can only be removed where it keeps the shape): the test error after the removal.")
LANDSCAPE_NOTE = N_("The training loss around each trained net along two random directions, each filter normalized "
                    "to the norm of its weights (Li et al. 2018); BN and bias terms stay fixed.")
ATTRIBUTION_NOTE = N_("Integrated gradients (Sundararajan et al. 2017) from a black image to each of the first test "
                      "images, for the predicted class: which pixels the trained net's answer rests on.")
SIGNAL_NOTE = N_("The standard deviation of the forward signal after the stem and after each block at initialization, "
                 "one line per residual scale a (log scale), then the training curves.")
PATHS_NOTE = N_("This notebook trains the net and plots its training error; the decomposition of the gradient into "
                "paths of each length stays in the lab.")
SAVED = N_("The numbers are also written to `results.json` beside the notebook.")


class NotebookError(ValueError):
    """A spec the notebook cannot reproduce on its own (the message says what it can)."""


def lab_link(experiment: Experiment, spec: Any, base: str = "http://localhost:8501", lang: str = "en") -> str:
    """The lab's page of ``experiment`` with ``spec``'s settings in the URL (the teacher links' names)."""
    default = experiment.Spec()
    params = {o.name: _encode(_value_at(spec, o.path)) for o in options(experiment.Spec)
              if _value_at(spec, o.path) != _value_at(default, o.path)}
    params["lang"] = lang
    return f"{base.rstrip('/')}/{PAGES.get(experiment.name, '')}?{urlencode(params, safe=',')}"


def _slug(name: str) -> str:
    return "net_" + "".join(c if c.isalnum() else "_" for c in name.lower()).strip("_")


def training_nets(experiment: Experiment, spec: Any) -> list[tuple[str, NetConfig, Any]]:
    """(run name, the net as the lab builds it: the data's channels and classes, training.Spec) for every
    training run, in order."""
    found = []
    for run in experiment.training_runs(spec):
        channels, _size, classes = shape_of(run.data)
        net = replace(run.net, in_channels=channels, num_classes=classes)
        found.append((f"{net.name} seed {run.train.seed}", net, run))
    return found


def _data_source(name: str, tr: Callable[[str], str]) -> str:
    if name == "digits":
        load = textwrap.dedent('''
            from sklearn.datasets import load_digits
            from sklearn.model_selection import train_test_split

            bunch = load_digits()  # 1,797 8x8 handwritten digits, shipped inside scikit-learn
            x = bunch.images.astype(np.float32)[:, None] / 16.0
            y = bunch.target.astype(np.int64)
            xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)''')
    else:
        cls = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST", "cifar10": "CIFAR10"}[name]
        load = textwrap.dedent(f'''
            import torchvision

            def arrays(ds):
                x = np.asarray(ds.data)
                x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)  # (N, C, H, W)
                return x.astype(np.float32) / 255.0, np.asarray(ds.targets, dtype=np.int64)

            def split(train):  # the files in DATA_ROOT, else torchvision downloads them there
                try:
                    return arrays(torchvision.datasets.{cls}(DATA_ROOT, train=train))
                except RuntimeError:
                    return arrays(torchvision.datasets.{cls}(DATA_ROOT, train=train, download=True))

            xtr, ytr = split(True)
            xte, yte = split(False)''')
    return "import numpy as np\nimport torch.nn.functional as F\n" + load.strip() + "\n" + textwrap.dedent('''

        def subset(x, y, limit, seed):
            if not limit or limit >= len(y):
                return x, y
            idx = np.random.default_rng(seed).permutation(len(y))[:limit]
            return x[idx], y[idx]

        def resize(x, size):
            x = torch.from_numpy(np.ascontiguousarray(x))
            return x if x.shape[-1] == size else F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)

        xtr, ytr = subset(xtr, ytr, DATA["train_limit"], DATA["seed"])
        xte, yte = subset(xte, yte, DATA["test_limit"], DATA["seed"] + 1)
        train_x, test_x = resize(xtr, IMAGE_SIZE), resize(xte, IMAGE_SIZE)
        mean = train_x.mean(dim=(0, 2, 3), keepdim=True)
        std = train_x.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
        train_x, test_x = ((train_x - mean) / std).to(DEVICE), ((test_x - mean) / std).to(DEVICE)
        train_y = torch.from_numpy(np.ascontiguousarray(ytr)).to(DEVICE)
        test_y = torch.from_numpy(np.ascontiguousarray(yte)).to(DEVICE)
        print(f"''').lstrip() + tr(N_("train {train} images, test {test}, shape {shape}")).format(
        train="{len(train_y)}", test="{len(test_y)}", shape="{tuple(train_x.shape[1:])}") + '")\n'


TRAIN_CODE = textwrap.dedent('''
    import math
    import time


    def lr_factor(schedule, step, steps):
        if schedule == "step":  # /10 at 50% and 75% of the steps
            return 0.1 ** ((step >= steps // 2) + (step >= (3 * steps) // 4))
        if schedule == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * step / steps))
        return 1.0


    def augment_batch(x, generator, pad=4):
        """Pad 4 pixels, take a random crop of the image's size, flip half the images (He et al. 2016, Sec. 4.2)."""
        n, _, h, w = x.shape
        shifts = torch.randint(0, 2 * pad + 1, (2, n), generator=generator).to(x.device)
        flips = (torch.rand(n, generator=generator) < 0.5).to(x.device)
        padded = F.pad(x, (pad, pad, pad, pad))
        rows = shifts[0][:, None] + torch.arange(h, device=x.device)
        cols = shifts[1][:, None] + torch.arange(w, device=x.device)
        cols = torch.where(flips[:, None], cols.flip(1), cols)
        return padded[torch.arange(n, device=x.device)[:, None, None], :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


    @torch.no_grad()
    def evaluate(net, x, y, batch_size=1000):
        """Mean cross-entropy and error rate over a whole split, in eval mode."""
        was_training = net.training
        net.eval()
        loss, wrong = 0.0, 0
        for i in range(0, len(y), batch_size):
            logits = net(x[i:i + batch_size])
            loss += F.cross_entropy(logits, y[i:i + batch_size], reduction="sum").item()
            wrong += (logits.argmax(1) != y[i:i + batch_size]).sum().item()
        net.train(was_training)
        return loss / len(y), wrong / len(y)


    def fit(net, t):
        """Train ``net`` in place with the recipe ``t``; one record per step."""
        start = time.perf_counter()
        layout = conv_memory_format(torch.device(DEVICE), net)  # as the lab lays it out (the settings above)
        net.to(DEVICE).to(memory_format=layout).train()
        n = len(train_y)
        batch_size = min(t["batch_size"], n)
        gen = torch.Generator().manual_seed(t["seed"])
        optimizer = torch.optim.SGD(net.parameters(), lr=t["lr"], momentum=t["momentum"], weight_decay=t["weight_decay"], foreach=True)
        order, pos = torch.randperm(n, generator=gen), 0
        augment = torch.Generator().manual_seed(t["seed"] + 1) if t["augment"] else None
        history = []
        for step in range(1, t["steps"] + 1):
            if pos + batch_size > n:  # a new epoch: reshuffle, drop the ragged end
                order, pos = torch.randperm(n, generator=gen), 0
            idx = order[pos:pos + batch_size].to(DEVICE)
            pos += batch_size
            lr = t["lr"] * lr_factor(t["schedule"], step - 1, t["steps"])
            for group in optimizer.param_groups:
                group["lr"] = lr
            xb, yb = train_x[idx], train_y[idx]
            if augment is not None:  # laid out anew, as the lab does
                xb = augment_batch(xb, augment).clone(memory_format=layout)
            logits = net(xb)
            loss = F.cross_entropy(logits, yb)
            if not math.isfinite(loss.item()):
                print(f"diverged at step {step}: try a lower learning rate")
                break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            record = {"step": step, "lr": lr, "train_loss": loss.item(),
                      "train_error": (logits.argmax(1) != yb).float().mean().item()}
            if (t["eval_every"] and step % t["eval_every"] == 0) or step == t["steps"]:
                record["test_error"] = evaluate(net, test_x, test_y)[1]
            history.append(record)
        train_loss, train_error = evaluate(net, train_x, train_y)
        return {"history": history, "final_train_loss": train_loss, "final_train_error": train_error,
                "final_test_error": evaluate(net, test_x, test_y)[1], "seconds": time.perf_counter() - start}''').strip()


def _run_code(tr: Callable[[str], str]) -> str:
    done = tr(N_("{name}: training error {train:.3f}, test error {test:.3f} ({seconds:.0f} s)"))
    return "import json\n\n" + f"DONE = {done!r}\n" + textwrap.dedent('''
        RESULTS, TRAINED = {}, {}
        for name, run in RUNS.items():
            net = MAKE_NET[run["net"]](seed=run["train"]["seed"])
            result = fit(net, run["train"])
            RESULTS[name], TRAINED[name] = result, net
            print(DONE.format(name=name, train=result["final_train_error"], test=result["final_test_error"],
                              seconds=result["seconds"]))
        with open("results.json", "w") as f:
            json.dump(RESULTS, f)''')


def _plot_code(experiment: Experiment, spec: Any, tr: Callable[[str], str]) -> tuple[str, str]:
    """(markdown, code) of the lesson's main plot."""
    step, error, name = tr(AX_STEP), tr(AX_ERROR), experiment.name
    curves = textwrap.dedent(f'''
        import plotly.graph_objects as go

        fig = go.Figure()
        for name, result in RESULTS.items():
            errors = [r["train_error"] for r in result["history"]]
            smooth = [sum(errors[max(0, i - {SMOOTH} + 1):i + 1]) / len(errors[max(0, i - {SMOOTH} + 1):i + 1])
                      for i in range(len(errors))]
            fig.add_scatter(x=[r["step"] for r in result["history"]], y=smooth, name=name,
                            line_dash="dash" if name.startswith("plain") else "solid")
        fig.update_layout(xaxis_title="{step}", yaxis_title="{error}", height=450)
        fig.show()''').strip()
    if name == "residual_scaling":
        from .experiments.residual_scaling import PROBE_IMAGES

        return tr(SIGNAL_NOTE) + " " + tr(CURVES_NOTE).format(smooth=SMOOTH), textwrap.dedent(f'''
            import plotly.graph_objects as go

            fig = go.Figure()
            xb = train_x[:{PROBE_IMAGES}]
            for name, run in RUNS.items():
                net = MAKE_NET[run["net"]](seed=run["train"]["seed"]).to(DEVICE).eval()
                stds = []
                blocks = [net.stem] + [b for stage in net.stages for b in stage]
                hooks = [b.register_forward_hook(lambda m, i, out: stds.append(out.double().std().item())) for b in blocks]
                with torch.no_grad():
                    net(xb)
                for h in hooks:
                    h.remove()
                fig.add_scatter(x=list(range(len(stds))), y=stds, name=name, mode="lines+markers")
            fig.update_layout(xaxis_title="{tr(AX_BLOCK)}", yaxis_title="{tr(AX_STD)}", yaxis_type="log", height=400)
            fig.show()''').strip() + "\n\n" + curves
    if name in CURVES:
        note = tr(CURVES_NOTE).format(smooth=SMOOTH) + ("\n\n" + tr(PATHS_NOTE) if name == "paths" else "")
        return note, curves
    if name == "gradients":
        return tr(GRADIENTS_NOTE), textwrap.dedent(f'''
            import plotly.graph_objects as go

            fig = go.Figure()
            xb, yb = train_x[:{spec.train.batch_size}], train_y[:{spec.train.batch_size}]
            for name, run in RUNS.items():
                net = MAKE_NET[run["net"]](seed=run["train"]["seed"]).to(DEVICE).train()
                F.cross_entropy(net(xb), yb).backward()
                norms = [m.weight.grad.norm().item() for m in net.modules() if isinstance(m, torch.nn.Conv2d)
                         and m.weight.grad is not None and m.kernel_size == (3, 3)]
                fig.add_scatter(x=list(range(1, len(norms) + 1)), y=norms, name=name, mode="lines+markers")
            fig.update_layout(xaxis_title="{tr(AX_LAYER)}",
                              yaxis_title="{tr(AX_GRADIENT)}", yaxis_type="log", height=450)
            fig.show()''').strip() + "\n\n" + curves
    if name == "lesion":
        return tr(LESION_NOTE), textwrap.dedent(f'''
            import plotly.graph_objects as go

            fig = go.Figure()
            for name, net in TRAINED.items():
                blocks = [(stage, i) for stage in net.stages for i in range(len(stage))]
                errors = []
                for stage, i in blocks:
                    block = stage[i]
                    keeps = block.conv1.in_channels == (block.conv3 if hasattr(block, "conv3") else block.conv2).out_channels \\
                        and block.conv1.stride == (1, 1) and (block.conv2.stride == (1, 1))
                    bypass = getattr(block, "shortcut", None) or (torch.nn.Identity() if keeps else None)
                    if bypass is None:  # a plain block that changes the shape cannot be removed
                        errors.append(None)
                        continue
                    stage[i] = bypass
                    errors.append(evaluate(net, test_x, test_y)[1])
                    stage[i] = block
                fig.add_scatter(x=list(range(1, len(blocks) + 1)), y=errors, name=name, mode="lines+markers")
            fig.update_layout(xaxis_title="{tr(AX_REMOVED)}", yaxis_title="{tr(AX_TEST)}", height=450)
            fig.show()''').strip()
    if name == "landscape":
        return tr(LANDSCAPE_NOTE), textwrap.dedent(f'''
            import plotly.graph_objects as go
            from plotly.subplots import make_subplots

            GRID, SPAN, IMAGES = {spec.grid}, {spec.span!r}, {spec.images}
            subset = torch.randperm(len(train_y), generator=torch.Generator().manual_seed({spec.train.seed}))[:IMAGES]
            xs, ys = train_x[subset.to(DEVICE)], train_y[subset.to(DEVICE)]

            def direction(net, seed):
                gen = torch.Generator().manual_seed(seed)
                found = []
                for p in net.parameters():
                    d = torch.randn(p.shape, generator=gen).to(p.device)
                    if p.dim() <= 1:
                        d.zero_()  # BN and biases stay where they are
                    else:
                        d *= p.detach().flatten(1).norm(dim=1).view(-1, *[1] * (p.dim() - 1)) / \\
                            d.flatten(1).norm(dim=1).clamp_min(1e-10).view(-1, *[1] * (p.dim() - 1))
                    found.append(d)
                return found

            alphas = torch.linspace(-SPAN, SPAN, GRID).tolist()
            fig = make_subplots(1, len(TRAINED), subplot_titles=list(TRAINED))
            for col, (name, net) in enumerate(TRAINED.items(), start=1):
                net.eval()
                base = [p.detach().clone() for p in net.parameters()]
                d1, d2 = direction(net, 1), direction(net, 2)
                surface = []
                with torch.no_grad():
                    for b in alphas:
                        row = []
                        for a in alphas:
                            for p, p0, u, v in zip(net.parameters(), base, d1, d2):
                                p.copy_(p0 + a * u + b * v)
                            row.append(F.cross_entropy(net(xs), ys).item())
                        surface.append(row)
                    for p, p0 in zip(net.parameters(), base):
                        p.copy_(p0)
                fig.add_contour(x=alphas, y=alphas, z=[[math.log10(v) for v in row] for row in surface],
                                colorscale="Viridis", showscale=col == 1, row=1, col=col)
            fig.update_layout(title="log10 {tr(AX_LOSS)}", height=450)
            fig.show()''').strip()
    if name == "attribution":
        return tr(ATTRIBUTION_NOTE), textwrap.dedent(f'''
            import plotly.graph_objects as go
            from plotly.subplots import make_subplots

            net = next(iter(TRAINED.values())).eval()
            images = test_x[:4]
            baseline = torch.full_like(images[:1], float(test_x.min()))  # black, standardized
            target = net(images).argmax(1)
            total = torch.zeros_like(images)
            STEPS = 32
            for k in range(1, STEPS + 1):  # integrated gradients, the Riemann sum of the path integral
                x = (baseline + k / STEPS * (images - baseline)).requires_grad_(True)
                net(x).gather(1, target[:, None]).sum().backward()
                total += x.grad
            maps = ((images - baseline) * total / STEPS).sum(1).detach().cpu()
            fig = make_subplots(2, 4, vertical_spacing=0.05)
            for i in range(4):
                fig.add_heatmap(z=images[i].mean(0).flip(0).cpu().tolist(), colorscale="gray", showscale=False, row=1, col=i + 1)
                fig.add_heatmap(z=maps[i].flip(0).tolist(), colorscale="RdBu", zmid=0, showscale=False, row=2, col=i + 1)
            fig.update_layout(title="{tr(AX_PREDICTED)}: " + ", ".join(str(int(t)) for t in target), height=450)
            fig.show()''').strip()
    return tr(CURVES_NOTE).format(smooth=SMOOTH), curves


def check(experiment: Experiment, spec: Any) -> None:
    """Raises NotebookError for a spec whose data the notebook cannot load on its own (the lab's synthetic data), and
    for a lesson on a published net (nothing is trained)."""
    runs = experiment.training_runs(spec)
    if not runs:
        raise NotebookError(N_("the notebook trains the lesson's own nets; a published net is studied in the lab: "
                               "choose nets trained here for a notebook"))
    name = runs[0].data.name
    if name not in DATASETS:
        raise NotebookError(f"the notebook loads {', '.join(DATASETS)}; the dataset {name!r} exists only in the "
                            f"lab: choose another dataset")


def build(experiment: Experiment, spec: Any, tr: Callable[[str], str] = str, lang: str = "en",
          prose: tuple[str, ...] = (), lab_url: str | None = None):
    """The lesson as an ``nbformat`` v4 notebook.

    Args:
        experiment, spec: what to reproduce.
        tr: the reader's language for the notebook's own words.
        prose: the page's title and explanation, already in that language (markdown); default the experiment's help.
        lab_url: the link back to the lab with these settings (default: :func:`lab_link` on localhost).

    Raises:
        NotebookError: a dataset the notebook cannot load on its own (the lab's synthetic data).
    """
    import inspect

    import nbformat.v4 as nbf

    from .train import conv_memory_format  # its source is the notebook's: the same layout as the lab

    check(experiment, spec)
    runs = training_nets(experiment, spec)
    data = runs[0][2].data
    _channels, size, _classes = shape_of(data)
    sources: dict[str, tuple[NetConfig, str]] = {}
    for _name, net, _run in runs:
        sources.setdefault(_slug(net.name), (net, render(net, tr)))
    title, *explanation = prose or (f"{experiment.name}: {experiment.help}",)
    link = lab_url or lab_link(experiment, spec, lang=lang)
    cells = [nbf.new_markdown_cell(f"# {title}\n\n" + "\n\n".join(p.strip() for p in explanation)),
             nbf.new_markdown_cell(tr(DIFFERS) + "\n\n" + tr(BACK).format(url=f"<{link}>")),
             nbf.new_markdown_cell(tr(SETTINGS)),
             nbf.new_code_cell("import torch\n\n"
                               f"SPEC = {_py(spec)}  # {experiment.name}\n"
                               f"DATA = {_py(data)}\nIMAGE_SIZE = {size}\n"
                               + ('DATA_ROOT = "data"  # where torchvision finds (or downloads) the dataset\n'
                                  if data.name != "digits" else "") +
                               'DEVICE = "cuda" if torch.cuda.is_available() else "cpu"\n\n\n'
                               + inspect.getsource(conv_memory_format) +
                               '\n\nprint(DEVICE)'),
             nbf.new_markdown_cell(tr(DATA)), nbf.new_code_cell(_data_source(data.name, tr)),
             nbf.new_markdown_cell(tr(NETS))]
    for slug, (net, source) in sources.items():
        block, cls = class_names(net)
        cells += [nbf.new_markdown_cell(f"### {net.title(tr)}"), nbf.new_code_cell(f"%%writefile {slug}.py\n{source}")]
    cells += [nbf.new_code_cell("import importlib\n\nMAKE_NET = {\n" + "".join(
        f'    "{slug}": importlib.import_module("{slug}").make_net,\n' for slug in sources) + "}\n"
        "RUNS = {\n" + "".join(f'    "{name}": {{"net": "{_slug(net.name)}", "train": {_py(run.train)}}},\n'
                              for name, net, run in runs) + "}")]
    cells += [nbf.new_markdown_cell(tr(TRAINING)), nbf.new_code_cell(TRAIN_CODE),
              nbf.new_markdown_cell(tr(RUN)), nbf.new_code_cell(_run_code(tr))]
    note, plot = _plot_code(experiment, spec, tr)
    cells += [nbf.new_markdown_cell(tr(RESULT) + "\n\n" + note + " " + tr(SAVED)), nbf.new_code_cell(plot)]
    notebook = nbf.new_notebook(cells=cells)
    notebook.metadata.update({"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                              "language_info": {"name": "python"}, "resnet_viz": {"experiment": experiment.name,
                                                                                 "lang": lang}})
    return notebook


def _py(obj: Any) -> str:
    """A config as a Python literal (nested dataclasses as dicts)."""
    import pprint

    from .config import to_dict

    return pprint.pformat(to_dict(obj), sort_dicts=False, width=110)


def dumps(notebook) -> str:
    """The notebook as .ipynb text."""
    import nbformat

    nbformat.validate(notebook)
    return nbformat.writes(notebook)


__all__ = ["NotebookError", "build", "check", "dumps", "lab_link", "training_nets"]
