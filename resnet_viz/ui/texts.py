"""Every page's prose, one class per page: titles, introductions, explanations, figure captions.

Pages and views read their words from here only. The English text is the message id of the gettext
catalogs (:mod:`resnet_viz.i18n`): reading ``Degradation.title`` gives it in the session's language.
Numbers are filled in with ``str.format`` fields, which a translation keeps.
"""

from __future__ import annotations

from .lang import _


class _Translated(type):
    """Reading a class's text gives it in the session's language (the English text is the message id)."""

    def __getattribute__(cls, name: str):
        value = type.__getattribute__(cls, name)
        if name.startswith("__"):
            return value
        if isinstance(value, str):
            return _(value)
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return type(value)(_(v) for v in value)
        return value


class _Text(metaclass=_Translated):
    """The base of every page's words."""


class Home(_Text):
    title = "resnet-viz: a lab for residual networks"
    intro = ("Build plain and residual CNNs, train them for a minute on real data, and watch the story of "
             "**He et al. (2016), _Deep Residual Learning for Image Recognition_** happen in front of you. "
             "Every number marked *measured* comes from a run this lab did; published numbers are labelled "
             "with their source.")
    story_title = "The story, in four experiments"
    story = """
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
    open_title = "Open an experiment"
    where_title = "Where things are"
    device = "Device in use"
    stored = "Stored runs"
    stored_help = "Finished experiments, reused instantly when asked again."
    where = ("Results and weights are stored in `{root}` (set `RESNET_VIZ_HOME` to move them). The same experiment "
             "asked twice, by anyone, answers from the store at once. The command line runs the same experiments: "
             "`python -m resnet_viz --help`.")


class _BackgroundLesson(_Text):
    """Words shared by the pages that train in the background and ship a precomputed first view."""

    preset = ("Precomputed result of this lesson, shown for an instant first look. Press **Train** to run it live on "
              "this server.")
    preset_label = "Precomputed with `{command}`."
    measured = "Measured on this server ({device}): {runs} runs, {seconds:.0f} s of training."
    not_trained = ("Not trained yet with these settings. Press **Train**: the runs go to a background queue, so you can "
                   "keep using the page (or reload it) while they train.")


class Degradation(_BackgroundLesson):
    title = "Degradation: deeper plain nets train worse"
    quiz = "Which net will have the higher *training* error after the same training: the shallower or the deeper plain net?"
    quiz_options = ["the deeper plain net", "the shallower plain net"]
    quiz_why = ("The deeper plain net could copy the shallower one and set its extra layers to identity, yet it fits "
                "its own training data worse: that is degradation, not overfitting.")
    intro = ("He et al. (2016), Fig. 1 and 6, live: train plain and residual nets of several depths with one recipe "
             "and compare their **training** error.")
    advanced = "Advanced: block, shortcut option, learning rate, batch size, stochastic depth"
    explanation = """
**What degradation is.** Add layers to a plain net and, past some depth, its error goes *up*. He et
al. (2016) saw it on CIFAR-10 and ImageNet: plain-56 is worse than plain-20 (their Fig. 1).

**Why it is not overfitting.** Overfitting means low training error and high test error. Here the
*training* error itself is higher for the deeper plain net: it fits its own training data worse,
although it could copy the shallow net and set the extra layers to identity. The optimizer just
does not find that solution. That is an optimization problem.

**The fix: H(x) = F(x) + x.** A residual block learns only the change F(x) and adds its input back
through a shortcut. Doing nothing is easy (F = 0), and the gradient flows straight back through the
"+ x". Plain and residual nets here have exactly the same weights (option A shortcuts are free).

