"""State every panel shares: the page-wide stores, cohort choices, space labels and small callback helpers.

The stores are declared once, by ``stores()`` in the page layout; panels read and write them through the
id constants below, never by importing another panel. A cohort choice (a dropdown value) means the same in
every panel and is turned into a mask by ``resolve_choice`` alone.
"""

from __future__ import annotations

import numpy as np
from dash import ctx, dcc

from app.context import AppContext
from app.core.cohort_algebra import CohortDefinition

# Page-wide stores: component ids (their values are what the browser posts, so they stay stable).
SELECTION = "selection"              # {"rows": [row, ...]} from a lasso or box selection, or None
FILTERS = "filters"                  # [filter dict, ...] of the current cohort
COHORTS_VERSION = "cohorts-version"  # bumped whenever saved cohorts change
SAVED_COHORTS = "manage-cohort"      # the sidebar's saved-cohort dropdown; its options list every saved cohort

# Cohort choices: the values a group dropdown may hold besides a saved cohort's id.
CURRENT = "current"   # the current cohort: filters and selection together
REST = "rest"         # everyone not in the other group
EVERYONE = "all"      # every subject

CURRENT_OPTION = {"label": "Current cohort (filters + selection)", "value": CURRENT}
EVERYONE_OPTION = {"label": "Everyone", "value": EVERYONE}
REST_OPTION = {"label": "Everyone else (not A)", "value": REST}

# Known spaces first, in this order (the model's, then the raw-signal baseline); any other space after them.
SPACE_LABELS = {"joint": "Joint (ECG + MRI)", "ecg": "ECG only", "mri": "MRI only", "raw": "Raw signals (PCA baseline)"}


def stores() -> list[dcc.Store]:
    """The shared stores, placed once in the page layout."""
    return [dcc.Store(id=SELECTION), dcc.Store(id=FILTERS, data=[]), dcc.Store(id=COHORTS_VERSION, data=0)]


def space_label(name: str) -> str:
    return SPACE_LABELS.get(name, name)


def variable_options(context: AppContext, types: tuple[str, ...] = ("continuous", "binary", "categorical")) -> list[dict]:
    return [
        {"label": f"{spec.group} · {spec.display_label}" if spec.group else spec.display_label, "value": name}
        for name, spec in context.variables.items()
        if spec.type in types
    ]


def saved_cohort_options(saved_options: list[dict] | None, *leading: dict) -> list[dict]:
    """A group dropdown's options: ``leading`` choices, then every saved cohort as "Saved: name"."""
    return [*leading, *({"label": f"Saved: {option['label']}", "value": option["value"]} for option in saved_options or [])]


def highlight_mask(context: AppContext, filters: list[dict] | None, selection: dict | None) -> np.ndarray | None:
    """Mask of the current cohort (filters ∧ selection), or None when neither narrows it."""
    selected = (selection or {}).get("rows")
    if not filters and selected is None:
        return None
    mask = context.definition_mask(CohortDefinition(filters=tuple(filters or ())))
    if selected is not None:
        chosen = np.zeros(len(mask), dtype=bool)
        chosen[np.asarray(selected, dtype=int)] = True
        mask &= chosen
    return mask


def current_cohort_mask(context: AppContext, filters: list[dict] | None, selection: dict | None) -> np.ndarray:
    """The current cohort as a mask: everyone when nothing narrows it."""
    mask = highlight_mask(context, filters, selection)
    return np.ones(context.n_subjects, dtype=bool) if mask is None else mask


def resolve_choice(context: AppContext, choice: str | int | None, filters: list | None, selection: dict | None,
                   other: np.ndarray | None = None) -> np.ndarray:
    """Mask for a cohort choice: CURRENT (or None), EVERYONE, REST (the complement of ``other``) or a saved cohort's id."""
    if choice == EVERYONE:
        return np.ones(context.n_subjects, dtype=bool)
    if choice == REST and other is not None:
        return ~other
    if choice in (CURRENT, None):
        return current_cohort_mask(context, filters, selection)
    return context.saved_cohort_mask(int(choice))


def triggered() -> set[str]:
    """Ids of the components that triggered the running callback."""
    return {prop_id.split(".")[0] for prop_id in ctx.triggered_prop_ids}
