"""View pieces of the parameters-and-compute page: block calculator, family table, lineage, 3x3."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ..counting import block_cost, family_rows, three_by_three
from ..figures import block_cost_figure, family_stages_figure, lineage_figure
from ..lineage import ERROR_SOURCE, lineage_table

BOTTLENECK_TEXT = """
**Why bottlenecks.** A basic block's weights grow with the *square* of its width: two 3x3 convs of
C channels cost 2 x 9C². A bottleneck block squeezes to C/4 channels with a 1x1 conv, does its 3x3
there, and restores C with another 1x1: C²/4 + 9C²/16 + C²/4 = 17C²/16. At 256 channels that is
69,632 weights instead of 1,179,648 (16.94x fewer). The paper pairs a 64-channel basic block
(73,728) with a 256-channel bottleneck (69,632): about the same cost for 4x the width, which is how
ResNet-50/101/152 go deep and wide while costing less than VGG-16 (He et al. 2016, Sec. 4.1).
"""

THREE_TEXT = """
**Why 3x3.** Three 3x3 convs in a row see a 7x7 patch of their input, like one 7x7 conv, but cost
3 x 9C² = 27C² weights instead of 49C², and put three nonlinearities in the way instead of one
(Simonyan and Zisserman 2015). ResNet builds everything after its stem from 3x3 (and 1x1) convs.
"""


def block_calculator(channels: int, width: int, in_channels: int, shortcut: str) -> None:
    basic = block_cost("basic", channels, in_channels=in_channels, shortcut=shortcut)
    bottleneck = block_cost("bottleneck", channels, bottleneck_width=width, in_channels=in_channels, shortcut=shortcut)
    pair = block_cost("basic", channels // 4) if channels % 4 == 0 and channels >= 4 else None
    c1, c2, c3 = st.columns(3)
    c1.metric(f"Basic block, {channels} channels: conv weights", f"{basic['conv_weights']:,}", border=True)
    c2.metric(f"Bottleneck ({width}-d 3x3), {channels} channels", f"{bottleneck['conv_weights']:,}",
              f"{basic['conv_weights'] / bottleneck['conv_weights']:.2f}x fewer", delta_arrow="off", border=True)
    if pair is not None:
        c3.metric(f"Basic block, {channels // 4} channels (the paper's pairing)", f"{pair['conv_weights']:,}",
                  f"{pair['conv_weights'] / bottleneck['conv_weights']:.2f}x the bottleneck", delta_color="off",
                  delta_arrow="off", border=True)
    rows = [{"block": f"{c['kind']} ({c['channels']})", "part": conv["name"], "formula": conv["formula"],
             "parameters": conv["weights"]} for c in (basic, bottleneck) for conv in c["convs"]]
    rows += [{"block": f"{c['kind']} ({c['channels']})", "part": part, "formula": formula, "parameters": c[key]}
             for c in (basic, bottleneck)
             for part, key, formula in (("batch norm", "bn_params", "2 per channel (scale, shift)"),
                                        ("shortcut", "shortcut_params", _shortcut_formula(c, shortcut)))]
    left, right = st.columns([3, 2])
    left.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
                   column_config={"parameters": st.column_config.NumberColumn(format="localized")})
    right.plotly_chart(block_cost_figure([basic, bottleneck] + ([pair] if pair else [])), width="stretch")
    st.markdown(BOTTLENECK_TEXT)


def _shortcut_formula(cost: dict, shortcut: str) -> str:
    if cost["in_channels"] == cost["channels"] and shortcut != "C":
        return "identity: no weights"
    if shortcut == "A":
        return "zero-padded identity (option A): no weights"
    return f"1x1x{cost['in_channels']}x{cost['channels']} projection + BN"


@st.cache_data(max_entries=16, show_spinner="Counting every net of the family from its real modules...")
def family_table(family: str, variants: tuple[str, ...]) -> list[dict]:
    return [row for v in variants for row in family_rows(family, v)]


def family_view(family: str, variants: tuple[str, ...], metric: str) -> None:
    rows = family_table(family, variants)
    table = pd.DataFrame([{k: v for k, v in r.items() if k != "stages"} for r in rows])
    cols = ["net", "params", "published_params", "params_diff_pct", "macs", "published_macs", "macs_diff_pct", "source"]
    if "torchvision_params" in table:
        cols.insert(3, "torchvision_params")
    st.dataframe(table[cols], hide_index=True, width="stretch", column_config={
        "params": st.column_config.NumberColumn("parameters (counted)", format="localized"),
        "published_params": st.column_config.NumberColumn("parameters (published)", format="localized"),
        "torchvision_params": st.column_config.NumberColumn("torchvision constructor (counted)", format="localized"),
        "params_diff_pct": st.column_config.NumberColumn("diff %", format="%+.2f"),
        "macs": st.column_config.NumberColumn("multiply-adds (counted)", format="localized"),
        "published_macs": st.column_config.NumberColumn("multiply-adds (published)", format="localized"),
        "macs_diff_pct": st.column_config.NumberColumn("diff %", format="%+.2f")})
    st.caption("Published: the paper rounds CIFAR parameters to 0.01 M (Table 6), hence the small differences; "
               "ImageNet multiply-adds are from Table 1. torchvision's ResNet-50/101/152 put the stride in the "
               "3x3 conv (\"V1.5\"), one reason its counts exceed the paper's 3.8 / 7.6 / 11.3 G.")
    stages = pd.DataFrame([{"net": r["net"], **s} for r in rows for s in r["stages"]])
    st.plotly_chart(family_stages_figure(stages, metric), width="stretch")
    st.caption("Each stage's share of every net's cost (hover for the count). Deeper CIFAR nets add blocks to "
               "every stage equally, so the shares hardly move; ImageNet nets put most blocks in stage 3.")
    st.download_button("Download CSV (nets and stages)", stages.merge(table.drop(columns=["params", "macs"]), on="net")
                       .to_csv(index=False), file_name=f"resnet-{family}-family.csv", mime="text/csv",
                       icon=":material/download:")


@st.cache_data(max_entries=1, show_spinner="Counting the ancestors from torchvision's constructors...")
def lineage() -> pd.DataFrame:
    return pd.DataFrame(lineage_table())


def lineage_view() -> None:
    table = lineage()
    st.plotly_chart(lineage_figure(table), width="stretch")
    st.caption(f"Counted here: parameters and multiply-adds per image (224 px; LeNet-5 at 32 px). Published: "
               f"top-1 error from {ERROR_SOURCE}. Marker size grows with depth.")
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        "params": st.column_config.NumberColumn("parameters", format="localized"),
        "macs": st.column_config.NumberColumn("multiply-adds", format="localized"),
        "top1_error": st.column_config.NumberColumn("top-1 error % (published)", format="%.2f"),
        "top5_error": st.column_config.NumberColumn("top-5 error % (published)", format="%.2f")})
    st.markdown("**Read it:** ResNet-152 has 152 layers yet fewer multiply-adds than VGG-16 (11.5 G vs 15.5 G) "
                "and less than half its parameters, at a lower error: depth bought with bottlenecks, not width.")


def three_by_three_view(channels: int) -> None:
    r = three_by_three(channels)
    c1, c2 = st.columns(2)
    c1.metric(f"Three 3x3 convs, {channels} channels", f"{r['stacked']['weights']:,} weights",
              f"receptive field {r['stacked']['receptive_field']}x{r['stacked']['receptive_field']} (measured)",
              delta_color="off", delta_arrow="off", border=True)
    c2.metric(f"One 7x7 conv, {channels} channels", f"{r['single']['weights']:,} weights",
              f"receptive field {r['single']['receptive_field']}x{r['single']['receptive_field']} (measured)",
              delta_color="off", delta_arrow="off", border=True)
    st.markdown(f"27C² = 27 x {channels}² = {27 * channels ** 2:,} and 49C² = {49 * channels ** 2:,}: the single "
                f"7x7 conv costs **{r['ratio']:.2f}x** as much. The receptive fields are measured by backpropagating "
                "from one output pixel and seeing which input pixels get a gradient.")
    st.markdown(THREE_TEXT)
