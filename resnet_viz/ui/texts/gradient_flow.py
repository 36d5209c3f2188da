"""The Gradient flow page: its words (English message ids; see :mod:`resnet_viz.ui.texts`)."""

from . import _Text


class Gradients(_Text):
    title = "Gradient flow: why shortcuts help gradients"
    rule = r"""
A residual block computes $H(x) = F(x) + x$, so by the chain rule
$\frac{\partial H}{\partial x} = \frac{\partial F}{\partial x} + 1$: whatever the layers do, the
"+ 1" carries the gradient back through the shortcut. A plain block has only
$\frac{\partial F}{\partial x}$, and a deep plain net multiplies dozens of them.
"""
    lesson = "Lesson"
    lesson_help = "sets the controls below to one of the three cases the explanations discuss"
    training_settings = "Training settings (for part 2)"
    part1 = "1. At initialization"
    part2 = "2. During training"
    explanation_init = """
**With BN + ReLU** (the paper's nets), the plain net's gradients do *not* vanish: at initialization
they **grow toward the input** (first/last ratio in the thousands at depth 56), while the residual
net's stay nearly level. He et al. checked that their plain nets had healthy gradients, yet the
plain nets still train worse (see *Degradation*): degradation is an optimization problem, not
simply vanishing gradients.

**Without BN, with sigmoid**, every layer multiplies the gradient by the sigmoid's slope, at most
1/4, *and* by its weights. The factor per layer that (d) measures is the two together, so it can sit a
little above 1/4 (the weights' gain: He initialization draws them large enough for ReLU), yet far below
1: the plain net's early gradients **vanish**, as (a) shows.

**An original residual block with sigmoid vanishes too**: its nonlinearity comes *after* the
addition, so it sits on the shortcut path and scales the "+ 1" by at most 1/4 in every block.
The **pre-activation** block puts nothing after the addition: the shortcut is a clean identity and
the gradient reaches the first block (He et al. 2016, *Identity Mappings*, Sec. 3).
"""
    explanation_chain = """
**Reading (d).** Each block's *gain* is measured on the net: the size of the gradient at its input
divided by the size at its output. Multiply the gains from the top down and you get how much of
the gradient reaches each block: the chain rule, one factor per block. Gains a little above 1 in
56 plain blocks compound to thousands; gains of 0.1 compound to nothing; gains near 1 (residual,
pre-activation) keep the product level.
"""
    explanation_training = """
**(b) During training.** Each column is one probe of the same fixed batch of 128 training images,
every few steps (probing never changes the training). Watch whether the bottom rows (the layers near
the input) get a gradient comparable to the top rows, and how it changes as the nets learn.

**(c) Response size (He et al. 2016, Fig. 7).** The std of each 3x3 conv's output, after BN and
before the nonlinearity, on the test set. The paper found the residual nets' responses *smaller*
than the plain nets': a residual block only has to learn a small change F(x) on top of its input,
so its layers stay close to zero. At initialization BN makes every layer look alike; the difference
appears with training.
"""
    what = "Trains the plain and the residual net, probing the gradients every {every} steps."
    button = "Train and probe"
    ratio_title = ("Gradient of the first block divided by that of the last, at initialization: above 100 it explodes "
                   "toward the input, below 0.01 it vanishes")
    ratio_help = ("gradient norm of the first block's first conv divided by the last block's last conv, measured at "
                  "initialization on 128 training images")
    norms = ("(a) Gradient norm of every conv layer's weights at initialization, measured on one batch of 128 training "
             "images (float64, so vanishing values show instead of rounding to 0). Input side left.")
    chain = ("(d) Top: each block's gradient gain. Bottom: their running product from the output back, which equals "
             "the gradient at each block relative to the gradient at the top.")
    heatmap = ("(b) log10 of each conv layer's gradient norm (rows, input side at the bottom) at each probed step "
               "(float32, as training computes it; blank cells are exactly 0).")
    responses = ("(c) Std of every 3x3 conv's response after training (after BN, before the nonlinearity or addition), "
                 "on the test set. Left: in network order; right: sorted, largest first (as Fig. 7).")
    measured = "Measured on this server ({device}), stored: it loads at once next time."
    part3 = "3. The papers' own trained nets"
    published_toggle = "Probe a published CIFAR-10 ResNet"
    published_toggle_help = ("He et al.'s CIFAR-10 ResNets as published, trained for 64k iterations: nothing is trained "
                             "here, the net is loaded (downloaded once where the server is online) and measured on "
                             "CIFAR-10")
    published_button = "Probe the published net"
    published_what = ("Loads the published net and measures, on CIFAR-10 images normalized as it was trained, the "
                      "gradient of every conv layer and the response of every 3x3 conv.")
    published_measured = ("Measured on this server ({device}): {name}, gradients on {probe} CIFAR-10 training images, "
                          "responses on {images} test images. Its initialization is not published, so there is no "
                          "\"at initialization\" to set beside it, and no plain net is published either.")
    published_norms = ("(a) The gradient of every conv layer of the trained net (log axis). First/last block: {ratio}, "
                       "{words}.")
    published_responses = ("(c) Std of every 3x3 conv's response on CIFAR-10 test images, as He et al. 2016 measured "
                           "in Fig. 7 on nets of the same architecture: mean {mean:.3f}. Published, not measured here: "
                           "Fig. 7 shows the responses of ResNets smaller than those of plain nets, and smaller the "
                           "deeper the ResNet.")
