"""Loss surfaces of plain vs residual nets (Li et al. 2018) and the paths that carry the gradient (Veit et al. 2016)."""

import streamlit as st

from resnet_viz import ui
from resnet_viz.config import cifar_depths
from resnet_viz.experiments import landscape as land
from resnet_viz.experiments import paths as pa
from resnet_viz.i18n import N_
from resnet_viz.ui.lessons import landscape as lesson
from resnet_viz.ui.texts.landscape import Landscape as T
from resnet_viz.ui.texts.landscape import Paths as P
from resnet_viz.ui.widgets import setting, spec_from

ui.page_setup("The landscape", ":material/landscape:")
ui.sidebar()
ui.lesson_title(T, land.EXPERIMENT, T.intro)
ui.class_question(land.EXPERIMENT)  # in class mode, before the reveal: the question, and the page ends

st.markdown(f"**{T.nets}**")
c0, c1, c2, c3 = st.columns([1.3, 1, 1, 1])
source = setting(land.Spec, "pretrained", c0, label=T.source)
if source:  # a published CIFAR-10 ResNet: nothing to train
    nets = {"pretrained": source}
else:
    depth = setting(land.Spec, "depth", c1, values=cifar_depths("basic", up_to=110))
    width = setting(land.Spec, "width", c2, values=[4, 8, 16])
    steps = setting(land.Spec, "steps", c3, values=[100, 200, 400, 800], label=N_("Training steps"))
    nets = {"depth": depth, "width": width, "steps": steps}

surface_tab, paths_tab = st.tabs([T.surface_tab, T.paths_tab])
with surface_tab:
    grid = setting(land.Spec, "grid", values=[11, 21, 31] + ([41, 51] if ui.accelerated() else []), label=T.grid_label)
    images = {"images": setting(land.Spec, "images", values=[32, 64, 128, 256], default=64)} if source else {}
    spec = spec_from(land.Spec, {**nets, "grid": grid, **images})
    left, right = st.columns([3, 2])
    with right:
        st.markdown(T.explanation)
        st.markdown(T.line)
        lesson.landscape_published()
    with left:
        lesson.surfaces(spec)

with paths_tab:
    samples = setting(pa.Spec, "samples", values=[10, 30, 100, 300], label=T.samples_label, default=10 if source else None)
    paths_spec = spec_from(pa.Spec, {**nets, "samples": samples})
    left, right = st.columns([3, 2])
    with right:
        st.markdown(P.explanation)
        lesson.paths_published()
    with left:
        lesson.paths(paths_spec)
ui.finish_page()
