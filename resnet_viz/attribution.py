"""What do the nets look at? Captum attributions of trained plain and residual nets.

Maps for one image: Saliency (|d logit / d pixel|), Integrated Gradients with its convergence
delta, GradCAM on any stage upsampled to the input. One number per block: gradient x activation
of the block's residual-branch output, the first-order estimate of how much the target logit would
change if the branch's output were zero, i.e. if a residual block were deleted (to compare with the
lesion measurements).
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam, LayerGradientXActivation, Saliency
from torch import nn

from .models import BasicBlock, Block, Bottleneck, PreActBlock, ResNet

METHODS = ("saliency", "integrated_gradients", "gradcam")


def _check(model: ResNet, x: torch.Tensor, target: int) -> torch.Tensor:
    """Validate one image and a target class; returns a copy of the image on the model's device
    (a net trained on a GPU stays there) that requires grad. Maps come back on the CPU."""
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"expected one image of shape (1, C, H, W); got {tuple(x.shape)}")
    classes = model.fc.out_features
    if not 0 <= target < classes:
        raise ValueError(f"target class must be from 0 to {classes - 1}; got {target}")
    return x.detach().to(_device(model)).clone().requires_grad_()


def _device(model: ResNet) -> torch.device:
    return next(model.parameters()).device


def _eval(model: ResNet) -> ResNet:
    """The model in eval mode; shared trained nets are built in eval mode and are never switched."""
    if model.training:
        model.eval()
    return model


def _private(model: ResNet) -> ResNet:
    """A per-call copy for the hook-based methods (GradCAM, gradient x activation): Captum registers
    hooks on modules, and a net shared by every session must not carry one session's hooks into
    another's forward pass. A copy of a lesson net (0.9 MB) takes milliseconds."""
    return _eval(copy.deepcopy(model))


def saliency(model: ResNet, x: torch.Tensor, target: int) -> torch.Tensor:
    """|d logit_target / d x|, max over channels: (H, W)."""
    x = _check(model, x, target)
    return Saliency(_eval(model)).attribute(x, target=target, abs=True)[0].amax(0).detach().cpu()


IG_STEPS = (64, 128, 256, 512, 1024, 2048)  # 2048: one image of a bf16-trained ResNet-56 needed it (1.02% at 1024)
IG_TOLERANCE = 0.01


def integrated_gradients(model: ResNet, x: torch.Tensor, target: int, baseline: torch.Tensor | None = None,
                         steps: tuple[int, ...] = IG_STEPS, tolerance: float = IG_TOLERANCE) -> dict:
    """Integrated Gradients from a black baseline (Sundararajan et al. 2017), summed over channels,
    with its completeness checked: the number of integration steps grows until the convergence delta
    is within ``tolerance`` of ``|f(x) - f(baseline)|`` (on another CPU a fixed 64 steps left 5.6%).

    Returns:
        ``{"map": (H, W), "convergence_delta", "output_change", "attribution_sum", "steps",
        "converged"}``: completeness says attribution_sum = f(x) - f(baseline) = output_change for
        the target logit; ``converged`` is False when even the most steps left a larger delta.
    """
    x = _check(model, x, target)
    _eval(model)
    baseline = torch.zeros_like(x) if baseline is None else baseline.to(x.device)
    with torch.no_grad():
        change = (model(x)[0, target] - model(baseline)[0, target]).item()
    ig = IntegratedGradients(model)
    for n in steps:
        attr, delta = ig.attribute(x, baselines=baseline, target=target, n_steps=n, method="gausslegendre",
                                   return_convergence_delta=True)
        delta = float(delta.abs().item())
        if delta <= tolerance * abs(change) or delta < 1e-6:
            break
    return {"map": attr[0].sum(0).detach().cpu(), "convergence_delta": delta, "output_change": change,
            "attribution_sum": attr.sum().item(), "steps": n,
            "converged": delta <= tolerance * abs(change) or delta < 1e-6}


