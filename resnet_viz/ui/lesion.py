"""View pieces of the ensembles page: explanations, precomputed nets, block toggles, lesion plots."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import streamlit as st
from safetensors.torch import load_file

from ..data import load_dataset
from ..experiments import lesion as les
from ..figures import lesion_curve_figure, lesion_single_figure, path_length_figure
from ..lesion import accuracy_without, cannot_drop_reason, central_range, path_lengths
from ..store import RunStore

ASSETS = Path(__file__).resolve().parents[2] / "assets"
PRESET_RESULT = ASSETS / "lesion_preset.json"
PRESET_WEIGHTS = ASSETS / "lesion_preset"
PRESET_COMMAND = "python -m resnet_viz lesion --dataset digits --depth 56 --steps 400 --seed 0 --out assets/lesion_preset.json"

UNRAVELED = r"""
**The unraveled view.** Write one residual block as $x_1 = x_0 + f_1(x_0)$. Two blocks give
$x_2 = x_0 + f_1(x_0) + f_2(x_0 + f_1(x_0))$: the data can skip or enter each block, so a net of
$n$ blocks is a collection of $2^n$ paths of different lengths (Veit, Wilber and Belongie 2016).
Remove one block and half of the paths remain, all of them ones the net was trained with.
"""

WHY = """
**Why a plain net collapses.** A plain net is *one* path through every layer. Remove any layer and
that path is gone: the next layer receives something it never saw in training, and accuracy falls
to chance.

**Why some blocks matter more.** Removing a residual block whose shape changes (dashed lines in
(a)) still leaves its zero-padded shortcut, but the later blocks lose the features it added at the
new resolution; the first blocks, which see the raw image, carry most paths' early processing.
Veit et al. found the same on ImageNet: downsampling blocks are the ones ResNets cannot spare.
"""


def load_preset(spec: les.Spec) -> dict | None:
    """The precomputed result shipped in assets/, if it was made with ``spec``."""
    try:
        data = json.loads(PRESET_RESULT.read_text())
    except (OSError, ValueError):
        return None
    return data if data.get("spec") == json.loads(json.dumps(asdict(spec))) else None


class SharedNets(dict):
    """variant -> trained net, shared by every session of the server (``st.cache_resource``).

    Removing blocks and Captum's hooks change a net while they run, so every use holds ``lock``:
    without it, under a class's load, one session's lesion or attribution broke another's
    ("The differentiated Tensor ... appears to not have been used in the graph", seen in bench/load.py).
    """

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.RLock()


@st.cache_resource(max_entries=8)
def _models(source: str, keys: tuple[str, ...], spec_items: tuple) -> SharedNets:
    """Trained nets for the toggles: the preset's from assets/, or the run store's (by train key)."""
    subs = les.Spec(**dict(spec_items)).train_specs()
    store = None if source == "preset" else RunStore(source)
    models = SharedNets()
    for variant, key, sub in zip(("plain", "residual"), keys, subs):
        weights = load_file(PRESET_WEIGHTS / f"{variant}.safetensors") if store is None else store.load_weights(key)
        models[variant] = les.trained_model(sub, weights)
    return models


def models_for(spec: les.Spec, result: dict, store: RunStore | None) -> SharedNets:
    """The two trained nets of a lesion result; ``store`` None means the shipped preset."""
    items = tuple(asdict(spec).items())
    if store is None:
        return _models("preset", ("plain", "residual"), items)
    return _models(str(store.root), tuple(r["train_key"] for r in result["runs"]), items)


def block_toggles(models: dict, result: dict, dataset) -> None:
    """A row of block toggles; the test accuracy of both nets updates as blocks are removed."""
    n = result["blocks"]
    info = result["runs"][-1]["single_block"]
    downsampling = {b["block"] for b in info if b["changes_shape"]}
    chosen = st.pills("Blocks to remove (↓ = downsampling block)", list(range(n)), selection_mode="multi",
                      format_func=lambda b: f"{b}↓" if b in downsampling else str(b), key="lesion_blocks")
    cols = st.columns(len(models) + 1)
    start = time.perf_counter()
    for col, (variant, model) in zip(cols, models.items()):
        name = f"{'ResNet' if variant == 'residual' else 'plain'}-{result['runs'][0]['depth']}"
        base = next(r["base_test_accuracy"] for r in result["runs"] if r["variant"] == variant)
        blocked = [b for b in chosen if not model.blocks[b].droppable]
        if blocked:
            col.metric(name, "cannot run", border=True)
            col.caption(cannot_drop_reason(model, blocked[0]))
            continue
        with models.lock:
            acc = accuracy_without(model, dataset.test_x, dataset.test_y, chosen)
        col.metric(f"{name}: test accuracy", f"{acc:.3f}", f"{acc - base:+.3f} vs all blocks", border=True)
    cols[-1].caption(f"{len(chosen)} of {n} blocks removed · both nets re-evaluated on the {len(dataset.test_y)} "
                     f"test images in {time.perf_counter() - start:.2f} s")


def show_result(result: dict, chance: float) -> None:
    rows = pd.DataFrame([{"variant": r["variant"], "base_test_accuracy": r["base_test_accuracy"], **b}
                         for r in result["runs"] for b in r["single_block"]])
    rows["test_accuracy"] = rows["test_accuracy"].astype(float)
    st.plotly_chart(lesion_single_figure(rows, chance), width="stretch")
    st.caption("(a) Test accuracy after removing one block at a time (Veit et al. Fig. 3). The residual net "
               "keeps most of its accuracy for most blocks; the plain net falls toward chance. X: blocks a plain "
               "net cannot lose at all.")
    c1, c2 = st.columns(2)
    drops = pd.DataFrame([{"variant": r["variant"], **k} for r in result["runs"] for k in r["random_k"]])
    swaps = pd.DataFrame([{"variant": r["variant"], **k} for r in result["runs"] for k in r["swaps"]])
    c1.plotly_chart(lesion_curve_figure(drops, "blocks removed at random (k)", chance), width="stretch")
    c1.caption("(b) Remove k random blocks that keep the shape (mean ± std over draws; Veit et al. Fig. 5a): "
               "the residual net degrades smoothly, like an ensemble losing members.")
    c2.plotly_chart(lesion_curve_figure(swaps, "random swaps of neighbouring blocks (k)", chance), width="stretch")
    c2.caption("(c) Swap k random pairs of neighbouring blocks (Fig. 5b): reordering hurts a residual net "
               "gradually; a plain net, whose layers only work in their trained order, collapses.")


def path_view(n: int) -> None:
    dist = path_lengths(n)
    lo, hi = central_range(dist)
    share = sum(d["share"] for d in dist[lo:hi + 1])
    st.plotly_chart(path_length_figure(pd.DataFrame(dist), (lo, hi)), width="stretch")
    st.caption(f"(d) Computed for this depth: {n} blocks give 2^{n} = {2 ** n:,} paths; {100 * share:.1f}% of "
               f"them go through {lo} to {hi} blocks (shaded). Published (Veit et al. 2016, ResNet-110 with 54 "
               "blocks): more than 95% of paths go through 19 to 35 blocks, yet almost all of the gradient "
               "during training comes from paths of only 5 to 17 blocks, the *effective* paths, 0.45% of all.")


def chance_of(dataset) -> float:
    return 1.0 / dataset.num_classes


def dataset_of(spec: les.Spec):
    return load_dataset(spec.train_specs()[0].data)
