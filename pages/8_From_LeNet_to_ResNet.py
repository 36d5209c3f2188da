"""From LeNet to ResNet and beyond: LeNet-5, AlexNet, VGG, GoogLeNet, ResNet and Inception-ResNet counted layer by layer; residual scaling trained."""

import streamlit as st

from resnet_viz import ui
from resnet_viz.config import cifar_depths
from resnet_viz.experiments import residual_scaling as rs
from resnet_viz.experiments import shortcut_options as so
from resnet_viz.ui.lang import declare
from resnet_viz.ui.lessons import lineage as lesson
from resnet_viz.ui.texts.lineage import Lineage as T
from resnet_viz.i18n import N_
from resnet_viz.ui.widgets import control, setting, spec_from

ui.page_setup("From LeNet to ResNet", ":material/family_history:")
ui.sidebar()
ui.lesson_title(T, rs.EXPERIMENT, T.intro)
declare("scales", "depth", "batchnorm", "steps", "options", "options_imagenet", "options_depth", "seeds",
        "options_steps")  # the trained tabs' settings
tabs = st.tabs(T.tabs, key="lineage_tab", on_change="rerun")
for tab, view in zip(tabs[:4], (lesson.lenet_tab, lesson.alexnet_tab, lesson.vgg_tab, lesson.googlenet_tab)):
    if tab.open:
        with tab:
            view()
if tabs[4].open:
    with tabs[4]:
        options = setting(so.Spec, "options")  # a row of its own: three long chips fit whole
        c1, c2, c3, c4 = st.columns([3, 2, 2, 2])
        imagenet = control(c1, "toggle", "options_imagenet", N_("ImageNet family, 64 px"), None, False,
                           help=N_("Table 2's nets: plain-18/34 and ResNet-18/34 of the ImageNet family, width 16, "
                                   "on the images enlarged to 64 px"))
        depth = control(c2, "select_slider", "options_depth", N_("Depth"), [18, 34] if imagenet else
                        cifar_depths("basic", up_to=56), 18 if imagenet else 56, key=f"options-depth-{imagenet}")
        seeds = setting(so.Spec, "seeds", c3, values=[0, 1, 2])
        steps = control(c4, "select_slider", "options_steps", N_("Steps"), list(range(50, 1001, 50)), 300)
        family = {"family": "imagenet", "width": 16, "image_size": 64} if imagenet else {}
        lesson.resnet_tab(spec_from(so.Spec, {"options": options, "depth": depth, "seeds": seeds, "steps": steps,
                                              **family}))
if tabs[5].open:
    with tabs[5]:
        lesson.inception_resnet_counts()
        st.subheader(T.settings)
        c1, c2, c3, c4 = st.columns([3, 2, 2, 2])
        scales = setting(rs.Spec, "scales", c1, values=[1.0, 0.5, 0.3, 0.2, 0.1, 0.05])
        depth = setting(rs.Spec, "depth", c2, values=cifar_depths("basic", up_to=56))
        batchnorm = setting(rs.Spec, "batchnorm", c3)
        steps = setting(rs.Spec, "steps", c4, values=list(range(50, 1001, 50)))
        spec = spec_from(rs.Spec, {"scales": scales, "depth": depth, "batchnorm": batchnorm, "steps": steps})
        left, right = st.columns([3, 2])
        with right:
            lesson.explanation()
        with left:
            lesson.results(spec)
ui.finish_page()
