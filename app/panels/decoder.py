"""Decoder panel (being built)."""

from __future__ import annotations

import dash
from dash import html

from app.context import AppContext


def layout(context: AppContext) -> html.Div:
    return html.Div("Decoder panel: being built", id="decoder-panel")


def register(app: dash.Dash, context: AppContext) -> None:
    return None
