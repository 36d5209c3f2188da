"""Trained nets shared by every session, and what is computed from them.

The nets live in ``st.cache_resource`` and are never changed: removing blocks is an argument of the
forward pass (:meth:`resnet_viz.models.ResNet.forward`) and the hook-based attributions work on a
per-call copy (:mod:`resnet_viz.attribution`), so sessions run in parallel without a lock. Results
for a (pair, blocks removed) or (pair, image, method) are cached for everyone (``st.cache_data``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st
from safetensors.torch import load_file

from .. import attribution as attr
from .. import pretrained
from ..data import Dataset, load_dataset
from ..experiments import lesion as les
from ..lesion import accuracy_without
from ..models import ResNet
from ..paths import ASSETS
from ..protocol import made_on, preset_command, preset_result, spec_from_dict
from ..store import RunStore
from .lang import _

PRESET = les.EXPERIMENT.presets[0]  # the lesson nets, shipped: their lesion result and (below) their weights
PRESET_WEIGHTS = ASSETS / "lesion_preset"
PRESET_COMMAND = preset_command(les.EXPERIMENT, PRESET)


@dataclass(frozen=True)
class Pair:
    """A trained plain/residual pair: ``id`` names it in every cache; ``nets`` is read-only."""

    id: str
    spec: les.Spec
    result: dict
    nets: dict[str, ResNet]
    data: Dataset


def load_preset(spec: les.Spec) -> dict | None:
    """The precomputed lesion result shipped in assets/, if it was made with ``spec``."""
    return preset_result(PRESET) if spec == PRESET.spec else None


@st.cache_resource(max_entries=8, show_spinner=False)
def _nets(source: str, keys: tuple[str, ...], _spec: les.Spec) -> dict[str, ResNet]:
    store = None if source == "preset" else RunStore(source)
    nets = {}
    for key, sub in zip(keys, les.training_runs(_spec)):
        variant = les.variant_of(sub)
        weights = load_file(PRESET_WEIGHTS / f"{variant}.safetensors") if store is None else store.load_weights(key)
        nets[variant] = les.trained_model(sub, weights)  # eval mode, never switched or changed after this
    return nets


@st.cache_resource(max_entries=4, show_spinner=False)
def _published_images(test_images: int, seed: int) -> Dataset:
    """The CIFAR-10 test images a published net's lesion result was measured on, as a Dataset (no training split)."""
    x, y = pretrained.test_data(pretrained.Source(test_images=test_images), seed)
    return Dataset(name="cifar10", train_x=x[:0], train_y=y[:0], test_x=x, test_y=y, classes=pretrained.CLASSES)


def pair(spec: les.Spec, result: dict, store: RunStore | None) -> Pair:
    """The two trained nets of a lesion result; ``store`` None means the shipped preset. For a published net's result,
    that one net (shared, never changed) and the CIFAR-10 test images it was measured on."""
    if spec.source.active:
        with st.spinner(_("Loading the published net...")):
            model = pretrained.open_source(spec.source)
        data = _published_images(spec.source.test_images, spec.train.seed)
        return Pair(f"published:{spec.source.name}:{spec.source.test_images}:{spec.train.seed}", spec, result,
                    {"residual": model}, data)
    keys = ("plain", "residual") if store is None else tuple(r["train_key"] for r in result["runs"])
    source = "preset" if store is None else str(store.root)
    with st.spinner(_("Loading the trained nets...")):
        nets = _nets(source, keys, spec)
    return Pair(f"{source}:{','.join(keys)}", spec, result, nets, load_dataset(spec.data))


def sources(store: RunStore, preset_label: str, stored_label: str,
            published_label: str = "") -> dict[str, tuple[les.Spec, dict, RunStore | None]]:
    """Label -> (lesion spec, lesion result, store or None for the shipped preset) of every pair, and of every
    published net whose lesions are stored (``published_label``: name, images)."""
    found = {}
    if (shipped := load_preset(PRESET.spec)) is not None:
        found[f"{preset_label} ({made_on(shipped)})"] = (PRESET.spec, shipped, None)
    for run in store.runs("lesion"):
        try:
            spec = spec_from_dict(les.Spec, run.spec)
        except (TypeError, ValueError):
            continue
        if spec.source.active:
            here = spec.source.file.is_file()  # shown without a download
            if published_label and run.result.get("status") == "completed" and here:
                name = _(pretrained.SOURCE_WORDS.get(spec.source.pretrained) or spec.source.name)
                found[published_label.format(name=name, images=spec.source.test_images)] = (
                    spec, run.result, store)
            continue
        label = stored_label.format(depth=spec.net.depth, width=spec.net.width, steps=spec.train.steps, key=run.key[:8])
        label += f" ({made_on(run.result)})"  # which device and precision trained them
        found[label] = (spec, run.result, store)
    return found


def lesion_accuracy(p: Pair, variant: str, blocks: tuple[int, ...]) -> float:
    """Test accuracy of one net of the pair with ``blocks`` removed, computed once for everyone."""
    return _lesion_accuracy(p.id, variant, tuple(sorted(blocks)), p)


@st.cache_data(max_entries=4096, show_spinner=False)
def _lesion_accuracy(pair_id: str, variant: str, blocks: tuple[int, ...], _p: Pair) -> float:
    return accuracy_without(_p.nets[variant], _p.data.test_x, _p.data.test_y, blocks)


@st.cache_data(max_entries=64, show_spinner=False)
def _predictions(pair_id: str, n: int, _p: Pair) -> dict[str, list[int]]:
    x = _p.data.test_x[:n]
    return {v: attr.predictions(m, x).argmax(1).tolist() for v, m in _p.nets.items()}


def predictions(p: Pair, n: int) -> dict[str, list[int]]:
    """Each net's predicted class for the first ``n`` test images."""
    return _predictions(p.id, n, p)


@st.cache_data(max_entries=1024, show_spinner=False)
def _maps(pair_id: str, index: int, method: str, target_mode: str, stage: int, _p: Pair) -> list[dict]:
    x = _p.data.test_x[index:index + 1]
    label = int(_p.data.test_y[index])
    rows = []
    for variant, model in _p.nets.items():
        probs = attr.predictions(model, x)[0]
        predicted = int(probs.argmax())
        target = predicted if target_mode == "predicted" else label if target_mode == "label" else int(target_mode)
        out = attr.attribution_map(model, x, target, method, stage)
        rows.append({"variant": variant, "prediction": predicted, "probability": float(probs[predicted]),
                     "target": target, "map": out["map"].numpy(),
                     **{k: out[k] for k in ("output_change", "attribution_sum", "convergence_delta", "steps", "converged")
                        if k in out}})
    return rows


def maps(p: Pair, index: int, method: str, target_mode: str, stage: int) -> list[dict]:
    """Per net: prediction, probability, explained class, the attribution map and (IG) its check."""
    return _maps(p.id, index, method, target_mode, stage, p)


@st.cache_data(max_entries=32, show_spinner=False)
def _importance(pair_id: str, variant: str, n: int, _p: Pair) -> list[dict]:
    return attr.block_importance(_p.nets[variant], _p.data.test_x[:n], _p.data.test_y[:n])


def importance(p: Pair, variant: str, n: int) -> list[dict]:
    """Gradient x activation of every block's branch output on the first ``n`` test images."""
    with st.spinner(_("Computing gradient x activation for every block...")):
        return _importance(p.id, variant, n, p)


def image(p: Pair, index: int) -> np.ndarray:
    return attr.to_image(p.data.test_x[index])
