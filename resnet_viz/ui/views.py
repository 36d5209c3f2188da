"""Results drawn on the pages: plots from :mod:`resnet_viz.figures`, tables and their captions
(words from :mod:`.texts`). Nothing here trains or changes a shared net."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ..config import SHORTCUTS
from ..counting import block_cost, count, family_rows, preact_rows, three_by_three
from ..diagram import architecture_dot
from ..experiments import degradation as deg
from ..experiments import gradients as gf
from ..experiments import landscape as land
from ..experiments import paths as pa
from ..experiments import shortcuts as sc
from ..figures import (SURFACE_CAP, attribution_figure, block_cost_figure, block_importance_figure,
                       chain_rule_figure, effective_paths_figure, error_vs_depth_figure, family_stages_figure,
                       gradient_heatmap_figure, gradient_norms_figure, interpolation_figure, landscape_contour_figure,
                       landscape_surface_figure, lesion_curve_figure, lesion_single_figure, lineage_figure,
                       path_gradient_figure, path_length_figure, response_std_figure, shortcut_curves_figure,
                       shortcut_factor_figure, stage_cost_figure, training_curves_figure)
from ..i18n import N_
from ..lesion import central_range, check_removable, path_lengths
from ..lineage import ERROR_SOURCE, lineage_table
from ..probes import describe_ratio
from ..protocol import preset, run_name
from . import guard, nets
from .lang import _, language, quiz_on
from .texts import Attributions, Degradation, Ensembles, Gradients, Landscape, Parameters, Paths, WhyIdentity
from .widgets import control

ASSETS = Path(__file__).resolve().parents[2] / "assets"
DEGRADATION_PRESET = ASSETS / "degradation_preset.json"
DEGRADATION_COMMAND = ("python -m resnet_viz degradation --dataset digits --depths 20,56 --steps 300 --width 8 "
                       "--batch-size 128 --seed 0 --out assets/degradation_preset.json")

# He et al. 2016, Table 6: CIFAR-10 test error (%) of residual nets. No plain-net numbers were
# published for CIFAR (plain nets appear only as curves; "plain-110 is higher than 60%").
TABLE6_COLUMNS = (N_("net"), N_("test error (%)"), N_("note"))
# Other table headers shown as they are named (the tables' column names are their message ids).
TABLE_HEADERS = (N_("seed"), N_("status"), N_("correct"), N_("explained class"), N_("prediction"), N_("probability"),
                 N_("setting"), N_("loss at centre"), N_("curvature ratio"), N_("convex share"), N_("basin share"),
                 N_("mean response std"), N_("block"), N_("formula"))
TABLE6 = pd.DataFrame({"net": ["ResNet-20", "ResNet-32", "ResNet-44", "ResNet-56", "ResNet-110", "ResNet-1202"],
                       "test error (%)": [8.75, 7.51, 7.17, 6.97, 6.43, 7.93],
                       "note": ["", "", "", "", "best of 5 runs; mean 6.61 ± 0.16", "overfits: 19.4M parameters"]})


def _chart(where: Any, fig: go.Figure, **kwargs: Any) -> None:
    """``where.plotly_chart`` with the figure's words in the session's language (a translated copy:
    cached figures are shared by every session and never changed)."""
    where.plotly_chart(localized(fig), **kwargs)


def localized(fig: go.Figure) -> go.Figure:
    """A copy of ``fig`` with its titles, axis titles, legend, annotations, trace names and hover
    texts in the session's language; ``fig`` itself in English."""
    if language() == "en":
        return fig
    fig = go.Figure(fig)
    layout = fig.layout
    if layout.title and layout.title.text:
        layout.title.text = _(layout.title.text)
    if layout.legend and layout.legend.title and layout.legend.title.text:
        layout.legend.title.text = _(layout.legend.title.text)
    for name in list(layout):
        axis = getattr(layout, name, None)
        if name.startswith(("xaxis", "yaxis")) and axis is not None and axis.title and axis.title.text:
            axis.title.text = _(axis.title.text)
        if name.startswith("scene") and axis is not None:
            for sub in (axis.xaxis, axis.yaxis, axis.zaxis):
                if sub.title and sub.title.text:
                    sub.title.text = _(sub.title.text)
    for note in layout.annotations or ():
        if note.text:
            note.text = _(note.text)
    for trace in fig.data:
        if getattr(trace, "name", None):
            trace.name = _(trace.name)
        if getattr(trace, "hovertemplate", None) and isinstance(trace.hovertemplate, str):
            trace.hovertemplate = _(trace.hovertemplate)
        colorbar = getattr(trace, "colorbar", None)
        if colorbar is not None and colorbar.title and colorbar.title.text:
            colorbar.title.text = _(colorbar.title.text)
    return fig


def _table(where: Any, data: Any, column_config: dict | None = None, **kwargs: Any) -> None:
    """``where.dataframe`` with the column headers in the session's language (the data as it is)."""
    frame = data if isinstance(data, pd.DataFrame) else pd.DataFrame(data)
    config = {_(str(name)): value for name, value in (column_config or {}).items()}
    where.dataframe(frame.rename(columns=lambda c: _(str(c))), column_config=config, **kwargs)


# --- what a background lesson shows ---------------------------------------------------------------

