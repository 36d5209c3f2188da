"""The What the write-ups get wrong page: its words (English message ids; see :mod:`resnet_viz.ui.texts`).

Every number a claim's answer states is a format field, filled from a measurement or a count at the time the
page is drawn (:mod:`resnet_viz.ui.lessons.misconceptions`); none is typed into the prose.
"""

from . import _Text


class Misconceptions(_Text):
    title = "What the write-ups get wrong"
    intro = ("Popular write-ups of ResNet, in Chinese and in English, repeat a few claims that the papers do not make "
             "or that the lab's own measurements contradict. Each claim below is stated in our words, with what the lab "
             "measures or counts against it (the numbers come from the lesson's result or count, shown live on the "
             "linked page), and the source.")
    claim = "The claim"
    lab = "What the lab shows"
    source = "Source"
    open_page = "Open the page that shows it"
    bn_claim = "ResNet introduced batch normalization and the ReLU initialization."
    bn_lab = ("Both came before ResNet and ResNet uses both: batch normalization from Ioffe and Szegedy (2015), the "
              "initialization for ReLU from He et al. (2015). Toggle batch norm and the initialization on Gradient flow "
              "to see what each does to the gradients.")
    bn_source = ("Ioffe and Szegedy 2015, Batch Normalization; He, Zhang, Ren, Sun 2015, Delving Deep into Rectifiers; "
                 "He et al. 2016, Sec. 3.4")
    vanish_claim = "Degradation is caused by vanishing gradients."
    vanish_lab = ("With batch norm, plain-56's gradient at initialization *grows* toward the input: the first block "
                  "gets {plain:,.0f}x the gradient of the last (ResNet-56: {residual:.1f}x). Yet plain-56 ends with "
                  "training error {plain_error:.3f} where plain-20 ends with {shallow_error:.3f}. He et al. checked "
                  "that their plain nets' gradients were healthy and call the cause an optimization difficulty.")
    vanish_source = "He et al. 2016, Sec. 4.1 (\"unlikely to be caused by vanishing gradients\")"
    one_claim = "The gradient through a residual block is always at least 1, because of the + 1."
    one_lab = ("Only if nothing stands on the shortcut. Scale the shortcut by 0.5 and the gradient the shortcuts carry "
               "through {blocks} blocks is measured at {scaling:.2g} of the identity's; drop it out and it is "
               "{dropout:.2g}. A sigmoid after the addition (the original block) scales the + 1 by at most 1/4 in every "
               "block (Gradient flow, the sigmoid lesson).")
    one_source = "He et al. 2016b, Identity Mappings in Deep Residual Networks, Sec. 3 and Table 1"
    vgg_claim = "VGG-16 and VGG-19 cost 15.3 and 19.6 亿 operations per image."
    vgg_lab = ("Counted from torchvision's modules at 224x224: {vgg16:,} and {vgg19:,} multiply-adds, that is "
               "{vgg16_g:.1f} G and {vgg19_g:.1f} G, or {vgg16_yi:,} and {vgg19_yi:,} 亿 (1 G = 10 亿). The write-ups "
               "read G as 亿.")
    vgg_source = "Simonyan and Zisserman 2015, Table 1; He et al. 2016, Table 1 and Fig. 3 (VGG-19: 19.6 billion FLOPs)"
    third_claim = "The 1x1 reductions cut Inception module 3a to about a third of its weights."
    third_lab = ("With the weights the write-up lists: {reduced:,} of {naive:,}, that is {share:.2f}, not a third; "
                 "{full:,} with the pool projection. The module's output also shrinks from {naive_out} channels to "
                 "{full_out}.")
    third_source = "Szegedy et al. 2015, Table 1 and Fig. 2"
    info_claim = "Each deeper layer of a ResNet holds more information about the input than the one before."
    info_lab = ("x + F(x) is computed from x, so it cannot hold more information about the input than x (the data "
                "processing inequality). What the shortcut does is make it easy to *keep* the information; the Ensembles "
                "lesson shows a trained ResNet surviving the loss of one of its later blocks, where a plain net fails.")
    info_source = "Cover and Thomas, Elements of Information Theory, Sec. 2.8; Veit et al. 2016"
    rank_claim = "He et al. explain ResNet with the rank of the weight matrices."
    rank_lab = ("Their argument is a construction: a deeper net could copy a shallower one and set its extra layers to "
                "identity mappings, so it should not train worse; that it does (degradation) means the solver has "
                "trouble approximating identities with stacks of nonlinear layers, and the residual form makes the "
                "identity easy (F = 0). There is no rank argument in the paper.")
    rank_source = "He et al. 2016, Sec. 1 and Sec. 3.1"
    lenet_claim = "LeNet-5 has no activation layer."
    lenet_lab = ("Counted in the LeNet-5 the lab builds from the paper: {activations} layers end in the scaled tanh "
                 "1.7159 tanh(2a/3) (C1, S2, C3, S4, C5, F6); only the RBF output has none.")
    lenet_source = "LeCun et al. 1998, Sec. II.B and Appendix A"
    alexnet_claim = "AlexNet was far ahead of the winner of ILSVRC 2012."
    alexnet_lab = ("AlexNet *was* the winner: top-5 test error 15.3% against 26.2% for the second-best entry (published). "
                   "Its {params:,} parameters are counted on the From LeNet to ResNet page.")
    alexnet_source = "Krizhevsky, Sutskever, Hinton 2012, Abstract and Sec. 6"
    glossary_title = "Glossary: the lab's words and the ones you will meet"
    glossary_intro = ("The lab uses the terms of 《动手学深度学习》 (d2l-zh). Blogs and translations use others for the same "
                      "things:")
    term = "term"
    lab_term = "the lab (d2l-zh)"
    other_terms = "also written"
