"""The Class page: its words (English message ids; see :mod:`resnet_viz.ui.texts`)."""

from . import _Text


class Class(_Text):
    title = "Class"
    intro = ("Predict, then reveal, for the whole class. Make a class and project its board: students scan the QR "
             "code (or type the code), predict on a lesson's page, and the board's bars fill as they answer. When you "
             "reveal, every student's page shows the measured result, the class's predictions and the right option, "
             "within a few seconds and without a reload. Then hand out a sweep: each student trains one run, and the "
             "class's figure fills in on the board. Students join without an account; a nickname is optional and "
             "nothing else about them is stored.")
    board = ("Your board: it redraws itself every 2 seconds. Students who open a lesson see its question with a "
             "neutral title and nothing of the result until you press Reveal.")
