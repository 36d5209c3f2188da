"""View pieces of the degradation page: explanations, published numbers, result plots."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import streamlit as st

from ..experiments import degradation as deg
from ..figures import error_vs_depth_figure, training_curves_figure

PRESET_ASSET = Path(__file__).resolve().parents[2] / "assets" / "degradation_preset.json"
PRESET_COMMAND = ("python -m resnet_viz degradation --dataset digits --depths 20,56 --steps 300 --width 8 "
                  "--batch-size 128 --seed 0 --out assets/degradation_preset.json")

EXPLANATION = """
**What degradation is.** Add layers to a plain net and, past some depth, its error goes *up*. He et
al. (2016) saw it on CIFAR-10 and ImageNet: plain-56 is worse than plain-20 (their Fig. 1).

**Why it is not overfitting.** Overfitting means low training error and high test error. Here the
*training* error itself is higher for the deeper plain net: it fits its own training data worse,
although it could copy the shallow net and set the extra layers to identity. The optimizer just
does not find that solution. That is an optimization problem.

**The fix: H(x) = F(x) + x.** A residual block learns only the change F(x) and adds its input back
through a shortcut. Doing nothing is easy (F = 0), and the gradient flows straight back through the
"+ x". Plain and residual nets here have exactly the same weights (option A shortcuts are free).

**What to look for.** Dashed lines (plain): the deeper net's training error stays higher. Solid
lines (residual): the deeper net trains as well as, or better than, the shallow one.
"""

# He et al. 2016, Table 6: CIFAR-10 test error (%) of residual nets. No plain-net numbers were
# published for CIFAR (plain nets appear only as curves; "plain-110 is higher than 60%").
TABLE6 = pd.DataFrame({"net": ["ResNet-20", "ResNet-32", "ResNet-44", "ResNet-56", "ResNet-110", "ResNet-1202"],
                       "test error (%)": [8.75, 7.51, 7.17, 6.97, 6.43, 7.93],
                       "note": ["", "", "", "", "best of 5 runs; mean 6.61 ± 0.16", "overfits: 19.4M parameters"]})


def published_table() -> None:
    st.markdown("**Published, not measured here:** He et al. 2016, Table 6, CIFAR-10 test error "
                "(full recipe: 64k iterations, data augmentation).")
    st.dataframe(TABLE6, hide_index=True, width="stretch")
    st.caption("The paper gives no numbers for plain nets on CIFAR-10, only curves (Fig. 6): "
               "\"plain-110 is higher than 60% and not displayed\".")


def load_preset() -> dict | None:
    """The precomputed preset result shipped in assets/, if it matches the preset spec."""
    try:
        data = json.loads(PRESET_ASSET.read_text())
    except (OSError, ValueError):
        return None
    preset = json.loads(json.dumps(asdict(deg.PRESET)))  # tuples as JSON lists
    return data if data.get("spec") == preset else None


def describe(rec: dict) -> str:
    net = f"{'ResNet' if rec['variant'] == 'residual' else 'plain'}-{rec['depth']}"
    return (f"Run {rec['run_index'] + 1}/{rec['runs']}: {net}, seed {rec['seed']}, "
            f"step {rec['done']}/{rec['total']}")


def live_curves(records: list[dict], max_points: int = 200) -> None:
    """The curves so far; each run thinned to about ``max_points`` steps to keep redraws cheap."""
    if records:
        per_run = max(1, records[-1]["total"] // max_points)
        records = [r for r in records if r["done"] % per_run == 0 or r["done"] == r["total"]]
        st.plotly_chart(training_curves_figure(deg.history_frame(records)), width="stretch",
                        key="live-curves")


def show_result(result: dict, label: str) -> None:
    """Plots (a) curves, (b) error vs depth, (c) table with a CSV download."""
    st.caption(label)
    history = deg.history_frame(deg.result_history(result))
    summary = deg.summary_frame(result)
    st.plotly_chart(training_curves_figure(history), width="stretch")
    st.caption("(a) Training error on each step's batch, smoothed over 10 steps. Dashed: plain; solid: "
               "residual; one colour per depth. With several seeds, the band spans them.")
    st.plotly_chart(error_vs_depth_figure(summary), width="stretch")
    st.caption("(b) Final errors on the *whole* training and test splits, in eval mode. Degradation is "
               "the plain line rising with depth on the left panel, where overfitting cannot explain it.")
    for r in result["runs"]:
        if r["status"] == "diverged":
            st.warning(f"{r['variant']}-{r['depth']} (seed {r['seed']}): {r['message']}")
    st.dataframe(summary, hide_index=True, width="stretch", column_config={
        "final_train_error": st.column_config.NumberColumn("train error", format="%.4f"),
        "final_test_error": st.column_config.NumberColumn("test error", format="%.4f"),
        "seconds": st.column_config.NumberColumn("seconds", format="%.1f")})
    st.download_button("Download CSV (per-step history)", history.to_csv(index=False),
                       file_name="degradation.csv", mime="text/csv", icon=":material/download:")
