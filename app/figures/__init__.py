"""Pure figure builders: arrays in, a figure out (a ``go.Figure``, or the plain dict Dash sends: ``prebuilt``); no Dash imports, testable alone.

Importing the package makes the app's cut-down white template Plotly's default (``theme``), so every
figure built here has it without setting it: setting it again per figure copied and validated it, 3 ms each.
"""

from app.figures import theme  # noqa: F401  (registers the template as the default)
