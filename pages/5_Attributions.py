"""Captum attributions of the trained plain and residual nets."""

import streamlit as st

from resnet_viz import ui
from resnet_viz.i18n import N_
from resnet_viz.ui import nets
from resnet_viz.ui.lang import _
from resnet_viz.ui.lessons import attributions as lesson
from resnet_viz.ui.texts.attributions import Attributions as T
from resnet_viz.ui.widgets import control

ui.page_setup("What the nets look at", ":material/visibility:")
ui.sidebar()
st.title(T.title)
st.markdown(T.intro)

sources = nets.sources(ui.run_store(), T.preset_source, T.stored_source, T.published_source)
if not sources:
    st.info(T.none)
    st.markdown(f":material/hub: [{_('Residual nets as ensembles')}](./Ensembles)")
    ui.finish_page()
    st.stop()
label = st.selectbox(T.source, list(sources), help=T.source_help)
pair = nets.pair(*sources[label])
stages = len(pair.nets["residual"].stages)

with st.expander(T.grid_title.format(n=lesson.GRID), expanded=True):
    lesson.image_grid(pair)

c1, c2, c3, c4 = st.columns([2, 3, 2, 2])
index = control(c1, "number_input", "image", N_("Test image #"), None, 0, low=0, high=len(pair.data.test_y) - 1,
                help=N_("pick one from the grid above"))
method = control(c2, "radio", "method", N_("Method"), list(lesson.METHODS), "saliency",
                 format_func=lambda m: _(lesson.METHODS[m]))
target = control(c3, "selectbox", "target", N_("Explain the class"),
                 ["predicted", "label"] + [str(c) for c in range(pair.data.num_classes)], "predicted",
                 format_func=lambda t: _(lesson.TARGETS[t]) if t in lesson.TARGETS else t)
stage = control(c4, "selectbox", "stage", N_("GradCAM stage"), list(range(stages)), stages - 1,
                format_func=lambda s: _("stage {n}").format(n=s + 1), disabled=method != "gradcam")
left, right = st.columns([3, 2])
with left:
    ui.guard(lesson.maps_for_image, pair, int(index), method, target, stage)
with right:
    lesson.explanation(pair)

st.subheader(T.blocks_title)
left, right = st.columns([3, 2])
with left:
    lesson.importance_vs_lesion(pair)
right.markdown(T.blocks)
ui.guard(lesson.take_home, pair)
ui.finish_page()
