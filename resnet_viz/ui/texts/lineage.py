"""The From LeNet to ResNet page: its words (English message ids; see :mod:`resnet_viz.ui.texts`)."""

from . import _BackgroundLesson


class Lineage(_BackgroundLesson):
    title = "From LeNet to ResNet and beyond, layer by layer"
    intro = ("Before ResNet came LeNet-5, AlexNet, VGG and GoogLeNet; after it, Inception-ResNet. Each net here is "
             "built from real PyTorch modules and counted layer by layer: parameters with `numel()`, multiply-adds "
             "for one image with `torch.utils.flop_counter`'s formulas. Beside each count stands the arithmetic a "
             "write-up does by hand (✓ where the two agree). Published numbers carry their source.")
    tabs = ["LeNet-5", "AlexNet", "VGG", "GoogLeNet", "ResNet", "Inception-ResNet"]
    columns_note = ("Multiply-adds count the convolutions and fully connected layers (pooling, activations and "
                    "normalization are left out, as in the papers).")
    lenet = """
**LeNet-5 (LeCun et al. 1998).** A 32x32 digit goes through C1 (6 maps), S2, C3 (16 maps), S4, C5 (120),
F6 (84) and the output. Three details that the usual rebuilds drop, each counted here:

- **S2 and S4 are trained layers**: each map's 2x2 sums are multiplied by a trained coefficient and a
  trained bias is added (2 parameters per map), then squashed.
- **C3 is sparse**: map j of C3 reads only some of S2's maps (the paper's Table I), 60 kernels of the 96 a
  full C3 would have, to keep the connections in bounds and to break the network's symmetry (the paper's
  two reasons).
- **Every layer but the output has an activation**, a scaled tanh, 1.7159 tanh(2a/3). The output is not a
  fully connected layer but 10 radial basis units with fixed 84-value codes (840 numbers, not trained).

{trainable:,} trainable parameters with the sparse C3, the 60,000 the paper gives, plus {fixed:,} fixed; {full:,} with a full C3; and {today:,} as LeNet-5 is usually built today (full C3,
plain average pooling, a 84 -> 10 linear output).
"""
    alexnet = """
**AlexNet (Krizhevsky et al. 2012)** was trained on two GPUs of 3 GB each. The net is split in two
columns: conv2, conv4 and conv5 read only the half of the previous layer on their own GPU (`groups=2`
here); conv3 and the fully connected layers read both. That is why conv2 has 5x5x**48** kernels, not 5x5x96.

Counted: **{total:,}** parameters. The five convolutions hold {conv:,} ({conv_share:.1%}), the three fully
connected layers {fc:,} ({fc_share:.1%}); the convolutions do almost all the multiply-adds.

torchvision's `alexnet` counts {torchvision:,}: it is the one-column variant of Krizhevsky's later paper
("One weird trick", 2014): 64, 192, 384, 256, 256 filters, no groups, no local response normalization.
AlexNet **won** ILSVRC 2012: top-5 test error 15.3% against 26.2% for the second-best entry (published,
Krizhevsky et al. 2012, Sec. 6).
"""
    vgg = """
**VGG-16 (Simonyan and Zisserman 2015)**: thirteen 3x3 convolutions and three fully connected layers.
Counted: **{total:,}** parameters, of which the fully connected layers hold {fc:,} (**{fc_share:.1%}**);
fc6 alone reads 7x7x512 = 25,088 numbers into 4,096 units. Replace the three by **global average pooling**
and one 512 -> 1000 layer, as GoogLeNet and ResNet do, and the net has {gap:,} parameters.

Multiply-adds per 224x224 image: VGG-16 **{vgg16_g:.1f} G** ({vgg16_yi:,} 亿), VGG-19 **{vgg19_g:.1f} G**
({vgg19_yi:,} 亿). 1 G = 10⁹ = 10 亿.
"""
    stacked = """
**Why 3x3.** A stack of 3x3 convolutions sees what one larger convolution sees, for fewer weights and with more
nonlinearities in the way (C channels in and out, receptive fields measured by backpropagation):
"""
    googlenet = """
**GoogLeNet's Inception module (Szegedy et al. 2015)** runs 1x1, 3x3 and 5x5 convolutions and a 3x3 max
pool side by side and **concatenates** their outputs. Module 3a on its 28x28x192 input:

- **naive** (Fig. 2a): {naive:,} weights, and the pool passes all 192 channels on: {naive_out} channels out;
- **with 1x1 reductions** before the 3x3 and 5x5 (Fig. 2b), as the write-ups list them: {reduced:,} weights,
  **{share:.2f}** of the naive module (not "about a third");
- **as built**, with the 1x1 projection after the pool: {full:,} weights and {full_out} channels out.

**Auxiliary classifiers.** Two small classifiers on modules 4a and 4d add their losses, **weighted by 0.3**,
during training and are dropped afterwards (published, Sec. 5): counted here (torchvision's, which add batch
norm) {aux1:,} and {aux2:,} parameters, together more than the {params:,} of the net itself.

**Against AlexNet.** The paper: "12 times fewer parameters" than AlexNet. Counted: {alexnet:,} / {params:,} =
**{ratio:.1f}x** (torchvision's GoogLeNet, which adds batch norm: {bn_share:.2%} of its parameters).
"""
    resnet = """
**ResNet (He et al. 2016)** adds where GoogLeNet concatenates: y = F(x) + x. Below, the ImageNet nets of
Table 2 and Table 3 as published: at 18 layers the plain net is about as good as the residual one; at 34 the
plain net is worse than at 18 (degradation), the residual net better. Table 3 compares the shortcuts: A
(zero-padding), B (projections where the shape changes), C (projections everywhere); the differences are
small, "projection shortcuts are not essential".

**At a shallow depth ResNet converges faster** (Sec. 4.1: "the ResNet eases the optimization by providing
faster convergence at the early stage"). Measured here, from the Degradation lesson's depth-20 runs:
"""
    options_title = "Options A, B and C, trained here"
    options = ("The plain net and the residual net with each shortcut option, trained at once at one depth with one "
               "recipe and seed on this lab's data, beside Table 3 (published, ImageNet). Switch on the ImageNet family "
               "for Table 2's comparison: plain-18 or plain-34 against ResNet-18 or ResNet-34 (option A), the "
               "family's 7x7 stem on the images enlarged to 64 px.")
    options_what = "Trains the plain net and the residual net with each chosen shortcut option."
    options_table = ("Parameters (B and C add the 1x1 projections), the final training error on the whole training "
                     "split and the first step at which the training error (moving average of 10 steps) is at most 0.1 "
                     "(medians over seeds; – where it never got there). At 18 layers look at the steps: He et al. "
                     "found the plain and residual nets about equally accurate, the residual one faster to converge.")
    shallow_note = ("Steps until the training error (moving average of 10 steps) first falls to each level, in the "
                    "runs of {source}, with each net's final training error.")
    shallow_none = "Train the Degradation lesson at depth 20 to measure this here."
    published_2 = ("**Published, not measured here:** ImageNet top-1 error (%), 10-crop testing, He et al. 2016, "
                   "Table 2.")
    published_3 = "**Published, not measured here:** ImageNet top-1 error (%), 10-crop testing, He et al. 2016, Table 3."
    published_note = "ImageNet nets and recipe: compare the order, not the numbers, with what the lab measures."
    resnet_stages = "ResNet-18 and ResNet-34 as the lab builds them (torchvision's structure), per stage:"
    inception_resnet = """
**Inception-ResNet (Szegedy et al. 2017)** puts an Inception-style branch inside a residual block: three
branches are concatenated (96 channels), a *linear* 1x1 convolution restores the input's 256 channels, and
the result is **added** to the input. Module A of Inception-ResNet-v1 (Fig. 10), on its 35x35x256 input:
"""
    concat = """
**Concatenate or add.** GoogLeNet concatenates its branches: the channels grow with every module, and every
later layer pays for them. ResNet adds: the channels stay, and the sum carries the input on unchanged. Module A
both ways, {blocks} in a row, then one 3x3 convolution of {channels} filters:
"""
    concat_note = ("Both keep a path for the gradient that skips the branch: the concatenation passes the input's "
                   "channels on as they are, the addition passes the whole gradient to x. The addition does it "
                   "without widening anything; the concatenation widens by 96 channels per module (DenseNet's "
                   "way, a year later).")
    scaling = r"""
**Residual scaling.** The widest Inception-ResNets (more than 1,000 filters) "died" early in training unless
each residual branch was multiplied by a small factor before the addition, $x + a\,F(x)$ with $a$ from 0.1
to 0.3 (Sec. 3.3, published). Why: without batch norm after the addition, each block adds a branch of
about the size of its input, so the signal grows block after block; $a$ keeps it level.

**Not the same as scaling the shortcut.** Why identity? multiplies the *shortcut*, $\lambda x + F(x)$: the
gradient's path back through all the blocks is then multiplied by $\lambda$ per block, and the net fails.
Here the shortcut stays whole and only the branch is scaled.

**What to look for.** Without batch norm, $a = 1$ lets the signal grow several-fold across the blocks at
initialization and the net does not train (its error stays near chance: it "dies"); a small $a$ keeps the
signal level and trains. Turn batch norm on and $a = 1$ trains too: the normalization does the scaling.
"""
    settings = "Residual scaling: settings"
    what = "Measures the signal at initialization, then trains the net once per residual scale a."
    signal = ("(a) Standard deviation of the forward signal after the stem and after every block, at initialization, "
              "on {images} training images (log scale). Growth: the last over the first.")
    curves = "(b) Training error on each step's batch, smoothed over 10 steps, one line per residual scale a."
    table = "(c) Signal growth at initialization and final errors on the whole training and test splits."
    published = "**Published, not measured here** (Szegedy et al. 2017, Sec. 3.3):"
