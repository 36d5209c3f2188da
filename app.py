"""resnet-viz: the dashboard's entry point. Home page, navigation, and the shared sidebar."""

import streamlit as st

from resnet_viz import ui


def home() -> None:
    """What the lab is, the story it tells, the device in use and where results live."""
    st.title("resnet-viz: a lab for residual networks")
    st.markdown(
        "Build plain and residual CNNs, train them for a minute on real data, and watch the story of "
        "**He et al. (2016), _Deep Residual Learning for Image Recognition_** happen in front of you. "
        "Every number marked *measured* comes from a run this lab did; published numbers are labelled "
        "with their source."
    )
    st.subheader("The story, in four experiments")
    st.markdown(
        """
1. **Degradation.** Stack more layers on a plain net and its *training* error goes up, so the problem
   is optimization, not overfitting. Give every two layers a shortcut, H(x) = F(x) + x, and depth
   helps again.
2. **Gradient flow.** Through a shortcut, dH/dx = dF/dx + 1: the gradient always has a path back to the
   first layers. Plain nets with batch norm do not simply vanish; their gradients grow toward the
   input at initialization, and they still train worse.
3. **Cost.** Bottleneck blocks (1x1 reduce, 3x3, 1x1 restore) buy four times the width for the price
   of a basic block, which is how ResNet-152 costs less compute than VGG-16.
4. **Ensembles.** Delete a block from a trained ResNet and it barely notices; do the same to a plain
   net and it falls to chance. A residual net behaves like many shallower paths voting together.
"""
    )
    st.subheader("Open an experiment")
    for path, title, icon, blurb in ui.available_pages():
        st.page_link(path, label=f"**{title}**: {blurb}", icon=icon)

    st.subheader("Where things are")
    store = ui.run_store()
    left, right = st.columns(2)
    left.metric("Device in use", ui.device_line())
    right.metric("Stored runs", len(runs), help="Finished experiments, reused instantly when asked again.")
    st.caption(
        f"Results and weights are stored in `{store.root}` (set `RESNET_VIZ_HOME` to move them). "
        "The same experiment asked twice, by anyone, answers from the store at once. "
        "The command line runs the same experiments: `python -m resnet_viz --help`."
    )


ui.page_setup("resnet-viz", ":material/account_tree:")
runs = ui.sidebar()
home()
