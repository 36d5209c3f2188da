"""The Degradation page: its words (English message ids; see :mod:`resnet_viz.ui.texts`)."""

from . import _BackgroundLesson


class Degradation(_BackgroundLesson):
    title = "Degradation: deeper plain nets train worse"
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
    curve_vs_table = ("Why a curve can end far from its net's row in the table: the curve is the error on each step's own "
                      "mini-batch, averaged over the last {smooth} steps, with batch norm using that batch's statistics "
                      "(train mode); the table measures the whole training set once, with the running statistics (eval "
                      "mode). Here {name}'s curve ends at {curve:.3f} and the table says {table:.3f}. A degraded plain "
                      "net is where the two differ most: its running statistics lag behind its weights.")
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
