"""Architecture diagrams as Graphviz DOT text, read off the real model (He et al. 2016, Fig. 3 style).

Shortcuts are drawn solid where they are identities and dashed where the shape changes; a stage can
be collapsed into one box for deep nets. The DOT text is rendered by the browser (Streamlit's
``st.graphviz_chart`` uses Graphviz compiled to WebAssembly), so no Graphviz binary is needed.
"""

from __future__ import annotations

from typing import Callable, Iterable

import torch
from torch import nn

from .config import NetConfig
from .counting import RESOLUTION
from .i18n import N_
from .models import Block, ResNet

Translate = Callable[[str], str]
IMAGE, POOL = N_("image"), N_("global average pool")  # words of the diagram (translated by ``tr``)


def _conv_line(conv: nn.Conv2d, tr: Translate = str) -> str:
    k = conv.kernel_size[0]
    return tr(N_("{k}x{k} conv, {channels}")).format(k=k, channels=conv.out_channels) + (
        ", /2" if conv.stride[0] == 2 else "")


def _branch_convs(block: Block) -> list[nn.Conv2d]:
    return [m for name, m in block.named_modules()
            if isinstance(m, nn.Conv2d) and not name.startswith(("shortcut", "gate"))]


def _shortcut_kind(block: Block, tr: Translate = str) -> str:
    """The shortcut edge's label: its map (projection, zero-pad) and how it joins the branch."""
    if block.shortcut is None:
        return ""
    words = [tr(N_("1x1 projection")) if isinstance(block.shortcut, nn.Sequential) else
             tr(N_("zero-pad")) if block.changes_shape else ""]
    words.append({"scaling": f"x{block.scale:g}", "gating": "x(1-g), F x g", "shortcut_gating": "x(1-g)",
                  "dropout": tr(N_("dropout {p}")).format(p=f"{block.dropout:g}")}.get(block.kind, ""))
    if block.survival < 1:
        words.append(tr(N_("F kept p={p}")).format(p=f"{block.survival:.2f}"))
    return ", ".join(w for w in words if w)


def architecture_dot(cfg: NetConfig, expanded: Iterable[int] | None = None, tr: Translate = str) -> str:
    """DOT text of the net: input, stem, every stage (expanded: block by block with its shortcut;
    collapsed: one box), pool and classifier.

    Args:
        cfg: the net.
        expanded: indices of the stages to draw block by block (default: all when the net has at
            most 12 blocks, none otherwise).
        tr: translates the diagram's words (a page passes its language's; the default is English).
    """
    with torch.device("meta"):
        model = ResNet(cfg)
    stages = list(model.stages)
    if expanded is None:
        expanded = range(len(stages)) if len(model.blocks) <= 12 else ()
    expanded = set(expanded)
    size = RESOLUTION[cfg.family]
    lines = ["digraph resnet {", '  graph [rankdir=TB, nodesep=0.3, ranksep=0.22, fontname="Helvetica"];',
             '  node [shape=box, style="rounded,filled", fillcolor="#f5f5f5", fontname="Helvetica", fontsize=11];',
             '  edge [arrowsize=0.6];',
             f'  input [label="{tr(IMAGE)}, {cfg.in_channels}x{size}x{size}", shape=plaintext, style=""];']
    stem = " + ".join(_conv_line(m, tr) if isinstance(m, nn.Conv2d) else tr(N_("3x3 max pool")) + ", /2"
                      for m in model.stem if isinstance(m, (nn.Conv2d, nn.MaxPool2d)))
    lines.append(f'  stem [label="{stem}", fillcolor="#fde0c5"];')
    lines.append("  input -> stem;")
    prev = "stem"
    for s, stage in enumerate(stages):
        blocks = list(stage)
        if s not in expanded:
            body = " | ".join(_conv_line(c, tr).replace(", /2", "") for c in _branch_convs(blocks[-1]))
            dashed = sum(b.changes_shape for b in blocks if b.shortcut is not None)
            shortcuts = (tr(N_("{n} shortcuts ({dashed} dashed)")).format(n=len(blocks), dashed=dashed) if cfg.residual
                         else tr(N_("no shortcuts (plain)")))
            node = f"stage{s}"
            stage = tr(N_("stage {n}")).format(n=s + 1)
            lines.append(f'  {node} [label="{stage}: [{body}] x {len(blocks)}\\n{shortcuts}", '
                         f'fillcolor="#dbe9f6", style="filled", shape=box3d];')
            lines.append(f"  {prev} -> {node};")
            prev = node
            continue
        for b, block in enumerate(blocks):
            node = f"s{s}b{b}"
            label = "\\n".join(_conv_line(c, tr) for c in _branch_convs(block))
            if block.gate is not None:
                gate = tr(N_("gate: {conv}")).format(conv=tr(N_("{k}x{k} conv, {channels}")).format(
                    k=1, channels=block.gate.out_channels))
                label += f"\\n{gate}, σ(· + {block.gate_bias:g})"
            lines.append(f'  {node} [label="{label}", fillcolor="#dbe9f6"];')
            lines.append(f"  {prev} -> {node};")
            if block.shortcut is None:
                prev = node
                continue
            add = f"{node}_add"
            lines.append(f'  {add} [label="+", shape=circle, width=0.25, fixedsize=true, style=""];')
            lines.append(f"  {node} -> {add};")
            style = "dashed" if block.changes_shape else "solid"
            kind = _shortcut_kind(block, tr)
            label = f', label=" {kind}", fontsize=9' if kind else ""
            lines.append(f'  {prev} -> {add} [style={style}, color="#d62728", constraint=false{label}];')
            prev = add
    lines.append(f'  head [label="{tr(POOL)}\\nfc, {cfg.num_classes}", fillcolor="#fde0c5"];')
    lines.append(f"  {prev} -> head;")
    lines.append("}")
    return "\n".join(lines)


__all__ = ["architecture_dot"]
