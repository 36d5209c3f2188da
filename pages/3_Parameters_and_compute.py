"""Exact parameters and multiply-adds: basic vs bottleneck blocks, shortcut options A/B/C, ResNet-20..1202 and ResNet-18..152."""

import streamlit as st

from resnet_viz import ui
from resnet_viz.config import BLOCKS, BOTTLENECKS, IMAGENET_DEPTHS, SHORTCUT_KINDS, SHORTCUTS, NetConfig, cifar_depths
from resnet_viz.ui import views
from resnet_viz.ui.texts import Parameters as T

ui.page_setup("Parameters and compute", ":material/calculate:")
ui.sidebar()
st.title(T.title)
st.markdown(T.intro)
net_tab, block_tab, family_tab, lineage_tab, three_tab = st.tabs(T.tabs, key="pc_tab", on_change="rerun")

if net_tab.open:
    with net_tab:
        c1, c2, c3, c4 = st.columns(4)
        family = c1.radio("Family", ["cifar", "imagenet"], format_func={"cifar": "CIFAR (32 px)",
                                                                        "imagenet": "ImageNet (224 px)"}.get)
        cifar = family == "cifar"
        block = c2.selectbox("Block", BLOCKS, help="basic and preact: depth 6n+2; bottlenecks: 9n+2") if cifar else "auto"
        depth = ((c3 if cifar else c2).select_slider("Depth", cifar_depths(block), value=29 if block in BOTTLENECKS else 20)
                 if cifar else c2.select_slider("Depth", list(IMAGENET_DEPTHS), value=50))
        width = (c4 if cifar else c3).number_input("Width (first-stage channels)", 1, 256, 16 if cifar else 64)
        residual = c1.toggle("Shortcuts (residual)", value=True)
        shortcut = c2.radio("Shortcut option", SHORTCUTS, index=0 if cifar else 1, horizontal=True, disabled=not residual,
                            help="A: zero-padded identity; B: 1x1 projection where the shape changes; C: projection "
                                 "everywhere")
        kind = c3.selectbox("Shortcut kind", SHORTCUT_KINDS, disabled=not residual, help=T.kind_help)
        net = ui.guard(NetConfig, family=family, depth=depth, block=block, residual=residual, shortcut=shortcut,
                       width=int(width), num_classes=10 if cifar else 1000,
                       shortcut_kind=kind if residual else "identity")
        views.net_cost(net)

if block_tab.open:
    with block_tab:
        c1, c2, c3, c4 = st.columns(4)
        channels = c1.select_slider("Channels", [16, 32, 64, 128, 256, 512, 1024, 2048], value=256)
        width = c2.select_slider("Bottleneck width (3x3 channels)", [channels // 8, channels // 4, channels // 2],
                                 value=channels // 4, help="the paper uses a quarter of the channels")
        in_channels = c3.select_slider("Input channels", [channels // 2, channels], value=channels,
                                       help="half the channels: the first block of a stage, whose shortcut must "
                                            "change the shape")
        shortcut = c4.radio("Shortcut option", SHORTCUTS, index=1, horizontal=True)
        ui.guard(views.block_calculator, channels, width, in_channels, shortcut)

if family_tab.open:
    with family_tab:
        views.family_tab()

if lineage_tab.open:
    with lineage_tab:
        views.lineage_view()

if three_tab.open:
    with three_tab:
        views.three_by_three_view(st.select_slider("Channels C", [16, 32, 64, 128, 256, 512], value=64))
