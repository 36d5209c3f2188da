"""One lesson view per page: ``lessons/<lesson>.py`` holds the lesson's figure builders (pure: a tidy
table in, a figure in the session's language out) and its views (what the page draws from a result).
Views read their words from :mod:`resnet_viz.ui.texts` and share :mod:`resnet_viz.ui.display`.
"""
