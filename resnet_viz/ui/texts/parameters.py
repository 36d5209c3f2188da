"""The Parameters and compute page: its words (English message ids; see :mod:`resnet_viz.ui.texts`)."""

from . import _Text


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
    lineage_read = ("**Read it:** ResNet-152 has 152 layers yet fewer multiply-adds than VGG-16 ({resnet:.1f} G vs {vgg:.1f} G) and "
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
