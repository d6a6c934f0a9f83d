"""The background run's progress in the page: a navbar badge, and the tabs that wait for the model.

The badge polls the run's status file every 2 s (a file read, no computation) and stops polling
once the run has ended. When a run that changed the model finishes, the poll asks the server for an
app built on the updated cohort (``TrainingWatch.on_ready``) and the page reloads itself into it.
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Input, Output, dcc, html

from app.training import TrainingWatch
from models.run_status import RunStatus

POLL_MS = 2000
PROGRESS_IDS = ("training-progress-decoder", "training-progress-accuracy", "training-progress-compare-spaces")
BADGE_COLOURS = {"running": "warning", "ready": "success", "failed": "danger"}


def training_badge() -> list:
    return [
        dbc.Badge("Model · checking…", id="training-badge", color="secondary", className="ms-auto fs-6 fw-normal", pill=True),
        dcc.Interval(id="training-poll", interval=POLL_MS),
        dcc.Store(id="training-reload"),
    ]


def training_placeholder(progress_id: str) -> html.Div:
    return html.Div(
        [
            html.H5("The model is being trained", className="mt-3"),
            html.P(
                "This tab needs the cross-modal model, which is training in the background on this machine. "
                "Explore the cohort in the raw-signal baseline space meanwhile (the run computes it first, in about a minute); "
                "this tab appears by itself when the model is ready.",
                className="text-muted",
            ),
            dbc.Progress(id=progress_id, value=0, striped=True, animated=True, label="", style={"height": "22px", "maxWidth": "640px"}),
        ],
        className="p-3",
    )


def status_view(status: RunStatus | None) -> tuple[str, str, int, str, bool]:
    """Badge text and colour, progress percent and label, and whether polling can stop, for a run's status."""
    if status is None:
        return "Model · Starting…", "secondary", 0, "", False
    text = status.describe()
    percent = round(100 * status.fraction) if status.state == "running" else 100
    return f"Model · {text}", BADGE_COLOURS[status.state], percent, text, status.state != "running"


def should_reload(status: RunStatus | None, waiting: bool, spaces_pending: bool) -> bool:
    """Whether the served app is out of date: the model it waits for is ready (or a run changed it), or its first space is written."""
    if status is None:
        return False
    return (status.state == "ready" and (waiting or status.changed)) or (spaces_pending and status.baseline_done)


def register_training_status(app, training: TrainingWatch, waiting: bool, spaces_pending: bool = False) -> None:
    """Poll the run's status; ask for a new app (and reload the page) when the model, or the first space, is there.

    ``spaces_pending``: this app was built before the cohort had any space; the run's baseline stage
    writes one, and the page moves to an app that shows it without waiting for the model.
    """
    outputs = [Output("training-badge", "children"), Output("training-badge", "color"), Output("training-poll", "disabled"),
               Output("training-reload", "data")]
    if waiting:
        outputs += [Output(progress_id, prop) for progress_id in PROGRESS_IDS for prop in ("value", "label")]

    @app.callback(*outputs, Input("training-poll", "n_intervals"))
    def show_status(_ticks):
        status = training.status()
        badge, colour, percent, label, finished = status_view(status)
        reload = False
        if should_reload(status, waiting, spaces_pending):
            training.on_ready()
            reload = True
        values = [badge, colour, finished, reload]
        if waiting:
            values += [percent, label] * len(PROGRESS_IDS)
        return values

    app.clientside_callback(
        "function(reload) { if (reload) { window.location.reload(); } return window.dash_clientside.no_update; }",
        Output("training-reload", "id"),
        Input("training-reload", "data"),
    )
