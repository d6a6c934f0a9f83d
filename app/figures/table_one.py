"""Table 1 as a Dash table: the formatted rows, p and q kept on one line, and the footnotes."""

from __future__ import annotations

from dash import dcc, html

from app.core.table_one import TableOne
from app.figures.static_html import one_component


def table_one_component(table: TableOne) -> dcc.Markdown:
    """A compact, striped table whose numbers never wrap (only the variable's name may), with its footnotes below, as one component."""
    shown = table.display()
    nowrap = set(shown.columns) - {"Variable"}
    header = html.Thead(html.Tr([html.Th(column, className="text-nowrap" if column in nowrap else None) for column in shown.columns]))
    body = html.Tbody([
        html.Tr(
            [html.Td(value, className="text-nowrap" if column in nowrap else None) for column, value in row.items()],
            className="table-one-defining" if defining else None,
        )
        for (_, row), defining in zip(shown.iterrows(), table.rows["defining"])
    ])
    return one_component(html.Div(
        [html.Table([header, body], className="table table-sm table-striped table-hover small table-one mb-1"),
         *[html.P(note, className="small text-muted mb-1") for note in table.footnotes()]]
    ))
