"""The Dash app factory: tests, ``python -m app`` and gunicorn build the app the same way."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import html

from app.config import AppConfig
from app.context import AppContext
from app.core.summary import variable_summary
from app.panels import accuracy, cohorts, compare_cohorts, compare_spaces, decoder, explorer
from app.state import stores
from data_loaders import Cohort, load_cohort

PANELS = (explorer, cohorts, compare_cohorts, decoder, accuracy, compare_spaces)


def make_celery(broker: str):
    """The Celery app that runs background callbacks when several workers serve the explorer."""
    from celery import Celery

    return Celery("latent_space_explorer", broker=broker, backend=broker)


def background_manager(config: AppConfig, celery_app=None) -> dash.DiskcacheManager | dash.CeleryManager:
    """A disk cache for one machine; Celery + Redis when a broker is configured (several workers)."""
    if config.celery_broker:
        return dash.CeleryManager(celery_app or make_celery(config.celery_broker))
    import diskcache

    return dash.DiskcacheManager(diskcache.Cache(str(config.cache_dir / "background-callbacks")))


def create_app(config: AppConfig, cohort: Cohort | None = None, manager=None) -> dash.Dash:
    """Build the app for a cohort (loaded from ``config`` unless given, e.g. by tests)."""
    context = AppContext(config, cohort or load_cohort(config.resolved_cohort_dir))
    app = dash.Dash(
        __name__,
        title="Latent Space Explorer",
        # Bootstrap (Bootswatch Flatly) is served from assets/: clinical networks often have no CDN access.
        assets_folder=str(config.assets_dir),
        background_callback_manager=manager or background_manager(config),
    )
    app.layout = page_layout(context)
    for panel in PANELS:
        panel.register(app, context)
    return app


def page_layout(context: AppContext) -> html.Div:
    cohort = context.cohort
    facts = f"{context.n_subjects:,} subjects · {len(cohort.variables)} variables · spaces: {', '.join(cohort.spaces) or 'none yet'}"
    summary = variable_summary(cohort.phenotypes, cohort.variables)
    return html.Div(
        [
            dbc.Navbar(
                dbc.Container(
                    [
                        dbc.NavbarBrand("Latent Space Explorer", className="fw-bold"),
                        html.Span(cohort.name, className="navbar-text text-white-50 small", id="cohort-title"),
                    ],
                    fluid=True,
                ),
                color="primary",
                dark=True,
                className="mb-3",
            ),
            dbc.Container(
                dbc.Row(
                    [
                        dbc.Col(cohorts.layout(context), lg=3, className="mb-3", id="sidebar"),
                        dbc.Col(
                            dbc.Tabs(
                                [
                                    dbc.Tab(explorer.layout(context), label="Explore", tab_id="explore"),
                                    dbc.Tab(compare_cohorts.layout(context), label="Compare cohorts", tab_id="compare-cohorts"),
                                    dbc.Tab(decoder.layout(context), label="Decode", tab_id="decoder"),
                                    dbc.Tab(accuracy.layout(context), label="Accuracy", tab_id="accuracy"),
                                    dbc.Tab(compare_spaces.layout(context), label="Compare spaces", tab_id="compare-spaces"),
                                    dbc.Tab(
                                        html.Div(
                                            [
                                                html.P(facts, className="text-muted mt-2", id="cohort-facts"),
                                                dbc.Table.from_dataframe(summary, striped=True, hover=True, size="sm", id="variable-table"),
                                            ]
                                        ),
                                        label="Variables",
                                        tab_id="variables",
                                    ),
                                ],
                                id="main-tabs",
                                active_tab="explore",
                                className="mb-2",
                            ),
                            lg=9,
                        ),
                    ]
                ),
                fluid=True,
            ),
            *stores(),
        ]
    )
