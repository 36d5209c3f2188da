"""Why must the shortcut be an identity? Scaled, gated, 1x1-conv and dropout shortcuts (He et al. 2016b, Table 1)."""

import streamlit as st

from resnet_viz import ui
from resnet_viz.config import cifar_depths
from resnet_viz.experiments import shortcuts as sc
from resnet_viz.i18n import N_
from resnet_viz.ui.lessons import why_identity as lesson
from resnet_viz.ui.texts.why_identity import WhyIdentity as T
from resnet_viz.ui.widgets import setting

ui.page_setup("Why identity?", ":material/alt_route:")
ui.sidebar()
ui.lesson_title(T, sc.EXPERIMENT, T.intro)
ui.class_question(sc.EXPERIMENT)  # in class mode, before the reveal: the question, and the page ends

recipe = lesson.recipe_choice(st)  # the lesson, or Table 1 in full (its depth, kinds, gates and steps)
fixed = recipe != "lesson"
variants = None if fixed else setting(sc.Spec, "variants", label=N_("Shortcut kinds"))  # a row of its own
c2, c3, c4 = st.columns(3)
depth = None if fixed else setting(sc.Spec, "depth", c2, values=cifar_depths("basic", up_to=110))
width = setting(sc.Spec, "width", c3, values=[4, 8, 16])
steps = None if fixed else setting(sc.Spec, "steps", c4, values=list(range(50, 1001, 50)))
with st.expander(T.settings):
    a1, a2, a3, a4 = st.columns(4)
    gate_biases = None if fixed else setting(sc.Spec, "gate_bias", a1, values=[0.0, -1.0, -2.0, -4.0, -6.0, -7.0])
    scale = setting(sc.Spec, "scale", a2, values=[0.1, 0.3, 0.5, 0.7, 0.9, 1.0])
    scale_branch = setting(sc.Spec, "scale_branch", a3)
    dropout = setting(sc.Spec, "dropout", a4, values=[0.1, 0.3, 0.5, 0.7])
spec = lesson.spec_for(recipe, {"variants": variants, "depth": depth, "width": width, "steps": steps,
                                "gate_bias": gate_biases, "scale": scale, "scale_branch": scale_branch,
                                "dropout": dropout})

left, right = st.columns([3, 2])
with right:
    lesson.explanation()
with left:
    lesson.results(spec)
ui.finish_page()
