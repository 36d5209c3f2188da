"""Residual nets as ensembles: remove blocks of trained nets and watch the test accuracy."""

import streamlit as st

from resnet_viz import ui
from resnet_viz.config import cifar_depths
from resnet_viz.experiments import lesion as les
from resnet_viz.jobs import ACTIVE
from resnet_viz.ui import lesion as view

ui.page_setup("Residual nets as ensembles", ":material/hub:")
ui.sidebar()
st.title("Residual nets as ensembles: remove blocks, watch accuracy")
st.markdown("\"Delete a few layers in the middle of a ResNet and it still works; do that to VGG and it fails.\" "
            "Veit, Wilber and Belongie (2016), with your own hands: a plain and a residual net of the same depth, "
            "trained with the same recipe, then blocks removed from the trained nets.")

c1, c2, c3 = st.columns(3)
depth = c1.select_slider("Depth (both nets)", cifar_depths("basic", up_to=110), value=56)
width = c2.select_slider("Width", [4, 8, 16], value=8, help="channels of the first stage")
steps = c3.select_slider("Training steps", [100, 200, 400, 800], value=400)
spec = ui.guard(les.Spec, depth=depth, width=width, steps=steps)
dataset = view.dataset_of(spec)
manager, key, stored, job = ui.experiment_state("lesion", spec)
preset = view.load_preset(spec) if stored is None else None
result = stored.result if stored is not None else preset

left, right = st.columns([3, 2])
with right:
    st.markdown(view.UNRAVELED)
    view.path_view(3 * (depth - 2) // 6)
    st.markdown(view.WHY)

with left:
    if job is not None and job.state in ACTIVE:
        @st.fragment(run_every=1.0)
        def progress() -> None:
            if job.state not in ACTIVE:
                st.rerun()
            ui.job_progress(job, lambda r: f"{r['run']}: step {r['done']}/{r['total']}")

        progress()
    elif stored is None:
        estimate = ui.guard(les.estimate_seconds, spec)
        label = "Train live" if preset else "Train and remove blocks"
        if st.button(label, type="primary", icon=":material/play_arrow:"):
            ui.guard(manager.submit, "lesion", spec, estimate)
            st.rerun()
        st.caption(f"Trains both nets in the background (or reuses them from the run store), then removes blocks: "
                   f"about **{ui.duration(estimate)}** here. You can keep using the page meanwhile.")
        if job is not None and job.state == "failed":
            st.error(f"The run failed: {job.error}", icon=":material/error:")

    if result is not None:
        if stored is not None:
            st.caption(f"Measured on this server; the trained nets are in the run store "
                       f"({', '.join(r['train_key'] for r in result['runs'])}).")
        else:
            st.info(f"Precomputed nets and lesions of this lesson, shipped with the app (`{view.PRESET_COMMAND}`), "
                    "so you can start at once. Train live to make your own.", icon=":material/history:")
        st.subheader("Remove blocks yourself")
        models = view.models_for(spec, result, manager.store if stored is not None else None)

        @st.fragment
        def toggles() -> None:
            view.block_toggles(models, result, dataset)

        toggles()
        view.show_result(result, view.chance_of(dataset))
    elif job is None or job.state not in ACTIVE:
        st.info("Not trained yet with these settings: press the button above.")
