"""The one way user-supplied text (cohort names, manifest labels and categories) enters a Plotly figure.

Plotly renders a subset of HTML in titles, legends, annotations and hover labels (``<a href>``,
``<b>``, ``<br>``), so a cohort named ``<a href="…">Click to re-login</a>`` would become a live
link. Escaping ``& < >`` makes Plotly show the text as typed.
"""

from __future__ import annotations

import html


def plotly_text(value: object) -> str:
    """``value`` as text that Plotly shows literally, markup and entities included."""
    return html.escape(str(value), quote=False)
