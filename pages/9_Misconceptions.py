"""What the write-ups get wrong: common claims about ResNet beside what the lab measures, and a glossary."""

import streamlit as st

from resnet_viz import ui
from resnet_viz.ui.lessons import misconceptions as lesson
from resnet_viz.ui.texts.misconceptions import Misconceptions as T

ui.page_setup("What the write-ups get wrong", ":material/fact_check:")
ui.sidebar()
st.title(T.title)
st.markdown(T.intro)
lesson.claims()
lesson.glossary()
ui.finish_page()
