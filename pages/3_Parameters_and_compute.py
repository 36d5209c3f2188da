"""Exact parameters and multiply-adds: basic vs bottleneck blocks, shortcut options A/B/C, ResNet-20..1202 and ResNet-18..152."""

import streamlit as st

from resnet_viz import ui
from resnet_viz.ui.lessons import parameters as lesson
from resnet_viz.ui.texts.parameters import Parameters as T

ui.page_setup("Parameters and compute", ":material/calculate:")
ui.sidebar()
st.title(T.title)
st.markdown(T.intro)
tabs = st.tabs(T.tabs, key="pc_tab", on_change="rerun")
views = (lesson.net_tab, lesson.block_tab, lesson.family_tab, lesson.lineage_tab, lesson.three_by_three_tab)
for tab, view in zip(tabs, views):
    if tab.open:
        with tab:
            view()
ui.finish_page()
