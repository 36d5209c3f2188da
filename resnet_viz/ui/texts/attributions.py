"""The What the nets look at page: its words (English message ids; see :mod:`resnet_viz.ui.texts`)."""

from . import _Text


class Attributions(_Text):
    title = "What do the nets look at?"
    intro = ("Attributions with [Captum](https://captum.ai) for a plain and a residual net of the same depth, trained "
             "with the same recipe: which pixels drive each prediction, and which blocks matter.")
    none = "No trained pair yet: train one on the *Residual nets as ensembles* page."
    source = "Trained nets"
    source_help = ("pairs trained on the Ensembles page appear here, and the published CIFAR-10 ResNets whose blocks were "
                   "removed there")
    preset_source = "Lesson nets (shipped): plain-56 and ResNet-56, width 8, 400 steps"
    stored_source = "Trained here: depth {depth}, width {width}, {steps} steps ({key})"
    published_source = "{name}, on CIFAR-10 photos ({images} test images)"
    grid_title = "The first {n} test images and the nets' predictions"
    grid = ("Predictions of the plain ({plain}) and residual ({residual}) net; ✗ marks a wrong one. Wrong among these "
            "{n}: {wrong}.")
    published_grid = "Predictions of {name} ({residual}); ✗ marks a wrong one. Wrong among these {n}: {wrong}."
    explanation = """
**Saliency** is the size of the gradient of the class score with respect to each pixel: where a
small change would move the score most. **Integrated Gradients** adds up gradients along a path
from a black image to this one; its maps sum to the change of the score (completeness), and the
*convergence delta* says how far the numerical integral is from that: the lab adds integration
steps until the delta is within 1% of the change, and says so when it is not. **GradCAM** weighs a
stage's feature maps by their average gradient: a coarse map of *where* the stage looked, upsampled.
"""
    pair = """
Plain and residual nets were trained with the same recipe on the same data. Look for whether the
residual net's evidence sits on the strokes of the digit, and where the (degraded) plain net looks.
"""
    published = """
A published ResNet, trained on CIFAR-10's photos by others: no plain net stands beside it. Look for
whether its evidence sits on the object or on the background; the labels are CIFAR-10's classes
({classes}).
"""
    ig_caption = ("Integrated Gradients of test image #{index}, label {label}. Red: pixels that raise the class score, "
                  "blue: lower it. Completeness: the sum of attributions equals the output change up to the "
                  "convergence delta.")
    other_caption = "{method} maps of test image #{index}, label {label}. Darker red: more influence on the class score."
    not_converged = ("Integrated Gradients did not converge for the {net} net: after {steps} steps the sum of "
                     "attributions still misses f(x) - f(black) by {delta:.3f} (more than 1%). Read its map with care.")
    blocks_title = "Which blocks matter? The gradient vs deleting"
    blocks = ("Two ways to ask how much a block matters. **The gradient:** gradient x activation of the block's branch "
              "output estimates, to first order, how much the class score would move if that output were zero. "
              "**Deleting:** remove the block and measure the test accuracy (the *Ensembles* page). Do they agree? For "
              "the residual net they tend to point at the same early blocks; a first-order estimate cannot see "
              "everything a deletion does, so they need not agree exactly.")
    blocks_caption = ("Per block, on {n} test images (the labels' logits). Rank correlation between the two panels (1 = "
                      "they order the blocks the same way): {agree}. For a residual block, zeroing its branch output *is* "
                      "deleting it, so the gradient gives a first-order prediction of the lesion; for a plain block, "
                      "zeroing the branch cuts the only path, which is why its scores say little about deleting it "
                      "(plain blocks become identities when deleted).")
