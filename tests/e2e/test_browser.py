"""The real dashboard in a real browser: every page renders, widgets respond, nothing raises."""

import pytest

from .conftest import ARTIFACTS, assert_no_exception, wait_for_app


def test_home_page_renders_the_story(server, page):
    page.goto(server["url"])
    page.get_by_text("resnet-viz: a lab for residual networks").wait_for(timeout=60_000)
    wait_for_app(page)
    assert_no_exception(page)
    assert page.get_by_text("The story, in four experiments").is_visible()
    assert page.get_by_text("Device in use").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "home.png"), full_page=True)


def test_parameters_page_updates_when_a_student_flips_the_shortcut_toggle(server, page):
    page.goto(f"{server['url']}/Parameters_and_compute")
    page.get_by_text("269,722").first.wait_for(timeout=60_000)
    page.get_by_text("Net", exact=True).first.wait_for()
    page.get_by_text("ResNet-20").first.wait_for()
    page.get_by_label("Shortcuts (residual)").uncheck(force=True)  # plain twin: same parameters
    page.get_by_text("plain-20").first.wait_for(timeout=30_000)
    assert page.get_by_text("269,722").first.is_visible()
    page.get_by_text("ImageNet (224 px)").click()
    page.get_by_text("22,780,456").first.wait_for(timeout=30_000)
    assert_no_exception(page)
    page.screenshot(path=str(ARTIFACTS / "parameters.png"), full_page=True)


def test_degradation_page_paints_the_precomputed_curves_at_once(server, page):
    page.goto(f"{server['url']}/Degradation")
    page.get_by_text("Precomputed result of this lesson").wait_for(timeout=60_000)
    page.locator(".js-plotly-plot").nth(1).wait_for(timeout=30_000)  # (a) curves and (b) error vs depth
    assert page.get_by_role("button", name="Train").is_visible()
    wait_for_app(page)
    assert_no_exception(page)


def test_gradient_page_switches_lessons_in_the_browser(server, page):
    page.goto(f"{server['url']}/Gradient_flow")
    page.get_by_text("explodes", exact=True).wait_for(timeout=60_000)
    page.locator(".js-plotly-plot").nth(1).wait_for(timeout=30_000)  # (a) and (d)
    page.locator('[data-testid="stSelectbox"]').first.click()
    page.get_by_role("option", name="No BN, sigmoid: gradients vanish").click()
    page.get_by_text("vanishes", exact=True).first.wait_for(timeout=30_000)
    wait_for_app(page)
    assert page.get_by_text("vanishes", exact=True).count() == 2
    assert_no_exception(page)
    page.screenshot(path=str(ARTIFACTS / "gradient_flow.png"), full_page=True)


def test_parameters_page_draws_the_architecture(server, page):
    # (every tab of the page is opened in both languages by test_fine_print.py, its numbers checked in test_pages.py)
    page.goto(f"{server['url']}/Parameters_and_compute")
    page.get_by_text("269,722").first.wait_for(timeout=60_000)
    page.locator("svg g.node").first.wait_for(timeout=30_000)  # Graphviz rendered in the browser
    assert page.locator("svg g.edge").count() == 29  # ResNet-20: 20 main-path edges + 9 shortcuts
    wait_for_app(page)
    assert_no_exception(page)


def test_ensembles_page_removes_a_block_in_the_browser(server, page):
    page.goto(f"{server['url']}/Ensembles")
    page.get_by_text("Remove blocks yourself").wait_for(timeout=60_000)
    wait_for_app(page)
    page.get_by_role("button", name="13", exact=True).click()
    page.get_by_text("1 of 27 blocks removed").wait_for(timeout=30_000)
    page.get_by_role("button", name="9↓", exact=True).click()
    page.get_by_text("cannot run").wait_for(timeout=30_000)
    assert page.get_by_text("without a shortcut nothing carries its input across").is_visible()
    assert_no_exception(page)
    page.screenshot(path=str(ARTIFACTS / "ensembles.png"), full_page=True)


