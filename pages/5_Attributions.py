"""What do the nets look at? Captum attributions of the trained plain and residual nets."""

import streamlit as st

from resnet_viz import ui
from resnet_viz.ui import attribution as view
from resnet_viz.ui import lesion as lesion_view

ui.page_setup("What the nets look at", ":material/visibility:")
ui.sidebar()
st.title("What do the nets look at?")
st.markdown("Attributions with [Captum](https://captum.ai) for a plain and a residual net of the same depth, "
            "trained with the same recipe: which pixels drive each prediction, and which blocks matter.")

manager = ui.job_manager()
sources = view.sources(manager.store)
if not sources:
    st.info("No trained pair yet: train one on the *Residual nets as ensembles* page.")
    st.page_link("pages/4_Ensembles.py", label="Residual nets as ensembles", icon=":material/hub:")
    st.stop()
label = st.selectbox("Trained nets", list(sources), help="pairs trained on the Ensembles page appear here")
spec, result, store = sources[label]
dataset = lesion_view.dataset_of(spec)
models = lesion_view.models_for(spec, result, store)

with st.expander(f"The first {view.GRID} test images and the nets' predictions", expanded=True):
    view.image_grid(models, dataset)

c1, c2, c3, c4 = st.columns([2, 3, 2, 2])
index = c1.number_input("Test image #", 0, len(dataset.test_y) - 1, 0, help="pick one from the grid above")
method = c2.radio("Method", list(view.METHOD_LABELS), format_func=view.METHOD_LABELS.get, horizontal=True)
target = c3.selectbox("Explain the class", ["predicted", "label"] + [str(c) for c in range(dataset.num_classes)],
                      format_func=lambda t: {"predicted": "each net's prediction", "label": "the true label"}.get(t, t))
stage = c4.selectbox("GradCAM stage", range(len(models["residual"].stages)), index=len(models["residual"].stages) - 1,
                     format_func=lambda s: f"stage {s + 1}", disabled=method != "gradcam")
left, right = st.columns([3, 2])
with left:
    ui.guard(view.maps_for_image, models, dataset, int(index), method, target, stage)
with right:
    st.markdown(view.EXPLANATION)

st.subheader("Which blocks matter? The gradient vs deleting")
left, right = st.columns([3, 2])
with left:
    view.importance_vs_lesion(models, result, dataset, label)
with right:
    st.markdown("Two ways to ask how much a block matters. **The gradient:** gradient x activation of the block's "
                "branch output estimates, to first order, how much the class score would move if that output were "
                "zero. **Deleting:** remove the block and measure the test accuracy (the *Ensembles* page). Do they "
                "agree? For the residual net they tend to point at the same early blocks; a first-order estimate "
                "cannot see everything a deletion does, so they need not agree exactly.")
