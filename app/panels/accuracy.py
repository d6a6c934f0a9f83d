"""Accuracy panel (being built)."""

from __future__ import annotations

import dash
from dash import html

from app.context import AppContext


def layout(context: AppContext) -> html.Div:
    return html.Div("Accuracy panel: being built", id="accuracy-panel")


def register(app: dash.Dash, context: AppContext) -> None:
    return None
