"""The Decode tab's callbacks: choices, the gate in front of each background decode, and the decodes themselves."""

from __future__ import annotations

import json

import dash
from dash import Input, Output, State, ctx, html

from app.context import AppContext
from app.figures.messages import message_figure
from app.jobs import BackgroundJob, pass_on
from app.panels.decoder.choices import Groups, endpoint_options, subject_choices, with_requested_subject
from app.panels.decoder.model import model_problem, predictor_tasks
from app.panels.decoder.page import DEVICE_PENDING, device_badge, running_note
from app.panels.decoder.requests import check_decode_request
from app.panels.decoder.settings import (
    DECODER_TAB,
    DEFAULT_SUBJECTS,
    DIFFERENCE,
    INTERPOLATION_JOB,
    LATENT_HELP,
    MAX_SUBJECTS,
    OTHER_OPTIONS,
    PERTURB_JOB,
    PREDICTOR_DIRECTION,
    PRINCIPAL_SLIDERS,
    PROTOTYPE_JOB,
    SOURCE_OPTIONS,
    SUBJECT_JOB,
)
from app.panels.decoder.tables import task_label
from app.panels.decoder.views import decode_subjects_view, interpolate_view, perturb_view, prototype_view
from app.panels.shown import is_shown, register_shown, shown_id, shown_inputs, visible_id
from app.state import (
    CURRENT,
    DECODE_SUBJECT,
    REST,
    inputs_key,
    register_saved_cohort_options,
    triggered,
)


def _visible(tab_shown: object, decoder_tab: str | None, wanted: str) -> bool:
    """Whether the Decode tab (its visibility store, app.panels.shown) and its ``wanted`` inner tab are both on screen."""
    return is_shown(tab_shown) and decoder_tab == wanted


