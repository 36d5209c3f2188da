"""The Why identity? page: its words (English message ids; see :mod:`resnet_viz.ui.texts`)."""

from . import _BackgroundLesson


class WhyIdentity(_BackgroundLesson):
    title = "Why identity? Gates, scaled and dropped shortcuts"
    intro = ("ResNet is a special case of the **Highway network** (Srivastava et al. 2015): its gated shortcut "
             "y = T(x)·F(x) + (1 − T(x))·x contains the identity as one setting. *Yet Highway networks did not do "
             "better, which is strange, because their solution space contains ResNet's: keeping the gradient highway "
             "clear matters more.* He et al. (2016b), Table 1, live: train residual nets whose shortcuts are scaled, "
             "gated, 1x1 convolutions or dropped out, at one depth with one recipe.")
    settings = "Settings of the variants"
    explanation = r"""
**The argument (He et al. 2016b, Sec. 3).** Stack $L$ blocks $x_{l+1} = \lambda_l x_l + F(x_l)$. Unroll
them: $x_L = \left(\prod_l \lambda_l \right) x_0 + \dots$, so the gradient that the shortcuts carry from the
top back to block 0 is multiplied by $\prod_l \lambda_l$. With $\lambda = 1$ (the identity) it arrives
whole; with $\lambda = 0.5$ through ResNet-110's 54 blocks it arrives as $0.5^{54} \approx 6 \cdot 10^{-17}$
and the net must push its gradient through the weight layers, like a plain net.

**Gates.** A Highway gate $g(x) = \sigma(Wx + b_g)$ multiplies the shortcut by $1 - g(x)$: a gate
half open ($b_g = 0$) halves the gradient in every block. A very negative bias starts the gate
almost fully open to the shortcut ($1 - \sigma(-6) = 0.998$): then it behaves like the identity, as
in Table 1. **1x1 convolutions** and **dropout** on the shortcut also stand in its way.

**What to look for.** The identity (thick red) trains to near zero error. Constant scaling, a
half-open gate ($b_g = 0$) and a dropped-out shortcut end clearly above it, as in Table 1. The lesson
trains them at depth 74 (36 blocks) over 200 steps, so that it ends within minutes on a class's CPU;
*Table 1 in full* (the choice above) trains Table 1's depth 110 with all six kinds, where the
1x1 convolutions stay clearly higher too and a gate that starts open ($b_g = -6$) comes much closer: the
shortcut-only gate keeps up with the identity, while the exclusive gate, which also multiplies the
residual branch by $g(x) \approx 0.0025$ at first, lags behind. Both train with learning rate 0.05 (at
0.1 ResNet-110 can fail to start converging, which is why the paper warmed it up at 0.01). At depth 56
(27 blocks) constant scaling is the borderline case: on this small dataset the net can sometimes push its
gradient through the weight layers instead, and how far it falls behind changes with the seed and the
machine's float rounding (try it).
"""
    recipe = "Run"
    recipe_help = ("the lesson: the four kinds its question compares (identity, scaling, a half-open gate, dropout) at "
                   "depth 74 over 200 steps, which trains within minutes on a class's CPU; Table 1 in full: the paper's "
                   "depth 110, all six kinds and the gates at b_g = 0 and −6, over 300 steps, which takes several times "
                   "as long (its precomputed result shows at once)")
    recipe_names = ["the lesson", "Table 1 in full"]  # in sc.RECIPES' order
    recipe_estimated = "{name} (about {estimate} here)"
    recipe_note = ("Table 1 in full fixes the depth (110), the kinds (all six), the gate biases (0 and −6) and the steps "
                   "(300); their controls are hidden. The width and the settings of the variants stay yours.")
    what = "Trains every variant with one recipe, then measures the gradient each net's shortcuts carry."
    published = ("**Published, not measured here:** CIFAR-10 test error of ResNet-110 (original unit, full recipe). "
                 "\"fail\" means above 20%.")
    published_note = "Our measurements use a smaller net, a shorter recipe and other data: compare the order, not the numbers."
    curves = ("(a) Training error on each step's batch, smoothed over 10 steps, one line per shortcut. Thick red: the "
              "identity.")
    table = ("(b) Final errors on the whole training and test splits (eval mode) of the {depth}-layer nets. The factors: "
             "the gradient the shortcuts alone carry from the last of the {blocks} blocks back to the first, relative "
             "to identity shortcuts, measured on a batch of training images; the product of λ's is the formula "
             "(None where it depends on the data: gates, 1x1 convolutions).")
    factors = ("(c) The same factors on a log scale. For constant scaling and dropout the measurement equals the product "
               "of the λ's over the {blocks} blocks; for the gates it is what the learned gates let through.")
