"""Which subjects and which latents the views decode: subject choices, cohort groups A and B, interpolation endpoints."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app import validation
from app.context import AppContext
from app.core import decoding
from app.panels.decoder.settings import DEFAULT_SUBJECTS, SUBJECT_ENDPOINT, SUBJECT_OPTIONS
from app.state import (
    CURRENT,
    EVERYONE,
    REST,
    resolve_choice,
    subject_row,
)


def subject_choices(context: AppContext, source: str | int | None, filters: list | None, selection: dict | None,
                    count: int = DEFAULT_SUBJECTS) -> tuple[list[dict], list[str]]:
    """Dropdown options for a source's subjects, nearest its centre (joint space) first, and the ``count`` nearest."""
    rows = np.flatnonzero(resolve_choice(context, source, filters, selection))
    space = context.cohort.spaces.get("joint")
    ordered = decoding.closest_to_centre(space, rows, SUBJECT_OPTIONS) if space is not None else rows[:SUBJECT_OPTIONS]
    ids = context.cohort.subject_ids[ordered].astype(str)
    options = [{"label": subject, "value": subject} for subject in ids]
    return options, list(ids[:count])


def with_requested_subject(context: AppContext, options: list[dict], request: object) -> tuple[list[dict], list[str]]:
    """The dropdown's options and value when "Open in Decode" asks for one subject: that subject, listed first."""
    row = subject_row(context, request.get("subject") if isinstance(request, dict) else None)
    if row is None:
        raise validation.InputRefused("Open in Decode: the request names no subject")
    subject = str(context.cohort.subject_ids[row])
    return [{"label": subject, "value": subject}, *(option for option in options if option["value"] != subject)], [subject]


def subject_rows(context: AppContext, subject_ids: Sequence[str]) -> np.ndarray:
    rows = context.cohort.subject_ids.get_indexer([str(s) for s in subject_ids])
    if (rows < 0).any():
        raise KeyError(f"unknown subject ids: {[s for s, r in zip(subject_ids, rows) if r < 0]}")
    return rows


@dataclass(frozen=True)
class Groups:
    """What "prototype A" and "prototype B" mean now: the prototype tab's choices and the current cohort."""

    a: str | int | None = CURRENT
    b: str | int | None = REST
    kind: str = "mean"
    filters: tuple = ()
    selection: dict | None = None

    def masks(self, context: AppContext) -> tuple[np.ndarray, np.ndarray]:
        mask_a = resolve_choice(context, self.a, list(self.filters), self.selection)
        mask_b = resolve_choice(context, self.b, list(self.filters), self.selection, other=mask_a)
        return mask_a, mask_b


def group_label(context: AppContext, choice: str | int | None, saved_names: dict[int, str] | None = None) -> str:
    if choice in (CURRENT, None):
        return "current cohort"
    if choice == REST:
        return "everyone else"
    if choice == EVERYONE:
        return "everyone"
    names = saved_names if saved_names is not None else {saved.id: saved.label for saved in context.store.list()}
    return names.get(choice, f"cohort {choice}")


def endpoint_latent(context: AppContext, endpoint: str, space: str, groups: Groups) -> tuple[np.ndarray, str]:
    """The latent (and a label) of an interpolation or perturbation endpoint: a prototype, everyone's mean or a subject."""
    latents = context.cohort.spaces[space]
    if endpoint in ("proto-a", "proto-b"):
        mask_a, mask_b = groups.masks(context)
        mask, choice = (mask_a, groups.a) if endpoint == "proto-a" else (mask_b, groups.b)
        if not mask.any():
            raise ValueError(f"{'Cohort A' if endpoint == 'proto-a' else 'Cohort B'} ({group_label(context, choice)}) is empty: "
                             "lasso subjects in the explorer or choose other cohorts on the prototypes tab")
        return decoding.cohort_prototype(latents, mask, groups.kind), f"{groups.kind} of {group_label(context, choice)}"
    if endpoint == EVERYONE:
        return decoding.cohort_prototype(latents, np.ones(len(latents), dtype=bool)), "everyone's mean"
    if endpoint.startswith(SUBJECT_ENDPOINT):
        subject = endpoint.removeprefix(SUBJECT_ENDPOINT)
        return latents[subject_rows(context, [subject])[0]].copy(), subject
    raise ValueError(f"unknown endpoint {endpoint!r}")


def endpoint_options(subject_ids: Sequence[str] | None) -> list[dict]:
    options = [{"label": "Prototype A (prototypes tab)", "value": "proto-a"}, {"label": "Prototype B (prototypes tab)", "value": "proto-b"},
               {"label": "Everyone's mean", "value": EVERYONE}]
    return options + [{"label": f"Subject {subject}", "value": f"{SUBJECT_ENDPOINT}{subject}"} for subject in subject_ids or []]