def stored_or_preset(panel, show: Callable[[dict, str, str], None], measured: Callable[[dict], str],
                     preset_result: dict | None, command: str, texts: Any,
                     answer: Callable[[dict], int | None] | None = None) -> None:
    """The stored result of the chosen settings, else (while nothing trains) the shipped preset with
    its command, else a line saying how to train. ``show(result, label, ident)`` draws a result.
    With ``?quiz=1`` and an ``answer`` (the option the result bears out), the page's question comes
    first and the result only once it is answered."""
    result = panel.stored.result if panel.stored is not None else None if panel.active else preset_result
    if answer is not None and not quiz(texts, result, answer):
        return
    if panel.stored is not None:
        show(panel.stored.result, measured(panel.stored.result), panel.stored.key)
    elif not panel.active and preset_result is not None:
        st.info(texts.preset, icon=":material/history:")
        show(preset_result, texts.preset_label.format(command=command), "preset")
    elif not panel.active:
        st.info(texts.not_trained)


def quiz(texts: Any, result: dict | None, answer: Callable[[dict], int | None]) -> bool:
    """Predict before you look (``?quiz=1``): the page's question; True when the result may be shown
    (no quiz, or answered). The right option is read from the result itself, never typed in."""
    if not quiz_on():
        return True
    st.markdown("**" + _("Predict before you look.") + "** " + texts.quiz)
    options = list(texts.quiz_options)
    choice = st.radio(_("Your prediction"), range(len(options)), format_func=lambda i: options[i], index=None,
                      key=f"quiz-{texts.__name__}")
    if choice is None:
        st.info(_("Make your prediction first: the result appears once you have."), icon=":material/quiz:")
        return False
    right = answer(result) if result is not None else None
    if right is None:
        st.info(_("Your prediction is noted: the result will tell (train it with the button above)."))
        return True
    verdict = _("Your prediction was right.") if choice == right else _("The measurement says otherwise.")
    (st.success if choice == right else st.warning)(
        f"{verdict} " + _("Measured here: {answer}.").format(answer=options[right]) + f" {texts.quiz_why}")
    return True


def answer_degradation(result: dict) -> int | None:
    """0: the deeper plain net has the higher training error, 1: the shallower one (mean over seeds)."""
    plain = {}
    for r in result["runs"]:
        if r["variant"] == "plain" and r["final_train_error"] is not None:
            plain.setdefault(r["depth"], []).append(r["final_train_error"])
    if len(plain) < 2:
        return None
    shallow, deep = min(plain), max(plain)
    return 0 if _mean(plain[deep]) > _mean(plain[shallow]) else 1


def answer_gradients(result: dict) -> int | None:
    """The plain net's first/last gradient ratio at initialization: 0 vanishes, 1 stays, 2 explodes."""
    plain = [r["first_last_ratio"] for r in result["runs"] if r["variant"] == "plain"]
    if not plain:
        return None
    return 0 if plain[0] < 1e-2 else 2 if plain[0] > 100 else 1


