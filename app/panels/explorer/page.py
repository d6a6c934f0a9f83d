"""The explorer's layout: the colour choice and the selection summary over two latent views and one clinical view."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html
from dash.development.base_component import Component

from app.context import AppContext
from app.core.projections import METHODS, ProjectionSpec
from app.panels.explorer.settings import CLINICAL_VIEW, CLUSTER_OPTION, LATENT_VIEWS, PENDING_SEEN, PROJECTION_JOB, VIEWS, ViewIds
from app.panels.explorer.views import ViewPicture, colour_legend, selection_summary, view_preview
from app.state import ordered_spaces, space_label, variable_options, view_coordinates
from data_loaders import cohort_spec

VIEW_HEIGHT_PX = 430
VIEW_WIDTH_PX = 352  # about a view's width on a 1,500-px-wide screen: its picture is drawn for it and stretched to the width it has
DROPDOWN_HEIGHT = "34px"  # Dash 4's dcc.Dropdown, one line
PREVIEW_CLASS = "view-preview"


def _preview(ids: ViewIds, picture: ViewPicture | None) -> list:
    """A white cover over the view (Plotly's empty first figure, axes and all, is under it) holding the picture of its
    plot area, shown until Plotly has drawn the view (assets/explorer.js hides it then)."""
    if picture is None:
        return []
    margin = picture.margin
    style = {"top": f"{margin['t']}px", "left": f"{margin['l']}px", "width": f"calc(100% - {margin['l'] + margin['r']}px)",
             "height": f"{VIEW_HEIGHT_PX - margin['t'] - margin['b']}px"}
    # Where the view's title will be: hovering and selecting wait for the view itself.
    note = html.Div("Drawing the interactive view…", className="view-preview-note small text-muted")
    return [html.Div([note, html.Img(src=picture.url, alt="", style=style)], className=PREVIEW_CLASS, style={"height": f"{VIEW_HEIGHT_PX}px"},
                     **{"aria-hidden": "true", "data-view": ids.graph})]


def _view_card(ids: ViewIds, title: str, controls: list, picture: ViewPicture | None = None) -> dbc.Card:
    graph = dcc.Graph(id=ids.graph, clear_on_unhover=True, style={"height": f"{VIEW_HEIGHT_PX}px"},
                      # A double-click zooms out to everything drawn (not to the zoom a redrawn view started at).
                      config={"displaylogo": False, "scrollZoom": True, "editSelection": False, "doubleClick": "autosize"})
    return dbc.Card(
        [
            dbc.CardHeader(dbc.Row([dbc.Col(html.Strong(title), width="auto"), *controls], className="g-2 align-items-center")),
            dbc.CardBody(
                # As tall as the graph before its script has loaded too, so the card holds the picture and nothing moves later.
                html.Div([*_preview(ids, picture), dcc.Loading(graph, delay_show=400), dcc.Tooltip(id=ids.tooltip, direction="bottom")],
                         style={"position": "relative", "minHeight": f"{VIEW_HEIGHT_PX}px"}),
                className="p-1",
            ),
        ],
        className="h-100",
    )


def _control(dropdown: dcc.Dropdown, width: bool | str) -> dbc.Col:
    """A view's dropdown in its header, its column as wide and tall as the dropdown will be: a dropdown is drawn once its
    script has loaded, and the header grew then, moving the view and its picture down a row."""
    return dbc.Col(dropdown, width=width, style={"minWidth": dropdown.style["minWidth"], "minHeight": DROPDOWN_HEIGHT})


def mark_previews(layout: Component, default_query: str) -> None:
    """Write on each view's picture the address of the view it pictures (the page's defaults, as ``to_query`` writes them):
    assets/explorer.js shows the pictures only on a page opened there (or with no address), not on a link to another view."""
    for component in layout._traverse():
        if getattr(component, "className", None) == PREVIEW_CLASS:
            setattr(component, "data-query", default_query)


def layout(context: AppContext, pictured: bool = False) -> html.Div:
    """The explorer; ``pictured``: with a picture of each default view to show until it is drawn (app/figures/preview.py)."""
    spaces = ordered_spaces(context)
    space_options = [{"label": space_label(name), "value": name} for name in spaces]
    method_options = [{"label": label, "value": method} for method, label in METHODS.items()]
    continuous = variable_options(context, ("continuous",), short=True)  # two to a narrow header
    default_colour = cohort_spec.AF if cohort_spec.AF in context.variables else None
    cards = []
    for number, ids in enumerate(LATENT_VIEWS):
        default_space = spaces[min(number, len(spaces) - 1)] if spaces else None
        coordinates = context.cached_projection(default_space, ProjectionSpec(method="pca")) if default_space and pictured else None
        cards.append(
            _view_card(
                ids,
                f"Latent view {number + 1}",
                [
                    _control(dcc.Dropdown(id=ids.space, options=space_options, value=default_space, clearable=False,
                                          placeholder="no latent spaces", style={"minWidth": "150px"}), True),
                    _control(dcc.Dropdown(id=ids.method, options=method_options, value="pca", clearable=False, style={"minWidth": "90px"}), "auto"),
                ],
                view_preview(context, coordinates, default_colour, (VIEW_WIDTH_PX, VIEW_HEIGHT_PX)),
            )
        )
    default_x = cohort_spec.AGE if cohort_spec.AGE in context.variables else (continuous[0]["value"] if continuous else None)
    default_y = cohort_spec.LV_MASS if cohort_spec.LV_MASS in context.variables else (continuous[-1]["value"] if continuous else None)
    clinical_coordinates = view_coordinates(context, {"kind": "clinical", "x": default_x, "y": default_y}) if default_x and default_y and pictured else None
    cards.append(
        _view_card(
            CLINICAL_VIEW,
            "Clinical view",
            [
                _control(dcc.Dropdown(id="clinical-x", options=continuous, value=default_x, clearable=False, style={"minWidth": "120px"}), True),
                dbc.Col(html.Span("vs", className="text-muted"), width="auto"),
                _control(dcc.Dropdown(id="clinical-y", options=continuous, value=default_y, clearable=False, style={"minWidth": "120px"}), True),
            ],
            view_preview(context, clinical_coordinates, default_colour, (VIEW_WIDTH_PX, VIEW_HEIGHT_PX)),
        )
    )
    return html.Div(
        [
            dbc.Row(
                [
                    dbc.Col(html.Label("Colour by", htmlFor="colour-by", className="col-form-label fw-semibold"), width="auto"),
                    dbc.Col(dcc.Dropdown(id="colour-by", options=[*variable_options(context), CLUSTER_OPTION], value=default_colour, placeholder="no colour"), md=4),
                    dbc.Col(html.Div(colour_legend(context, default_colour), id="colour-legend", className="small"), width=True),
                    dbc.Col(html.Div(selection_summary(context, [], None), id="selection-summary", className="text-muted small"), width="auto",
                            className="text-end"),
                    dbc.Col(dbc.Button("Clear selection", id="clear-selection", size="sm", color="secondary", outline=True), width="auto"),
                ],
                className="g-2 mb-2 align-items-center",
            ),
            html.Div(id="projection-progress"),
            dbc.Row([dbc.Col(card, lg=4, className="mb-3") for card in cards], className="g-2"),
            *PROJECTION_JOB.components(),
            *[dcc.Store(id=ids.pending) for ids in LATENT_VIEWS],
            dcc.Store(id=PENDING_SEEN, data=[None, None]),  # the projections the latent views last waited for
            *[dcc.Store(id=ids.spec) for ids in VIEWS],  # the figure the server drew, split by colour in the browser
            *[dcc.Store(id=ids.drawn) for ids in VIEWS],  # what each view has drawn (see the package's docstring)
            *[dcc.Store(id=ids.viewport) for ids in VIEWS],
        ]
    )


def progress_bar() -> dbc.Alert:
    """What the page shows while a projection is computed in the background."""
    return dbc.Alert(
        [
            html.Div("Computing a projection; it is cached on disk and will be instant next time.", className="mb-1"),
            dbc.Progress(value=100, striped=True, animated=True, style={"height": "6px"}),
        ],
        color="info",
        className="py-2",
    )
