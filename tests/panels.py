"""A hidden tab's panel as the browser receives it when the tab is first opened (app.panels.tab_panes)."""

from __future__ import annotations

import json

import dash

from app.panels.tab_panes import opened_id, pane_id
from tests.serving import callback_body


def opened_panel(app: dash.Dash, tab: str) -> str:
    """The JSON of ``tab``'s panel, fetched through the app's own callback as the page does once the tab is opened."""
    client = app.server.test_client()
    client.get("/")
    flag = f"{opened_id(tab)}.data"
    answer = client.post("/_dash-update-component", json=callback_body(app, f"{pane_id(tab)}.children", {flag: True}, [flag]))
    assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    return json.dumps(answer.get_json()["response"][pane_id(tab)]["children"])
