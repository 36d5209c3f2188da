"""The classroom: every word in Chinese and English, teacher links, predict-before-you-run."""

import re
from collections import Counter
from pathlib import Path

import pytest
from conftest import app
from streamlit.testing.v1 import AppTest

from resnet_viz import i18n
from resnet_viz.ui import available_pages
from resnet_viz.ui.catalog import extract

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["app.py"] + [p[0] for p in available_pages()]
FIELD = re.compile(r"\{[^{}]*\}")


# --- the catalog ------------------------------------------------------------------------------------

def test_every_message_has_a_translation_and_the_same_placeholders():
    found = extract()
    zh = i18n.messages("zh")
    assert len(found) > 400
    missing = sorted(m for m in found if not zh.get(m, "").strip())
    assert not missing, f"{len(missing)} messages without a translation, e.g. {missing[:5]}"
    stale = sorted(set(zh) - set(found))
    assert not stale, f"catalog entries the code no longer uses: {stale[:5]} (python -m resnet_viz.ui.catalog)"
    for message in found:
        assert Counter(FIELD.findall(zh[message])) == Counter(FIELD.findall(message)), message
        assert zh[message].count("$") == message.count("$"), message  # the formulas are kept


def test_terminology_follows_d2l_zh_throughout():
    text = "\n".join(i18n.messages("zh").values())
    for term in ("残差块", "恒等映射", "瓶颈块", "退化", "梯度消失", "批量规范化", "快捷连接"):
        assert term in text, term
    for other in ("批量归一化", "批归一化", "捷径", "残差模块"):  # synonyms d2l-zh does not use
        assert other not in text, other


def test_translate_falls_back_to_english_and_translates_composed_text():
    assert i18n.translate("Train", "zh") == "训练"
    assert i18n.translate("a sentence the catalog never saw", "zh") == "a sentence the catalog never saw"
    assert i18n.translate("Train", "en") == "Train"
    assert i18n.translate(i18n.F_("{m} min {s:02d} s", m=4, s=7), "zh") == "4 分 07 秒"
    assert i18n.translate(i18n.F_("gradient ({stage})", stage="trained"), "zh") == "梯度（训练后）"
    assert i18n.language_of("zh-CN") == "zh" and i18n.language_of("en_US") == "en"
    assert i18n.language_of("fr") is None and i18n.language_of(None) is None


# --- pages in Chinese ---------------------------------------------------------------------------------

def _texts(at: AppTest) -> list[str]:
    found = [e.value for kind in ("title", "markdown", "caption", "info", "warning", "subheader", "success", "error")
             for e in getattr(at, kind)]
    found += [m.label for m in at.metric] + [b.label for b in at.button]
    for kind in ("selectbox", "select_slider", "multiselect", "radio", "toggle", "number_input", "slider"):
        found += [w.label for w in getattr(at, kind)] + [w.help or "" for w in getattr(at, kind)]
    return found


@pytest.mark.slow
@pytest.mark.parametrize("path", PAGES)
def test_each_page_in_chinese_shows_no_english_sentence_from_the_catalog(path):
    at = app(path, lang="zh").run()
    assert not at.exception
    zh = i18n.messages("zh")
    sentences = [m for m, t in zh.items() if t != m and len(m.split()) >= 3 and not FIELD.fullmatch(m)]
    shown = _texts(at)
    assert any(re.search(r"[\u4e00-\u9fff]", t) for t in shown)
    leaks = {m for m in sentences for t in shown if m in t}
    assert not leaks, f"{path}: English left: {sorted(leaks)[:5]}"


def test_the_language_follows_the_link_and_english_is_the_default():
    assert app("pages/1_Degradation.py").run().title[0].value == "Degradation: deeper plain nets train worse"
    assert app("pages/1_Degradation.py", lang="zh").run().title[0].value == "退化：更深的普通网络训练得更差"


# --- teacher links --------------------------------------------------------------------------------------

def test_a_link_sets_and_locks_the_settings():
    at = app("pages/1_Degradation.py", lang="zh", depths="20,32,56", lock="depths", width="4", steps="100").run()
    assert not at.exception
    depths = at.multiselect[0]
    assert depths.value == [20, 32, 56] and depths.disabled
    width = next(s for s in at.select_slider if s.label == "宽度")
    assert width.value == 4 and not width.disabled
    assert not at.warning  # nothing ignored


