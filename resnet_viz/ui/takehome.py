"""Take it home: the configured net as plain PyTorch (a Code expander with a copy button and a download), and the
lesson as a Jupyter notebook (a download button), on every page that builds a net."""

from __future__ import annotations

from typing import Any

import streamlit as st

from .. import experiments
from ..codegen import render, render_lineage
from ..config import NetConfig
from ..i18n import N_, translate
from ..notebook import NotebookError, build, check, dumps, lab_link, training_nets
from .lang import _, language, public_address

CODE_TITLE = N_("Code: the net as plain PyTorch")
CODE_NOTE = N_("Standalone PyTorch (torch only) that builds exactly this net: the same layers, the same parameter "
               "names and count, and for a seed the same initial weights as the lab. Copy it with the button at the "
               "top right of the code, or download it; `python net.py` builds the net and prints its size.")
LINEAGE_NOTE = N_("Standalone PyTorch (torch only) that builds exactly the module counted here: the same layers, "
                  "the same parameter names and count. Copy it with the button at the top right of the code, or "
                  "download it; `python net.py` builds it, runs one input through it and prints its size.")
WHICH = N_("Net")
DOWNLOAD_CODE = N_("Download the code (.py)")
DOWNLOAD_NOTEBOOK = N_("Download notebook")
NOTEBOOK_HELP = N_("This lesson as configured, as a Jupyter notebook that runs on its own: the data, each net's "
                   "code, the lab's training loop with these settings and seeds, and the lesson's main plot, with "
                   "this page's explanation.")


def nets_of(kind: str, spec: Any) -> dict[str, NetConfig]:
    """The distinct nets an experiment trains, by name, as the lab builds them (channels and classes of the data)."""
    found: dict[str, NetConfig] = {}
    for _name, net, _run in training_nets(experiments.get(kind), spec):
        found.setdefault(net.title(_), net)
    return found


@st.cache_data(max_entries=64, show_spinner=False)
def _lineage_source(name: str, lang: str) -> str:
    """A lineage net's code, made once per language for everyone (VGG's modules take a second to build)."""
    return render_lineage(name, _)


def code_view(nets: dict[str, NetConfig | str], key: str) -> None:
    """The Code expander: the chosen net's source, with Streamlit's copy button and a download. A net is a
    NetConfig (:func:`resnet_viz.codegen.render`) or the name of a lineage net (:func:`~resnet_viz.codegen.render_lineage`)."""
    with st.expander(_(CODE_TITLE), icon=":material/code:"):
        names = list(nets)
        name = st.selectbox(_(WHICH), names, key=f"code-net-{key}") if len(names) > 1 else names[0]
        net = nets[name]
        resnet = isinstance(net, NetConfig)
        source = render(net, _) if resnet else _lineage_source(net, language())
        st.caption(_(CODE_NOTE) if resnet else _(LINEAGE_NOTE))
        st.code(source, language="python", wrap_lines=True)  # narrow columns: wrapped on screen, copied as it is
        slug = "".join(c if c.isalnum() else "_" for c in (net.name if resnet else net).lower()).strip("_")
        st.download_button(_(DOWNLOAD_CODE), source, file_name=f"{slug}.py", mime="text/x-python",
                           icon=":material/download:", key=f"code-download-{key}", on_click="ignore")


def _page_url(kind: str, spec: Any) -> str:
    base, _local = public_address()
    return lab_link(experiments.get(kind), spec, base, language())


def notebook_button(kind: str, spec: Any, prose: tuple[str, ...], where: Any = st) -> None:
    """A download of the lesson as a notebook, made when pressed (not on every rerun of the page), or why this
    configuration has none."""
    experiment = experiments.get(kind)
    lang = language()
    try:
        check(experiment, spec)
    except NotebookError as exc:
        where.caption(f":material/info: {_(str(exc))}")
        return
    url = _page_url(kind, spec)

    def notebook() -> str:  # runs outside the page's script run: the language is passed, not read from the session
        return dumps(build(experiment, spec, lambda message: translate(message, lang), lang, prose, url))

    where.download_button(_(DOWNLOAD_NOTEBOOK), notebook, file_name=f"{kind}_{lang}.ipynb",
                          mime="application/x-ipynb+json", icon=":material/menu_book:", key=f"notebook-{kind}",
                          help=_(NOTEBOOK_HELP), on_click="ignore")


def take_home(kind: str, spec: Any, prose: tuple[str, ...]) -> None:
    """The Code expander of an experiment's nets, then its notebook download, under its panel."""
    nets = nets_of(kind, spec)
    if nets:  # a published net is trained elsewhere: nothing to write out
        code_view(nets, kind)
    notebook_button(kind, spec, prose)


__all__ = ["code_view", "nets_of", "notebook_button", "take_home"]
