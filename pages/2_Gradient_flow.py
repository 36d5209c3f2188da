"""Gradient size layer by layer, plain vs residual, with and without batch norm."""

import streamlit as st

from resnet_viz import ui
from resnet_viz.config import cifar_depths
from resnet_viz.experiments import gradients as gf
from resnet_viz.i18n import N_
from resnet_viz.pretrained import NAMES
from resnet_viz.ui.lang import _
from resnet_viz.ui.lessons import gradient_flow as lesson
from resnet_viz.ui.texts.gradient_flow import Gradients as T
from resnet_viz.ui.widgets import control, setting, spec_from

ui.page_setup("Gradient flow", ":material/waves:")
ui.sidebar()
ui.lesson_title(T, gf.EXPERIMENT, T.rule)
ui.class_question(gf.EXPERIMENT)  # in class mode, before the reveal: the question, and the page ends
lesson.lesson_selector()
c1, c2, c3, c4, c5, c6 = st.columns([3, 3, 2, 3, 2, 2])
block = setting(gf.Spec, "block", c4, values=list(lesson.BLOCKS), key="gf_block",
                format_func=lambda b: _(lesson.BLOCKS[b]), radio=True)
depth = control(c1, "select_slider", "depth", N_("Depth"), cifar_depths(block, up_to=164), 56,
                help=N_("6n+2 layers (9n+2 for bottlenecks)"))
batchnorm = setting(gf.Spec, "batchnorm", c2, key="gf_bn", label=N_("Batch norm"))
activation = setting(gf.Spec, "activation", c3, key="gf_act", radio=True)
init = setting(gf.Spec, "init", c5, radio=True, label=N_("Initialization"))
width = setting(gf.Spec, "width", c6, values=[4, 8, 16])
with st.expander(T.training_settings):
    t1, t2, t3 = st.columns(3)
    steps = setting(gf.Spec, "steps", t1, values=list(range(50, 1001, 50)))
    lr = setting(gf.Spec, "lr", t2, values=[0.01, 0.03, 0.1, 0.3])
    probes = control(t3, "select_slider", "probes", N_("Probes"), list(range(5, 51, 5)), 20,
                     help=N_("how many times to measure the gradients during training"))
spec = spec_from(gf.Spec, {"depths": (depth,), "activation": activation, "batchnorm": batchnorm, "block": block,
                           "init": init, "width": width, "steps": steps, "lr": lr, "probe_every": max(1, steps // probes)})

st.subheader(T.part1)
result = ui.guard(lesson.probe_at_init, spec)
left, right = st.columns([3, 2])
right.markdown(T.explanation_init + T.explanation_chain)
with left:
    lesson.at_init(result, spec)

st.subheader(T.part2)
left, right = st.columns([3, 2])
right.markdown(T.explanation_training)
with left:
    lesson.during_training(spec)

st.subheader(T.part3)
if st.toggle(T.published_toggle, help=T.published_toggle_help, key="gf_published"):
    net = setting(gf.Spec, "pretrained", values=list(NAMES), default="cifar10-resnet56", label=N_("Published net"))
    lesson.published(spec_from(gf.Spec, {"pretrained": net}))
ui.finish_page()
