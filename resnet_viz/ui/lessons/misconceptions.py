"""What the write-ups get wrong: each claim beside what the lab measures or counts against it.

The numbers are read when the page is drawn: gradients at initialization from the Gradient flow experiment
(its default nets), training errors and shortcut factors from the lessons' shipped results, counts from the
lineage's modules. Nothing measured is typed into the prose (``tests/test_lineage.py`` checks it).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ...experiments import degradation as dg
from ...experiments import gradients as gr
from ...experiments import shortcuts as sc
from ...i18n import N_
from ...protocol import preset_result
from ..display import small_table
from ..lang import _, language
from ..texts.misconceptions import Misconceptions as T
from . import lineage

# (English term, the lab's word (d2l-zh), the other words students meet)
GLOSSARY = (
    ("batch normalization", "批量规范化", "批归一化, 批标准化, 批量归一化"),
    ("shortcut connection", "快捷连接", "短路连接, 跳跃连接, 跳层连接, 捷径"),
    ("residual block", "残差块", "残差模块, 残差单元"),
    ("identity mapping", "恒等映射", "恒等连接, 恒等变换"),
    ("degradation", "退化", "网络退化, 退化问题"),
    ("vanishing / exploding gradients", "梯度消失 / 梯度爆炸", "梯度弥散"),
    ("bottleneck block", "瓶颈块", "瓶颈结构, 瓶颈层, 瓶颈模块"),
    ("dropout", "暂退法", "丢弃法, 随机失活, Dropout"),
    ("pooling", "汇聚", "池化"),
    ("global average pooling", "全局平均汇聚", "全局平均池化, GAP"),
)


@st.cache_data(max_entries=1, show_spinner=False)
def gradients_at_init() -> dict:
    """plain-56 and ResNet-56 at initialization, as the Gradient flow page measures them (its defaults)."""
    runs = gr.at_init(gr.Spec())["runs"]
    return {r["variant"]: r["first_last_ratio"] for r in runs}


def numbers() -> dict:
    """Every number the page states, from its measurement or count (None where a result is missing)."""
    found: dict = {}
    ratios = gradients_at_init()
    found["vanish"] = {"plain": ratios["plain"], "residual": ratios["residual"]}
    degradation = preset_result(dg.EXPERIMENT.presets[0])
    if degradation is not None:
        errors = {(r["variant"], r["depth"]): r["final_train_error"] for r in degradation["runs"]}
        found["vanish"].update(plain_error=errors.get(("plain", 56)), shallow_error=errors.get(("plain", 20)))
    shortcuts = preset_result(sc.EXPERIMENT.presets[0])
    if shortcuts is not None:
        factor = {r["variant"]: r["shortcut_gradient_factor"] for r in shortcuts["runs"]}
        found["one"] = {"blocks": shortcuts["blocks"], "scaling": factor.get("scaling"), "dropout": factor.get("dropout")}
    counts = lineage.counted()
    v16, v19 = lineage.net("VGG-16")["macs"], lineage.net("VGG-19")["macs"]
    found["vgg"] = {"vgg16": v16, "vgg19": v19, "vgg16_g": v16 / 1e9, "vgg19_g": v19 / 1e9,
                    "vgg16_yi": round(v16 / 1e8), "vgg19_yi": round(v19 / 1e8)}
    inc = counts["inception_3a"]
    found["third"] = {"reduced": inc["reduced"]["weights"], "naive": inc["naive"]["weights"],
                      "share": inc["reduced_share"], "full": inc["full"]["weights"],
                      "naive_out": inc["naive"]["out_channels"], "full_out": inc["full"]["out_channels"]}
    found["lenet"] = {"activations": lineage.net("LeNet-5")["activations"]}
    found["alexnet"] = {"params": lineage.net("AlexNet (two GPUs)")["params"]}
    return found


# (key of the claim's texts: <key>_claim, <key>_lab, <key>_source; the page that shows it; its title)
CLAIMS = (
    ("bn", "Gradient_flow", N_("Gradient flow")),
    ("vanish", "Gradient_flow", N_("Gradient flow")),
    ("one", "Why_identity", N_("Why identity?")),
    ("vgg", "From_LeNet_to_ResNet", N_("From LeNet to ResNet")),
    ("third", "From_LeNet_to_ResNet", N_("From LeNet to ResNet")),
    ("info", "Ensembles", N_("Residual nets as ensembles")),
    ("rank", "Degradation", N_("Degradation")),
    ("lenet", "From_LeNet_to_ResNet", N_("From LeNet to ResNet")),
    ("alexnet", "From_LeNet_to_ResNet", N_("From LeNet to ResNet")),
)


def claims() -> None:
    found = numbers()
    lang = "?lang=zh" if language() == "zh" else ""
    for key, page, title in CLAIMS:
        with st.container(border=True):
            st.markdown(f"**{_('The claim')}:** ~~{getattr(T, key + '_claim')}~~" if language() != "zh" else
                        f"**{_('The claim')}**：~~{getattr(T, key + '_claim')}~~")
            values = found.get(key, {})
            try:  # a number missing (None) or a result missing (KeyError): say so instead of a guess
                text = None if any(v is None for v in values.values()) else getattr(T, key + "_lab").format(**values)
            except KeyError:
                text = None
            if text is None:
                st.info(_("The result this answer reads is not stored on this server; open the page to measure it."))
            else:
                st.markdown(text)
            st.caption(f"{_('Source')}: {getattr(T, key + '_source')}")
            st.markdown(f"[{_('Open the page that shows it')}: {_(title)}]({page}{lang})")


def glossary() -> None:
    st.subheader(T.glossary_title)
    st.markdown(T.glossary_intro)
    small_table(st, pd.DataFrame([{_("term"): en, _("the lab (d2l-zh)"): lab, _("also written"): other}
                                  for en, lab, other in GLOSSARY]))


__all__ = ["CLAIMS", "GLOSSARY", "claims", "glossary", "gradients_at_init", "numbers"]
