"""resnet-viz: the dashboard's entry point. Home page, navigation, and the shared sidebar."""

import streamlit as st

from resnet_viz import ui
from resnet_viz.ui import board, classroom
from resnet_viz.ui.lang import _
from resnet_viz.ui.texts import Home as T

ui.page_setup("resnet-viz", ":material/account_tree:")
runs = ui.sidebar()
if classroom.code() is not None and classroom.teacher() is None:  # a student in a class: no story that answers
    board.student()                                                  # the questions before they are asked
    ui.finish_page()
    st.stop()
st.title(T.title)
st.markdown(T.intro)
st.subheader(T.story_title)
st.markdown(T.story)
st.subheader(T.open_title)
for path, title, icon, blurb in ui.available_pages():
    st.page_link(path, label=f"**{_(title)}**", icon=icon)
    st.caption(_(blurb))
st.subheader(T.where_title)
left, right = st.columns(2)
left.metric(T.device, _(ui.device_kind()), border=True)
left.caption(_(ui.device_line()))
right.metric(T.stored, len(runs), help=T.stored_help, border=True)
st.caption(T.where.format(root=ui.run_store().root))
ui.finish_page()
