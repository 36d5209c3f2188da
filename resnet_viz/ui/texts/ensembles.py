"""The Residual nets as ensembles page: its words (English message ids; see :mod:`resnet_viz.ui.texts`)."""

from . import _Text


class Ensembles(_Text):
    title = "Residual nets as ensembles: remove blocks, watch accuracy"
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
    measured = "Measured on this server ({device}); the trained nets are in the run store ({keys})."
    preset = ("Precomputed nets and lesions of this lesson, shipped with the app (`{command}`), so you can start at "
              "once. Train live to make your own.")
    not_trained = "Not trained yet with these settings: press the button above."
    toggles_title = "Remove blocks yourself"
    toggles = "Blocks to remove (↓ = downsampling block)"
    toggles_metric = "Test accuracy with these blocks removed"
    costly = ("Not every block is spared: removing block {blocks} costs {name} more than 10 points of accuracy (the "
              "accuracy left in brackets); each of the other {others} blocks costs at most {most:.3f}. The first blocks "
              "work on the raw image at full resolution, and every path goes through the features they make; the "
              "downsampling blocks change the shape, so the later blocks lose what they added.")
    toggles_caption = ("{removed} of {n} blocks removed · evaluated on the {images} test images in {seconds:.2f} s (each "
                       "combination is computed once for everyone)")
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
    source = "Nets"
    published_images = "CIFAR-10 test images"
    published_button = "Remove blocks of the published net"
    published_what = ("Loads the published net (downloading it once where the server is online) and removes its blocks "
                      "on a fixed sample of CIFAR-10's test set; nothing is trained.")
    published_about = ("**{name}**, trained on CIFAR-10 with He et al.'s recipe (64k iterations) and published by "
                       "{source}; reported test error {error}% on all {total:,} test images. It is measured here on {n} of "
                       "them, a fixed sample: the standard error of an accuracy near {accuracy:.2f} on {n} images is "
                       "about {se:.3f}, so differences smaller than twice that are noise.")
    published_file_about = ("**{name}**, a checkpoint file in the published format, measured on {n} CIFAR-10 test "
                            "images (standard error about {se:.3f}).")
    published_measured = ("Measured on this server: with all blocks, {accuracy:.3f} on {n} test images (± {se:.3f}, "
                          "one standard error; the reported {published:.2f} is on all {total:,}).")
    published_not_run = "Not measured yet with these settings: press the button above."
    no_plain = ("No plain net is published, so this page shows the residual side only. The plain side, as the paper "
                "reports it (Veit, Wilber and Belongie 2016, Fig. 3, a VGG net): removing any single layer "
                "drops it to chance. Choose **trained here** above to remove blocks of a plain net yourself.")