def answer_lesion(result: dict) -> int | None:
    """0: the plain net loses more accuracy when one block is removed (median over blocks), 1: the residual."""
    lost = {}
    for r in result["runs"]:
        accs = sorted(b["test_accuracy"] for b in r["single_block"] if b["test_accuracy"] is not None)
        if accs and r["variant"] in ("plain", "residual"):
            lost[r["variant"]] = r["base_test_accuracy"] - accs[len(accs) // 2]
    if len(lost) < 2:
        return None
    return 0 if lost["plain"] > lost["residual"] else 1


SHORTCUT_QUIZ = ("identity", "scaling", "gating", "dropout")


def answer_shortcuts(result: dict) -> int | None:
    """Which of identity, scaling, gating (any bias) and dropout reached the lowest training error
    (the identity on a tie: it is the simplest)."""
    best = {}
    for r in result["runs"]:
        family = "gating" if r["variant"] in ("gating", "shortcut_gating") else r["variant"]
        if family in SHORTCUT_QUIZ and r["final_train_error"] is not None:
            best[family] = min(best.get(family, 1.0), r["final_train_error"])
    if "identity" not in best or len(best) < 2:
        return None
    low = min(best.values())
    return next(SHORTCUT_QUIZ.index(f) for f in SHORTCUT_QUIZ if best.get(f) == low)


def answer_landscape(result: dict) -> int | None:
    """0: the plain net's surface is less folded (lower curvature ratio), 1: the residual net's."""
    ratio = {r["variant"]: r["numbers"]["curvature_ratio"] for r in result["runs"]}
    if len(ratio) < 2:
        return None
    return 0 if ratio["plain"] < ratio["residual"] else 1


# --- degradation ----------------------------------------------------------------------------------

def degradation_preset() -> dict | None:
    """The precomputed preset result shipped in assets/, if it matches the preset spec."""
    return preset(DEGRADATION_PRESET, deg.PRESET)


def published_table() -> None:
    st.markdown(Degradation.published)
    _table(st, TABLE6, hide_index=True, width="stretch")
    st.caption(Degradation.published_note)


def sweep_host() -> bool:
    """Does this server sweep (Ray configured by the host, or a GPU)? Then pages offer the sweep button
    and the paper's recipes."""
    from ..backends import ray_address
    from . import accelerated

    return guard(ray_address) is not None or accelerated()


def recipe_choice(where: Any) -> str:
    """The recipe control (lesson / the paper's / its short version) on hosts that sweep; "lesson" elsewhere."""
    if not sweep_host():
        return "lesson"
    return control(where, "radio", "recipe", Degradation.recipe, list(deg.RECIPES), "lesson",
                   help=Degradation.recipe_help,
                   format_func=lambda r: Degradation.recipe_names[list(deg.RECIPES).index(r)])


def degradation_spec(recipe: str, values: dict) -> deg.Spec:
    """The page's Spec: the widgets' values (None for a control the recipe hides), with the recipe's
    settings over them (its depths excepted)."""
    from .widgets import spec_from

    values = {k: v for k, v in values.items() if v is not None}
    fixed = {k: v for k, v in deg.RECIPES[recipe].items() if k != "depths"}
    if fixed:
        st.caption(Degradation.recipe_note.format(dataset=fixed["dataset"], width=fixed["width"], steps=fixed["steps"],
                                                  batch=fixed["batch_size"], lr=fixed["lr"]))
    return spec_from(deg.Spec, {**values, **fixed})


def tensorboard_button(result: dict, spec: Any, name: str) -> None:
    """A download of the result's runs as TensorBoard event files (written when pressed)."""
    from ..tboard import zipped

    st.download_button(Degradation.tensorboard, lambda: zipped(result, spec), file_name=f"{name}_tensorboard.zip",
                       mime="application/zip", icon=":material/insights:", help=Degradation.tensorboard_help,
                       on_click="ignore", key=f"tensorboard-{name}")


def degradation_live(records: list[dict], max_points: int = 200) -> None:
    """The curves so far; each run thinned to about ``max_points`` steps to keep redraws cheap."""
    if records:
        per_run = max(1, records[-1]["total"] // max_points)
        records = [r for r in records if "variant" in r and (r["done"] % per_run == 0 or r["done"] == r["total"])]
        _chart(st, training_curves_figure(deg.history_frame(records)), width="stretch", key="live-curves")


@st.cache_resource(max_entries=32, show_spinner=False)
def _degradation_figures(ident: str, _result: dict) -> tuple:
    """Built once per result for every session (figures are never changed after this): building them
    was most of a warm page's time, and 60 students share one server."""
    history = deg.history_frame(deg.result_history(_result))
    summary = deg.summary_frame(_result)
    return (training_curves_figure(history), error_vs_depth_figure(summary), summary,
            history.to_csv(index=False))


def degradation_result(result: dict, label: str, ident: str, spec: deg.Spec | None = None) -> None:
    """Plots (a) curves, (b) error vs depth, (c) table with a CSV download (and, with ``spec``, a
    TensorBoard download); ``ident`` names the result (its store key, or the preset) for the shared
    figure cache."""
    st.caption(label)
    curves, errors, summary, csv = _degradation_figures(ident, result)
    _chart(st, curves, width="stretch")
    st.caption(Degradation.curves)
    _chart(st, errors, width="stretch")
    st.caption(Degradation.errors)
    for r in result["runs"]:
        if r["status"] == "diverged":
            st.warning(f"{r['variant']}-{r['depth']} (seed {r['seed']}): {_(r['message'])}")
    _table(st, summary, hide_index=True, width="stretch", column_config={
        "final_train_error": st.column_config.NumberColumn(_("train error"), format="%.4f"),
        "final_test_error": st.column_config.NumberColumn(_("test error"), format="%.4f"),
        "seconds": st.column_config.NumberColumn(_("seconds"), format="%.1f")})
    st.download_button(Degradation.csv, csv, file_name="degradation.csv", mime="text/csv",
                       icon=":material/download:")
    tensorboard_button(result, spec or deg.PRESET, "degradation")


def degradation_measured(result: dict) -> str:
    first = result["runs"][0] if result["runs"] else {}
    return Degradation.measured.format(device=first.get("device", "?"), runs=len(result["runs"]),
                                       seconds=sum(r["seconds"] for r in result["runs"]))


# --- why identity? --------------------------------------------------------------------------------

SHORTCUTS_PRESET = ASSETS / "shortcuts_preset.json"
SHORTCUTS_COMMAND = ("python -m resnet_viz shortcuts --dataset digits --depth 56 --width 8 --steps 300 --seed 0 "
                     "--out assets/shortcuts_preset.json")


def shortcuts_preset() -> dict | None:
    """The precomputed result of the default lesson shipped in assets/."""
    return preset(SHORTCUTS_PRESET, sc.PRESET)


def _shortcut_history(records: list[dict]) -> pd.DataFrame:
    return pd.DataFrame.from_records(records, columns=["variant", "label", "step", "train_error"])


def shortcuts_live(records: list[dict], max_points: int = 200) -> None:
    """The curves so far, one line per run, labelled as in the finished result."""
    if records:
        per_run = max(1, records[-1]["total"] // max_points)
        rows = [{"variant": r["variant"], "label": r["label"], "step": r["done"], "train_error": r["train_error"]}
                for r in records if "train_error" in r and (r["done"] % per_run == 0 or r["done"] == r["total"])]
        _chart(st, shortcut_curves_figure(_shortcut_history(rows)), width="stretch", key="live-shortcuts")


def _shortcut_table(result: dict) -> pd.DataFrame:
    cols = ["label", "variant", "final_train_error", "final_test_error", "shortcut_gradient_factor_init",
            "shortcut_gradient_factor", "expected_factor", "seconds"]
    table = pd.DataFrame.from_records([{c: r.get(c) for c in cols} for r in result["runs"]], columns=cols)
    return table.astype({"expected_factor": float})  # None (data-dependent) shows as a blank


@st.cache_resource(max_entries=32, show_spinner=False)
def _shortcuts_figures(ident: str, _result: dict) -> tuple:
    """Built once per result for every session (never changed after this)."""
    history = _shortcut_history([{"variant": r["variant"], "label": r["label"], **h}
                                 for r in _result["runs"] for h in r["history"]])
    table = _shortcut_table(_result)
    return shortcut_curves_figure(history), shortcut_factor_figure(table), table


def shortcuts_result(result: dict, label: str, ident: str) -> None:
    """Curves, the table of final errors and shortcut factors, and the factor plot."""
    st.caption(label)
    curves, factors, table = _shortcuts_figures(ident, result)
    _chart(st, curves, width="stretch")
    st.caption(WhyIdentity.curves)
    for r in result["runs"]:
        if r["status"] == "diverged":
            st.warning(f"{r['label']}: {r['message']}")
    _table(st, table.drop(columns=["variant"]), hide_index=True, width="stretch", column_config={
        "label": st.column_config.TextColumn(_("shortcut")),
        "final_train_error": st.column_config.NumberColumn(_("train error"), format="%.4f"),
        "final_test_error": st.column_config.NumberColumn(_("test error"), format="%.4f"),
        "shortcut_gradient_factor_init": st.column_config.NumberColumn(_("factor at init"), format="%.3g"),
        "shortcut_gradient_factor": st.column_config.NumberColumn(_("factor trained"), format="%.3g"),
        "expected_factor": st.column_config.NumberColumn(_("product of λ's"), format="%.3g"),
        "seconds": st.column_config.NumberColumn(_("seconds"), format="%.1f")})
    st.caption(WhyIdentity.table.format(blocks=result["blocks"], depth=result["depth"]))
    _chart(st, factors, width="stretch")
    st.caption(WhyIdentity.factors.format(blocks=result["blocks"]))


def shortcuts_published() -> None:
    """He et al. 2016b, Table 1, labelled as published."""
    st.markdown(WhyIdentity.published)
    _table(st, pd.DataFrame(sc.PUBLISHED), hide_index=True, width="stretch", column_config={
        "test_error": st.column_config.TextColumn(_("test error (%)"))})
    st.caption(sc.PUBLISHED_SOURCE + ". " + WhyIdentity.published_note)


def shortcuts_measured(result: dict) -> str:
    first = result["runs"][0] if result["runs"] else {}
    return WhyIdentity.measured.format(device=first.get("device", "?"), runs=len(result["runs"]),
                                       seconds=sum(r["seconds"] for r in result["runs"]))


# --- gradient flow --------------------------------------------------------------------------------

GRADIENT_LESSONS = {  # lesson -> control values (the keys of the widgets below)
    N_("BN + ReLU: the paper's nets"): {"gf_bn": True, "gf_act": "relu", "gf_block": "basic"},
    N_("No BN, sigmoid: gradients vanish"): {"gf_bn": False, "gf_act": "sigmoid", "gf_block": "basic"},
    N_("No BN, sigmoid, pre-activation: the fix"): {"gf_bn": False, "gf_act": "sigmoid", "gf_block": "preact"},
}
GRADIENT_BLOCKS = {"basic": N_("original (activation after the addition)"), "preact": N_("pre-activation (nothing after it)"),
          "preact_bottleneck": N_("pre-activation bottleneck (ResNet-164, 9n+2)")}


@st.cache_data(max_entries=64, show_spinner=False)
def _at_init(spec_json: str, _spec: gf.Spec) -> dict:
    return gf.at_init(_spec)


def probe_at_init(spec: gf.Spec) -> dict:
    """The at-init probe of ``spec``, cached for everyone per net setting (not per training recipe)."""
    ident = json.dumps({"net": asdict(spec.net), "depths": spec.depths, "variants": spec.variants,
                        "data": asdict(spec.data), "seed": spec.train.seed})
    with st.spinner(_("Probing the nets at initialization...")):
        return _at_init(ident, spec)


def ratio_metrics(result: dict) -> None:
    cols = st.columns(len(result["runs"]))
    for col, r in zip(cols, result["runs"]):
        ratio = r["first_last_ratio"]
        col.metric(Gradients.ratio_label.format(name=r["name"]), f"{ratio:.3g}", _(describe_ratio(ratio)),
                   delta_color="off", delta_arrow="off", border=True, help=Gradients.ratio_help)


def init_plots(result: dict) -> None:
    _chart(st, gradient_norms_figure(gf.layers_frame(result)), width="stretch")
    st.caption(Gradients.norms)
    _chart(st, chain_rule_figure(gf.blocks_frame(result)), width="stretch")
    st.caption(Gradients.chain)


def gradients_live(records: list[dict]) -> None:
    """The heatmap so far, from the probes carried by the job's progress records."""
    checkpoints: dict[str, dict] = {}
    for r in records:
        if "grad_norms" in r:
            c = checkpoints.setdefault(r["variant"], {"steps": [], "grad_norms": [],
                                                      "layer_names": [str(i) for i in range(len(r["grad_norms"]))]})
            c["steps"].append(r["done"])
            c["grad_norms"].append(r["grad_norms"])
    if checkpoints:
        _chart(st, gradient_heatmap_figure(checkpoints), width="stretch", key="live-heatmap")


def gradients_result(result: dict) -> None:
    st.caption(Gradients.measured.format(device=result["runs"][0]["device"]))
    _chart(st, gradient_heatmap_figure({r["variant"]: r["checkpoints"] for r in result["runs"]}), width="stretch")
    st.caption(Gradients.heatmap)
    _chart(st, response_std_figure(gf.responses_frame(result)), width="stretch")
    st.caption(Gradients.responses)
    rows = [{"net": r["name"], "status": r["status"], "train error": r["final_train_error"],
             "test error": r["final_test_error"], "mean response std": _mean([l["std"] for l in r["responses_trained"]]),
             "seconds": r["seconds"]} for r in result["runs"]]
    _table(st, rows, hide_index=True, width="stretch", column_config={
        **{k: st.column_config.NumberColumn(_(k), format="%.3f") for k in ("train error", "test error", "mean response std")},
        "seconds": st.column_config.NumberColumn(_("seconds"), format="%.1f")})
    for r in result["runs"]:
        if r["message"]:
            st.warning(f"{r['name']}: {r['message']}")


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


# --- residual nets as ensembles -------------------------------------------------------------------

def block_toggles(p: nets.Pair) -> None:
    """A row of block toggles; the test accuracy of both nets updates as blocks are removed."""
    result = p.result
    n = result["blocks"]
    downsampling = {b["block"] for b in result["runs"][-1]["single_block"] if b["changes_shape"]}
    chosen = st.pills(Ensembles.toggles, list(range(n)), selection_mode="multi",
                      format_func=lambda b: f"{b}↓" if b in downsampling else str(b), key="lesion_blocks")
    cols = st.columns(len(p.nets) + 1)
    start = time.perf_counter()
    for col, (variant, model) in zip(cols, p.nets.items()):
        name = run_name(variant, result["runs"][0]["depth"])
        base = next(r["base_test_accuracy"] for r in result["runs"] if r["variant"] == variant)
        try:
            check_removable(model, chosen)
        except ValueError as exc:
            col.metric(name, _("cannot run"), border=True)
            col.caption(str(exc))
            continue
        acc = nets.lesion_accuracy(p, variant, tuple(chosen))
        col.metric(_("{name}: test accuracy").format(name=name), f"{acc:.3f}",
                   _("{change} vs all blocks").format(change=f"{acc - base:+.3f}"), border=True)
    cols[-1].caption(Ensembles.toggles_caption.format(removed=len(chosen), n=n, images=len(p.data.test_y),
                                                      seconds=time.perf_counter() - start))


@st.cache_resource(max_entries=32, show_spinner=False)
def _lesion_figures(ident: str, chance: float, _result: dict) -> tuple:
    """Built once per result for every session (never changed after this)."""
    rows = pd.DataFrame([{"variant": r["variant"], "base_test_accuracy": r["base_test_accuracy"], **b}
                         for r in _result["runs"] for b in r["single_block"]])
    rows["test_accuracy"] = rows["test_accuracy"].astype(float)
    drops = pd.DataFrame([{"variant": r["variant"], **k} for r in _result["runs"] for k in r["random_k"]])
    swaps = pd.DataFrame([{"variant": r["variant"], **k} for r in _result["runs"] for k in r["swaps"]])
    return (lesion_single_figure(rows, chance), lesion_curve_figure(drops, "blocks removed at random (k)", chance),
            lesion_curve_figure(swaps, "random swaps of neighbouring blocks (k)", chance))


def lesion_result(result: dict, chance: float, ident: str) -> None:
    single, drops, swaps = _lesion_figures(ident, chance, result)
    _chart(st, single, width="stretch")
    st.caption(Ensembles.single)
    c1, c2 = st.columns(2)
    _chart(c1, drops, width="stretch")
    c1.caption(Ensembles.drops)
    _chart(c2, swaps, width="stretch")
    c2.caption(Ensembles.swaps)


@st.cache_resource(max_entries=32, show_spinner=False)
def _path_figure(n: int) -> tuple:
    dist = path_lengths(n)
    lo, hi = central_range(dist)
    return path_length_figure(pd.DataFrame(dist), (lo, hi)), lo, hi, sum(d["share"] for d in dist[lo:hi + 1])


def path_view(n: int) -> None:
    figure, lo, hi, share = _path_figure(n)
    _chart(st, figure, width="stretch")
    st.caption(Ensembles.paths.format(n=n, count=2 ** n, share=100 * share, lo=lo, hi=hi))


# --- attributions ---------------------------------------------------------------------------------

GRID = 32  # test images in the grid
METHOD_LABELS = {"saliency": N_("Saliency"), "integrated_gradients": N_("Integrated Gradients"), "gradcam": "GradCAM"}


def image_grid(p: nets.Pair) -> None:
    """The first test images with each net's prediction; wrong ones marked."""
    y = p.data.test_y[:GRID].tolist()
    preds = nets.predictions(p, GRID)
    captions = [f"#{i} label {y[i]} · " + " ".join(f"{v[0]}:{ps[i]}{'' if ps[i] == y[i] else '✗'}"
                                                   for v, ps in preds.items()) for i in range(GRID)]
    st.image([nets.image(p, i) for i in range(GRID)], caption=captions, width=72)
    wrong = ", ".join(f"{v} {sum(a != b for a, b in zip(ps, y))}" for v, ps in preds.items())
    st.caption(Attributions.grid.format(n=GRID, wrong=wrong))


def maps_for_image(p: nets.Pair, index: int, method: str, target_mode: str, stage: int) -> None:
    rows = nets.maps(p, index, method, target_mode, stage)
    label = int(p.data.test_y[index])
    image = nets.image(p, index)
    image = image.mean(2) if image.ndim == 3 else image
    maps = [(f"{run_name(r['variant'], p.spec.net.depth)}, class {r['target']}", r["map"],
             method == "integrated_gradients") for r in rows]
    _chart(st, attribution_figure(image, maps), width="stretch")
    table = []
    for r in rows:
        row = {"net": r["variant"], "prediction": r["prediction"], "probability": r["probability"],
               "explained class": r["target"], "correct": r["prediction"] == label}
        if method == "integrated_gradients":
            row.update({"output change f(x) - f(black)": r["output_change"], "sum of attributions": r["attribution_sum"],
                        "convergence delta": r["convergence_delta"], "steps": r["steps"], "converged": r["converged"]})
            if not r["converged"]:
                st.warning(Attributions.not_converged.format(net=r["variant"], steps=r["steps"],
                                                             delta=r["convergence_delta"]))
        table.append(row)
    _table(st, pd.DataFrame(table), hide_index=True, width="stretch")
    st.caption(Attributions.ig_caption.format(index=index, label=label) if method == "integrated_gradients" else
               Attributions.other_caption.format(method=METHOD_LABELS[method], index=index, label=label))


def importance_vs_lesion(p: nets.Pair, n: int = 128) -> None:
    rows = []
    for r in p.result["runs"]:
        for imp, les_row in zip(nets.importance(p, r["variant"], n), r["single_block"]):
            drop = None if les_row["test_accuracy"] is None else r["base_test_accuracy"] - les_row["test_accuracy"]
            rows.append({"variant": r["variant"], "block": imp["block"], "importance": imp["importance"],
                         "accuracy_drop": drop})
    df = pd.DataFrame(rows)
    df["accuracy_drop"] = df["accuracy_drop"].astype(float)
    _chart(st, block_importance_figure(df), width="stretch")
    agree = [f"{variant}: {g['importance'].rank().corr(g['accuracy_drop'].rank()):+.2f}"
             for variant, g in df.dropna().groupby("variant")]
    st.caption(Attributions.blocks_caption.format(n=n, agree=", ".join(agree)))


# --- parameters and compute -----------------------------------------------------------------------

FAMILIES = {"cifar": N_("CIFAR (32 px)"), "imagenet": N_("ImageNet (224 px)")}


def net_cost(net) -> None:
    """Metrics, per-stage table and chart, and the architecture of one net."""
    counted = count(net)
    m1, m2, m3 = st.columns(3)
    m1.metric(_("Net"), net.name)
    m2.metric(_("Parameters"), f"{counted['params']:,}")
    m3.metric(_("Multiply-adds per {size} px image").format(size=counted["image_size"]), f"{counted['macs'] / 1e6:,.1f} M")
    df = pd.DataFrame(counted["stages"])
    left, right = st.columns([3, 2])
    _chart(left, stage_cost_figure(df), width="stretch")
    left.caption(Parameters.stages)
    _table(right, df, hide_index=True, width="stretch", column_config={
        "params": st.column_config.NumberColumn(_("parameters"), format="localized"),
        "macs": st.column_config.NumberColumn(_("multiply-adds"), format="localized")})
    right.download_button(_("Download CSV"), df.to_csv(index=False), file_name=f"{net.name}-stages.csv", mime="text/csv")
    st.subheader(Parameters.architecture_title)
    n_stages = len(net.blocks_per_stage)
    few = sum(net.blocks_per_stage) <= 12
    expanded = st.multiselect(_("Stages drawn block by block"), list(range(1, n_stages + 1)),
                              default=list(range(1, n_stages + 1)) if few else [1],
                              help="collapse stages of deep nets into one box")
    left, right = st.columns([2, 1])
    left.graphviz_chart(architecture_dot(net, [s - 1 for s in expanded]), width="content")
    right.markdown(Parameters.architecture)


def block_tab() -> None:
    """The basic-vs-bottleneck tab: its controls (in the URL like every page's) and the calculator."""
    c1, c2, c3, c4 = st.columns(4)
    channels = control(c1, "select_slider", "channels", N_("Channels"), [16, 32, 64, 128, 256, 512, 1024, 2048], 256)
    width = control(c2, "select_slider", "bottleneck_width", N_("Bottleneck width (3x3 channels)"),
                    [channels // 8, channels // 4, channels // 2], channels // 4,
                    help=N_("the paper uses a quarter of the channels"))
    in_channels = control(c3, "select_slider", "in_channels", N_("Input channels"), [channels // 2, channels], channels,
                          help=N_("half the channels: the first block of a stage, whose shortcut must change the shape"))
    shortcut = control(c4, "radio", "block_shortcut", N_("Shortcut option"), list(SHORTCUTS), "B")
    guard(block_calculator, channels, width, in_channels, shortcut)


def block_calculator(channels: int, width: int, in_channels: int, shortcut: str) -> None:
    basic = block_cost("basic", channels, in_channels=in_channels, shortcut=shortcut)
    bottleneck = block_cost("bottleneck", channels, bottleneck_width=width, in_channels=in_channels, shortcut=shortcut)
    pair = block_cost("basic", channels // 4) if channels % 4 == 0 and channels >= 4 else None
    c1, c2, c3 = st.columns(3)
    c1.metric(_("Basic block, {channels} channels: conv weights").format(channels=channels), f"{basic['conv_weights']:,}",
              border=True)
    c2.metric(_("Bottleneck ({width}-d 3x3), {channels} channels").format(width=width, channels=channels),
              f"{bottleneck['conv_weights']:,}",
              f"{basic['conv_weights'] / bottleneck['conv_weights']:.2f}x fewer", delta_arrow="off", border=True)
    if pair is not None:
        c3.metric(_("Basic block, {channels} channels (the paper's pairing)").format(channels=channels // 4),
                  f"{pair['conv_weights']:,}",
                  f"{pair['conv_weights'] / bottleneck['conv_weights']:.2f}x the bottleneck", delta_color="off",
                  delta_arrow="off", border=True)
    rows = [{"block": f"{c['kind']} ({c['channels']})", "part": conv["name"], "formula": conv["formula"],
             "parameters": conv["weights"]} for c in (basic, bottleneck) for conv in c["convs"]]
    rows += [{"block": f"{c['kind']} ({c['channels']})", "part": part, "formula": formula, "parameters": c[key]}
             for c in (basic, bottleneck)
             for part, key, formula in (("batch norm", "bn_params", "2 per channel (scale, shift)"),
                                        ("shortcut", "shortcut_params", _shortcut_formula(c, shortcut)))]
    left, right = st.columns([3, 2])
    _table(left, pd.DataFrame(rows), hide_index=True, width="stretch",
                   column_config={"parameters": st.column_config.NumberColumn(format="localized")})
    _chart(right, block_cost_figure([basic, bottleneck] + ([pair] if pair else [])), width="stretch")
    st.markdown(Parameters.bottleneck)


def _shortcut_formula(cost: dict, shortcut: str) -> str:
    if cost["in_channels"] == cost["channels"] and shortcut != "C":
        return "identity: no weights"
    if shortcut == "A":
        return "zero-padded identity (option A): no weights"
    return f"1x1x{cost['in_channels']}x{cost['channels']} projection + BN"
@st.cache_data(max_entries=16, show_spinner=False)
def family_table(family: str, variants: tuple[str, ...]) -> list[dict]:
    return [row for v in variants for row in family_rows(family, v)]


def family_view(family: str, variants: tuple[str, ...], metric: str) -> None:
    rows = family_table(family, variants)
    table = pd.DataFrame([{k: v for k, v in r.items() if k != "stages"} for r in rows])
    cols = ["net", "params", "published_params", "params_diff_pct", "macs", "published_macs", "macs_diff_pct", "source"]
    if "torchvision_params" in table:
        cols.insert(3, "torchvision_params")
    _table(st, table[cols], hide_index=True, width="stretch", column_config={
        "params": st.column_config.NumberColumn(_("parameters (counted)"), format="localized"),
        "published_params": st.column_config.NumberColumn(_("parameters (published)"), format="localized"),
        "torchvision_params": st.column_config.NumberColumn(_("torchvision constructor (counted)"), format="localized"),
        "params_diff_pct": st.column_config.NumberColumn(_("diff %"), format="%+.2f"),
        "macs": st.column_config.NumberColumn(_("multiply-adds (counted)"), format="localized"),
        "published_macs": st.column_config.NumberColumn(_("multiply-adds (published)"), format="localized"),
        "macs_diff_pct": st.column_config.NumberColumn(_("diff %"), format="%+.2f")})
    st.caption(Parameters.family_published)
    stages = pd.DataFrame([{"net": r["net"], **s} for r in rows for s in r["stages"]])
    _chart(st, family_stages_figure(stages, metric), width="stretch")
    st.caption(Parameters.family_stages)
    st.download_button(_("Download CSV (nets and stages)"), stages.merge(table.drop(columns=["params", "macs"]), on="net")
                       .to_csv(index=False), file_name=f"resnet-{family}-family.csv", mime="text/csv",
                       icon=":material/download:")


@st.cache_data(max_entries=1, show_spinner=False)
def lineage() -> pd.DataFrame:
    return pd.DataFrame(lineage_table())


def lineage_view() -> None:
    table = lineage()
    _chart(st, lineage_figure(table), width="stretch")
    st.caption(Parameters.lineage.format(source=ERROR_SOURCE))
    _table(st, table, hide_index=True, width="stretch", column_config={
        "params": st.column_config.NumberColumn(_("parameters"), format="localized"),
        "macs": st.column_config.NumberColumn(_("multiply-adds"), format="localized"),
        "top1_error": st.column_config.NumberColumn(_("top-1 error % (published)"), format="%.2f"),
        "top5_error": st.column_config.NumberColumn(_("top-5 error % (published)"), format="%.2f")})
    st.markdown(Parameters.lineage_read)


def three_by_three_view(channels: int) -> None:
    r = three_by_three(channels)
    c1, c2 = st.columns(2)
    c1.metric(_("Three 3x3 convs, {channels} channels").format(channels=channels),
              _("{count} weights").format(count=f"{r['stacked']['weights']:,}"),
              f"receptive field {r['stacked']['receptive_field']}x{r['stacked']['receptive_field']} (measured)",
              delta_color="off", delta_arrow="off", border=True)
    c2.metric(_("One 7x7 conv, {channels} channels").format(channels=channels),
              _("{count} weights").format(count=f"{r['single']['weights']:,}"),
              f"receptive field {r['single']['receptive_field']}x{r['single']['receptive_field']} (measured)",
              delta_color="off", delta_arrow="off", border=True)
    st.markdown(Parameters.three_numbers.format(c=channels, stacked=27 * channels ** 2, single=49 * channels ** 2,
                                                ratio=r["ratio"]))
    st.markdown(Parameters.three)


def family_tab() -> None:
    c1, c2, c3 = st.columns(3)
    family = c1.radio(_("Family "), ["cifar", "imagenet"], horizontal=True,
                      format_func={"cifar": "CIFAR ResNet-20..1202", "imagenet": "ImageNet ResNet-18..152"}.get)
    variants = c2.multiselect(_("Variants"), ["plain", "A", "B", "C"], default=["plain", "A" if family == "cifar" else "B"],
                              format_func=lambda v: v if v == "plain" else f"residual, option {v}")
    metric = c3.radio(_("Stage chart"), ["params", "macs"], horizontal=True,
                      format_func={"params": "parameters", "macs": "multiply-adds"}.get)
    if variants:
        family_view(family, tuple(variants), metric)
    else:
        st.info(Parameters.pick_variant)
    if family == "cifar":
        st.subheader(Parameters.preact_title)
        _table(st, pd.DataFrame(_preact_table()), hide_index=True, width="stretch", column_config={
            "params": st.column_config.NumberColumn(_("parameters (counted)"), format="localized"),
            "published_params": st.column_config.NumberColumn(_("parameters (published)"), format="localized"),
            "params_diff_pct": st.column_config.NumberColumn(_("diff %"), format="%+.2f"),
            "macs": st.column_config.NumberColumn(_("multiply-adds (counted)"), format="localized")})
        st.caption(Parameters.preact_note)


@st.cache_data(max_entries=1, show_spinner=False)
def _preact_table() -> list[dict]:
    return [{k: r[k] for k in ("net", "params", "published_params", "params_diff_pct", "macs", "source")}
            for r in preact_rows()]


# --- landscape and paths ----------------------------------------------------------------------------

# The shipped first views: (asset, the command that made it). A preset is shown only for its exact spec.
LANDSCAPE_PRESETS = {depth: (ASSETS / f"landscape_preset_{depth}.json",
                             f"python -m resnet_viz landscape --dataset digits --depth {depth} --variants plain,residual "
                             f"--grid 21 --seed 0 --out assets/landscape_preset_{depth}.json") for depth in (20, 56)}
PATHS_PRESET = ASSETS / "paths_preset.json"
PATHS_COMMAND = "python -m resnet_viz paths --dataset digits --depth 56 --samples 100 --seed 0 --out assets/paths_preset.json"


def landscape_preset(spec: land.Spec) -> tuple[dict | None, str]:
    """The shipped result for this spec (None if there is none) and the command that made it."""
    path, command = LANDSCAPE_PRESETS.get(spec.net.depth, (None, ""))
    return (preset(path, spec) if path is not None else None), command


def paths_preset(spec: pa.Spec) -> dict | None:
    return preset(PATHS_PRESET, spec)


def landscape_published() -> None:
    """Li et al. 2018, Fig. 5, labelled as published."""
    st.markdown(Landscape.published)
    _table(st, pd.DataFrame(land.PUBLISHED), hide_index=True, width="stretch", column_config={
        "depth": st.column_config.NumberColumn(_("depth")),
        "residual": st.column_config.NumberColumn(_("ResNet test error (%)"), format="%.2f"),
        "plain": st.column_config.NumberColumn(_("no skips test error (%)"), format="%.2f")})
    st.caption(land.PUBLISHED_SOURCE + ". " + Landscape.published_note)


def _landscape_table(result: dict) -> pd.DataFrame:
    return pd.DataFrame.from_records([
        {"net": r["name"], "train error": r["final_train_error"], "test error": r["final_test_error"],
         "loss at centre": r["numbers"]["centre_loss"], "curvature ratio": r["numbers"]["curvature_ratio"],
         "convex share": r["numbers"]["convex_share"], "basin share": r["numbers"]["basin_share"]}
        for r in result["runs"]])


@st.cache_resource(max_entries=16, show_spinner=False)
def _landscape_figures(ident: str, _result: dict) -> tuple:
    """Built once per result for every session (never changed after this)."""
    runs = _result["runs"]
    return (landscape_contour_figure(runs), landscape_surface_figure(runs), interpolation_figure(runs),
            _landscape_table(_result))


def landscape_result(result: dict, label: str, ident: str) -> None:
    """The numbers, contours, 3-D surfaces, the 1-D line and the table."""
    st.caption(label)
    for label, key, value, tip in ((Landscape.metric_curvature, "curvature_ratio", "{:.3g}", Landscape.metric_curvature_help),
                                   (Landscape.metric_basin, "basin_share", "{:.1%}", Landscape.metric_basin_help)):
        for column, r in zip(st.columns(len(result["runs"])), result["runs"]):
            column.metric(label.format(name=r["name"]), value.format(r["numbers"][key]), help=tip)
    contour, surface, line, table = _landscape_figures(ident, result)
    _chart(st, contour, width="stretch")
    st.caption(Landscape.contour.format(images=result["images"], grid=result["grid_points"], span=result["span"]))
    _chart(st, surface, width="stretch")
    st.caption(Landscape.surface.format(cap=SURFACE_CAP))
    _chart(st, line, width="stretch")
    st.caption(Landscape.line_caption)
    _table(st, table, hide_index=True, width="stretch", column_config={
        name: st.column_config.NumberColumn(_(name), format=fmt) for name, fmt in (
            ("train error", "%.4f"), ("test error", "%.4f"), ("loss at centre", "%.4f"),
            ("curvature ratio", "%.3g"), ("convex share", "%.3f"), ("basin share", "%.3f"))})
    st.caption(Landscape.table)


def landscape_measured(result: dict) -> str:
    runs = result["runs"]
    return Landscape.measured.format(device=runs[0].get("device", "?") if runs else "?", nets=len(runs),
                                     points=result["grid_points"] ** 2,
                                     seconds=sum(r["surface_seconds"] for r in runs))


@st.cache_resource(max_entries=16, show_spinner=False)
def _paths_figures(ident: str, _result: dict) -> tuple:
    return path_gradient_figure(_result["runs"]), effective_paths_figure(_result["runs"])


def paths_result(result: dict, label: str, ident: str) -> None:
    """The effective paths as numbers, the gradient by path length and the effective-path plot."""
    st.caption(label)
    stages = {r["stage"]: r["effective"] for r in result["runs"]}
    if "trained" in stages:
        trained, init = stages["trained"], stages.get("init", stages["trained"])
        lo, hi = trained["effective_range"]
        c1, c2, c3 = st.columns(3)
        c1.metric(Paths.metric_effective, Paths.value_range.format(lo=lo, hi=hi),
                  help=Paths.metric_effective_help.format(n=result["blocks"]))
        c2.metric(Paths.metric_mean, f"{trained['effective_length']:.1f}", help=Paths.metric_mean_help,
                  delta=Paths.value_since_init.format(change=trained["effective_length"] - init["effective_length"]),
                  delta_color="off")
        c3.metric(Paths.metric_typical, f"{trained['typical_length']:g}", help=Paths.metric_typical_help)
    gradient, effective = _paths_figures(ident, result)
    _chart(st, gradient, width="stretch")
    st.caption(Paths.gradient.format(samples=result["samples"], images=result["images"]) + " " + Paths.init_note)
    _chart(st, effective, width="stretch")
    st.caption(Paths.effective.format(n=result["blocks"]))


def paths_published() -> None:
    st.markdown(Paths.published.format(source=_(pa.PUBLISHED)))


def paths_measured(result: dict) -> str:
    return Paths.measured.format(depth=result["depth"], key=result["train_key"])
