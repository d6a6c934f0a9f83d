"""The space comparison's subject lists and suggested groups as HTML: one clickable row per subject.

A list is one component (app.figures.static_html), not a component per cell; a click, or Enter on a row
reached with Tab, reaches the server through ``ROW_CLICK``, set by assets/compare_spaces.js.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
from dash import dcc, html

from app.context import HOVER_VARIABLES, AppContext
from app.core.neighbours import NeighbourComparison, common_changes
from app.figures.static_html import one_component
from app.panels.compare_spaces.settings import LIST_LENGTH, LIST_NAMES, RANK


def table_columns(context: AppContext) -> list[dict]:
    columns = [{"name": "Subject", "id": "subject"}, {"name": "Overlap", "id": "overlap", "type": "numeric"}]
    for name in (variable for variable in HOVER_VARIABLES if variable in context.variables):
        spec = context.variables[name]
        columns.append({"name": spec.display_label, "id": name, "type": "numeric" if spec.type == "continuous" else "text"})
    return columns


def subject_records(context: AppContext, overlap: np.ndarray | None, rows: np.ndarray, extra: dict[str, np.ndarray] | None = None) -> list[dict]:
    """Table rows (one per subject, keyed by row number) with overlap and key clinical variables; a missing number is None.

    Column by column in plain Python: these are lists of ten or fifty subjects, for which building a
    DataFrame cost seven tenths of a focus change in Compare spaces.
    """
    rows = np.asarray(rows, dtype=int)
    phenotypes = context.cohort.phenotypes.iloc[rows]
    columns: dict[str, list] = {"id": rows.tolist(), "subject": phenotypes.index.astype(str).tolist()}
    for name, values in (extra or {}).items():
        columns[name] = _numbers(np.asarray(values))
    if overlap is not None:
        columns["overlap"] = _numbers(np.round(overlap[rows], 3))
    for name in (variable for variable in HOVER_VARIABLES if variable in context.variables):
        spec, values = context.variables[name], phenotypes[name]
        if spec.type == "continuous":
            columns[name] = _numbers(np.round(values.to_numpy(dtype=float, na_value=np.nan), 1))
        elif spec.type == "binary":
            columns[name] = ["–" if pd.isna(value) else ("yes" if value else "no") for value in values.tolist()]
        else:
            columns[name] = ["–" if pd.isna(value) else str(value) for value in values.tolist()]
    return [dict(zip(columns, record)) for record in zip(*columns.values())]


def _numbers(values: np.ndarray) -> list:
    """Python numbers, NaN as None (an empty cell)."""
    return [None if value != value else value for value in values.tolist()]


def _cell(value: object) -> str:
    if value is None:
        return "–"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def sorted_records(records: list[dict], sort_by: str | None, order: str = "ascending") -> list[dict]:
    """Records sorted by one column, missing values last whichever the direction; ``RANK`` keeps each list's own order."""
    if sort_by == RANK or not sort_by or not records or sort_by not in records[0]:
        return list(records) if order == "ascending" else list(reversed(records))
    present = [record for record in records if record.get(sort_by) is not None]
    missing = [record for record in records if record.get(sort_by) is None]
    return sorted(present, key=lambda record: record[sort_by], reverse=order == "descending") + missing


def subject_table(records: list[dict], columns: list[dict], list_name: str) -> dcc.Markdown:
    """A compact table, one clickable, focusable row per subject (``data-row`` carries its row number), as one component."""
    if list_name not in LIST_NAMES:
        raise ValueError(f"unknown subject list {list_name!r}")
    header = html.Thead(html.Tr([html.Th(column["name"]) for column in columns]))
    body = html.Tbody([
        html.Tr([html.Td(_cell(record.get(column["id"]))) for column in columns], className="cs-row", tabIndex="0",
                title=f"Show {record['subject']}'s neighbourhoods", **{"data-list": list_name, "data-row": str(int(record["id"]))})
        for record in records
    ])
    return one_component(dbc.Table([header, body], size="sm", hover=True, striped=True, className="small mb-0 cs-table"))


def changed_lists(context: AppContext, comparison: NeighbourComparison, rows: np.ndarray) -> tuple[list[dict], list[dict]]:
    """The most- and least-changed subjects among ``rows`` (at most LIST_LENGTH each)."""
    order = rows[np.argsort(comparison.overlap[rows], kind="stable")]
    return subject_records(context, comparison.overlap, order[:LIST_LENGTH]), subject_records(context, comparison.overlap, order[::-1][:LIST_LENGTH])


def _group_card(context: AppContext, comparison: NeighbourComparison, index: int, group) -> dbc.ListGroupItem:
    changes = common_changes(comparison, group.rows, top=3)
    ids = context.cohort.subject_ids
    gained = ", ".join(f"{ids[row]} ({count})" for row, count in zip(changes.gained_rows, changes.gained_counts)) or "–"
    lost = ", ".join(f"{ids[row]} ({count})" for row, count in zip(changes.lost_rows, changes.lost_counts)) or "–"
    return dbc.ListGroupItem(
        [
            html.Div(
                [
                    html.Strong(f"Group {index + 1}: {len(group.rows):,} subjects"),
                    html.Span(f" · mean overlap {group.mean_overlap:.2f} · changes agree {group.agreement:.0%}", className="text-muted"),
                    dbc.ButtonGroup(
                        [dbc.Button("Select", id={"type": "cs-suggestion-select", "index": index}, size="sm", color="primary", outline=True),
                         dbc.Button("Save as cohort", id={"type": "cs-suggestion-save", "index": index}, size="sm", color="success", outline=True)],
                        className="ms-auto",
                    ),
                ],
                className="d-flex align-items-center gap-2",
            ),
            html.Div(f"Most gained: {gained} · most lost: {lost}", className="small text-muted"),
        ],
        className="py-2 small cs-suggestion",
    )


def suggestion_list(context: AppContext, comparison: NeighbourComparison) -> tuple[object, list[list[int]]]:
    groups = comparison.suggested_groups
    if not groups:
        return html.Div("No groups of subjects changed alike (few neighbourhoods changed by more than half).", className="text-muted small"), []
    items = [_group_card(context, comparison, index, group) for index, group in enumerate(groups)]
    return dbc.ListGroup(items, flush=True), [group.rows.tolist() for group in groups]


def change_table(context: AppContext, list_name: str, rows: np.ndarray, counts: np.ndarray, n_selected: int) -> html.Div:
    columns = [{"name": "Subject", "id": "subject"}, {"name": f"of {n_selected:,}", "id": "count"}]
    columns += [column for column in table_columns(context) if column["id"] not in ("subject", "overlap")][:2]
    records = subject_records(context, None, rows, {"count": counts})
    return html.Div(subject_table(records, columns, list_name), className="cs-scroll")
