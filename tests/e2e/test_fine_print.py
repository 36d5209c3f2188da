"""The fine print a class notices, checked on every page in both languages at 1280x800 in Chromium:
no exception box, no English left in the Chinese pages (chart text included), and no label, metric,
chip, tab, button or table header whose text is cut off by its box."""

from __future__ import annotations


import pytest

from conftest import english_words
from resnet_viz.ui import available_pages

from .conftest import ARTIFACTS, assert_no_exception, wait_for_app

# Every page by its address ("" is the home page), and the tabs that draw more when opened.
PAGES = [""] + [p[0].split("/")[-1].removesuffix(".py").split("_", 1)[1] for p in available_pages()]
TABS = {"Parameters_and_compute": 5, "Landscape": 2, "From_LeNet_to_ResNet": 6}

TEXTS_JS = """() => {
  const skip = 'code, pre, .katex, .katex-display, [data-testid="stCode"], [data-testid="stToolbar"], '
             + '[data-testid="stDataFrame"], style, script, noscript, [data-testid="stHeader"], '
             + '[data-testid="stIconMaterial"], [data-testid="stSkipToContent"]';  // icons are drawn from their names
  const found = [];
  const walker = document.createTreeWalker(document.querySelector('[data-testid="stApp"]'), NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    const text = walker.currentNode.textContent.trim();
    if (!text || !el || el.closest(skip) || !el.checkVisibility({checkVisibilityCSS: true})) continue;
    if (getComputedStyle(el).fontFamily.includes('Material')) continue;  // an icon, drawn from its name
    found.push(text);
  }
  for (const th of document.querySelectorAll('[data-testid="stDataFrame"] th')) found.push(th.textContent.trim());
  for (const gd of document.querySelectorAll('.js-plotly-plot')) {  // words a chart shows on hover or in 3-D
    const layout = gd.layout || {};
    for (const [key, axis] of Object.entries(layout)) {
      if (key.startsWith('scene')) for (const k of ['xaxis', 'yaxis', 'zaxis'])
        if (axis && axis[k] && axis[k].title && axis[k].title.text) found.push(axis[k].title.text);
    }
    for (const trace of gd.data || []) {
      if (trace.hovertemplate && typeof trace.hovertemplate === 'string') found.push(trace.hovertemplate);
      if (trace.name) found.push(String(trace.name));
    }
  }
  return found;
}"""

OVERFLOW_JS = """() => {
  const boxes = '[data-testid="stWidgetLabel"], [data-testid="stMetricLabel"], [data-testid="stMetricValue"], '
              + '[data-testid="stMetricDelta"], [data-baseweb="tag"], [role="tab"], '
              + '[data-testid^="stBaseButton"], [data-testid="stTable"] th, [data-testid="stExpander"] summary, '
              + '[data-testid="stPageLink"], [data-baseweb="select"] [value], '
              + '[data-testid="stMultiSelectTagsContainer"]';  // chips scrolled out of their box are cut off too
  const cut = [];
  for (const box of document.querySelectorAll(boxes)) {
    if (!box.checkVisibility({checkVisibilityCSS: true})) continue;
    for (const el of [box, ...box.querySelectorAll('*')]) {
      const style = getComputedStyle(el);
      const clips = style.overflowX !== 'visible' || style.textOverflow === 'ellipsis';
      if (clips && el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1 && el.textContent.trim()) {
        cut.push(`${box.getAttribute('data-testid') || box.getAttribute('data-baseweb') || box.tagName}: `
                 + `"${el.textContent.trim().slice(0, 60)}" (${el.scrollWidth} px in ${el.clientWidth} px)`);
        break;
      }
    }
  }
  return cut;
}"""


def _open_everything(page) -> None:
    """Open the collapsed expanders, so their labels are checked too."""
    opened = False
    for summary in page.locator('[data-testid="stExpander"] summary').all():
        if summary.is_visible() and summary.locator("xpath=..").get_attribute("open") is None:  # (a tab's own)
            summary.click()
            opened = True
    if opened:  # (nothing opened: the page is as wait_for_app left it)
        wait_for_app(page)


def _check(page, lang: str, where: str) -> None:
    assert_no_exception(page)
    if lang == "zh":
        words = english_words(page.evaluate(TEXTS_JS))
        assert not words, f"{where} in Chinese shows English words: {words}"
    cut = page.evaluate(OVERFLOW_JS)
    assert not cut, f"{where} ({lang}) cuts off: {cut}"


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("slug", PAGES)
def test_every_page_in_both_languages_shows_its_words_whole(server, browser, slug, lang):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        page.goto(f"{server['url']}/{slug}?lang={lang}")
        page.locator("h1").first.wait_for(timeout=90_000)
        wait_for_app(page, timeout=90)
        _open_everything(page)
        _check(page, lang, slug or "home")
        for i in range(1, TABS.get(slug, 0)):
            page.get_by_role("tab").nth(i).click()
            wait_for_app(page, timeout=90)
            _open_everything(page)
            _check(page, lang, f"{slug} tab {i + 1}")
    except AssertionError:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"fine_print_{slug or 'home'}_{lang}.png"), full_page=True)
        raise
    finally:
        context.close()


def test_the_english_words_check_finds_english_and_passes_names():
    assert english_words(["训练误差 plain-56 与 ResNet-56（He 等 2016，图 1）", "步数 300, 1.2 × 10⁻⁹ s"]) == []
    assert english_words(["plain 网络的 training error", "%{x} 步"]) == ["error", "plain", "training"]
