"""Exact parameters and multiply-adds: basic vs bottleneck blocks, shortcut options A/B/C, ResNet-20..1202 and ResNet-18..152."""

import streamlit as st

from resnet_viz import ui
from resnet_viz.config import BLOCKS, BOTTLENECKS, IMAGENET_DEPTHS, SHORTCUT_KINDS, SHORTCUTS, NetConfig, cifar_depths
from resnet_viz.ui import views
from resnet_viz.i18n import N_
from resnet_viz.ui.lang import _
from resnet_viz.ui.texts import Parameters as T
from resnet_viz.ui.widgets import control

ui.page_setup("Parameters and compute", ":material/calculate:")
ui.sidebar()
st.title(T.title)
st.markdown(T.intro)
net_tab, block_tab, family_tab, lineage_tab, three_tab = st.tabs(T.tabs, key="pc_tab", on_change="rerun")

if net_tab.open:
    with net_tab:
        c1, c2, c3, c4 = st.columns(4)
        family = control(c1, "radio", "family", N_("Family"), ["cifar", "imagenet"], "cifar",
                         format_func=lambda f: _(views.FAMILIES[f]))
        cifar = family == "cifar"
        block = control(c2, "selectbox", "block", N_("Block"), list(BLOCKS), "basic",
                        help=N_("basic and preact: depth 6n+2; bottlenecks: 9n+2")) if cifar else "auto"
        depth = (control(c3, "select_slider", "depth", N_("Depth"), cifar_depths(block), 29 if block in BOTTLENECKS else 20)
                 if cifar else control(c2, "select_slider", "depth", N_("Depth"), list(IMAGENET_DEPTHS), 50, key="depth-in"))
        width = control(c4 if cifar else c3, "number_input", "width", N_("Width (first-stage channels)"), None,
                        16 if cifar else 64, low=1, high=256, key=f"width-{family}")
        residual = control(c1, "toggle", "residual", N_("Shortcuts (residual)"), None, True)
        shortcut = control(c2, "radio", "shortcut", N_("Shortcut option"), list(SHORTCUTS), "A" if cifar else "B",
                           key=f"shortcut-{family}",
                           disabled=not residual, help=N_("A: zero-padded identity; B: 1x1 projection where the shape "
                                                       "changes; C: projection everywhere"))
        kind = control(c3, "selectbox", "kind", N_("Shortcut kind"), list(SHORTCUT_KINDS), "identity",
                       disabled=not residual, help=T.kind_help)
        net = ui.guard(NetConfig, family=family, depth=depth, block=block, residual=residual, shortcut=shortcut,
                       width=int(width), num_classes=10 if cifar else 1000,
                       shortcut_kind=kind if residual else "identity")
        views.net_cost(net)

if block_tab.open:
    with block_tab:
        views.block_tab()

if family_tab.open:
    with family_tab:
        views.family_tab()

if lineage_tab.open:
    with lineage_tab:
        views.lineage_view()

if three_tab.open:
    with three_tab:
        views.three_by_three_view(control(st, "select_slider", "c", N_("Channels C"), [16, 32, 64, 128, 256, 512], 64))
ui.finish_page()
