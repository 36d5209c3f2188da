"""The class in Chromium: one teacher's board and two students' pages, live, without a reload."""

import time

from .conftest import ARTIFACTS, assert_no_exception

from resnet_viz.classroom import Classroom


def test_students_answer_the_board_fills_and_the_reveal_reaches_them_without_a_reload(server, browser):
    room = Classroom(server["home"] / "classes.sqlite")
    made = room.create("深度学习 第5周")
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in range(3)]
    teacher, *students = [c.new_page() for c in contexts]
    try:
        teacher.goto(f"{server['url']}/Class?class={made.code}&key={made.teacher_key}&lang=zh")
        teacher.get_by_text("扫码加入").wait_for(timeout=60_000)
        assert "key=" not in teacher.url  # the key leaves the projected address bar
        for s in students:
            s.goto(f"{server['url']}/Degradation?class={made.code}&lang=zh")
            s.get_by_text("不同深度的普通网络和残差网络").wait_for(timeout=60_000)  # the neutral title
            assert s.get_by_text("退化：更深的普通网络训练得更差").count() == 0
            assert s.locator('[data-testid="stPlotlyChart"]').count() == 0  # no result while the question is open
        students[0].get_by_text("更深的普通网络", exact=True).click()
        students[1].get_by_text("更浅的普通网络", exact=True).click()
        for s in students:
            s.get_by_text("你的回答已存储").wait_for(timeout=30_000)
        # the board counts them without a reload (it redraws itself every 2 s)
        teacher.get_by_text("2 人已回答").first.wait_for(timeout=15_000)
        assert room.counts(made.code, "degradation", 2) == [1, 1]
        ARTIFACTS.mkdir(exist_ok=True)
        teacher.screenshot(path=str(ARTIFACTS / "class_board_zh.png"), full_page=True)
        start = time.time()
        teacher.get_by_role("button", name="揭晓").first.click()
        teacher.get_by_text("从本课设置的结果中读出的正确选项：更深的普通网络。").wait_for(timeout=15_000)
        for s in students:  # within a few seconds, no reload: the result, the class's answers, the right option
            s.get_by_text("退化：更深的普通网络训练得更差").wait_for(timeout=15_000)
            s.get_by_text("全班的预测。").wait_for(timeout=15_000)
        seconds = time.time() - start
        assert seconds < 15
        students[0].get_by_text("你的预测正确。", exact=False).first.wait_for(timeout=15_000)
        students[1].get_by_text("测量结果与你的预测不同。", exact=False).first.wait_for(timeout=15_000)
        students[0].locator('[data-testid="stPlotlyChart"]').nth(1).wait_for(timeout=30_000)  # the class's bars, the result
        teacher.screenshot(path=str(ARTIFACTS / "class_board_revealed_zh.png"), full_page=True)
        students[0].screenshot(path=str(ARTIFACTS / "class_student_revealed_zh.png"), full_page=True)
        for pg in (teacher, *students):
            assert_no_exception(pg)
    finally:
        for c in contexts:
            c.close()