**What to look for.** Dashed lines (plain): the deeper net's training error stays higher. Solid
lines (residual): the deeper net trains as well as, or better than, the shallow one.
"""
    what = "Trains every depth, plain and residual, with one recipe."
    published = ("**Published, not measured here:** He et al. 2016, Table 6, CIFAR-10 test error (full recipe: "
                 "64k iterations, data augmentation).")
    published_note = ("The paper gives no numbers for plain nets on CIFAR-10, only curves (Fig. 6): \"plain-110 is "
                      "higher than 60% and not displayed\".")
    curves = ("(a) Training error on each step's batch, smoothed over 10 steps. Dashed: plain; solid: residual; one "
              "colour per depth. With several seeds, the line is their median and the band spans them.")
    errors = ("(b) Final errors on the *whole* training and test splits, in eval mode. Degradation is the plain line "
              "rising with depth on the left panel, where overfitting cannot explain it. With several seeds: the "
              "median, and a band from the best to the worst seed (He et al. report the mean and std of 5 runs; "
              "public re-runs of ResNet-56 on CIFAR-10 spread by about 1.5 points).")
    csv = "Download CSV (per-step history)"
    tensorboard = "Download for TensorBoard (zip)"
    tensorboard_help = ("Every run's loss, errors and learning rate as TensorBoard event files: unzip, then run "
                        "`tensorboard --logdir runs`.")
    recipe = "Recipe"
    recipe_help = ("lesson: the settings below (minutes); paper: He et al.'s CIFAR-10 recipe (64k iterations of 128, "
                   "lr 0.1 divided by 10 at 32k and 48k, momentum 0.9, weight decay 1e-4, 4-pixel pad, random crop "
                   "and flip); paper, short: the same schedule over 8k iterations")
    recipe_names = ["lesson", "paper (64k iterations)", "paper, short (8k iterations)"]  # in deg.RECIPES' order
    recipe_note = ("The recipe fixes the dataset ({dataset}), width {width}, {steps} steps of {batch}, the learning rate "
                   "{lr} with its steps and the augmentation (their controls are hidden); depths, shortcuts and seeds stay yours. Differences from "
                   "the paper: all 50k training images (the paper held 5k out) and no warm-up for depth 110.")
    sweep = "Sweep"
    sweep_help = ("Every run (each depth, net and seed) becomes its own task, run at once on this server's GPU or its "
                  "Ray cluster; runs already stored are skipped.")


class Gradients(_Text):
    title = "Gradient flow: why shortcuts help gradients"
    quiz = ("At initialization, how does the gradient of the plain net's first layer compare with that of its last "
            "layer, with the settings above?")
    quiz_options = ["much smaller: it vanishes toward the input", "within a factor of 100",
                    "much larger: it explodes toward the input"]
    quiz_why = ("Through every layer the gradient is multiplied by that layer's Jacobian; with sigmoid and no batch "
                "norm each factor is below 1, with batch norm the product stays near 1.")
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
1/4, so the plain net's early gradients **vanish** (about 0.25-0.3 per layer, down to 1e-29 at depth 56).

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
    ratio_label = "{name}: first / last block gradient"
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


class Ensembles(_Text):
    title = "Residual nets as ensembles: remove blocks, watch accuracy"
    quiz = ("Remove one block from each trained net (the median over all blocks): which net loses more test "
            "accuracy?")
    quiz_options = ["the plain net", "the residual net"]
    quiz_why = ("A plain net is one path; a residual net of n blocks is 2^n paths, and removing a block leaves half of "
                "them, all paths it was trained with.")
    intro = ("\"Delete a few layers in the middle of a ResNet and it still works; do that to VGG and it fails.\" Veit, "
             "Wilber and Belongie (2016), with your own hands: a plain and a residual net of the same depth, trained "
             "with the same recipe, then blocks removed from the trained nets.")
    unraveled = r"""
**The unraveled view.** Write one residual block as $x_1 = x_0 + f_1(x_0)$. Two blocks give
$x_2 = x_0 + f_1(x_0) + f_2(x_0 + f_1(x_0))$: the data can skip or enter each block, so a net of
$n$ blocks is a collection of $2^n$ paths of different lengths (Veit, Wilber and Belongie 2016).
Remove one block and half of the paths remain, all of them ones the net was trained with.
"""
    why = """
**Why a plain net collapses.** A plain net is *one* path through every layer. Remove any layer and
that path is gone: the next layer receives something it never saw in training, and accuracy falls
to chance.

**Why some blocks matter more.** Removing a residual block whose shape changes (dashed lines in
(a)) still leaves its zero-padded shortcut, but the later blocks lose the features it added at the
new resolution; the first blocks, which see the raw image, carry most paths' early processing.
Veit et al. found the same on ImageNet: downsampling blocks are the ones ResNets cannot spare.
"""
    paths_link = "Which of these paths carry the gradient? Measured on the landscape page"
    survival = "Stochastic depth p_L (third net)"
    stochastic = r"""
