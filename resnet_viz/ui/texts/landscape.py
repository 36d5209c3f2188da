"""The landscape page: loss surfaces and the paths of the gradient: its words (English message ids; see :mod:`resnet_viz.ui.texts`)."""

from . import _BackgroundLesson


class Landscape(_BackgroundLesson):
    title = "The landscape: loss surfaces, and the paths that carry the gradient"
    intro = ("Two of the most cited pictures of why residual nets train, measured live on the nets of the *Residual "
             "nets as ensembles* page: the **loss surface** around a trained plain and residual net (Li, Xu, Taylor, "
             "Studer, Goldstein 2018), and which **paths** of a residual net the gradient actually flows through "
             "(Veit, Wilber, Belongie 2016).")
    nets = "The nets (shared by both tabs and the ensembles page)"
    source = "Nets"
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
    published_measured = ("Measured on this server ({device}): the surface of {name} ({points} points, "
                          "{seconds:.0f} s) on {images} CIFAR-10 training images, normalized as it was trained (an accuracy near "
                          "{accuracy:.2f} on {images} images has a standard error of about {se:.3f}). No 1-D "
                          "line: its initialization is not published. No plain net is published either: the plain "
                          "side is Li et al.'s, in the table beside.")


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
    value_since_init = "{change:+.1f} by training"
    gradient = ("(a) Gradient norm at the input through one path of length k (mean over {samples} random paths per k, "
                "each on the same {images} training images; hover for the spread).")
    gradient_numbers = "The path through no branch carries {short}, the path through all {k} carries {long}."
    effective = ("(b) Grey: share of all 2^{n} paths with length k. Lines: share of the whole gradient that paths of "
                 "length k carry (their number times one path's gradient). Shaded: the effective paths of the trained net.")
    published = "**Published, not measured here:** {source}."
    init_note = ("The net at initialization has no BN running statistics of its own: they are estimated on 512 training "
                 "images first.")
    measured = "Measured on this server ({device}): ResNet-{depth}, stored with its trained net ({key})."
    published_measured = ("Measured on this server ({device}): {name} on {images} CIFAR-10 training "
                          "images, trained only (its initialization is not published).")