@pytest.mark.slow
def test_changing_a_setting_writes_it_into_the_link():
    at = app("pages/7_Landscape.py").run()
    next(s for s in at.select_slider if s.label == "Depth").set_value(20).run()
    assert at.query_params["depth"] in ("20", ["20"])
    next(s for s in at.select_slider if s.label == "Depth").set_value(56).run()
    assert "depth" not in at.query_params  # the default leaves the link clean


@pytest.mark.parametrize("params, shown", [
    ({"depths": "21,999"}, "`depths=21,999`"),
    ({"width": "lots"}, "`width=lots`"),
    ({"colour": "red"}, "`colour=red`"),
    ({"lock": "nothing_here"}, "`lock=nothing_here`"),
    ({"lang": "fr"}, "`lang=fr`"),
])
def test_bad_link_parameters_are_ignored_with_a_note(params, shown):
    at = app("pages/1_Degradation.py", **params).run()
    assert not at.exception
    notes = [w.value for w in at.warning]
    assert any("ignored" in n and shown in n for n in notes), notes
    assert at.multiselect[0].value == [20, 56]  # the page's own defaults stand


def test_the_class_link_carries_settings_language_lock_and_quiz():
    at = app("pages/1_Degradation.py", lang="zh", depths="20,32", lock="depths", quiz="1").run()
    link = next(c.value for c in at.code)
    assert "depths=20,32" in link and "lang=zh" in link and "lock=depths" in link and "quiz=1" in link


# --- predict before you run -------------------------------------------------------------------------------

def test_the_quiz_hides_the_result_until_answered_and_reads_the_answer_from_it():
    at = app("pages/1_Degradation.py", quiz="1").run()
    assert not at.exception
    assert any("higher *training* error" in m.value for m in at.markdown)
    assert not at.get("plotly_chart")  # the precomputed curves wait for the prediction
    assert [t.value for t in at.title] == ["Plain and residual nets of several depths"]  # no title that answers
    assert not any("What to look for" in m.value for m in at.markdown)
    quiz = next(r for r in at.radio if r.label == "Your prediction")
    quiz.set_value(0).run()
    assert at.get("plotly_chart")
    assert [t.value for t in at.title] == ["Degradation: deeper plain nets train worse"]
    verdict = (at.success or at.warning)[0].value
    assert "Measured here:" in verdict  # the right option comes from the shipped result


@pytest.mark.slow
@pytest.mark.parametrize("path", ["pages/1_Degradation.py", "pages/2_Gradient_flow.py", "pages/4_Ensembles.py",
                                  "pages/6_Why_identity.py", "pages/7_Landscape.py"])
def test_every_training_page_has_its_question_in_both_languages(path):
    for lang, label in (("en", "Your prediction"), ("zh", "你的预测")):
        at = app(path, quiz="1", lang=lang).run()
        assert not at.exception
        assert any(r.label == label for r in at.radio), (path, lang)


@pytest.mark.slow
def test_links_reach_page_preset_controls_and_page_own_widgets():
    at = app("pages/2_Gradient_flow.py", batchnorm="0", activation="sigmoid", depth="20").run()
    assert not at.exception
    assert next(t for t in at.toggle if t.label == "Batch norm").value is False
    assert next(r for r in at.radio if r.label == "Activation").value == "sigmoid"
    assert next(s for s in at.select_slider if s.label == "Depth").value == 20
    at = app("pages/3_Parameters_and_compute.py", family="imagenet", depth="50", residual="0").run()
    assert not at.exception
    assert [m.value for m in at.metric][0] == "plain-50"