**Trained to lose blocks.** *Deleting blocks of a trained ResNet is a bit like Dropout*, and
stochastic depth (Huang et al. 2016) makes it the training: in every step, block $l$ of $L$ is
skipped with probability $1 - p_l$, where $p_l = 1 - \frac{l}{L}(1 - p_L)$ falls linearly to $p_L$
(the paper: 0.5); at test time its branch is scaled by $p_l$. Set **Stochastic depth p_L** below 1
to train a third net this way and remove the same blocks from all three: the net trained to survive
losing blocks loses less. (Published, Huang et al. 2016: 4.91% CIFAR-10 test error at 1202 layers,
about 25% faster training.)
"""
    button_preset = "Train live"
    button = "Train and remove blocks"
    what = "Trains both nets in the background (or reuses them from the run store), then removes blocks."
    measured = "Measured on this server; the trained nets are in the run store ({keys})."
    preset = ("Precomputed nets and lesions of this lesson, shipped with the app (`{command}`), so you can start at "
              "once. Train live to make your own.")
    not_trained = "Not trained yet with these settings: press the button above."
    toggles_title = "Remove blocks yourself"
    toggles = "Blocks to remove (↓ = downsampling block)"
    toggles_caption = ("{removed} of {n} blocks removed · both nets evaluated on the {images} test images in {seconds:.2f} "
                       "s (each combination is computed once for everyone)")
    single = ("(a) Test accuracy after removing one block at a time (Veit et al. Fig. 3). The residual net keeps most of "
              "its accuracy for most blocks; the plain net falls toward chance. X: blocks a plain net cannot lose at all.")
    drops = ("(b) Remove k random blocks that keep the shape (mean ± std over draws; Veit et al. Fig. 5a): the residual "
             "net degrades smoothly, like an ensemble losing members.")
    swaps = ("(c) Swap k random pairs of neighbouring blocks (Fig. 5b): reordering hurts a residual net gradually; a "
             "plain net, whose layers only work in their trained order, collapses.")
    paths = ("(d) Computed for this depth: {n} blocks give 2^{n} = {count:,} paths; {share:.1f}% of them go through {lo} "
             "to {hi} blocks (shaded). Published (Veit et al. 2016, ResNet-110 with 54 blocks): more than 95% of paths "
             "go through 19 to 35 blocks, yet almost all of the gradient during training comes from paths of only 5 to "
             "17 blocks, the *effective* paths, 0.45% of all.")


class WhyIdentity(_BackgroundLesson):
    title = "Why identity? Gates, scaled and dropped shortcuts"
    quiz = "Which shortcut lets the net reach the lowest training error?"
    quiz_options = ["the identity", "scaling by λ", "a Highway gate", "dropout on the shortcut"]
    quiz_why = ("Whatever multiplies the shortcut multiplies the gradient it carries, once per block: only the "
                "identity (or a gate that starts open) lets it through whole.")
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
whole; with $\lambda = 0.5$ through ResNet-56's 27 blocks it arrives as $0.5^{27} \approx 7 \cdot 10^{-9}$
and the net must push its gradient through the weight layers, like a plain net.

**Gates.** A Highway gate $g(x) = \sigma(Wx + b_g)$ multiplies the shortcut by $1 - g(x)$: a gate
half open ($b_g = 0$) halves the gradient in every block. A very negative bias starts the gate
almost fully open to the shortcut ($1 - \sigma(-6) = 0.998$): then it behaves like the identity, as
in Table 1. **1x1 convolutions** and **dropout** on the shortcut also stand in its way.

**What to look for.** The identity (thick red) trains to near zero error; a half-open gate
($b_g = 0$) and a dropped-out shortcut stay clearly higher, and a gate that starts open ($b_g = -6$)
keeps up with the identity. Constant scaling is the borderline case at depth 56: on this small
dataset the net can sometimes push its gradient through the weight layers instead, and how far it
falls behind changes from run to run (try other seeds). At depth 110 (54 blocks,
$0.5^{54} \approx 6 \cdot 10^{-17}$) it falls far behind, as in Table 1 (ResNet-110).
"""
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


