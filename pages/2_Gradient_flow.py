"""Gradient size layer by layer, plain vs residual, with and without batch norm."""

import streamlit as st

from resnet_viz import ui
from resnet_viz.config import cifar_depths
from resnet_viz.experiments import gradients as gf
from resnet_viz.ui import views
from resnet_viz.ui.jobs import job_panel
from resnet_viz.ui.texts import Gradients as T
from resnet_viz.ui.widgets import setting, spec_from

LESSONS = {  # lesson -> control values (the keys of the widgets below)
    "BN + ReLU: the paper's nets": {"gf_bn": True, "gf_act": "relu", "gf_block": "basic"},
    "No BN, sigmoid: gradients vanish": {"gf_bn": False, "gf_act": "sigmoid", "gf_block": "basic"},
    "No BN, sigmoid, pre-activation: the fix": {"gf_bn": False, "gf_act": "sigmoid", "gf_block": "preact"},
}
BLOCKS = {"basic": "original (activation after the addition)", "preact": "pre-activation (nothing after it)",
          "preact_bottleneck": "pre-activation bottleneck (ResNet-164, 9n+2)"}

ui.page_setup("Gradient flow", ":material/waves:")
ui.sidebar()
st.title(T.title)
st.markdown(T.rule)
for key, value in LESSONS["BN + ReLU: the paper's nets"].items():
    st.session_state.setdefault(key, value)
st.selectbox(T.lesson, list(LESSONS), key="gf_lesson", help=T.lesson_help,
             on_change=lambda: st.session_state.update(LESSONS[st.session_state["gf_lesson"]]))
c1, c2, c3, c4, c5, c6 = st.columns([3, 3, 2, 3, 2, 2])
block = setting(gf.Spec, "block", c4, values=list(BLOCKS), key="gf_block", format_func=BLOCKS.get, radio=True)
depth = c1.select_slider("Depth", cifar_depths(block, up_to=164), value=56, help="6n+2 layers (9n+2 for bottlenecks)")
batchnorm = setting(gf.Spec, "batchnorm", c2, key="gf_bn", label="Batch norm")
activation = setting(gf.Spec, "activation", c3, key="gf_act", radio=True)
init = setting(gf.Spec, "init", c5, format_func={"he": "He", "xavier": "Xavier"}.get, radio=True, label="Initialization")
width = setting(gf.Spec, "width", c6, values=[4, 8, 16])
with st.expander(T.training_settings):
    t1, t2, t3 = st.columns(3)
    steps = setting(gf.Spec, "steps", t1, values=list(range(50, 1001, 50)))
    lr = setting(gf.Spec, "lr", t2, values=[0.01, 0.03, 0.1, 0.3])
    probes = t3.slider("Probes", 5, 50, 20, help="how many times to measure the gradients during training")
spec = spec_from(gf.Spec, {"depths": (depth,), "activation": activation, "batchnorm": batchnorm, "block": block,
                           "init": init, "width": width, "steps": steps, "lr": lr, "probe_every": max(1, steps // probes)})

st.subheader(T.part1)
result = ui.guard(views.probe_at_init, spec)
views.ratio_metrics(result)
left, right = st.columns([3, 2])
with left:
    views.init_plots(result)
right.markdown(T.explanation_init + T.explanation_chain)

st.subheader(T.part2)
left, right = st.columns([3, 2])
right.markdown(T.explanation_training)
with left:
    panel = job_panel("gradients", spec, gf.describe, live=views.gradients_live, button=T.button,
                      what=T.what.format(every=spec.probe_every))
    if panel.stored is not None:
        views.gradients_result(panel.stored.result)
