"""Delete blocks of a trained net: a ResNet survives, a plain net collapses (Veit et al. 2016)."""

import streamlit as st

from resnet_viz import ui
from resnet_viz.config import cifar_depths
from resnet_viz.experiments import lesion as les
from resnet_viz.i18n import N_
from resnet_viz.ui.lessons import ensembles as lesson
from resnet_viz.ui.texts.ensembles import Ensembles as T
from resnet_viz.ui.widgets import setting, spec_from

ui.page_setup("Residual nets as ensembles", ":material/hub:")
ui.sidebar()
ui.lesson_title(T, les.EXPERIMENT, T.intro)
ui.class_question(les.EXPERIMENT)  # in class mode, before the reveal: the question, and the page ends

c0, c1, c2, c3, c4 = st.columns([1.3, 1, 1, 1, 1])
source = setting(les.Spec, "pretrained", c0, label=T.source)
if source:  # a published CIFAR-10 ResNet: nothing to train, its test images to choose
    images = setting(les.Spec, "test_images", c1, values=[100, 250, 500, 1000, 2000, 5000, 10_000],
                     default=250, label=T.published_images)
    spec = spec_from(les.Spec, {"pretrained": source, "test_images": images, "samples": 4})
else:
    depth = setting(les.Spec, "depth", c1, values=cifar_depths("basic", up_to=110), label=N_("Depth (both nets)"))
    width = setting(les.Spec, "width", c2, values=[4, 8, 16])
    steps = setting(les.Spec, "steps", c3, values=[100, 200, 400, 800], label=N_("Training steps"))
    survival = setting(les.Spec, "stochastic_depth", c4, values=[0.5, 0.6, 0.7, 0.8, 0.9, 1.0], label=T.survival)
    spec = spec_from(les.Spec, {"depth": depth, "width": width, "steps": steps, "stochastic_depth": survival})

left, right = st.columns([3, 2])
with right:
    lesson.explanation(les.blocks_of(spec))
with left:
    (lesson.published_results if source else lesson.results)(spec)
ui.finish_page()
