"""Captum attributions of the trained plain and residual nets."""

import streamlit as st

from resnet_viz import ui
from resnet_viz.ui import nets, views
from resnet_viz.ui.texts import Attributions as T

ui.page_setup("What the nets look at", ":material/visibility:")
ui.sidebar()
st.title(T.title)
st.markdown(T.intro)

sources = nets.sources(ui.run_store(), T.preset_source, T.stored_source)
if not sources:
    st.info(T.none)
    st.page_link("pages/4_Ensembles.py", label="Residual nets as ensembles", icon=":material/hub:")
    st.stop()
label = st.selectbox(T.source, list(sources), help=T.source_help)
pair = nets.pair(*sources[label])
stages = len(pair.nets["residual"].stages)

with st.expander(T.grid_title.format(n=views.GRID), expanded=True):
    views.image_grid(pair)

c1, c2, c3, c4 = st.columns([2, 3, 2, 2])
index = c1.number_input("Test image #", 0, len(pair.data.test_y) - 1, 0, help="pick one from the grid above")
method = c2.radio("Method", list(views.METHOD_LABELS), format_func=views.METHOD_LABELS.get, horizontal=True)
target = c3.selectbox("Explain the class", ["predicted", "label"] + [str(c) for c in range(pair.data.num_classes)],
                      format_func=lambda t: {"predicted": "each net's prediction", "label": "the true label"}.get(t, t))
stage = c4.selectbox("GradCAM stage", range(stages), index=stages - 1, format_func=lambda s: f"stage {s + 1}",
                     disabled=method != "gradcam")
left, right = st.columns([3, 2])
with left:
    ui.guard(views.maps_for_image, pair, int(index), method, target, stage)
right.markdown(T.explanation)

st.subheader(T.blocks_title)
left, right = st.columns([3, 2])
with left:
    views.importance_vs_lesion(pair)
right.markdown(T.blocks)
