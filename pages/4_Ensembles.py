"""Delete blocks of a trained net: a ResNet survives, a plain net collapses (Veit et al. 2016)."""

import streamlit as st

from resnet_viz import ui
from resnet_viz.i18n import N_
from resnet_viz.config import cifar_depths
from resnet_viz.experiments import lesion as les
from resnet_viz.ui import nets, views
from resnet_viz.ui.jobs import job_panel
from resnet_viz.ui.texts import Ensembles as T
from resnet_viz.ui.widgets import setting, spec_from

ui.page_setup("Residual nets as ensembles", ":material/hub:")
ui.sidebar()
st.title(T.title)
st.markdown(T.intro)

c1, c2, c3, c4 = st.columns(4)
depth = setting(les.Spec, "depth", c1, values=cifar_depths("basic", up_to=110), label=N_("Depth (both nets)"))
width = setting(les.Spec, "width", c2, values=[4, 8, 16])
steps = setting(les.Spec, "steps", c3, values=[100, 200, 400, 800], label=N_("Training steps"))
survival = setting(les.Spec, "stochastic_depth", c4, values=[0.5, 0.6, 0.7, 0.8, 0.9, 1.0], label=T.survival)
spec = spec_from(les.Spec, {"depth": depth, "width": width, "steps": steps, "stochastic_depth": survival})
preset = nets.load_preset(spec)

left, right = st.columns([3, 2])
with right:
    st.markdown(T.unraveled)
    views.path_view(sum(spec.net.blocks_per_stage))
    st.markdown(f":material/landscape: [{T.paths_link}](./Landscape)")  # a page_link fails where a page runs alone
    st.markdown(T.why)
    st.markdown(T.stochastic)

with left:
    panel = job_panel("lesion", spec, les.describe, button=T.button_preset if preset else T.button, what=T.what)
    result = panel.stored.result if panel.stored is not None else preset
    if result is not None and views.quiz(T, result, views.answer_lesion):
        if panel.stored is not None:
            st.caption(T.measured.format(keys=", ".join(r["train_key"] for r in result["runs"])))
        else:
            st.info(T.preset.format(command=nets.PRESET_COMMAND), icon=":material/history:")
        st.subheader(T.toggles_title)
        pair = nets.pair(spec, result, ui.run_store() if panel.stored is not None else None)
        st.fragment(views.block_toggles)(pair)
        views.lesion_result(result, 1.0 / pair.data.num_classes, pair.id)
    elif not panel.active:
        st.info(T.not_trained)
ui.finish_page()
