"""resnet-viz: an interactive lab for plain and residual networks.

The core (everything here except ``resnet_viz.ui``) never imports streamlit, so it runs from the
CLI, a notebook or a worker unchanged.
"""

__version__ = "0.1.0"
