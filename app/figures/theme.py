"""The figures' look: Plotly's white template cut down to what the app draws.

``plotly_white`` carries defaults for every trace type Plotly has (3-D, maps, polar, carpets...):
each figure built with it copied and validated all of them (7-10 ms, a third of a small figure's
time on the server) and sent them along (7 KB). The cut-down copy keeps exactly what applies to
the traces and 2-D axes the app uses, so the figures look the same. It is Plotly's default once
``app.figures`` is imported, and no figure sets it again: that copied and validated it once more (3 ms).
"""

from __future__ import annotations

import plotly.graph_objects as go
import plotly.io as pio

TEMPLATE = "lse_white"
TRACE_TYPES = ("bar", "heatmap", "histogram", "scatter", "scattergl")
_LAYOUT_KEYS = ("autotypenumbers", "colorway", "font", "hovermode", "hoverlabel", "paper_bgcolor", "plot_bgcolor",
                "coloraxis", "colorscale", "xaxis", "yaxis", "shapedefaults", "annotationdefaults", "title")


def _cut_down_white() -> go.layout.Template:
    white = pio.templates["plotly_white"].to_plotly_json()
    return go.layout.Template(
        layout={key: value for key, value in white["layout"].items() if key in _LAYOUT_KEYS},
        data={trace: white["data"][trace] for trace in TRACE_TYPES if trace in white["data"]},
    )


pio.templates[TEMPLATE] = _cut_down_white()
# Every figure gets it without a copy of its own (a bare go.Figure() no longer copies Plotly's full default either).
pio.templates.default = TEMPLATE
