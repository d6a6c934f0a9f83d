"""What a decode request may hold: every value checked against the Decode tab's own choices before a job is queued.

A request reaches the server from the browser, so a hand-made one could ask for 10⁹ interpolation
steps, a space or lead that does not exist, or a subject by a negative index. Each value is checked
here, in the request, and refused with a message in the page; nothing is coerced (``"5"`` is not 5).
"""

from __future__ import annotations

from app import validation
from app.context import AppContext
from app.panels.decoder.settings import (
    DIFFERENCE,
    INTERPOLATION_STEPS,
    MAX_SUBJECTS,
    PREDICTOR_DIRECTION,
    PRINCIPAL_SLIDERS,
    PROTOTYPE_KINDS,
    SLIDER_SD,
    SPACES,
    SUBJECT_ENDPOINT,
)
from app.panels.shown import shown_inputs
from app.state import EVERYONE, check_choice, highlight_mask, named_subject_row

FIXED_ENDPOINTS = ("proto-a", "proto-b", EVERYONE)
MAX_CLICKS = 10**9


def check_endpoint(endpoint: object, context: AppContext, what: str) -> None:
    """A prototype, everyone's mean or ``subject:<id>`` of a subject of this cohort."""
    endpoint = validation.text(endpoint, what, 300)
    if endpoint in FIXED_ENDPOINTS:
        return
    if not endpoint.startswith(SUBJECT_ENDPOINT):
        raise validation.InputRefused(f"{what}: expected prototype A or B, everyone's mean or a subject, got {endpoint[:60]!r}")
    named_subject_row(context, endpoint.removeprefix(SUBJECT_ENDPOINT), what)


def check_direction(direction: object) -> None:
    """The cohort difference or a predictor's direction (an unknown predictor is then simply not offered a move)."""
    direction = validation.text(direction, "direction", 200)
    if direction != DIFFERENCE and not direction.startswith(PREDICTOR_DIRECTION):
        raise validation.InputRefused(f"direction: expected the cohort difference or a predictor's, got {direction[:60]!r}")


REQUEST_KEYS = frozenset({"a", "b", "kind", "space", "cohort", "subjects", "latent", "shown", "start", "end", "amount", "direction", "steps", "lead", "run",
                          *(f"pc{i}" for i in range(PRINCIPAL_SLIDERS))})


def check_decode_request(context: AppContext, request: dict) -> None:
    """Refuse (``InputRefused``) any value of a decode request the Decode tab never offers; None means "not chosen yet"."""
    optional = validation.optional
    unknown = sorted(str(key) for key in set(request) - REQUEST_KEYS)
    if unknown:
        raise validation.InputRefused(f"decode request: unknown settings {unknown[:5]}")
    for group in ("a", "b"):
        if group in request:
            check_choice(context, request[group], f"cohort {group.upper()}")
    if "cohort" in request:  # the tab's view of the current cohort (app.panels.shown)
        filters, selection, _ = shown_inputs(request["cohort"])
        highlight_mask(context, filters, selection)  # refuses unknown variables, rows out of range
    optional(validation.choice, request.get("kind"), tuple(PROTOTYPE_KINDS), "prototype")
    for key in ("latent", "space"):
        optional(validation.choice, request.get(key), SPACES, key)
    if request.get("subjects") is not None:
        subjects = request["subjects"]
        if not isinstance(subjects, list) or len(subjects) > MAX_SUBJECTS:
            raise validation.InputRefused(f"subjects: expected a list of at most {MAX_SUBJECTS} subject ids")
        for subject in subjects:
            named_subject_row(context, subject)
    optional(validation.text, request.get("shown"), "shown subject", 200)
    for key in ("start", "end"):
        optional(check_endpoint, request.get(key), context, key)
    for key in [f"pc{i}" for i in range(PRINCIPAL_SLIDERS)] + ["amount"]:
        optional(validation.number, request.get(key), key, -SLIDER_SD, SLIDER_SD)
    optional(check_direction, request.get("direction"))
    optional(validation.integer, request.get("steps"), "interpolation steps", *INTERPOLATION_STEPS)
    optional(validation.choice, request.get("lead"), tuple(context.cohort.ecg_leads), "ECG lead")
    optional(validation.integer, request.get("run"), "clicks", 0, MAX_CLICKS)