def gradcam(model: ResNet, x: torch.Tensor, target: int, stage: int = -1) -> torch.Tensor:
    """GradCAM (Selvaraju et al. 2017) on a stage's output, ReLU'd and upsampled to the input: (H, W)."""
    x = _check(model, x, target)
    stages = len(model.stages)
    if not -stages <= stage < stages:
        raise ValueError(f"stage must be from 0 to {stages - 1}; got {stage}")
    model = _private(model)
    cam = LayerGradCam(model, model.stages[stage]).attribute(x, target=target, relu_attributions=True)  # (1, 1, h, w)
    return LayerAttribution.interpolate(cam, tuple(x.shape[-2:]), interpolate_mode="bilinear")[0, 0].detach().cpu()


def branch_output(block: Block) -> nn.Module:
    """The module whose output is the block's residual branch F(x), before the addition."""
    if isinstance(block, Bottleneck):
        return block.bn3
    if isinstance(block, PreActBlock):
        return block.conv2
    if isinstance(block, BasicBlock):
        return block.bn2
    raise ValueError(f"unknown block type {type(block).__name__}")


def block_importance(model: ResNet, x: torch.Tensor, targets: torch.Tensor) -> list[dict]:
    """Gradient x activation of every block's branch output, summed per image, |mean| over images.

    Args:
        x: (N, C, H, W) images; targets: (N,) the class whose logit is explained (e.g. the label).

    Returns:
        ``[{"block", "stage", "importance"}]``: importance ~ |change of the target logit| if the
        block's branch output were zero (first order). For a residual block that is deleting it.
    """
    model = _private(model)
    x, targets = x.to(_device(model)), targets.to(_device(model))
    out = []
    for b, (block, stage) in enumerate(zip(model.blocks, model.stage_of_block())):
        attr = LayerGradientXActivation(model, branch_output(block)).attribute(x, target=targets)  # (N, C, h, w)
        out.append({"block": b, "stage": stage, "importance": attr.flatten(1).sum(1).abs().mean().item()})
    return out


@torch.no_grad()
def predictions(model: ResNet, x: torch.Tensor) -> torch.Tensor:
    """Softmax probabilities, eval mode: (N, classes)."""
    return _eval(model)(x.to(_device(model))).softmax(1).cpu()


def attribution_map(model: ResNet, x: torch.Tensor, target: int, method: str, stage: int = -1) -> dict:
    """One map by method name; integrated_gradients also returns its delta and output change."""
    if method == "saliency":
        return {"map": saliency(model, x, target)}
    if method == "integrated_gradients":
        return integrated_gradients(model, x, target)
    if method == "gradcam":
        return {"map": gradcam(model, x, target, stage)}
    raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")


def to_image(img: torch.Tensor) -> np.ndarray:
    """An image tensor (C, H, W) as an array for display, scaled to [0, 1]: (H, W) for one channel or
    a channel mean, (H, W, 3) for colour."""
    a = img.detach().float().cpu().numpy()
    a = a.mean(0) if a.shape[0] != 3 else a.transpose(1, 2, 0)
    return (a - a.min()) / (a.max() - a.min() + 1e-8)


def map_png(image: torch.Tensor, attr_map: torch.Tensor, scale: int = 8) -> bytes:
    """Input (grey) and map side by side as PNG bytes: red where the map is positive, blue where
    negative, white at 0."""
    import io

    from torchvision.utils import save_image

    img = torch.from_numpy(to_image(image))
    img = img.mean(-1) if img.dim() == 3 else img
    m = attr_map.float()
    m = m / (m.abs().max() + 1e-12)
    heat = torch.stack([1 - m.clamp(max=0).abs(), 1 - m.abs(), 1 - m.clamp(min=0)])
    pair = torch.cat([img.expand(3, -1, -1), torch.ones(3, img.shape[0], 1), heat], dim=2)
    buffer = io.BytesIO()
    save_image(torch.nn.functional.interpolate(pair[None], scale_factor=scale, mode="nearest")[0], buffer, format="png")
    return buffer.getvalue()


__all__ = ["METHODS", "attribution_map", "block_importance", "branch_output", "gradcam", "integrated_gradients",
           "map_png", "predictions", "saliency", "to_image"]