class Attributions(_Text):
    title = "What do the nets look at?"
    intro = ("Attributions with [Captum](https://captum.ai) for a plain and a residual net of the same depth, trained "
             "with the same recipe: which pixels drive each prediction, and which blocks matter.")
    none = "No trained pair yet: train one on the *Residual nets as ensembles* page."
    source = "Trained nets"
    source_help = "pairs trained on the Ensembles page appear here"
    preset_source = "Lesson nets (shipped): plain-56 and ResNet-56, width 8, 400 steps"
    stored_source = "Trained here: depth {depth}, width {width}, {steps} steps ({key})"
    grid_title = "The first {n} test images and the nets' predictions"
    grid = ("Predictions of the plain (p) and residual (r) net; ✗ marks a wrong one. Wrong among these {n}: {wrong}.")
    explanation = """
**Saliency** is the size of the gradient of the class score with respect to each pixel: where a
small change would move the score most. **Integrated Gradients** adds up gradients along a path
from a black image to this one; its maps sum to the change of the score (completeness), and the
*convergence delta* says how far the numerical integral is from that: the lab adds integration
steps until the delta is within 1% of the change, and says so when it is not. **GradCAM** weighs a
stage's feature maps by their average gradient: a coarse map of *where* the stage looked, upsampled.

Plain and residual nets were trained with the same recipe on the same data. Look for whether the
residual net's evidence sits on the strokes of the digit, and where the (degraded) plain net looks.
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


class Parameters(_Text):
    title = "Parameters and compute"
    intro = ("Why could ResNet go to 152 layers and still cost less than VGG-16? Every number here is counted from real "
             "PyTorch modules: parameters with `numel()`, multiply-adds for one image with `torch.utils.flop_counter`. "
             "Published numbers are labelled with their source.")
    tabs = ["Your net", "Basic vs bottleneck", "The family", "Lineage", "Why 3x3"]
    stages = ("Where the cost sits: each stage's share of the parameters and of the multiply-adds. Later stages have "
              "more channels (more weights) at a lower resolution (fewer positions).")
    architecture = ("As in the paper's Fig. 3: red arrows are **shortcuts**, solid where they are identities, **dashed** "
                    "where the shape changes (the first block of a stage halves the resolution and doubles the channels; "
                    "option A pads the new channels with zeros, B and C use a 1x1 projection). A plain net is the same "
                    "picture without the red arrows. \"/2\" marks a stride of 2.")
    architecture_title = "Architecture"
    family_published = ("Published: the paper rounds CIFAR parameters to 0.01 M (Table 6), hence the small "
                        "differences; ImageNet multiply-adds are from Table 1. torchvision's ResNet-50/101/152 put the "
                        "stride in the 3x3 conv (\"V1.5\"), one reason its counts exceed the paper's 3.8 / 7.6 / 11.3 G.")
    kind_help = ("how the shortcut joins the branch (He et al. 2016b, Table 1): gates add a 1x1 conv with a bias per "
                 "block, counted below; scaling and dropout add no weights. The 1x1 conv shortcut is option C.")
    preact_title = "Pre-activation bottleneck nets: ResNet-164 and ResNet-1001"
    preact_note = ("Counted here from the real modules; published by He et al. 2016b (Identity Mappings), who trained "
                   "ResNet-1001 to 4.92% CIFAR-10 test error (original unit: 7.61%). Depth 9n+2: three convs per "
                   "bottleneck block. The paper's round numbers sit between our option A (zero-padded) and option B "
                   "(projection where the shape changes) counts.")
    family_stages = ("Each stage's share of every net's cost (hover for the count). Deeper CIFAR nets add blocks to "
                     "every stage equally, so the shares hardly move; ImageNet nets put most blocks in stage 3.")
    pick_variant = "Pick at least one variant."
    lineage = ("Counted here: parameters and multiply-adds per image (224 px; LeNet-5 at 32 px). Published: top-1 "
               "error from {source}. Marker size grows with depth.")
    lineage_read = ("**Read it:** ResNet-152 has 152 layers yet fewer multiply-adds than VGG-16 (11.5 G vs 15.5 G) and "
                    "less than half its parameters, at a lower error: depth bought with bottlenecks, not width.")
    three_numbers = ("27C² = 27 x {c}² = {stacked:,} and 49C² = {single:,}: the single 7x7 conv costs **{ratio:.2f}x** "
                     "as much. The receptive fields are measured by backpropagating from one output pixel and seeing "
                     "which input pixels get a gradient.")
    bottleneck = """
