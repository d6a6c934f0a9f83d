"""The clusters of a latent space as a list a clinician reads: colour (as in the explorer), size, what sets each apart."""

from __future__ import annotations

from dataclasses import dataclass

import dash_bootstrap_components as dbc
from dash import html


@dataclass(frozen=True)
class ClusterEntry:
    """One cluster as listed: ``label`` is its number in the labels (NOISE for the unclustered), ``colour`` its explorer colour."""

    label: int
    title: str
    size: int
    share: float
    description: str
    colour: str


def cluster_list(entries: list[ClusterEntry]) -> dbc.ListGroup:
    """One row per cluster with *Select* and *Save as cohort* buttons (pattern-matching ids carry the cluster's label)."""
    items = []
    for entry in entries:
        items.append(dbc.ListGroupItem(
            html.Div(
                [
                    html.Span(className="legend-swatch", style={"background": entry.colour}),
                    html.Div(
                        [html.Strong(entry.title), html.Span(f" · {entry.size:,} subjects ({entry.share:.0%})", className="text-muted"),
                         html.Div(entry.description, className="cluster-description")],
                        className="flex-grow-1",
                    ),
                    dbc.ButtonGroup(
                        [dbc.Button("Select", id={"type": "cluster-select", "index": entry.label}, size="sm", color="primary", outline=True),
                         dbc.Button("Save as cohort", id={"type": "cluster-save", "index": entry.label}, size="sm", color="success",
                                    outline=True)],
                    ),
                ],
                className="d-flex align-items-center gap-2",
            ),
            className="py-2 small cluster-item",
        ))
    return dbc.ListGroup(items, flush=True, id="cluster-items")
