"""Parameters and multiply-adds of any net in the registry's families, counted live."""

import pandas as pd
import streamlit as st

from resnet_viz import ui
from resnet_viz.config import BLOCKS, SHORTCUTS, NetConfig, cifar_depths, IMAGENET_DEPTHS
from resnet_viz.counting import count
from resnet_viz.figures import stage_cost_figure

ui.page_setup("Parameters and compute", ":material/calculate:")
ui.sidebar()
st.title("Parameters and compute")
st.markdown(
    "Every number on this page is counted from the real PyTorch modules: parameters with "
    "`numel()`, multiply-adds for one image with `torch.utils.flop_counter`."
)

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
                    disabled=not residual,
                    help="A: zero-padded identity; B: 1x1 projection where the shape changes; "
                         "C: projection everywhere")

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
