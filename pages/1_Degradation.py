"""Degradation: training error vs depth, plain vs residual, trained live in the background."""

import streamlit as st

from resnet_viz import ui
from resnet_viz.config import BLOCKS, DATASET_NAMES, SHORTCUTS, cifar_depths
from resnet_viz.experiments import degradation as deg
from resnet_viz.jobs import ACTIVE
from resnet_viz.ui import degradation as view

ui.page_setup("Degradation", ":material/trending_up:")
ui.sidebar()
st.title("Degradation: deeper plain nets train worse")
st.markdown("He et al. (2016), Fig. 1 and 6, live: train plain and residual nets of several depths with "
            "one recipe and compare their **training** error.")

with st.expander("Advanced: block, shortcut option, learning rate, batch size"):
    a1, a2, a3, a4 = st.columns(4)
    block = a1.selectbox("Block", BLOCKS, help="basic and preact: depth 6n+2; bottleneck: 9n+2")
    shortcut = a2.radio("Shortcut option", SHORTCUTS, horizontal=True,
                        help="A: zero-padded identity (no extra weights); B: projection where the shape "
                             "changes; C: projection everywhere")
    lr = a3.select_slider("Learning rate", [0.01, 0.03, 0.1, 0.3], value=0.1)
    batch_size = a4.select_slider("Batch size", [32, 64, 128, 256], value=128)

c1, c2, c3, c4, c5 = st.columns([3, 2, 2, 2, 2])
depths = c1.multiselect("Depths", cifar_depths(block, up_to=110), default=[20, 56], max_selections=6)
which = c2.radio("Shortcuts", ["both", "plain only", "residual only"], help="plain: no shortcuts")
width = c3.select_slider("Width", [4, 8, 16, 32], value=8, help="channels of the first stage")
steps = c4.slider("Steps", 50, 2000, 300, step=50)
seeds = c5.slider("Seeds", 1, 5, 1, help="repeat each run with other seeds to see the spread")
dataset = c5.selectbox("Dataset", DATASET_NAMES, help="digits and synthetic work offline")

variants = {"both": ("plain", "residual"), "plain only": ("plain",), "residual only": ("residual",)}[which]
spec = ui.guard(deg.Spec, dataset=dataset, depths=tuple(depths), variants=variants, width=width, steps=steps,
                batch_size=batch_size, lr=lr, seeds=tuple(range(seeds)), block=block, shortcut=shortcut)
manager, key, stored, job = ui.experiment_state("degradation", spec)

left, right = st.columns([3, 1])
with right:
    if st.button("Show stored result" if stored else "Train", type="primary", icon=":material/play_arrow:",
                 width="stretch"):
        ui.guard(manager.submit, "degradation", spec, None if stored else ui.guard(deg.estimate_seconds, spec))
        st.rerun()  # show the job's progress at once
    estimate_slot = st.empty()
    st.markdown(view.EXPLANATION)
    view.published_table()

with left:
    if job is not None and job.state in ACTIVE:
        @st.fragment(run_every=1.0)
        def progress() -> None:
            if job.state not in ACTIVE:
                st.rerun()  # the whole page: show the stored result
            ui.job_progress(job, view.describe)

        @st.fragment(run_every=5.0)  # redrawing plots costs the CPU that trains: not too often
        def curves() -> None:
            view.live_curves(job.snapshot()["records"])

        progress()
        curves()
    elif job is not None and job.state == "failed":
        st.error(f"The run failed: {job.error}", icon=":material/error:")
    elif job is not None and job.state == "cancelled":
        st.warning("The run was cancelled; nothing was stored. Press Train to start again.")
    if stored is not None:
        first = stored.result["runs"][0] if stored.result["runs"] else {}
        seconds = sum(r["seconds"] for r in stored.result["runs"])
        view.show_result(stored.result, f"Measured on this server ({first.get('device', '?')}): "
                                         f"{len(stored.result['runs'])} runs, {seconds:.0f} s of training.")
    elif (job is None or job.state not in ACTIVE) and spec == deg.PRESET and (preset := view.load_preset()):
        st.info("Precomputed result of this lesson, shown for an instant first look. Press **Train** to run "
                "it live on this server.", icon=":material/history:")
        view.show_result(preset, f"Precomputed with `{view.PRESET_COMMAND}`.")
    elif job is None or job.state not in ACTIVE:
        st.info("Not trained yet with these settings. Press **Train**: the runs go to a background queue, "
                "so you can keep using the page (or reload it) while they train.")

if stored is None and (job is None or job.state not in ACTIVE):  # last, so that the plots paint first: timing a few steps takes a moment
    estimate = ui.guard(deg.estimate_seconds, spec)
    estimate_slot.caption(f"Estimated duration on this machine: **{ui.duration(estimate)}** "
                          f"({len(spec.runs())} training runs, timed from a few real steps).")
