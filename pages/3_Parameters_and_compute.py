"""Parameters and compute: exact counts of any net, blocks, the family, its ancestors, why 3x3."""

import pandas as pd
import streamlit as st

from resnet_viz import ui
from resnet_viz.config import BLOCKS, IMAGENET_DEPTHS, SHORTCUTS, NetConfig, cifar_depths
from resnet_viz.counting import count
from resnet_viz.diagram import architecture_dot
from resnet_viz.figures import stage_cost_figure
from resnet_viz.ui import parameters as view

ui.page_setup("Parameters and compute", ":material/calculate:")
ui.sidebar()
st.title("Parameters and compute")
st.markdown("Why could ResNet go to 152 layers and still cost less than VGG-16? Every number here is counted "
            "from real PyTorch modules: parameters with `numel()`, multiply-adds for one image with "
            "`torch.utils.flop_counter`. Published numbers are labelled with their source.")

net_tab, block_tab, family_tab, lineage_tab, three_tab = st.tabs(
    ["Your net", "Basic vs bottleneck", "The family", "Lineage", "Why 3x3"], key="pc_tab", on_change="rerun")

if net_tab.open:
    with net_tab:
        c1, c2, c3, c4 = st.columns(4)
        family = c1.radio("Family", ["cifar", "imagenet"], format_func={"cifar": "CIFAR (32 px)",
                                                                        "imagenet": "ImageNet (224 px)"}.get)
        if family == "cifar":
            block = c2.selectbox("Block", BLOCKS, help="basic and preact: depth 6n+2; bottleneck: 9n+2")
            depth = c3.select_slider("Depth", cifar_depths(block), value=20 if block != "bottleneck" else 29)
            width = c4.number_input("Width (first-stage channels)", 1, 256, 16)
        else:
            block = "auto"
            depth = c2.select_slider("Depth", list(IMAGENET_DEPTHS), value=50)
            width = c3.number_input("Width (first-stage channels)", 1, 256, 64)
        residual = c1.toggle("Shortcuts (residual)", value=True)
        shortcut = c2.radio("Shortcut option", SHORTCUTS, index=0 if family == "cifar" else 1, horizontal=True,
                            disabled=not residual, help="A: zero-padded identity; B: 1x1 projection where the "
                                                        "shape changes; C: projection everywhere")
        net = ui.guard(NetConfig, family=family, depth=depth, block=block, residual=residual, shortcut=shortcut,
                       width=int(width), num_classes=10 if family == "cifar" else 1000)
        counted = count(net)
        m1, m2, m3 = st.columns(3)
        m1.metric("Net", net.name)
        m2.metric("Parameters", f"{counted['params']:,}")
        m3.metric(f"Multiply-adds per {counted['image_size']} px image", f"{counted['macs'] / 1e6:,.1f} M")

        df = pd.DataFrame(counted["stages"])
        left, right = st.columns([3, 2])
        left.plotly_chart(stage_cost_figure(df), width="stretch")
        left.caption("Where the cost sits: each stage's share of the parameters and of the multiply-adds. "
                     "Later stages have more channels (more weights) at a lower resolution (fewer positions).")
        right.dataframe(df, hide_index=True, width="stretch", column_config={
            "params": st.column_config.NumberColumn("parameters", format="localized"),
            "macs": st.column_config.NumberColumn("multiply-adds", format="localized")})
        right.download_button("Download CSV", df.to_csv(index=False), file_name=f"{net.name}-stages.csv",
                              mime="text/csv")

        st.subheader("Architecture")
        n_stages = len(net.blocks_per_stage)
        few = sum(net.blocks_per_stage) <= 12
        expanded = st.multiselect("Stages drawn block by block", list(range(1, n_stages + 1)),
                                  default=list(range(1, n_stages + 1)) if few else [1],
                                  help="collapse stages of deep nets into one box")
        left, right = st.columns([2, 1])
        left.graphviz_chart(architecture_dot(net, [s - 1 for s in expanded]), width="content")
        right.markdown("As in the paper's Fig. 3: red arrows are **shortcuts**, solid where they are identities, "
                       "**dashed** where the shape changes (the first block of a stage halves the resolution and "
                       "doubles the channels; option A pads the new channels with zeros, B and C use a 1x1 "
                       "projection). A plain net is the same picture without the red arrows. \"/2\" marks a "
                       "stride of 2.")

if block_tab.open:
    with block_tab:
        c1, c2, c3, c4 = st.columns(4)
        channels = c1.select_slider("Channels", [16, 32, 64, 128, 256, 512, 1024, 2048], value=256)
        width = c2.select_slider("Bottleneck width (3x3 channels)", [channels // 8, channels // 4, channels // 2],
                                 value=channels // 4, help="the paper uses a quarter of the channels")
        in_channels = c3.select_slider("Input channels", [channels // 2, channels], value=channels,
                                       help="half the channels: the first block of a stage, whose shortcut "
                                            "must change the shape")
        shortcut = c4.radio("Shortcut option", SHORTCUTS, index=1, horizontal=True)
        ui.guard(view.block_calculator, channels, width, in_channels, shortcut)

if family_tab.open:
    with family_tab:
        c1, c2, c3 = st.columns(3)
        family = c1.radio("Family ", ["cifar", "imagenet"], horizontal=True,
                          format_func={"cifar": "CIFAR ResNet-20..1202", "imagenet": "ImageNet ResNet-18..152"}.get)
        variants = c2.multiselect("Variants", ["plain", "A", "B", "C"], default=["plain", "A" if family == "cifar" else "B"],
                                  format_func=lambda v: v if v == "plain" else f"residual, option {v}")
        metric = c3.radio("Stage chart", ["params", "macs"], horizontal=True,
                          format_func={"params": "parameters", "macs": "multiply-adds"}.get)
        if variants:
            view.family_view(family, tuple(variants), metric)
        else:
            st.info("Pick at least one variant.")

if lineage_tab.open:
    with lineage_tab:
        view.lineage_view()

if three_tab.open:
    with three_tab:
        view.three_by_three_view(st.select_slider("Channels C", [16, 32, 64, 128, 256, 512], value=64))
