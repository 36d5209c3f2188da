"""The class as one: a class code and QR code, the teacher's board of everyone's predictions, and a figure the class trains together."""

import streamlit as st

from resnet_viz import ui
from resnet_viz.ui import board, classroom
from resnet_viz.ui.texts.classroom import Class as T

ui.page_setup("Class", ":material/groups:")
ui.sidebar()
st.title(T.title)
if classroom.code() is None:
    st.markdown(T.intro)
    board.start()
elif classroom.teacher() is not None:
    st.caption(T.board)
    board.board()
else:
    board.student()
ui.finish_page()
