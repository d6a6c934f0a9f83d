"""The Decode tab's layout: one sub-tab per view, with its controls, graphs and progress notes."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from app.context import AppContext
from app.figures.messages import message_figure
from app.panels.decoder.choices import endpoint_options
from app.panels.decoder.model import expected_device, model_problem
from app.panels.decoder.settings import (
    DECODER_TAB,
    GRAPH_CONFIG,
    INTERPOLATION_JOB,
    INTERPOLATION_STEPS,
    LATENT_HELP,
    MAX_SUBJECTS,
    OTHER_OPTIONS,
    PERTURB_JOB,
    PRINCIPAL_SLIDERS,
    PROTOTYPE_JOB,
    PROTOTYPE_KINDS,
    SLIDER_SD,
    SOURCE_OPTIONS,
    SPACES,
    SUBJECT_JOB,
)
from app.panels.shown import shown_store
from app.state import (
    CURRENT,
    REST,
    SPACE_LABELS,
)


def _labelled(label: str, control, width: int | str = True, help_text: str | None = None) -> dbc.Col:
    children = [html.Label(label, htmlFor=control.id, className="small fw-semibold mb-0"), control]
    if help_text:
        children.append(html.Div(help_text, className="form-text small"))
    return dbc.Col(children, md=width if isinstance(width, int) else None, width=None if isinstance(width, int) else width)


def _graph(graph_id: str, height: int) -> dcc.Loading:
    return dcc.Loading(dcc.Graph(id=graph_id, config=GRAPH_CONFIG, figure=message_figure(""), style={"height": f"{height}px"}), delay_show=500)


def running_note(text: str) -> dbc.Alert:
    return dbc.Alert([html.Div(text, className="mb-1 small"), dbc.Progress(value=100, striped=True, animated=True, style={"height": "5px"})],
                     color="info", className="py-2 mb-2")


def _space_radio(radio_id: str, value: str = "joint") -> dbc.RadioItems:
    return dbc.RadioItems(id=radio_id, options=[{"label": SPACE_LABELS[s], "value": s} for s in SPACES], value=value, inline=True, className="small")


def _subjects_tab() -> html.Div:
    return html.Div(
        [
            dbc.Row(
                [
                    _labelled("Subjects from", dcc.Dropdown(id="decoder-source", options=list(SOURCE_OPTIONS), value=CURRENT, clearable=False), 3),
                    _labelled(f"Subjects (up to {MAX_SUBJECTS})", dcc.Dropdown(id="decoder-subjects", multi=True, placeholder="type or pick subject ids"), 5,
                              help_text="Lasso subjects in Explore: the two nearest the selection's centre are decoded first."),
                    dbc.Col(dbc.Button("Closest to the centre", id="decoder-closest", size="sm", color="secondary", outline=True,
                                       title="The subjects whose latents lie nearest the source's mean"), width="auto", className="align-self-end"),
                ],
                className="g-2 mb-2",
            ),
            dbc.Row(
                [
                    dbc.Col([html.Div("Decode from the latent of", className="small fw-semibold"), _space_radio("decoder-latent"),
                             html.Div(LATENT_HELP["joint"], id="decoder-latent-help", className="form-text small")], md=7),
                    dbc.Col([html.Div("Show", className="small fw-semibold"), dbc.RadioItems(id="decoder-shown", inline=True, className="small")], md=5),
                ],
                className="g-2 mb-2",
            ),
            html.Div(id="decoder-subject-progress"),
            html.Div(id="decoder-subject-status", className="mb-1"),
            html.Div(id="decoder-subject-table", className="mb-2 decoder-table"),
            _graph("decoder-ecg", 780),
            dbc.Row([dbc.Col(_graph("decoder-ecg-median", 610), lg=7), dbc.Col(_graph("decoder-agreement", 380), lg=5)], className="g-2"),
            _graph("decoder-mri", 420),
        ]
    )


def _help(text: str) -> html.P:
    return html.P(text, className="text-muted small mb-2")


def _prototypes_tab() -> html.Div:
    return html.Div(
        [
            _help("A prototype is the decoded mean latent (or the medoid subject's) of a cohort: what the model thinks a typical heart of "
                  "that cohort looks like. Save cohorts in the sidebar to compare them, e.g. atrial fibrillation against everyone else."),
            dbc.Row(
                [
                    _labelled("Cohort A", dcc.Dropdown(id="decoder-proto-a", options=list(SOURCE_OPTIONS), value=CURRENT, clearable=False), 3),
                    _labelled("Cohort B", dcc.Dropdown(id="decoder-proto-b", options=list(OTHER_OPTIONS), value=REST, clearable=False), 3),
                    dbc.Col([html.Div("Prototype", className="small fw-semibold"),
                             dbc.RadioItems(id="decoder-proto-kind", options=[{"label": label, "value": kind} for kind, label in PROTOTYPE_KINDS.items()],
                                            value="mean", inline=True, className="small")], md=3),
                    dbc.Col([html.Div("Space", className="small fw-semibold"), _space_radio("decoder-proto-space")], md=3),
                ],
                className="g-2 mb-2",
            ),
            *_decoded_views({"progress": "decoder-proto-progress", "status": "decoder-proto-status", "ecg": "decoder-proto-ecg",
                             "table": "decoder-proto-table", "mri": "decoder-proto-mri"}, "What changed from B to A"),
        ]
    )


def _decoded_views(ids: dict[str, str], table_title: str) -> list:
    """Progress, status, the 12-lead ECG, the cine and a predictor table: what the prototype and perturbation tabs show."""
    return [
        html.Div(id=ids["progress"]),
        html.Div(id=ids["status"], className="mb-1"),
        dbc.Row([dbc.Col(_graph(ids["ecg"], 810), lg=8),
                 dbc.Col([html.Div(table_title, className="small fw-semibold mb-1"), html.Div(id=ids["table"])], lg=4)],
                className="g-2"),
        _graph(ids["mri"], 420),
    ]


def _slider(slider_id: str) -> dcc.Slider:
    return dcc.Slider(id=slider_id, min=-SLIDER_SD, max=SLIDER_SD, step=0.25, value=0,
                      marks={v: f"{v:+d}" if v else "0" for v in range(-SLIDER_SD, SLIDER_SD + 1)},
                      tooltip={"placement": "bottom", "always_visible": False}, updatemode="mouseup")


def _perturb_tab() -> html.Div:
    principal = [dbc.Col([html.Label(f"PC {i + 1} (SD)", htmlFor=f"decoder-pc-{i}", className="small fw-semibold"), _slider(f"decoder-pc-{i}")], md=4)
                 for i in range(PRINCIPAL_SLIDERS)]
    return html.Div(
        [
            _help("Move a prototype or a subject through the latent space and decode it live: along the space's principal components, "
                  "along a predictor's direction (its prediction rises that way) or from cohort B's mean towards A's. "
                  "Amounts are in standard deviations of the population along each direction."),
            dbc.Row(
                [
                    _labelled("Start from", dcc.Dropdown(id="decoder-perturb-start", options=endpoint_options([]), value="proto-a", clearable=False), 4),
                    dbc.Col([html.Div("Space", className="small fw-semibold"), _space_radio("decoder-perturb-space")], md=5),
                    dbc.Col(dbc.Button("Reset sliders", id="decoder-perturb-reset", size="sm", color="secondary", outline=True), width="auto",
                            className="align-self-end"),
                ],
                className="g-2 mb-2",
            ),
            dbc.Row(principal, className="g-2"),
            dbc.Row(
                [
                    _labelled("Along", dcc.Dropdown(id="decoder-direction", clearable=True, placeholder="a predictor's direction, or A − B"), 4),
                    dbc.Col([html.Label("Amount (population SDs along it)", htmlFor="decoder-direction-amount", className="small fw-semibold"),
                             _slider("decoder-direction-amount")], md=8),
                ],
                className="g-2 mb-2",
            ),
            *_decoded_views({"progress": "decoder-perturb-progress", "status": "decoder-perturb-status", "ecg": "decoder-perturb-ecg",
                             "table": "decoder-perturb-table", "mri": "decoder-perturb-mri"}, "What changed: perturbed (A) − start (B)"),
        ]
    )


def _interpolate_tab(context: AppContext) -> html.Div:
    leads = list(context.cohort.ecg_leads) if context.cohort.has_ecg else []
    return html.Div(
        [
            _help("A straight path between two prototypes or subjects, decoded at every step: the chosen lead's beat (the other steps' "
                  "beats faintly behind it), the cine at end-diastole and end-systole, where the end-diastolic image has grown brighter (red) or "
                  "darker (blue) since the start, and each predictor's output along the path."),
            dbc.Row(
                [
                    _labelled("From", dcc.Dropdown(id="decoder-interp-from", options=endpoint_options([]), value="proto-a", clearable=False), 3),
                    _labelled("To", dcc.Dropdown(id="decoder-interp-to", options=endpoint_options([]), value="proto-b", clearable=False), 3),
                    dbc.Col([html.Div("Space", className="small fw-semibold"), _space_radio("decoder-interp-space")], md=3),
                    _labelled("ECG lead shown", dcc.Dropdown(id="decoder-interp-lead", options=leads, value="V5" if "V5" in leads else (leads[0] if leads else None),
                                                             clearable=False), 3),
                ],
                className="g-2 mb-2",
            ),
            dbc.Row(
                [
                    dbc.Col([html.Label("Steps", htmlFor="decoder-interp-steps", className="small fw-semibold"),
                             dcc.Slider(id="decoder-interp-steps", min=INTERPOLATION_STEPS[0], max=INTERPOLATION_STEPS[1], step=1, value=5,
                                        marks={v: str(v) for v in range(INTERPOLATION_STEPS[0], INTERPOLATION_STEPS[1] + 1)})], md=4),
                    dbc.Col(dbc.Button("Decode again", id="decoder-interp-run", color="primary", size="sm",
                                       title="Decode the path again from the prototypes as they are now"), width="auto", className="align-self-center"),
                    dbc.Col(html.Div(id="decoder-interp-run-help", className="form-text small mt-0",
                                     children="The path is decoded again by itself when From, To, the space, the steps or the lead change. "
                                              "Prototype endpoints use the cohorts chosen on the Cohort prototypes tab and the current filters "
                                              "and selection as they were then: after changing those, press Decode again."),
                            className="align-self-center"),
                ],
                className="g-2 mb-2",
            ),
            html.Div(dbc.Progress(id="decoder-interp-bar", value=0, label="", style={"height": "18px"}), id="decoder-interp-progress",
                     style={"display": "none"}, className="mb-2"),
            html.Div(id="decoder-interp-status", className="mb-1"),
            _graph("decoder-interp-strip", 640),
            html.Div("Each predictor's output along the path, and the LV fractional area change measured on each decoded cine",
                     className="small fw-semibold mt-2"),
            _graph("decoder-interp-predictions", 220),
            html.Div(id="decoder-interp-change", className="mt-2 decoder-table"),
        ]
    )


DEVICE_PENDING = "Decoding on …"  # the badge until the Decode tab is first opened


def device_badge(device_setting: str) -> str:
    """Where decodes run, for the badge: asked of torch (CUDA present?), so only once the Decode tab is opened."""
    device = expected_device(device_setting)
    return f"Decoding on {device}" + (" (no CUDA GPU found)" if device == "CPU" else "")


def _device_line(problem: str | None) -> html.Div:
    if problem:
        return dbc.Alert(problem, color="warning", className="py-2")
    return html.Div([dbc.Badge(DEVICE_PENDING, color="info", className="me-2", id="decoder-device"),
                     html.Span("the model is loaded once per process (at start, or by a worker's first decode) · each view says how long its decode took",
                               className="text-muted small")],
                    className="mb-2")


def layout(context: AppContext) -> html.Div:
    problem = model_problem(context)
    return html.Div(
        [
            _device_line(problem),
            # With nothing to decode with, the problem alone: controls that could never answer only invite clicks (their
            # callbacks still find every component).
            html.Div(
                dbc.Tabs(
                    [
                        dbc.Tab(_subjects_tab(), label="Subjects", tab_id="subjects"),
                        dbc.Tab(_prototypes_tab(), label="Cohort prototypes", tab_id="prototypes"),
                        dbc.Tab(_perturb_tab(), label="Perturb", tab_id="perturb"),
                        dbc.Tab(_interpolate_tab(context), label="Interpolate", tab_id="interpolate"),
                    ],
                    id="decoder-tabs",
                    active_tab="subjects",
                    className="mb-2",
                ),
                id="decoder-body",
                hidden=problem is not None,
            ),
            *[part for job in (SUBJECT_JOB, PROTOTYPE_JOB, PERTURB_JOB, INTERPOLATION_JOB) for part in job.components()],
            dcc.Store(id="decoder-choices-for"),  # what the subject choices were last computed for
            shown_store(DECODER_TAB),  # the current cohort, followed while the tab is shown (app.panels.shown)
        ],
        id="decoder-panel",
    )