**Why bottlenecks.** A basic block's weights grow with the *square* of its width: two 3x3 convs of
C channels cost 2 x 9C². A bottleneck block squeezes to C/4 channels with a 1x1 conv, does its 3x3
there, and restores C with another 1x1: C²/4 + 9C²/16 + C²/4 = 17C²/16. At 256 channels that is
69,632 weights instead of 1,179,648 (16.94x fewer). The paper pairs a 64-channel basic block
(73,728) with a 256-channel bottleneck (69,632): about the same cost for 4x the width, which is how
ResNet-50/101/152 go deep and wide while costing less than VGG-16 (He et al. 2016, Sec. 4.1).
"""
    three = """
**Why 3x3.** Three 3x3 convs in a row see a 7x7 patch of their input, like one 7x7 conv, but cost
3 x 9C² = 27C² weights instead of 49C², and put three nonlinearities in the way instead of one
(Simonyan and Zisserman 2015). ResNet builds everything after its stem from 3x3 (and 1x1) convs.
"""


class Landscape(_BackgroundLesson):
    title = "The landscape: loss surfaces, and the paths that carry the gradient"
    quiz = "Around its minimum, which net's loss surface will be smoother (less folded)?"
    quiz_options = ["the plain net's", "the residual net's"]
    quiz_why = ("Li et al. found the skip connections keep the surface from turning chaotic as the net gets deeper; "
                "the curvature ratio above says how folded each surface is.")
    intro = ("Two of the most cited pictures of why residual nets train, measured live on the nets of the *Residual "
             "nets as ensembles* page: the **loss surface** around a trained plain and residual net (Li, Xu, Taylor, "
             "Studer, Goldstein 2018), and which **paths** of a residual net the gradient actually flows through "
             "(Veit, Wilber, Belongie 2016).")
    nets = "The nets (shared by both tabs and the ensembles page)"
    surface_tab = "Loss surface"
    paths_tab = "Paths of the gradient"
    grid_label = "Grid points per axis"
    samples_label = "Paths sampled per length"
    explanation = r"""
**What the picture is.** A net's loss is a function of all its weights: hundreds of thousands of
numbers. Pick two random directions $d_1, d_2$ in that space and look at one slice of it: the loss
at $\theta^* + a\,d_1 + b\,d_2$, where $\theta^*$ are the trained weights (the centre). Li et al.
scale every filter of a direction to the norm of the weight's own filter (*filter normalization*;
biases and BN get none), so $a = 1$ means "a step as large as the weights themselves" for every
filter, and nets of different scale compare. Both nets get the same seed.

**What to look for.** The residual net sits in one wide, smooth, nearly convex bowl. The plain net
of the same depth sits in a narrow pocket of a chaotic surface, walled in by ridges: SGD, which
follows the local slope, sees a clear way down on the first and dead ends on the second. That is
the landscape behind degradation. Li et al. saw the difference grow with depth and almost vanish
at 20 layers: compare depth 20 and 56.

**The numbers.** At every point of the grid, the surface curves most upward in one direction and
least upward (or downward) in another: the two eigenvalues $\lambda_{max} \ge \lambda_{min}$ of its
curvature (the 2x2 Hessian of the slice). *Curvature ratio*: the mean over the grid of
$|\lambda_{min} / \lambda_{max}|$ where $\lambda_{min} < 0$ (0 where the surface curves up in every
direction; capped at 1): 0 for a perfect bowl, higher the more the surface folds. Li et al. map
the same ratio for the full Hessian (their Fig. 7). *Basin share*: the part of the plane you can
reach from the minimum without the loss rising above chance (ln 10 for 10 classes).
"""
    line = r"""
