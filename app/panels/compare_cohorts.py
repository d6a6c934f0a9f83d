"""Compare two cohorts (or one against the rest) over every variable, with overlaid distributions."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import pandas as pd
from dash import Input, Output, dcc, html

from app.context import AppContext
from app.core.statistics import compare_groups
from app.figures.distributions import overlaid_distributions
from app.figures.messages import message_figure
from app.state import (
    COHORTS_VERSION,
    CURRENT,
    CURRENT_OPTION,
    FILTERS,
    REST,
    REST_OPTION,
    SAVED_COHORTS,
    SELECTION,
    resolve_choice,
    saved_cohort_options,
    variable_options,
)


def format_comparison(table: pd.DataFrame) -> pd.DataFrame:
    """Readable columns: proportions as %, means to one decimal, p/q in scientific notation when tiny."""
    def value(row: pd.Series, column: str) -> str:
        number = row[column]
        if pd.isna(number):
            return "–"
        return f"{100 * number:.1f}%" if row["kind"] == "proportion" else f"{number:.1f}"

    def probability(number: float) -> str:
        return "–" if pd.isna(number) else (f"{number:.1e}" if number < 0.001 else f"{number:.3f}")

    return pd.DataFrame(
        {
            "Variable": [f"{label}: {level}" if level else label for label, level in zip(table["label"], table["level"])],
            "A": [value(row, "A") for _, row in table.iterrows()],
            "B": [value(row, "B") for _, row in table.iterrows()],
            "Std. difference": table["std_diff"].map(lambda d: "–" if pd.isna(d) else f"{d:+.2f}"),
            "p": table["p_value"].map(probability),
            "q (BH)": table["q_value"].map(probability),
            "Test": table["test"],
        }
    )


def layout(context: AppContext) -> html.Div:
    return html.Div(
        [
            dbc.Row(
                [
                    dbc.Col([html.Label("Group A", htmlFor="compare-a", className="small fw-semibold"),
                             dcc.Dropdown(id="compare-a", value=CURRENT, clearable=False)], md=4),
                    dbc.Col([html.Label("Group B", htmlFor="compare-b", className="small fw-semibold"),
                             dcc.Dropdown(id="compare-b", value=REST, clearable=False)], md=4),
                    dbc.Col([html.Label("Distribution of", htmlFor="compare-variable", className="small fw-semibold"),
                             dcc.Dropdown(id="compare-variable", options=variable_options(context),
                                          value="lv_mass_g" if "lv_mass_g" in context.variables else None)], md=4),
                ],
                className="g-2 mb-2",
            ),
            html.Div(id="compare-sizes", className="small text-muted mb-2"),
            dbc.Row(
                [
                    dbc.Col(dcc.Loading(html.Div(id="compare-table", className="compare-table"), delay_show=300), lg=7),
                    dbc.Col(dcc.Graph(id="compare-distribution", config={"displaylogo": False}), lg=5),
                ]
            ),
        ]
    )


def register(app: dash.Dash, context: AppContext) -> None:
    @app.callback(
        Output("compare-a", "options"),
        Output("compare-b", "options"),
        Input(SAVED_COHORTS, "options"),
    )
    def _group_options(saved_options):
        return (saved_cohort_options(saved_options, CURRENT_OPTION),
                saved_cohort_options(saved_options, REST_OPTION, {"label": "Current cohort", "value": CURRENT}))

    @app.callback(
        Output("compare-table", "children"),
        Output("compare-distribution", "figure"),
        Output("compare-sizes", "children"),
        Input("compare-a", "value"),
        Input("compare-b", "value"),
        Input("compare-variable", "value"),
        Input(FILTERS, "data"),
        Input(SELECTION, "data"),
        Input(COHORTS_VERSION, "data"),
    )
    def _compare(a, b, variable, filters, selection, _version):
        mask_a = resolve_choice(context, a, filters, selection)
        mask_b = resolve_choice(context, b, filters, selection, other=mask_a)
        sizes = f"A: {int(mask_a.sum()):,} subjects · B: {int(mask_b.sum()):,} subjects · rows sorted by |standardised difference|"
        if not mask_a.any() or not mask_b.any():
            advice = ("Both groups need at least one subject: narrow the current cohort with filters or a lasso selection, "
                      "or choose saved cohorts.")
            return dbc.Alert(advice, color="warning"), message_figure("Nothing to compare yet"), sizes
        table = format_comparison(compare_groups(context.cohort.phenotypes, context.variables, mask_a, mask_b))
        rendered = dbc.Table.from_dataframe(table, striped=True, hover=True, size="sm", className="small")
        figure = dash.no_update
        if variable:
            figure = overlaid_distributions(context.cohort.phenotypes[variable], context.variables[variable], {"A": mask_a, "B": mask_b})
        return rendered, figure, sizes
