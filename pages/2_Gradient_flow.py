"""Gradient flow: gradient size layer by layer, plain vs residual, at initialization and in training."""

import streamlit as st

from resnet_viz import ui
from resnet_viz.config import ACTIVATIONS, INITS, cifar_depths
from resnet_viz.experiments import gradients as gf
from resnet_viz.jobs import ACTIVE
from resnet_viz.ui import gradients as view

ui.page_setup("Gradient flow", ":material/waves:")
ui.sidebar()
st.title("Gradient flow: why shortcuts help gradients")
st.markdown(view.SHORTCUT_RULE)

for key, value in view.LESSONS["BN + ReLU: the paper's nets"].items():
    st.session_state.setdefault(key, value)


def apply_lesson() -> None:
    st.session_state.update(view.LESSONS[st.session_state["gf_lesson"]])


st.selectbox("Lesson", list(view.LESSONS), key="gf_lesson", on_change=apply_lesson,
             help="sets the controls below to one of the three cases the explanations discuss")
c1, c2, c3, c4, c5, c6 = st.columns([3, 2, 2, 3, 2, 2])
depth = c1.select_slider("Depth", cifar_depths("basic", up_to=110), value=56, help="6n+2 layers")
batchnorm = c2.toggle("Batch norm", key="gf_bn")
activation = c3.radio("Activation", ACTIVATIONS, key="gf_act")
block = c4.radio("Block", list(view.BLOCK_LABELS), key="gf_block", format_func=view.BLOCK_LABELS.get)
init = c5.radio("Initialization", INITS, format_func={"he": "He", "xavier": "Xavier"}.get)
width = c6.select_slider("Width", [4, 8, 16], value=8, help="channels of the first stage")

with st.expander("Training settings (for part 2)"):
    t1, t2, t3 = st.columns(3)
    steps = t1.slider("Steps", 50, 1000, 200, step=50)
    lr = t2.select_slider("Learning rate", [0.01, 0.03, 0.1, 0.3], value=0.1)
    probes = t3.slider("Probes", 5, 50, 20, help="how many times to measure the gradients during training")

spec = ui.guard(gf.Spec, depth=depth, activation=activation, batchnorm=batchnorm, block=block, init=init,
                width=width, steps=steps, lr=lr, probe_every=max(1, steps // probes))

st.subheader("1. At initialization")
result = ui.guard(view.probe_at_init, spec)
view.ratio_metrics(result)
left, right = st.columns([3, 2])
with left:
    view.init_plots(result)
with right:
    st.markdown(view.EXPLANATION_INIT)
    st.markdown(view.EXPLANATION_CHAIN)

st.subheader("2. During training")
manager, key, stored, job = ui.experiment_state("gradients", spec)
left, right = st.columns([3, 2])
with right:
    st.markdown(view.EXPLANATION_TRAINING)
with left:
    if stored is None and (job is None or job.state not in ACTIVE):
        estimate = ui.guard(gf.estimate_seconds, spec)
        st.caption(f"Trains the plain and the residual net for {steps} steps, probing the gradients every "
                   f"{spec.probe_every} steps. Estimated duration here: **{ui.duration(estimate)}**.")
        if st.button("Train and probe", type="primary", icon=":material/play_arrow:"):
            ui.guard(manager.submit, "gradients", spec, estimate)
            st.rerun()
        if job is not None and job.state == "failed":
            st.error(f"The run failed: {job.error}", icon=":material/error:")
        elif job is not None and job.state == "cancelled":
            st.warning("The run was cancelled; nothing was stored.")
    elif stored is None:
        @st.fragment(run_every=2.0)
        def progress() -> None:
            if job.state not in ACTIVE:
                st.rerun()
            ui.job_progress(job, view.describe)
            view.live_heatmap(job.snapshot()["records"])

        progress()
    else:
        st.caption(f"Measured on this server ({stored.result['runs'][0]['device']}), stored: it loads at once "
                   f"next time.")
        view.show_training(stored.result)
