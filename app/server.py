"""The Dash app factory: tests, ``python -m app`` and gunicorn build the app the same way."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import html

from app.config import AppConfig
from app.context import AppContext
from app.core.modalities import missing_modalities_note
from app.core.summary import variable_summary
from app.panels import accuracy, cohorts, compare_cohorts, compare_spaces, decoder, explorer
from app.panels.training_status import register_training_status, training_badge, training_placeholder
from app.state import stores
from app.training import MODEL_SPACES, TrainingWatch
from data_loaders import Cohort, load_cohort

PANELS = (explorer, cohorts, compare_cohorts, decoder, accuracy, compare_spaces)
MODEL_PANELS = (decoder, accuracy, compare_spaces)  # need the model's spaces: replaced by its training progress until they exist


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


def create_app(config: AppConfig, cohort: Cohort | None = None, manager=None, training: TrainingWatch | None = None) -> dash.Dash:
    """Build the app for a cohort (loaded from ``config`` unless given, e.g. by tests).

    With ``training`` (a background run is making the model), the tabs that need the model show its
    progress instead of their panels until the run is done.
    """
    context = AppContext(config, cohort or load_cohort(config.resolved_cohort_dir))
    app = dash.Dash(
        __name__,
        title="Latent Space Explorer",
        # Bootstrap (Bootswatch Flatly) is served from assets/: clinical networks often have no CDN access.
        assets_folder=str(config.assets_dir),
        background_callback_manager=manager or background_manager(config),
    )
    waiting = training is not None and not all(space in context.cohort.spaces for space in MODEL_SPACES)
    app.layout = page_layout(context, training, waiting)
    for panel in PANELS:
        if not (waiting and panel in MODEL_PANELS):
            panel.register(app, context)
    if training is not None:
        register_training_status(app, training, waiting)
    return app


def page_layout(context: AppContext, training: TrainingWatch | None = None, waiting: bool = False) -> html.Div:
    cohort = context.cohort
    facts = f"{context.n_subjects:,} subjects · {len(cohort.variables)} variables · spaces: {', '.join(cohort.spaces) or 'none yet'}"
    missing = missing_modalities_note(cohort.ecg_present, cohort.mri_present, cohort.has_ecg, cohort.has_mri)
    summary = variable_summary(cohort.phenotypes, cohort.variables)
    return html.Div(
        [
            dbc.Navbar(
                dbc.Container(
                    [
                        dbc.NavbarBrand("Latent Space Explorer", className="fw-bold"),
                        html.Span(cohort.name, className="navbar-text text-white-50 small", id="cohort-title"),
                        *(training_badge() if training is not None else []),
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
                                    dbc.Tab(training_placeholder("training-progress-decoder") if waiting else decoder.layout(context),
                                            label="Decode", tab_id="decoder"),
                                    dbc.Tab(training_placeholder("training-progress-accuracy") if waiting else accuracy.layout(context),
                                            label="Accuracy", tab_id="accuracy"),
                                    dbc.Tab(training_placeholder("training-progress-compare-spaces") if waiting else compare_spaces.layout(context),
                                            label="Compare spaces", tab_id="compare-spaces"),
                                    dbc.Tab(
                                        html.Div(
                                            [
                                                html.P(facts, className="text-muted mt-2", id="cohort-facts"),
                                                *([dbc.Alert(missing, color="info", className="py-2 small", id="cohort-missing-modalities")] if missing else []),
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
