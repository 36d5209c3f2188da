"""Every page's prose: one module per lesson (``texts/<lesson>.py``), one class per page, and here the
base classes and the home page.

Lesson views and pages read their words from these classes only. The English text is the message id of
the gettext catalogs (:mod:`resnet_viz.i18n`): reading ``Degradation.title`` gives it in the session's language.
Numbers are filled in with ``str.format`` fields, which a translation keeps.
"""

from __future__ import annotations

from ..lang import _


class _Translated(type):
    """Reading a class's text gives it in the session's language (the English text is the message id)."""

    def __getattribute__(cls, name: str):
        value = type.__getattribute__(cls, name)
        if name.startswith("__"):
            return value
        if isinstance(value, str):
            return _(value)
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return type(value)(_(v) for v in value)
        return value


class _Text(metaclass=_Translated):
    """The base of every page's words."""


class Home(_Text):
    title = "resnet-viz: a lab for residual networks"
    intro = ("Build plain and residual CNNs, train them for a minute on real data, and watch the story of "
             "**He et al. (2016), _Deep Residual Learning for Image Recognition_** happen in front of you. "
             "Every number marked *measured* comes from a run this lab did; published numbers are labelled "
             "with their source.")
    story_title = "The story, in four experiments"
    story = """
1. **Degradation.** Stack more layers on a plain net and its *training* error goes up, so the problem
   is optimization, not overfitting. Give every two layers a shortcut, H(x) = F(x) + x, and depth
   helps again.
2. **Gradient flow.** Through a shortcut, dH/dx = dF/dx + 1: the gradient always has a path back to the
   first layers. Plain nets with batch norm do not simply vanish; their gradients grow toward the
   input at initialization, and they still train worse.
3. **Cost.** Bottleneck blocks (1x1 reduce, 3x3, 1x1 restore) buy four times the width for the price
   of a basic block, which is how ResNet-152 costs less compute than VGG-16.
4. **Ensembles.** Delete one of the later blocks from a trained ResNet and it barely notices; do the
   same to a plain net and it falls to chance. A residual net behaves like many shallower paths voting
   together. (The first blocks, which see the raw image, and the downsampling blocks are the ones it
   cannot spare: try block 1 on the ensembles page.)
"""
    open_title = "Open an experiment"
    where_title = "Where things are"
    device = "Device in use"
    stored = "Stored runs"
    stored_help = "Finished experiments, reused instantly when asked again."
    where = ("Results and weights are stored in `{root}` (set `RESNET_VIZ_HOME` to move them). The same experiment "
             "asked twice, by anyone, answers from the store at once. The command line runs the same experiments: "
             "`python -m resnet_viz --help`.")


class _BackgroundLesson(_Text):
    """Words shared by the pages that train in the background and ship a precomputed first view."""

    preset = ("Precomputed result of this lesson, shown for an instant first look. Press **Train** to run it live on "
              "this server.")
    preset_label = "Precomputed with `{command}`."
    measured = "Measured on this server ({device}): {runs} runs, {seconds:.0f} s of training."
    not_trained = ("Not trained yet with these settings. Press **Train**: the runs go to a background queue, so you can "
                   "keep using the page (or reload it) while they train.")


def text_classes() -> list[type]:
    """Every class of words in this package (the catalog extracts their messages)."""
    import importlib
    import pkgutil

    found = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        found += [c for c in vars(module).values() if isinstance(c, type) and issubclass(c, _Text) and
                  c.__module__ == module.__name__]
    return [Home, _BackgroundLesson] + found