def test_a_library_message_in_chinese_comes_with_a_chinese_frame(tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_VIZ_DATA", str(tmp_path / "empty"))
    at = app("pages/1_Degradation.py", lang="zh", dataset="mnist").run()
    assert not at.exception
    error = at.error[0].value
    assert error.startswith("无法运行。实验室给出的说明（英文）：") and "is not available offline" in error


# --- the fine print a class notices ---------------------------------------------------------------------

def test_switching_tabs_after_changing_a_setting_is_no_false_alarm():
    at = app("pages/3_Parameters_and_compute.py").run()
    next(s for s in at.select_slider if s.label == "Depth").set_value(56).run()
    at.session_state["pc_tab"] = "The family"
    at.run()
    assert not at.exception
    assert not [w for w in at.warning if "ignored" in w.value], [w.value for w in at.warning]
    at = app("pages/3_Parameters_and_compute.py", channels="64").run()  # a setting of a closed tab
    assert not [w for w in at.warning if "ignored" in w.value]


def test_a_number_a_link_gives_out_of_range_is_ignored_with_the_note():
    at = app("pages/5_Attributions.py", image="99999").run()
    assert not at.exception
    assert any("ignored" in w.value and "`image=99999`" in w.value for w in at.warning)
    assert at.number_input[0].value == 0


def test_a_number_typed_out_of_range_is_said_in_the_session_language():
    at = app("pages/3_Parameters_and_compute.py", lang="zh")
    at.session_state["width-cifar"] = 9999  # as typed into the width box (no bounds of Streamlit's own)
    at.run()
    assert not at.exception
    assert any("必须在 1 到 256 之间" in w.value for w in at.warning)


def test_the_class_link_uses_the_address_students_reach(monkeypatch):
    from streamlit import net_util

    monkeypatch.setattr(net_util, "get_internal_ip", lambda: "192.168.1.20")
    at = app("pages/1_Degradation.py", depths="20,32").run()
    link = next(c.value for c in at.sidebar.code)
    assert link.startswith("http://192.168.1.20:") and "depths=20,32" in link
    assert not [w for w in at.sidebar.warning if "only works on this computer" in w.value]
    monkeypatch.setenv("RESNET_VIZ_PUBLIC_URL", "https://lab.school.example/")
    link = next(c.value for c in app("pages/1_Degradation.py").run().sidebar.code)
    assert link.startswith("https://lab.school.example?") or link.startswith("https://lab.school.example/")


def test_a_class_link_on_localhost_comes_with_a_warning(monkeypatch):
    from streamlit import net_util

    monkeypatch.setattr(net_util, "get_internal_ip", lambda: None)
    at = app("pages/1_Degradation.py").run()
    assert any("only works on this computer" in w.value for w in at.sidebar.warning)


def test_the_lock_choices_are_words_not_code_names():
    at = app("pages/2_Gradient_flow.py").run()
    lock = next(m for m in at.sidebar.multiselect if m.label == "Lock these controls")
    assert "Batch norm" in lock.options and "batchnorm" not in lock.options, lock.options


def test_the_gradient_lesson_selector_follows_the_controls():
    at = app("pages/2_Gradient_flow.py").run()
    assert at.selectbox(key="gf_lesson").value == "BN + ReLU: the paper's nets"
    at.toggle(key="gf_bn").set_value(False).run()  # no batch norm, still ReLU: none of the three lessons
    assert at.selectbox(key="gf_lesson").value == "Your own settings"
    at.radio(key="gf_act").set_value("sigmoid").run()
    assert at.selectbox(key="gf_lesson").value == "No BN, sigmoid: gradients vanish"


def test_the_why_identity_page_keeps_its_charts_when_a_setting_changes():
    at = app("pages/6_Why_identity.py").run()
    charts = len(at.get("plotly_chart"))
    next(s for s in at.select_slider if s.label == "Steps").set_value(300).run()
    assert not at.exception and len(at.get("plotly_chart")) == charts  # the precomputed lesson stays, labelled
    assert any("made with other settings" in i.value for i in at.info)


@pytest.mark.parametrize("path", PAGES)
def test_the_tables_of_a_chinese_page_have_no_english_words(path):
    """Data grids are drawn on a canvas the browser test cannot read: their headers and words are
    checked here (numbers, names and units may stay)."""
    from conftest import english_words

    import json

    at = app(path, lang="zh").run()
    texts = []
    for element in list(at.dataframe) + list(at.table):
        frame = element.value
        config = json.loads(getattr(element.proto, "columns", "") or "{}")  # a column's label set by the page
        texts += [(config.get(str(c)) or {}).get("label") or str(c) for c in frame.columns]
        texts += [v for v in frame.to_numpy().ravel() if isinstance(v, str)]
    assert not english_words(texts), (path, english_words(texts))