**The 1-D line** (Goodfellow, Vinyals, Saxe 2015): the loss along the straight line from the net's
initialization ($\alpha = 0$) to its trained weights ($\alpha = 1$). Along the line, BN statistics
are re-estimated at every point (Garipov et al. 2018), since the running statistics belong to the
trained weights only. The cross at $\alpha = 1$ is the trained net with its own running statistics,
the centre of the surface; for a net whose running averages lag behind its weights it sits higher.
"""
    what = "Trains both nets (or reuses them from the run store), then maps the loss around each."
    button = "Map the surfaces"
    preset = ("Precomputed result of this lesson, shown for an instant first look. Press the button above to run it "
              "live on this server.")
    not_trained = ("Not measured yet with these settings. Press the button above: the work goes to a background queue, "
                   "so you can keep using the page (or reload it) meanwhile.")
    published = ("**Published, not measured here:** Li et al. 2018, Fig. 5: CIFAR-10 test error (%) of the nets whose "
                 "surfaces it shows, with and without skip connections.")
    published_note = ("Our nets are smaller, trained for a few hundred steps on other data: compare the direction of the "
                      "effect, not the numbers.")
    metric_curvature = "{name}: curvature ratio"
    metric_curvature_help = ("mean over the grid of |λmin/λmax| where the surface curves down in some direction: "
                             "0 = a convex bowl; higher = more folded")
    metric_basin = "{name}: basin share"
    metric_basin_help = "share of the grid reachable from the trained weights without the loss rising above chance"
    contour = ("(a) Contours of the training loss on {images} training images (log colour scale, eval mode) over the "
               "plane of two filter-normalized directions; x marks the trained weights. {grid}x{grid} points on "
               "[-{span:g}, {span:g}].")
    surface = ("(b) The same surfaces in 3-D (drag to turn them); losses above {cap:g} are drawn at {cap:g}, as Li et "
               "al. clip theirs.")
    line_caption = "(c) Training loss from initialization to the trained weights (log axis)."
    table = ("(d) Per net: final errors of its training run, and the surface's numbers. Convex share: the part of the "
             "grid where the surface curves up in every direction.")
    measured = "Measured on this server ({device}): {nets} nets, surfaces of {points} points each in {seconds:.0f} s."


class Paths(_BackgroundLesson):
    preset = Landscape.preset
    not_trained = Landscape.not_trained
    explanation = r"""
**The unraveled view.** A residual net of $n$ blocks is $2^n$ paths: the data can enter or skip
each block. The number of paths through $k$ residual branches is $\binom{n}{k}$: path lengths
follow Binomial($n$, 1/2), and a typical path goes through $n/2$ blocks.

**The measurement** (Veit et al. 2016, Sec. 6). Feed a batch forward through the whole net. On the
way back, let the gradient pass through the residual branch of $k$ blocks chosen at random and
through the shortcut of all the others: what reaches the input is the gradient of *one path* of
length $k$. Sample many paths per $k$, at initialization and after training.

**What to look for.** (a) The gradient of one path falls about exponentially with its length: a
straight line on the log axis. (b) Multiply by how many paths each length has: almost all of the
gradient comes from paths much shorter than the typical one, the *effective paths*. Veit et al.
found paths through 5 to 17 of ResNet-110's 54 blocks carry it, while the typical path goes
through 27. A residual net does not solve the vanishing gradient of long paths; it trains through
its short ones, like an ensemble of relatively shallow nets. Training makes them shorter still.
"""
    what = "Trains the residual net (or reuses it from the run store), then samples paths at initialization and trained."
    button = "Sample the paths"
    metric_effective = "Effective paths"
    metric_effective_help = ("path lengths (blocks passed through, of {n}): the shortest range that carries 90% of the "
                             "trained net's gradient")
    metric_mean = "Effective length"
    metric_mean_help = ("blocks: the mean path length, each length weighted by the share of the gradient it carries "
                        "(trained net)")
    metric_typical = "Typical path"
    metric_typical_help = "blocks: the mean length of all 2^n paths, n/2"
    value_range = "{lo} to {hi}"
    value_since_init = "{change:+.1f} since initialization"
    gradient = ("(a) Gradient norm at the input through one path of length k (mean over {samples} random paths per k, "
                "each on the same {images} training images; hover for the spread).")
    effective = ("(b) Grey: share of all 2^{n} paths with length k. Lines: share of the whole gradient that paths of "
                 "length k carry (their number times one path's gradient). Shaded: the effective paths of the trained net.")
    published = "**Published, not measured here:** {source}."
    init_note = ("The net at initialization has no BN running statistics of its own: they are estimated on 512 training "
                 "images first.")
    measured = "Measured on this server: ResNet-{depth}, stored with its trained net ({key})."
