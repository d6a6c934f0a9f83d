"""The cut-down white template: plotly_white's look for the traces the app draws, without the rest."""

from __future__ import annotations

import json

import plotly.graph_objects as go
import plotly.io as pio

from app.figures.messages import message_figure
from app.figures.theme import TEMPLATE, TRACE_TYPES


def test_the_cut_down_template_draws_what_the_app_draws_as_plotly_white_does():
    white, ours = pio.templates["plotly_white"].to_plotly_json(), pio.templates[TEMPLATE].to_plotly_json()
    for trace in TRACE_TYPES:
        assert ours["data"][trace] == white["data"][trace]
    for key in ("paper_bgcolor", "plot_bgcolor", "xaxis", "yaxis", "colorway", "colorscale", "font", "hoverlabel"):
        assert ours["layout"][key] == white["layout"][key]
    assert "scene" not in ours["layout"] and "scatter3d" not in ours["data"] and "choropleth" not in ours["data"]
    assert len(json.dumps(ours)) < len(json.dumps(white)) / 2


def test_a_bare_figure_gets_the_cut_down_template_not_plotlys_full_default():
    template = go.Figure().to_plotly_json()["layout"]["template"]
    assert set(template["data"]) == set(TRACE_TYPES) & set(pio.templates["plotly_white"].to_plotly_json()["data"])
    # the figure builders set no template of their own: what they send carries this one, prebuilt figures (plain dicts) too
    assert message_figure("nothing yet")["layout"]["template"] == pio.templates[TEMPLATE].to_plotly_json()