def test_why_identity_page_paints_the_precomputed_variants(server, page):
    page.goto(f"{server['url']}/Why_identity")
    page.get_by_text("Precomputed result of this lesson").wait_for(timeout=60_000)
    page.locator(".js-plotly-plot").nth(1).wait_for(timeout=30_000)  # (a) curves and (c) shortcut factors
    assert page.get_by_text("Published, not measured here").is_visible()
    page.get_by_text("Settings of the variants").click()
    page.get_by_text("Scale F by 1 - λ").wait_for(timeout=30_000)
    wait_for_app(page)
    assert_no_exception(page)
    page.screenshot(path=str(ARTIFACTS / "why_identity.png"), full_page=True)
    # the second choice: Table 1 in full paints its own precomputed result, its fixed settings said
    page.locator('[data-testid="stRadio"]').filter(has_text="Table 1 in full").get_by_text("Table 1 in full").click()
    page.get_by_text("Table 1 in full fixes the depth (110)").wait_for(timeout=60_000)
    page.get_by_text("shortcut gating, b_g = -6").first.wait_for(timeout=60_000)  # a run only Table 1 has
    wait_for_app(page)
    assert_no_exception(page)
    page.screenshot(path=str(ARTIFACTS / "why_identity_table1.png"), full_page=True)


def _small_degradation_spec(page) -> None:
    """Depth 20 only, width 4: the smallest preset a student would pick."""
    page.get_by_role("combobox", name="Depths").click()
    page.keyboard.press("Backspace")  # removes the last depth, 56
    page.keyboard.press("Escape")
    page.locator('[data-baseweb="tag"]').filter(has_text="56").wait_for(state="detached")
    width = page.locator('[data-testid="stSlider"]').filter(has_text="Width").get_by_role("slider")
    width.focus()
    page.keyboard.press("Home")
    page.get_by_text("Nothing is stored for these settings yet").wait_for(timeout=30_000)
    wait_for_app(page)


def test_a_student_trains_cancels_retrains_and_reloads_the_stored_result(server, page):
    page.goto(f"{server['url']}/Degradation")
    page.get_by_text("Precomputed result of this lesson").wait_for(timeout=60_000)
    wait_for_app(page)
    _small_degradation_spec(page)
    page.get_by_role("button", name="Train").click()
    page.get_by_text("Run 1/2").wait_for(timeout=60_000)  # progress with the run and step
    assert page.locator('[data-testid="stProgress"]').count() == 1
    page.get_by_role("button", name="Cancel").click()
    page.get_by_text("The run was cancelled").wait_for(timeout=60_000)
    assert_no_exception(page)

    steps = page.locator('[data-testid="stSlider"]').filter(has_text="Steps").get_by_role("slider")
    steps.focus()
    page.keyboard.press("Home")  # the fewest steps offered: the second run only has to finish and be stored
    wait_for_app(page)
    page.get_by_role("button", name="Train").click()
    page.get_by_text("Measured on this server").wait_for(timeout=180_000)
    wait_for_app(page)
    assert_no_exception(page)

    assert "width=" in page.url and "depths=" in page.url and "steps=" in page.url  # the settings are in the address
    page.reload()  # a new session: the link restores the settings, which answer from the run store
    page.get_by_text("Measured on this server").wait_for(timeout=60_000)
    wait_for_app(page)
    assert page.get_by_role("button", name="Train").count() == 0  # stored: nothing to train
    assert page.locator('[data-testid="stProgress"]').count() == 0
    assert_no_exception(page)


def test_landscape_page_paints_the_precomputed_surfaces_and_paths(server, page):
    page.goto(f"{server['url']}/Landscape")
    page.get_by_text("Precomputed result of this lesson").first.wait_for(timeout=60_000)
    page.locator(".js-plotly-plot").nth(2).wait_for(timeout=30_000)  # (a) contours, (b) 3-D, (c) the 1-D line
    assert page.get_by_text("plain-56: curvature ratio").is_visible()
    assert page.get_by_text("Published, not measured here").first.is_visible()
    wait_for_app(page)
    assert_no_exception(page)
    page.screenshot(path=str(ARTIFACTS / "landscape.png"), full_page=True)
    page.get_by_role("tab", name="Paths of the gradient").click()
    page.get_by_text("Effective paths", exact=True).first.wait_for(timeout=30_000)
    page.get_by_text("3 to 10", exact=True).wait_for(timeout=30_000)  # the shipped preset, measured
    assert_no_exception(page)
    page.screenshot(path=str(ARTIFACTS / "paths.png"), full_page=True)


