"""The two spaces' neighbourhoods compared (cached on disk), their aligned layouts, and which subjects are selected or focused (no Dash)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from app import validation
from app.comparisons import in_overlap_range, load_comparison, stored_gained_centroids
from app.context import AppContext
from app.core.cohort_algebra import CohortDefinition
from app.core.members import Members
from app.core.neighbours import DEFAULT_K, MAX_K, NeighbourComparison, neighbour_trails
from app.core.projections import ProjectionSpec
from app.core.statistics import compare_groups
from app.core.table_one import format_probability
from app.panels.compare_spaces.settings import LIST_NAMES, ROW_CLICK
from app.state import SelectionError, inputs_key, selection_mask, space_label


def effective_k(context: AppContext, k: int | None) -> int:
    return int(np.clip(int(k or DEFAULT_K), 1, min(MAX_K, context.n_subjects - 1)))


@lru_cache(maxsize=16)
def changed_trails(context: AppContext, space_a: str, space_b: str, method: str, k: int, metric: str, changed_below: float,
                   max_trails: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The strongest trails on A's layout (:func:`neighbour_trails`), worked out once per setting and kept read-only.

    They need every changed subject's gained neighbours' coordinates: 50 million at a million subjects, 3 of
    the 5 s the map took to draw, again on every brush; those centroids are stored on disk too
    (``stored_gained_centroids``). A's layout is A's projection whatever the alignment.
    """
    comparison = load_comparison(context, space_a, space_b, k, metric)
    layout_a = context.cached_projection(space_a, ProjectionSpec(method=method))
    if comparison is None or layout_a is None:
        return None
    centroids = stored_gained_centroids(context, space_a, space_b, method, k, metric, layout_a, comparison)
    rows, targets = neighbour_trails(layout_a, comparison, changed_below, max_trails, centroids)
    rows.flags.writeable = targets.flags.writeable = False
    return rows, targets


def selected_rows(context: AppContext, selection: dict | None) -> np.ndarray | None:
    """Rows of the selection in force (a shape drawn in Explore, a saved cohort or rows picked here); None if none."""
    try:
        mask = selection_mask(context, selection)
    except SelectionError:
        return None
    return None if mask is None else np.flatnonzero(mask)


def overlap_range(brushed: dict | None) -> tuple[float, float] | None:
    """The overlap interval brushed on the histogram ({"range": {"x": [from, to]}}), or None when nothing is brushed."""
    if not brushed or not isinstance(brushed, dict) or not isinstance(brushed.get("range"), dict) or "x" not in brushed["range"]:
        return None
    ends = brushed["range"]["x"]
    if not isinstance(ends, list) or len(ends) != 2:
        raise validation.InputRefused(f"overlap range: expected two numbers, got {ends!r:.60}")
    low, high = sorted(validation.number(value, "overlap range", -1e6, 1e6) for value in ends)
    return max(0.0, low), min(1.0, high)


def rows_in_range(overlap: np.ndarray, brushed: tuple[float, float] | None) -> np.ndarray:
    if brushed is None:
        return np.arange(len(overlap))
    return np.flatnonzero(in_overlap_range(overlap, brushed))


def ready_to_draw(context: AppContext, space_a: str | None, space_b: str | None, method: str, k: int | None, metric: str) -> bool:
    """Whether both spaces' neighbours and layouts are on disk (cheap: file checks and cached reads)."""
    if not space_a or not space_b or space_a == space_b:
        return True
    spec = ProjectionSpec(method=method)
    layouts_ready = all(context.projection_cache.path_for(context.space_fingerprints[space], spec).is_file() or method == "pca"
                        for space in (space_a, space_b))
    return layouts_ready and load_comparison(context, space_a, space_b, effective_k(context, k), metric) is not None


def focus_subject(comparison: NeighbourComparison, subject: int | None, rows: np.ndarray | None) -> int | None:
    """The subject to show: the focused (clicked) one, else the selection's most changed."""
    if subject is not None:
        return int(subject)
    if rows is not None and len(rows):
        return int(rows[np.argmin(comparison.overlap[rows])])
    return None


def focused_row(context: AppContext, focused: dict | None, selection: dict | None) -> int | None:
    """The subject clicked last (map or list), while the selection is still the one it was clicked under.

    Focusing a subject leaves the shared selection alone; a new selection (a lasso, a suggested group,
    a saved cohort) moves the focus back to the selection's most changed subject.
    """
    if not isinstance(focused, dict) or focused.get("selection") != inputs_key(selection):
        return None
    return validation.integer(focused.get("row"), "focused subject", 0, context.n_subjects - 1)


def common_profile(context: AppContext, rows: np.ndarray) -> pd.DataFrame:
    """The clinical variables in which the selection differs most from everyone else (|standardised difference|)."""
    return _profile_of(context, Members.of_rows(rows, context.n_subjects))


@lru_cache(maxsize=32)
def _profile_of(context: AppContext, selected: Members) -> pd.DataFrame:
    """Worked out once per selection in a process: a new k, metric, layout or focused subject keeps the selection (it was
    7 % of the server's time under 20 simulated users, py-spy). Callers get the same frame: they only read it."""
    table = compare_groups(context.cohort.phenotypes, context.variables, selected.mask, ~selected.mask)
    table = table[table["std_diff"].notna()].head(6)

    def value(number: float, kind: str) -> str:
        return "–" if pd.isna(number) else (f"{100 * number:.0f}%" if kind == "proportion" else f"{number:.1f}")

    return pd.DataFrame({
        "Variable": [f"{label}: {level}" if level else label for label, level in zip(table["label"], table["level"])],
        "Selection": [value(a, kind) for a, kind in zip(table["A"], table["kind"])],
        "Everyone else": [value(b, kind) for b, kind in zip(table["B"], table["kind"])],
        "Std. difference": [f"{d:+.2f}" for d in table["std_diff"]],
        "q (BH)": [format_probability(q) for q in table["q_value"]],
    })


def save_suggested_group(context: AppContext, rows: list[int], space_a: str, space_b: str, k: int, index: int) -> str:
    """Save a suggested group as a selection cohort (by subject ids); returns its name."""
    definition = CohortDefinition(subject_ids=tuple(context.cohort.subject_ids[np.asarray(rows, dtype=int)]))
    return context.store.save_unique(f"{space_label(space_a)} vs {space_label(space_b)}, k={k}: group {index + 1}", definition).name


def subject_from_event(context: AppContext, trigger: str | None, click: dict | None) -> int | None:
    """The row number of the subject clicked on the map or in a list, both reduced in the browser to {"row"}."""
    if trigger in ("cs-map-click", ROW_CLICK) and isinstance(click, dict):
        if trigger == ROW_CLICK:
            validation.choice(click.get("list"), LIST_NAMES, "subject list")
        return validation.integer(click.get("row"), "clicked subject", 0, context.n_subjects - 1)
    return None