def register(app: dash.Dash, context: AppContext) -> None:
    problem = model_problem(context)
    register_shown(app, DECODER_TAB)

    register_saved_cohort_options(app, ("decoder-source", SOURCE_OPTIONS), ("decoder-proto-a", SOURCE_OPTIONS), ("decoder-proto-b", OTHER_OPTIONS))

    @app.callback(
        Output("decoder-subjects", "options"),
        Output("decoder-subjects", "value"),
        Output("decoder-choices-for", "data"),
        Input("decoder-source", "value"),
        Input("decoder-closest", "n_clicks"),
        Input(shown_id(DECODER_TAB), "data"),
        Input(visible_id(DECODER_TAB), "data"),
        Input(DECODE_SUBJECT, "data"),
        State("decoder-choices-for", "data"),
        prevent_initial_call=True,  # hidden on page load: opening the tab sets its visibility store
    )
    def _subject_choices(source, closest, shown, visible, requested, computed_for):
        filters, selection, version = shown_inputs(shown)
        # Hidden: a selection or filter change costs nothing until the tab is opened; opening it again with
        # nothing changed keeps the subjects the user picked (or the one opened from the search box).
        inputs = inputs_key(source, closest, filters, selection, version, requested)
        if not is_shown(visible) or (ctx.triggered_id == visible_id(DECODER_TAB) and inputs == computed_for):
            return dash.no_update, dash.no_update, dash.no_update
        count = MAX_SUBJECTS - 1 if ctx.triggered_id == "decoder-closest" else DEFAULT_SUBJECTS
        options, chosen = subject_choices(context, source, filters, selection, count)
        # A subject opened from the search box: now, or just before this panel first arrived (app.panels.tab_panes: the request
        # came with the click that opened the tab, before the panel was on the page).
        if DECODE_SUBJECT in triggered() or (requested is not None and computed_for is None):
            options, chosen = with_requested_subject(context, options, requested)
        return options, chosen, inputs

    @app.callback(Output("decoder-tabs", "active_tab"), Input(DECODE_SUBJECT, "data"), prevent_initial_call=True)
    def _show_requested_subject(_request):
        return "subjects"

    # In the browser: which chosen subject's recordings are drawn, and the help for the latent. A round trip here held
    # back every decode by one (the decode's request reads the choice): 40-80 ms of the click → drawn.
    app.clientside_callback(
        f"""function (subjects, latent, shown) {{
            const ids = (Array.isArray(subjects) ? subjects : []).slice(0, {MAX_SUBJECTS}).map(String);
            const help = {json.dumps(LATENT_HELP)};
            return [ids.map((id) => ({{ label: id, value: id }})), ids.includes(shown) ? shown : (ids.length ? ids[0] : null),
                    Object.prototype.hasOwnProperty.call(help, latent) ? help[latent] : ""];
        }}""",
        Output("decoder-shown", "options"),
        Output("decoder-shown", "value"),
        Output("decoder-latent-help", "children"),
        Input("decoder-subjects", "value"),
        Input("decoder-latent", "value"),
        State("decoder-shown", "value"),
        prevent_initial_call=True,  # the layout's help fits the default latent; no subjects until the tab is opened
    )

    @app.callback(
        Output("decoder-perturb-start", "options"),
        Output("decoder-interp-from", "options"),
        Output("decoder-interp-to", "options"),
        Input("decoder-subjects", "value"),
        prevent_initial_call=True,  # the layout offers the prototypes and everyone's mean until subjects are chosen
    )
    def _endpoint_choices(subject_ids):
        options = endpoint_options([str(s) for s in subject_ids or []][:MAX_SUBJECTS])
        return options, options, options

    if problem is None:  # the badge is on the page only when there is a model to decode with
        # When the tab is opened, until the badge says where: not on each change of the cohort the tab shows (a request
        # per selection while the tab was open, 108 in a 20-user load run).
        @app.callback(Output("decoder-device", "children"), Input(visible_id(DECODER_TAB), "data"), State("decoder-device", "children"),
                      prevent_initial_call=True)
        def _device(visible, badge):
            return device_badge(context.config.device) if is_shown(visible) and badge == DEVICE_PENDING else dash.no_update

    @app.callback(Output("decoder-direction", "options"), Input("decoder-perturb-space", "value"))
    def _direction_choices(space):
        options = [{"label": "Cohort difference: mean of A − mean of B (prototypes tab)", "value": DIFFERENCE}]
        if problem is None:
            options += [{"label": f"↑ {task_label(context, task)} predictor", "value": f"{PREDICTOR_DIRECTION}{task}"} for task in predictor_tasks(context, space)]
        return options

    @app.callback(
        *[Output(f"decoder-pc-{i}", "value") for i in range(PRINCIPAL_SLIDERS)],
        Output("decoder-direction-amount", "value"),
        Input("decoder-perturb-reset", "n_clicks"),
        prevent_initial_call=True,
    )
    def _reset(_clicks):
        return [0] * (PRINCIPAL_SLIDERS + 1)

    def gate(job: BackgroundJob, tab: str, settings: dict) -> None:
        """Pass the decode request on only while its Decode tab is shown (see app.jobs.pass_on), once every value is checked.

        Cohorts A and B are checked as this user here, and again by the job, as the requester.
        """
        pass_on(app, job, settings, [Input(visible_id(DECODER_TAB), "data"), Input("decoder-tabs", "active_tab")],
                visible=lambda tab_shown, decoder_tab: problem is None and _visible(tab_shown, decoder_tab, tab),
                check=lambda request: check_decode_request(context, request))

    def groups_of(request: dict) -> Groups:
        filters, selection, _ = shown_inputs(request.get("cohort"))
        return Groups(request.get("a", CURRENT), request.get("b", REST), request.get("kind") or "mean", tuple(filters or ()), selection)

    gate(SUBJECT_JOB, "subjects", {"subjects": Input("decoder-subjects", "value"), "latent": Input("decoder-latent", "value"),
                                   "shown": Input("decoder-shown", "value")})
    SUBJECT_JOB.register(
        app, lambda request, _progress: decode_subjects_view(context, request["subjects"], request["latent"] or "joint", request["shown"]).outputs(),
        outputs=[Output("decoder-ecg", "figure"), Output("decoder-ecg-median", "figure"), Output("decoder-mri", "figure"),
                 Output("decoder-agreement", "figure"), Output("decoder-subject-table", "children"), Output("decoder-subject-status", "children")],
        running=[(Output("decoder-subject-progress", "children"), running_note("Decoding the chosen subjects…"), None)],
    )

    gate(PROTOTYPE_JOB, "prototypes", {"a": Input("decoder-proto-a", "value"), "b": Input("decoder-proto-b", "value"),
                                       "kind": Input("decoder-proto-kind", "value"), "space": Input("decoder-proto-space", "value"),
                                       "cohort": Input(shown_id(DECODER_TAB), "data")})
    PROTOTYPE_JOB.register(
        app, lambda request, _progress: prototype_view(context, groups_of(request), request["space"] or "joint").outputs(),
        outputs=[Output("decoder-proto-ecg", "figure"), Output("decoder-proto-mri", "figure"), Output("decoder-proto-table", "children"),
                 Output("decoder-proto-status", "children")],
        running=[(Output("decoder-proto-progress", "children"), running_note("Decoding the prototypes…"), None)],
    )

    groups = {"a": State("decoder-proto-a", "value"), "b": State("decoder-proto-b", "value"), "kind": State("decoder-proto-kind", "value"),
              "cohort": State(shown_id(DECODER_TAB), "data")}
    gate(PERTURB_JOB, "perturb", {"start": Input("decoder-perturb-start", "value"), "space": Input("decoder-perturb-space", "value"),
                                  **{f"pc{i}": Input(f"decoder-pc-{i}", "value") for i in range(PRINCIPAL_SLIDERS)},
                                  "direction": Input("decoder-direction", "value"), "amount": Input("decoder-direction-amount", "value"),
                                  **groups})

    def _decode_perturbation(request: dict, _progress) -> tuple:
        pcs = [request.get(f"pc{i}") for i in range(PRINCIPAL_SLIDERS)]
        try:
            return perturb_view(context, request["start"] or "proto-a", request["space"] or "joint", pcs, request["direction"], request["amount"],
                                groups_of(request)).outputs()
        except (ValueError, KeyError) as error:
            return message_figure(str(error)), message_figure(str(error)), html.Div(), ""

    PERTURB_JOB.register(
        app, _decode_perturbation,
        outputs=[Output("decoder-perturb-ecg", "figure"), Output("decoder-perturb-mri", "figure"), Output("decoder-perturb-table", "children"),
                 Output("decoder-perturb-status", "children")],
        running=[(Output("decoder-perturb-progress", "children"), running_note("Decoding the perturbed latent…"), None)],
    )

    gate(INTERPOLATION_JOB, "interpolate", {"run": Input("decoder-interp-run", "n_clicks"), "start": Input("decoder-interp-from", "value"),
                                            "end": Input("decoder-interp-to", "value"), "space": Input("decoder-interp-space", "value"),
                                            "steps": Input("decoder-interp-steps", "value"), "lead": Input("decoder-interp-lead", "value"),
                                            **groups})

    def _decode_interpolation(request: dict, set_progress) -> tuple:
        try:
            return interpolate_view(context, request["start"] or "proto-a", request["end"] or "proto-b", request["space"] or "joint",
                                    request["steps"] or 5, request["lead"] or "V5", groups_of(request),
                                    progress=lambda percent, text: set_progress((percent, text))).outputs()
        except (ValueError, KeyError) as error:
            return message_figure(str(error)), message_figure(""), html.Div(), ""

    INTERPOLATION_JOB.register(
        app, _decode_interpolation,
        outputs=[Output("decoder-interp-strip", "figure"), Output("decoder-interp-predictions", "figure"),
                 Output("decoder-interp-change", "children"), Output("decoder-interp-status", "children")],
        progress=[Output("decoder-interp-bar", "value"), Output("decoder-interp-bar", "label")],
        running=[(Output("decoder-interp-progress", "style"), {"display": "block"}, {"display": "none"}),
                 (Output("decoder-interp-run", "disabled"), True, False)],
    )