def test_a_teacher_link_opens_the_lesson_in_chinese_with_depths_locked_and_the_question_first(server, page):
    page.goto(f"{server['url']}/Degradation?lang=zh&depths=20,32,56&lock=depths&quiz=1")
    page.get_by_text("不同深度的普通网络和残差网络").wait_for(timeout=60_000)  # a neutral title until the answer
    wait_for_app(page)
    assert page.get_by_text("退化：更深的普通网络训练得更差").count() == 0
    assert page.get_by_text("看什么。").count() == 0 and page.locator('[data-testid="stPlotlyChart"]').count() == 0
    assert page.get_by_text("先预测，再看结果。").is_visible()
    assert page.get_by_text("请先做出预测：做出预测后才会显示结果。").is_visible()
    assert page.get_by_text("Degradation: deeper plain nets train worse").count() == 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "degradation_zh.png"), full_page=True)
    page.get_by_text("更深的普通网络", exact=True).click()
    page.get_by_text("已记下你的预测").wait_for(timeout=30_000)  # 20/32/56 is not trained yet: the run will tell
    page.get_by_text("退化：更深的普通网络训练得更差").wait_for(timeout=30_000)  # the lesson, once answered
    wait_for_app(page)
    depths = page.locator('[data-testid="stMain"] [data-testid="stMultiSelect"]').filter(has_text="深度").first
    tags = depths.locator('[data-testid="stMultiSelectTagsContainer"] [title]')  # the link's depths, locked
    assert [tags.nth(i).get_attribute("title") for i in range(tags.count())] == ["20", "32", "56"]
    assert depths.locator("input").is_disabled()
    assert_no_exception(page)


def test_an_english_link_locks_the_depth_of_the_landscape_lesson(server, page):
    page.goto(f"{server['url']}/Landscape?lang=en&depth=20&lock=depth")
    page.get_by_text("plain-20: curvature ratio").wait_for(timeout=60_000)  # the shipped depth-20 preset
    wait_for_app(page)
    slider = page.locator('[data-testid="stSlider"]').first
    assert slider.get_by_text("Depth").is_visible()
    thumb = slider.locator('input[type="range"]')
    assert thumb.is_disabled() and thumb.get_attribute("aria-valuetext") == "20"
    assert page.get_by_text("损失地形").count() == 0
    assert_no_exception(page)


def test_the_browser_language_is_the_default_and_bad_parameters_get_a_note(server, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(f"{server['url']}/Why_identity?colour=red&depth=57")
        page.get_by_text("为什么是恒等映射？门控、缩放和暂退的快捷连接").wait_for(timeout=60_000)
        wait_for_app(page)
        note = page.get_by_test_id("stAlertContentWarning")
        note.get_by_text("这个链接包含本页无法使用的设置，已忽略").wait_for(timeout=30_000)
        assert note.get_by_text("colour=red").is_visible() and note.get_by_text("depth=57").is_visible()
        assert page.get_by_test_id("stToastText").get_by_text("depth=57").count() == 1  # announced at the top too
        page.screenshot(path=str(ARTIFACTS / "why_identity_zh.png"), full_page=True)
        page.get_by_text("English", exact=True).click()  # the switch in the sidebar
        page.get_by_text("Why identity? Gates, scaled and dropped shortcuts").wait_for(timeout=30_000)
        assert "lang=en" in page.url
        assert_no_exception(page)
    finally:
        context.close()


def test_the_degradation_runs_download_as_tensorboard_files(server, page, tmp_path):
    import io
    import zipfile

    page.goto(f"{server['url']}/Degradation")
    page.get_by_text("Precomputed result of this lesson").wait_for(timeout=60_000)
    wait_for_app(page)
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="Download for TensorBoard (zip)").click()
    path = tmp_path / "tb.zip"
    download.value.save_as(path)
    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as zf:
        folders = {n.split("/")[1] for n in zf.namelist()}
        assert all(n.startswith("runs/") and "/events.out.tfevents" in n for n in zf.namelist())
    assert folders == {"plain-20_seed0", "ResNet-20_seed0", "plain-56_seed0", "ResNet-56_seed0"}
    assert_no_exception(page)


def test_the_degradation_lesson_downloads_as_a_notebook_and_shows_its_code(server, page, tmp_path):
    import json

    import nbformat

    page.goto(f"{server['url']}/Degradation?lang=zh&depths=20,32")
    page.get_by_text("代码：用纯 PyTorch 写出的网络").wait_for(timeout=60_000)
    wait_for_app(page)
    page.get_by_text("代码：用纯 PyTorch 写出的网络").click()
    page.get_by_text("def make_net(seed=None):").first.wait_for(timeout=30_000)
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="下载笔记本").click()
    path = tmp_path / "lesson.ipynb"
    download.value.save_as(path)
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert download.value.suggested_filename == "degradation_zh.ipynb"
    assert notebook.metadata["resnet_viz"] == {"experiment": "degradation", "lang": "zh"}
    assert notebook.cells[0].source.startswith("# 退化")
    assert sum(c.source.startswith("%%writefile") for c in notebook.cells) == 4
    assert "/Degradation?" in json.dumps(notebook.cells[1].source) and "depths=20,32" in notebook.cells[1].source
    assert_no_exception(page)
