"""Deeper plain nets train worse; residual nets do not (He et al. 2016, Fig. 1 and 6)."""

import streamlit as st

from resnet_viz import ui
from resnet_viz.config import cifar_depths
from resnet_viz.experiments import degradation as deg
from resnet_viz.i18n import N_
from resnet_viz.ui.lessons import degradation as lesson
from resnet_viz.ui.texts.degradation import Degradation as T
from resnet_viz.ui.widgets import control, limit, setting

ui.page_setup("Degradation", ":material/trending_up:")
ui.sidebar()
ui.lesson_title(T, deg.EXPERIMENT, T.intro)
ui.class_question(deg.EXPERIMENT)  # in class mode, before the reveal: the question, and the page ends
recipe = lesson.recipe_choice(st)
fixed = recipe != "lesson"  # the recipe sets the settings of the controls it hides

with st.expander(T.advanced):
    a1, a2, a3, a4, a5 = st.columns(5)
    block = setting(deg.Spec, "block", a1, values=["basic", "preact", "bottleneck", "preact_bottleneck"])
    shortcut = setting(deg.Spec, "shortcut", a2, values=["A", "B", "C"], label=N_("Shortcut option"), radio=True)
    lr = None if fixed else setting(deg.Spec, "lr", a3, values=[0.01, 0.03, 0.1, 0.3])
    batch_size = None if fixed else setting(deg.Spec, "batch_size", a4, values=[32, 64, 128, 256],
                                            label=N_("Batch size"))
    survival = setting(deg.Spec, "stochastic_depth", a5, values=[0.5, 0.6, 0.7, 0.8, 0.9, 1.0])

c1, c2, c3, c4, c5 = st.columns([3, 2, 2, 2, 2])
depths = setting(deg.Spec, "depths", c1, values=cifar_depths(block, up_to=110))
which = control(c2, "radio", "nets", N_("Shortcuts"), [N_("both"), N_("plain only"), N_("residual only")], "both",
                help=N_("plain: no shortcuts"))
width = None if fixed else setting(deg.Spec, "width", c3, values=[4, 8, 16, 32])
steps = None if fixed else setting(deg.Spec, "steps", c4, values=list(range(50, 2001, 50)))
seeds = control(c5, "select_slider", "seeds", N_("Seeds"), list(range(1, limit(deg.Spec, "seeds") + 1)), 1,
                help=N_("repeat each run with other seeds to see the spread"))
dataset = None if fixed else setting(deg.Spec, "dataset", c5)

variants = {"both": ("plain", "residual"), "plain only": ("plain",), "residual only": ("residual",)}[which]
spec = lesson.spec_for(recipe, {"dataset": dataset, "depths": depths, "variants": variants, "width": width,
                                "steps": steps, "batch_size": batch_size, "lr": lr, "seeds": tuple(range(seeds)), "block": block,
                                "shortcut": shortcut, "stochastic_depth": survival})

left, right = st.columns([3, 2])
with right:
    lesson.explanation()
with left:
    lesson.results(spec)
ui.finish_page()
