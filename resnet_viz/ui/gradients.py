"""View pieces of the gradient-flow page: lessons, explanations, probe plots."""

from __future__ import annotations

from dataclasses import asdict

import streamlit as st

from ..experiments import gradients as gf
from ..probes import describe_ratio
from ..figures import chain_rule_figure, gradient_heatmap_figure, gradient_norms_figure, response_std_figure

# Lesson -> control values; picking one sets the controls (the keys of the page's widgets).
LESSONS = {
    "BN + ReLU: the paper's nets": {"gf_bn": True, "gf_act": "relu", "gf_block": "basic"},
    "No BN, sigmoid: gradients vanish": {"gf_bn": False, "gf_act": "sigmoid", "gf_block": "basic"},
    "No BN, sigmoid, pre-activation: the fix": {"gf_bn": False, "gf_act": "sigmoid", "gf_block": "preact"},
}
BLOCK_LABELS = {"basic": "original (activation after the addition)", "preact": "pre-activation (nothing after it)"}

SHORTCUT_RULE = r"""
A residual block computes $H(x) = F(x) + x$, so by the chain rule
$\frac{\partial H}{\partial x} = \frac{\partial F}{\partial x} + 1$: whatever the layers do, the
"+ 1" carries the gradient back through the shortcut. A plain block has only
$\frac{\partial F}{\partial x}$, and a deep plain net multiplies dozens of them.
"""

EXPLANATION_INIT = """
**With BN + ReLU** (the paper's nets), the plain net's gradients do *not* vanish: at initialization
they **grow toward the input** (first/last ratio in the thousands at depth 56), while the residual
net's stay nearly level. He et al. checked that their plain nets had healthy gradients, yet the
plain nets still train worse (see *Degradation*): degradation is an optimization problem, not
simply vanishing gradients.

**Without BN, with sigmoid**, every layer multiplies the gradient by the sigmoid's slope, at most
1/4, so the plain net's early gradients **vanish** (about 0.25-0.3 per layer, down to 1e-29 at depth 56).

**An original residual block with sigmoid vanishes too**: its nonlinearity comes *after* the
addition, so it sits on the shortcut path and scales the "+ 1" by at most 1/4 in every block.
The **pre-activation** block puts nothing after the addition: the shortcut is a clean identity and
the gradient reaches the first block (He et al. 2016, *Identity Mappings*, Sec. 3).
"""

EXPLANATION_CHAIN = """
**Reading (d).** Each block's *gain* is measured on the net: the size of the gradient at its input
divided by the size at its output. Multiply the gains from the top down and you get how much of
the gradient reaches each block: the chain rule, one factor per block. Gains a little above 1 in
56 plain blocks compound to thousands; gains of 0.1 compound to nothing; gains near 1 (residual,
pre-activation) keep the product level.
"""

EXPLANATION_TRAINING = """
**(b) During training.** Each column is one probe of the same fixed batch of 128 training images,
every few steps (probing never changes the training). Watch whether the bottom rows (the layers near
the input) get a gradient comparable to the top rows, and how it changes as the nets learn.

**(c) Response size (He et al. 2016, Fig. 7).** The std of each 3x3 conv's output, after BN and
before the nonlinearity, on the test set. The paper found the residual nets' responses *smaller*
than the plain nets': a residual block only has to learn a small change F(x) on top of its input,
so its layers stay close to zero. At initialization BN makes every layer look alike; the difference
appears with training.
"""


@st.cache_data(max_entries=64, show_spinner="Probing the nets at initialization...")
def init_result(**spec_fields) -> dict:
    return gf.at_init(gf.Spec(**spec_fields))


def probe_at_init(spec: gf.Spec) -> dict:
    """The at-init probe of ``spec``, cached per setting (it does not depend on steps or lr)."""
    fields = asdict(spec)
    for k in ("steps", "lr", "probe_every", "batch_size"):
        fields.pop(k)
    return init_result(**fields)


def ratio_metrics(result: dict) -> None:
    cols = st.columns(len(result["runs"]))
    for col, r in zip(cols, result["runs"]):
        ratio = r["first_last_ratio"]
        col.metric(f"{r['name']}: first / last block gradient", f"{ratio:.3g}", describe_ratio(ratio),
                   delta_color="off", delta_arrow="off", border=True, help="gradient norm of the first block's first conv divided by the last "
                                           "block's last conv, measured at initialization on 128 training images")


def init_plots(result: dict) -> None:
    st.plotly_chart(gradient_norms_figure(gf.layers_frame(result)), width="stretch")
    st.caption("(a) Gradient norm of every conv layer's weights at initialization, measured on one batch of "
               "128 training images (float64, so vanishing values show instead of rounding to 0). Input side left.")
    st.plotly_chart(chain_rule_figure(gf.blocks_frame(result)), width="stretch")
    st.caption("(d) Top: each block's gradient gain. Bottom: their running product from the output back, "
               "which equals the gradient at each block relative to the gradient at the top.")


def describe(rec: dict) -> str:
    return f"Run {rec['run_index'] + 1}/{rec['runs']}: {rec['run']}, step {rec['done']}/{rec['total']}"


def live_heatmap(records: list[dict]) -> None:
    """The heatmap so far, from the probes carried by the job's progress records."""
    checkpoints: dict[str, dict] = {}
    for r in records:
        if "grad_norms" in r:
            c = checkpoints.setdefault(r["variant"], {"steps": [], "grad_norms": [],
                                                      "layer_names": [str(i) for i in range(len(r["grad_norms"]))]})
            c["steps"].append(r["done"])
            c["grad_norms"].append(r["grad_norms"])
    if checkpoints:
        st.plotly_chart(gradient_heatmap_figure(checkpoints), width="stretch", key="live-heatmap")


def show_training(result: dict) -> None:
    st.plotly_chart(gradient_heatmap_figure({r["variant"]: r["checkpoints"] for r in result["runs"]}), width="stretch")
    st.caption("(b) log10 of each conv layer's gradient norm (rows, input side at the bottom) at each probed step "
               "(float32, as training computes it; blank cells are exactly 0).")
    st.plotly_chart(response_std_figure(gf.responses_frame(result)), width="stretch")
    st.caption("(c) Std of every 3x3 conv's response after training (after BN, before the nonlinearity or "
               "addition), on the test set. Left: in network order; right: sorted, largest first (as Fig. 7).")
    rows = [{"net": r["name"], "status": r["status"], "train error": r["final_train_error"],
             "test error": r["final_test_error"], "mean response std": _mean([l["std"] for l in r["responses_trained"]]),
             "seconds": r["seconds"]} for r in result["runs"]]
    st.dataframe(rows, hide_index=True, width="stretch", column_config={
        **{k: st.column_config.NumberColumn(k, format="%.3f") for k in ("train error", "test error", "mean response std")},
        "seconds": st.column_config.NumberColumn("seconds", format="%.1f")})
    for r in result["runs"]:
        if r["message"]:
            st.warning(f"{r['name']}: {r['message']}")


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")
