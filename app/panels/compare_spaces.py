"""Compare two latent spaces: whose neighbourhoods changed, where they went, and what those subjects share.

Neighbours come from the full-dimensional spaces (app.core.neighbours, cached on disk); the map
shows A's 2-D layout coloured by overlap and animates into B's layout aligned to it (Procrustes).
Clicking or lassoing subjects, or choosing a suggested group, writes the explorer's shared
``selection`` store, so every panel follows; a suggested group can be saved as a cohort.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import dash
import dash_bootstrap_components as dbc
import numpy as np
import pandas as pd
from dash import ALL, ClientsideFunction, Input, Output, Patch, State, ctx, dcc, html

from app import validation
from app.cohort_store import CohortStoreError
from app.context import HOVER_VARIABLES, AppContext
from app.core.alignment import fit_alignment, transition_frames
from app.core.cohort_algebra import CohortDefinition
from app.core.neighbours import (
    DEFAULT_K,
    MAX_K,
    METRICS,
    NeighbourCache,
    NeighbourComparison,
    cohort_summary,
    common_changes,
    compare_neighbourhoods,
    neighbour_trails,
    resolved_method,
    suggest_groups,
)
from app.core.projections import METHODS, ProjectionSpec
from app.core.statistics import compare_groups
from app.core.table_one import format_probability
from app.figures.compare_spaces import neighbourhood_multiples, overlap_histogram, overlap_map
from app.figures.messages import message_figure
from app.jobs import HEAVY, BackgroundJob
from app.state import COHORTS_VERSION, SELECTION, SelectionError, inputs_key, selection_mask, space_label, triggered

PANEL_TAB = "compare-spaces"  # the tab_id app.server gives this panel
INLINE_SUBJECTS = 5_000  # up to this many subjects, neighbours are computed in the request (exact, under a second)
LIST_LENGTH = 50
RICH_HOVER_SUBJECTS = 20_000
BACKGROUND_SUBJECTS = 1_500  # grey context points in the small multiples
SORT_ORDERS = {"ascending": "↑ ascending", "descending": "↓ descending"}
RANK = "rank"  # sort option: most changed first in one list, least changed first in the other


def neighbour_cache(context: AppContext) -> NeighbourCache:
    return NeighbourCache(Path(context.config.cache_dir) / "neighbours")


@lru_cache(maxsize=4)
def _compared(folder: str, fingerprint_a: str, fingerprint_b: str, k: int, metric: str, method: str) -> NeighbourComparison | None:
    """The comparison from cached neighbour lists; kept in memory for the last few (O(n·k) each)."""
    cache = NeighbourCache(Path(folder))
    neighbours_a, neighbours_b = cache.get(fingerprint_a, k, metric, method), cache.get(fingerprint_b, k, metric, method)
    if neighbours_a is None or neighbours_b is None:
        return None
    return compare_neighbourhoods(neighbours_a, neighbours_b)


def effective_k(context: AppContext, k: int | None) -> int:
    return int(np.clip(int(k or DEFAULT_K), 1, min(MAX_K, context.n_subjects - 1)))


def load_comparison(context: AppContext, space_a: str, space_b: str, k: int, metric: str, compute: bool = False,
                    progress=None) -> NeighbourComparison | None:
    """Both spaces' neighbours compared, from the disk cache; computed first when ``compute`` (else None if missing)."""
    method = resolved_method(context.n_subjects)
    cache = neighbour_cache(context)
    fingerprints = context.space_fingerprints
    if compute:
        for step, space in enumerate((space_a, space_b)):
            report = None if progress is None else (lambda done, step=step, space=space: progress((step + done) / 2, space))
            cache.get_or_compute(context.cohort.spaces[space], fingerprints[space], k, metric, method, report)
    if not all(cache.path_for(fingerprints[space], k, metric, method).is_file() for space in (space_a, space_b)):
        return None  # not computed yet (and not remembered as missing)
    return _compared(str(cache.folder), fingerprints[space_a], fingerprints[space_b], k, metric, method)


def aligned_layouts(context: AppContext, space_a: str, space_b: str, method: str, align_rows: np.ndarray | None = None
                    ) -> tuple[np.ndarray, np.ndarray] | None:
    """A's projection and B's projection rotated/reflected/scaled onto it (fitted on ``align_rows`` if given)."""
    spec = ProjectionSpec(method=method)
    layout_a, layout_b = context.cached_projection(space_a, spec), context.cached_projection(space_b, spec)
    if layout_a is None or layout_b is None:
        return None
    subset = align_rows if align_rows is not None and len(align_rows) >= 3 else None
    return layout_a, fit_alignment(layout_b, layout_a, subset=subset).apply(layout_b)


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
    return np.flatnonzero((overlap >= brushed[0]) & (overlap <= brushed[1]))


def table_columns(context: AppContext) -> list[dict]:
    columns = [{"name": "Subject", "id": "subject"}, {"name": "Overlap", "id": "overlap", "type": "numeric"}]
    for name in (variable for variable in HOVER_VARIABLES if variable in context.variables):
        spec = context.variables[name]
        columns.append({"name": spec.display_label, "id": name, "type": "numeric" if spec.type == "continuous" else "text"})
    return columns


def subject_records(context: AppContext, overlap: np.ndarray | None, rows: np.ndarray, extra: dict[str, np.ndarray] | None = None) -> list[dict]:
    """Table rows (one per subject, keyed by row number) with overlap and key clinical variables."""
    phenotypes = context.cohort.phenotypes.iloc[rows]
    table = pd.DataFrame({"id": rows.astype(int), "subject": phenotypes.index.astype(str)})
    for name, values in (extra or {}).items():
        table[name] = values
    if overlap is not None:
        table["overlap"] = np.round(overlap[rows], 3)
    for name in (variable for variable in HOVER_VARIABLES if variable in context.variables):
        spec, column = context.variables[name], phenotypes[name]
        if spec.type == "continuous":
            table[name] = np.round(column.to_numpy(dtype=float, na_value=np.nan), 1)
        elif spec.type == "binary":
            table[name] = column.map(lambda value: "–" if pd.isna(value) else ("yes" if value else "no")).to_numpy(dtype=object)
        else:
            table[name] = column.astype("string").fillna("–").to_numpy(dtype=object)
    return table.replace({np.nan: None}).to_dict("records")


def _cell(value: object) -> str:
    if value is None:
        return "–"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def sorted_records(records: list[dict], sort_by: str | None, order: str = "ascending") -> list[dict]:
    """Records sorted by one column, missing values last whichever the direction; ``RANK`` keeps each list's own order."""
    if sort_by == RANK or not sort_by or not records or sort_by not in records[0]:
        return list(records) if order == "ascending" else list(reversed(records))
    present = [record for record in records if record.get(sort_by) is not None]
    missing = [record for record in records if record.get(sort_by) is None]
    return sorted(present, key=lambda record: record[sort_by], reverse=order == "descending") + missing


def subject_table(records: list[dict], columns: list[dict], list_name: str) -> dbc.Table:
    """A compact table, one clickable row per subject (its id carries the subject's row number)."""
    header = html.Thead(html.Tr([html.Th(column["name"]) for column in columns]))
    body = html.Tbody([
        html.Tr([html.Td(_cell(record.get(column["id"]))) for column in columns], id={"type": "cs-row", "list": list_name, "row": record["id"]},
                n_clicks=0, className="cs-row", title=f"Show {record['subject']}'s neighbourhoods")
        for record in records
    ])
    return dbc.Table([header, body], size="sm", hover=True, striped=True, className="small mb-0 cs-table")


def changed_lists(context: AppContext, comparison: NeighbourComparison, rows: np.ndarray) -> tuple[list[dict], list[dict]]:
    """The most- and least-changed subjects among ``rows`` (at most LIST_LENGTH each)."""
    order = rows[np.argsort(comparison.overlap[rows], kind="stable")]
    return subject_records(context, comparison.overlap, order[:LIST_LENGTH]), subject_records(context, comparison.overlap, order[::-1][:LIST_LENGTH])


def _group_card(context: AppContext, comparison: NeighbourComparison, index: int, group) -> dbc.ListGroupItem:
    changes = common_changes(comparison, group.rows, top=3)
    ids = context.cohort.subject_ids
    gained = ", ".join(f"{ids[row]} ({count})" for row, count in zip(changes.gained_rows, changes.gained_counts)) or "–"
    lost = ", ".join(f"{ids[row]} ({count})" for row, count in zip(changes.lost_rows, changes.lost_counts)) or "–"
    return dbc.ListGroupItem(
        [
            html.Div(
                [
                    html.Strong(f"Group {index + 1}: {len(group.rows):,} subjects"),
                    html.Span(f" · mean overlap {group.mean_overlap:.2f} · changes agree {group.agreement:.0%}", className="text-muted"),
                    dbc.ButtonGroup(
                        [dbc.Button("Select", id={"type": "cs-suggestion-select", "index": index}, size="sm", color="primary", outline=True),
                         dbc.Button("Save as cohort", id={"type": "cs-suggestion-save", "index": index}, size="sm", color="success", outline=True)],
                        className="ms-auto",
                    ),
                ],
                className="d-flex align-items-center gap-2",
            ),
            html.Div(f"Most gained: {gained} · most lost: {lost}", className="small text-muted"),
        ],
        className="py-2 small cs-suggestion",
    )


def suggestion_list(context: AppContext, comparison: NeighbourComparison) -> tuple[object, list[list[int]]]:
    groups = suggest_groups(comparison)
    if not groups:
        return html.Div("No groups of subjects changed alike (few neighbourhoods changed by more than half).", className="text-muted small"), []
    items = [_group_card(context, comparison, index, group) for index, group in enumerate(groups)]
    return dbc.ListGroup(items, flush=True), [group.rows.tolist() for group in groups]


def summary_text(context: AppContext, comparison: NeighbourComparison, space_a: str, space_b: str, selection: dict | None) -> list:
    everyone = cohort_summary(comparison.overlap)
    text = [html.Strong(f"{space_label(space_a)} vs {space_label(space_b)}: "),
            f"subjects keep on average {everyone.mean:.0%} of their {comparison.k} nearest neighbours "
            f"(median {everyone.median:.2f}, 10th–90th percentile {everyone.q10:.2f}–{everyone.q90:.2f}); "
            f"{everyone.share_changed:.0%} lost more than half."]
    rows = selected_rows(context, selection)
    if rows is not None and len(rows):
        chosen = cohort_summary(comparison.overlap, rows)
        text.append(f" Selection ({chosen.n_subjects:,}): mean overlap {chosen.mean:.2f}, {chosen.share_changed:.0%} lost more than half.")
    return text


def _request(space_a: str, space_b: str, method: str, k: int, metric: str) -> dict:
    return {"space_a": space_a, "space_b": space_b, "method": method, "k": k, "metric": metric}


@dataclass(frozen=True)
class Overview:
    """What the overview callback sets; a field left at no_update keeps what the page shows."""

    map: object = dash.no_update  # the overlap map: a figure, or a Patch of its highlighted points
    histogram: object = dash.no_update
    most: object = dash.no_update  # records of the most-changed subjects in what is drawn
    least: object = dash.no_update
    suggestions: object = dash.no_update  # the suggested groups' cards
    suggested: object = dash.no_update  # the suggested groups' rows
    request: object = dash.no_update  # what the background callback must compute, if anything
    summary: object = dash.no_update
    title: object = dash.no_update  # the map's title

    @classmethod
    def message(cls, text: str) -> Overview:
        """Nothing to compare or not ready: ``text`` in the map and the summary, everything else empty."""
        return cls(message_figure(text), message_figure(""), [], [], None, [], dash.no_update, text, "")

    @property
    def waiting(self) -> bool:
        """Whether this asks the background callback for neighbours or layouts."""
        return isinstance(self.request, dict)

    def outputs(self) -> tuple:
        return (self.map, self.histogram, self.most, self.least, self.suggestions, self.suggested, self.request, self.summary, self.title)


def render_overview(context: AppContext, space_a: str | None, space_b: str | None, method: str, k: int | None, metric: str,
                    brushed_data: dict | None, trail_threshold: float | None, show_trails: list | None, align_on_selection: list | None,
                    selection: dict | None, triggers: set[str]) -> Overview:
    """What the overview shows for these settings; only the highlight when just the selection changed.

    Its request stays no_update unless something must be computed in the background: a None would
    start the background callback for nothing.
    """
    if len(context.cohort.spaces) < 2:
        return Overview.message("This cohort has fewer than two latent spaces: run python -m models.encode to make the joint, "
                                "ECG-only and MRI-only spaces")
    if not space_a or not space_b or space_a == space_b:
        return Overview.message("Choose two different spaces to compare")
    k = effective_k(context, k)
    compute_here = context.n_subjects <= INLINE_SUBJECTS
    comparison = load_comparison(context, space_a, space_b, k, metric, compute=compute_here)
    rows_selected = selected_rows(context, selection)
    align_rows = rows_selected if align_on_selection and rows_selected is not None else None
    layouts = aligned_layouts(context, space_a, space_b, method, align_rows)
    if comparison is None or layouts is None:
        if triggers and triggers <= {SELECTION}:
            return Overview()
        text = (f"Finding every subject's {k} nearest neighbours in both spaces ({METRICS[metric].lower()}, full-dimensional) "
                f"and their {METHODS[method]} layouts; cached on disk, instant next time…")
        return replace(Overview.message(text), map=message_figure("Finding nearest neighbours… (cached on disk afterwards)"),
                       request=_request(space_a, space_b, method, k, metric))
    overlap = comparison.overlap
    brushed = overlap_range(brushed_data)
    drawn = rows_in_range(overlap, brushed)
    histogram = overlap_histogram(overlap, k, highlighted=rows_selected if rows_selected is not None and len(rows_selected) else None,
                                  brushed=brushed, revision=f"{space_a}-{space_b}-{k}-{metric}")
    summary = summary_text(context, comparison, space_a, space_b, selection)
    if triggers and triggers <= {SELECTION} and not align_on_selection:
        patch = Patch()
        if rows_selected is None:
            patch["data"][0]["selectedpoints"] = None
        else:
            chosen = np.zeros(context.n_subjects, dtype=bool)
            chosen[rows_selected] = True
            patch["data"][0]["selectedpoints"] = np.flatnonzero(chosen[drawn]).tolist()
        return Overview(map=patch, histogram=histogram, summary=summary)
    layout_a, layout_b = layouts
    frames = transition_frames(layout_a, layout_b, 5 if context.n_subjects > 20_000 else 9)
    max_trails = int(np.clip(context.n_subjects // 20, 30, 300))  # the strongest few hundred at most, fewer in small cohorts
    trails = neighbour_trails(layout_a, comparison, float(trail_threshold or 0.3), max_trails) if show_trails else None
    if trails is not None and brushed is not None:
        keep = np.isin(trails[0], drawn)
        trails = (trails[0][keep], trails[1][keep])
    labels = (space_label(space_a), space_label(space_b))
    shown = f" · overlap {brushed[0]:.2f}–{brushed[1]:.2f}: {len(drawn):,} subjects" if brushed else ""
    # Above RICH_HOVER_SUBJECTS the map's hover names only the subject (its variables are a click away): the
    # full hover text would be most of what goes to the browser (13 of 27 MB at 100,000 subjects).
    hover = context.hover_text if context.n_subjects <= RICH_HOVER_SUBJECTS else context.cohort.subject_ids.astype(str).to_numpy(dtype=object)
    figure = overlap_map(
        frames, overlap, hover, rows=drawn, selected_rows=rows_selected, trails=trails, frame_labels=labels,
        axis_labels=(f"{METHODS[method]} 1", f"{METHODS[method]} 2"), revision=f"{space_a}-{space_b}-{method}",
    )
    most, least = changed_lists(context, comparison, drawn)
    suggestions, suggested = suggestion_list(context, comparison)
    title = (f"{labels[0]} layout ({METHODS[method]}), each subject coloured by the share of its {k} nearest neighbours "
             f"it keeps in {labels[1]}{shown}")
    return Overview(map=figure, histogram=histogram, most=most, least=least, suggestions=suggestions, suggested=suggested,
                    summary=summary, title=title)


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
    mask = np.zeros(context.n_subjects, dtype=bool)
    mask[rows] = True
    table = compare_groups(context.cohort.phenotypes, context.variables, mask, ~mask)
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


def _change_table(context: AppContext, list_name: str, rows: np.ndarray, counts: np.ndarray, n_selected: int) -> html.Div:
    columns = [{"name": "Subject", "id": "subject"}, {"name": f"of {n_selected:,}", "id": "count"}]
    columns += [column for column in table_columns(context) if column["id"] not in ("subject", "overlap")][:2]
    records = subject_records(context, None, rows, {"count": counts})
    return html.Div(subject_table(records, columns, list_name), className="cs-scroll")


def render_subject(context: AppContext, space_a: str | None, space_b: str | None, method: str, k: int | None, metric: str,
                   subject: int | None, selection: dict | None, align_on_selection: list | None) -> tuple:
    """(small multiples of the focus subject, its title, what the selection gained/lost in common and shares clinically)."""
    hint = "Click a subject on the map or in a list,\nlasso a group, or pick a suggested group"
    if not space_a or not space_b or space_a == space_b or len(context.cohort.spaces) < 2:
        return message_figure(hint), "", ""
    k = effective_k(context, k)
    comparison = load_comparison(context, space_a, space_b, k, metric, compute=context.n_subjects <= INLINE_SUBJECTS)
    rows_selected = selected_rows(context, selection)
    layouts = aligned_layouts(context, space_a, space_b, method, rows_selected if align_on_selection else None)
    if comparison is None or layouts is None:
        return message_figure("Waiting for the neighbours…"), "", ""
    focus = focus_subject(comparison, subject, rows_selected)
    if focus is None:
        return message_figure(hint), "", html.Div("Select subjects to see what their neighbourhoods gained and lost in common, "
                                                  "and what they share clinically.", className="small text-muted")
    labels = (space_label(space_a), space_label(space_b))
    background = np.random.default_rng(0).choice(context.n_subjects, size=min(BACKGROUND_SUBJECTS, context.n_subjects), replace=False)
    figure = neighbourhood_multiples(
        layouts[0], layouts[1], focus, comparison.shared(focus), comparison.lost(focus), comparison.gained(focus), context.hover_text,
        (f"A: {labels[0]} ({METHODS[method]})", f"B: {labels[1]} (aligned to A)"), background, revision=f"subject-{focus}",
    )
    subject_id = context.cohort.subject_ids[focus]
    title = (f"{subject_id}: keeps {len(comparison.shared(focus))} of its {comparison.k} nearest neighbours "
             f"(overlap {comparison.overlap[focus]:.2f}); {len(comparison.lost(focus))} only in A, {len(comparison.gained(focus))} only in B")
    rows = rows_selected if rows_selected is not None and len(rows_selected) else np.array([focus])
    changes = common_changes(comparison, rows, top=10)
    common = [
        html.Div(f"What the {len(rows):,} selected subjects' neighbourhoods gained and lost in common "
                 f"(how many of them gained / lost each subject):", className="small fw-semibold mb-1"),
        dbc.Row([
            dbc.Col([html.Div("Gained (new neighbours in B)", className="small", style={"color": "#1b9e77"}),
                     _change_table(context, "gained", changes.gained_rows, changes.gained_counts, len(rows))], md=6),
            dbc.Col([html.Div("Lost (neighbours only in A)", className="small", style={"color": "#e66101"}),
                     _change_table(context, "lost", changes.lost_rows, changes.lost_counts, len(rows))], md=6),
        ], className="g-2"),
    ]
    if len(rows) >= 2 and len(rows) < context.n_subjects:
        profile = common_profile(context, rows)
        common += [html.Div("What the selected subjects have in common: the variables that set them apart from everyone else",
                            className="small fw-semibold mt-2 mb-1"),
                   dbc.Table.from_dataframe(profile, striped=True, hover=True, size="sm", className="small mb-0", id="cs-profile")]
    return figure, title, common


def save_suggested_group(context: AppContext, rows: list[int], space_a: str, space_b: str, k: int, index: int) -> str:
    """Save a suggested group as a selection cohort (by subject ids); returns its name."""
    definition = CohortDefinition(subject_ids=tuple(context.cohort.subject_ids[np.asarray(rows, dtype=int)]))
    return context.store.save_unique(f"{space_label(space_a)} vs {space_label(space_b)}, k={k}: group {index + 1}", definition).name


def layout(context: AppContext) -> html.Div:
    spaces = list(context.cohort.spaces)
    options = [{"label": space_label(name), "value": name} for name in spaces]
    default_a = "ecg" if "ecg" in spaces else (spaces[0] if spaces else None)
    default_b = "mri" if "mri" in spaces else next((name for name in spaces if name != default_a), None)
    k_marks = {value: str(value) for value in (1, 50, 100, 150, 200, 250) if value <= MAX_K}
    control = "small fw-semibold"
    return html.Div(
        [
            dbc.Row(
                [
                    dbc.Col([html.Label("Space A", htmlFor="cs-space-a", className=control),
                             dcc.Dropdown(id="cs-space-a", options=options, value=default_a, clearable=False)], md=2),
                    dbc.Col([html.Label("Space B", htmlFor="cs-space-b", className=control),
                             dcc.Dropdown(id="cs-space-b", options=options, value=default_b, clearable=False)], md=2),
                    dbc.Col([html.Label("Layout", htmlFor="cs-layout", className=control),
                             dcc.Dropdown(id="cs-layout", options=[{"label": label, "value": key} for key, label in METHODS.items()],
                                          value="pca", clearable=False)], md=2),
                    dbc.Col([html.Label("Neighbours k", htmlFor="cs-k", className=control),
                             dcc.Slider(id="cs-k", min=1, max=MAX_K, step=1, value=DEFAULT_K, marks=k_marks,
                                        tooltip={"placement": "bottom", "always_visible": False})], md=4),
                    dbc.Col([html.Label("Distance", className=control),
                             dbc.RadioItems(id="cs-metric", options=[{"label": label, "value": key} for key, label in METRICS.items()],
                                            value="cosine", inline=True)], md=2),
                ],
                className="g-2 mb-2 align-items-end",
            ),
            html.Div(id="cs-summary", className="small mb-2", role="status"),
            html.Div(dbc.Progress(id="cs-progress-bar", value=0, striped=True, animated=True, label=""), id="cs-progress",
                     style={"display": "none"}, className="mb-2"),
            dbc.Row(
                [
                    dbc.Col(dbc.Card([dbc.CardHeader(html.Span(id="cs-map-title", className="small fw-semibold")),
                                      dbc.CardBody(dcc.Loading(
                        dcc.Graph(id="cs-map", config={"displaylogo": False, "scrollZoom": True}, style={"height": "560px"}), delay_show=400),
                        className="p-1")]), lg=8, className="mb-2"),
                    dbc.Col(
                        dbc.Card(dbc.CardBody(
                            [
                                html.Div("Overlap of each subject's neighbourhoods · drag across bars to show only those subjects",
                                         className="small text-muted"),
                                dcc.Graph(id="cs-histogram", config={"displayModeBar": False}, style={"height": "230px"}),
                                dbc.Button("Select the subjects shown", id="cs-select-range", size="sm", color="secondary", outline=True,
                                           className="mb-2"),
                                dbc.Checklist(id="cs-show-trails", options=[{"label": "Trails toward each changed subject's new neighbours", "value": "on"}],
                                              value=["on"], switch=True, className="small"),
                                html.Label("Draw trails for subjects keeping less than", htmlFor="cs-trail-threshold", className="small"),
                                dcc.Slider(id="cs-trail-threshold", min=0.05, max=0.95, step=0.05, value=0.3,
                                           marks={0.1: "0.1", 0.3: "0.3", 0.5: "0.5", 0.7: "0.7", 0.9: "0.9"}),
                                dbc.Checklist(id="cs-align-on-selection", options=[{"label": "Align B's layout on the selection only", "value": "on"}],
                                              value=[], switch=True, className="small mt-2"),
                                html.Div("Red: the neighbourhood changed · blue: kept. ▶ moves every subject from A's layout to B's.",
                                         className="small text-muted mt-2"),
                            ]
                        )),
                        lg=4, className="mb-2",
                    ),
                ],
                className="g-2",
            ),
            dbc.Row(
                [
                    dbc.Col(dbc.Card([dbc.CardHeader(html.Span(id="cs-subject-title", className="small fw-semibold")),
                                      dbc.CardBody(dcc.Graph(id="cs-neighbourhood", config={"displayModeBar": False}, style={"height": "380px"}),
                                                   className="p-1")]), lg=6, className="mb-2"),
                    dbc.Col(dbc.Card(dbc.CardBody(html.Div(id="cs-common"))), lg=6, className="mb-2"),
                ],
                className="g-2",
            ),
            dbc.Row(
                [
                    dbc.Col(html.Span("Sort the lists by", className="small fw-semibold"), width="auto"),
                    dbc.Col(dcc.Dropdown(id="cs-sort-by", options=[{"label": "Rank (most / least changed first)", "value": RANK}]
                                         + [{"label": column["name"], "value": column["id"]} for column in table_columns(context)],
                                         value=RANK, clearable=False), md=3),
                    dbc.Col(dbc.RadioItems(id="cs-sort-order", options=[{"label": label, "value": key} for key, label in SORT_ORDERS.items()],
                                           value="ascending", inline=True, className="small"), width="auto"),
                ],
                className="g-2 mb-1 align-items-center",
            ),
            dbc.Row(
                [
                    dbc.Col([html.Div(f"{LIST_LENGTH} most changed subjects (lowest overlap) · click one to see its neighbourhoods",
                                      className="small fw-semibold"),
                             html.Div(id="cs-most-changed", className="cs-scroll")], lg=6, className="mb-2"),
                    dbc.Col([html.Div(f"{LIST_LENGTH} least changed subjects (highest overlap)", className="small fw-semibold"),
                             html.Div(id="cs-least-changed", className="cs-scroll")], lg=6, className="mb-2"),
                ],
                className="g-2",
            ),
            dbc.Card(
                [dbc.CardHeader([html.Strong("Suggested selections"),
                                 html.Span(" · groups of subjects whose gained and lost neighbours agree, most coherent first",
                                           className="small text-muted")]),
                 dbc.CardBody([html.Div(id="cs-suggestions"), html.Div(id="cs-save-feedback", className="small mt-1", role="status")])],
                className="mb-3",
            ),
            dcc.Store(id="cs-subject"),  # the focused subject {"row", "selection": key of the selection it was clicked under}
            dcc.Store(id="cs-map-click"),
            dcc.Store(id="cs-brushed"),  # the overlap range brushed on the histogram, {"range": {"x": [from, to]}}
            dcc.Store(id="cs-most-data", data=[]),
            dcc.Store(id="cs-least-data", data=[]),
            dcc.Store(id="cs-drawn"),
            dcc.Store(id="cs-suggested", data=[]),
            *NEIGHBOURS_JOB.components(),
        ],
        id="compare-spaces-panel",
    )


WAITING_MARK = "#waiting"
NEIGHBOURS_JOB = BackgroundJob(request="cs-request", ready="cs-ready", poll="cs-poll", poll_ms=1500, lane=HEAVY)


def register(app: dash.Dash, context: AppContext) -> None:
    @app.callback(
        Output("cs-map", "figure"),
        Output("cs-histogram", "figure"),
        Output("cs-most-data", "data"),
        Output("cs-least-data", "data"),
        Output("cs-suggestions", "children"),
        Output("cs-suggested", "data"),
        Output("cs-request", "data", allow_duplicate=True),  # a duplicate output: the request → ready → redraw loop is no cycle to Dash
        Output("cs-summary", "children"),
        Output("cs-map-title", "children"),
        Output("cs-drawn", "data"),
        Output("cs-poll", "disabled"),
        Input("main-tabs", "active_tab"),
        Input("cs-space-a", "value"),
        Input("cs-space-b", "value"),
        Input("cs-layout", "value"),
        Input("cs-k", "value"),
        Input("cs-metric", "value"),
        Input("cs-brushed", "data"),
        Input("cs-trail-threshold", "value"),
        Input("cs-show-trails", "value"),
        Input("cs-align-on-selection", "value"),
        Input(SELECTION, "data"),
        Input("cs-poll", "n_intervals"),
        State("cs-drawn", "data"),
        prevent_initial_call="initial_duplicate",
    )
    def _overview(tab, space_a, space_b, method, k, metric, brushed, threshold, trails, align, selection, _poll, drawn):
        # Redrawn when the tab is open (the explorer's first load is not slowed) and something changed; while the
        # background callback computes, an interval polls the disk cache (the renderer would not rerun this
        # callback from the background callback's output, which its own request started).
        triggers = triggered()
        polled = triggers == {"cs-poll"}
        # cs-drawn is the key of what is shown, marked while it still waits for the background result: a tick
        # queued after the full map was drawn must not send it (several MB) again, and stops the polling.
        key = inputs_key(space_a, space_b, method, k, metric, brushed, threshold, trails, align, selection)
        if polled and drawn == key:
            return (*(dash.no_update,) * 10, True)
        if tab != PANEL_TAB or (drawn in (key, key + WAITING_MARK) and not polled):
            return (dash.no_update,) * 11
        if polled and not ready_to_draw(context, space_a, space_b, method, k, metric):
            return (dash.no_update,) * 11
        overview = render_overview(context, space_a, space_b, method, k, metric, brushed, threshold, trails, align, selection,
                                   triggers - {"main-tabs", "cs-poll"} if drawn else set())
        waiting = overview.waiting
        if polled:
            overview = replace(overview, request=dash.no_update)  # the computation is already running
        return (*overview.outputs(), key + WAITING_MARK if waiting else key, not waiting)

    def _compute(request: dict, set_progress) -> None:
        spec = ProjectionSpec(method=request["method"])
        for space in (request["space_a"], request["space_b"]):
            set_progress((0, f"{METHODS[request['method']]} layout of {space_label(space)}…"))
            context.compute_projection(space, spec)
        load_comparison(context, request["space_a"], request["space_b"], request["k"], request["metric"], compute=True,
                        progress=lambda done, space: set_progress((int(100 * done), f"neighbours in {space_label(space)}: {done:.0%}")))

    NEIGHBOURS_JOB.register(app, _compute, progress=[Output("cs-progress-bar", "value"), Output("cs-progress-bar", "label")],
                            running=[(Output("cs-progress", "style"), {"display": "block"}, {"display": "none"})])

    @app.callback(
        Output("cs-most-changed", "children"),
        Output("cs-least-changed", "children"),
        Input("cs-most-data", "data"),
        Input("cs-least-data", "data"),
        Input("cs-sort-by", "value"),
        Input("cs-sort-order", "value"),
    )
    def _lists(most, least, sort_by, order):
        columns = table_columns(context)
        return (subject_table(sorted_records(most or [], sort_by, order), columns, "most"),
                subject_table(sorted_records(least or [], sort_by, order), columns, "least"))

    app.clientside_callback(
        ClientsideFunction(namespace="compareSpaces", function_name="subjectFromMap"),
        Output("cs-map-click", "data"),
        Input("cs-map", "clickData"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output("cs-subject", "data"),
        Input("cs-map-click", "data"),
        Input({"type": "cs-row", "list": ALL, "row": ALL}, "n_clicks"),
        State(SELECTION, "data"),
        prevent_initial_call=True,
    )
    def _choose_subject(click, _row_clicks, selection):
        clicked = bool(ctx.triggered and ctx.triggered[0]["value"])
        row = subject_from_event(context, ctx.triggered_id, click, clicked)
        if row is None:
            return dash.no_update
        return {"row": row, "selection": inputs_key(selection)}

    app.clientside_callback(
        ClientsideFunction(namespace="compareSpaces", function_name="selectionFromMap"),
        Output(SELECTION, "data", allow_duplicate=True),
        Input("cs-map", "selectedData"),
        prevent_initial_call=True,
    )

    app.clientside_callback(
        ClientsideFunction(namespace="compareSpaces", function_name="brushFromHistogram"),
        Output("cs-brushed", "data"),
        Input("cs-histogram", "selectedData"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(SELECTION, "data", allow_duplicate=True),
        Input("cs-select-range", "n_clicks"),
        State("cs-space-a", "value"),
        State("cs-space-b", "value"),
        State("cs-k", "value"),
        State("cs-metric", "value"),
        State("cs-brushed", "data"),
        prevent_initial_call=True,
    )
    def _select_range(_clicks, space_a, space_b, k, metric, brushed):
        if not space_a or not space_b or space_a == space_b:
            return dash.no_update
        comparison = load_comparison(context, space_a, space_b, effective_k(context, k), metric)
        if comparison is None:
            return dash.no_update
        return {"rows": rows_in_range(comparison.overlap, overlap_range(brushed)).tolist(), "source": "compare-spaces-histogram"}

    @app.callback(
        Output("cs-neighbourhood", "figure"),
        Output("cs-subject-title", "children"),
        Output("cs-common", "children"),
        Input("cs-space-a", "value"),
        Input("cs-space-b", "value"),
        Input("cs-layout", "value"),
        Input("cs-k", "value"),
        Input("cs-metric", "value"),
        Input("cs-subject", "data"),
        Input(SELECTION, "data"),
        Input("cs-align-on-selection", "value"),
        Input("cs-ready", "data"),
        Input("main-tabs", "active_tab"),
    )
    def _subject(space_a, space_b, method, k, metric, focused, selection, align, _ready, tab):
        if tab != PANEL_TAB:
            return dash.no_update, dash.no_update, dash.no_update
        return render_subject(context, space_a, space_b, method, k, metric, focused_row(context, focused, selection), selection, align)

    @app.callback(
        Output(SELECTION, "data", allow_duplicate=True),
        Output("cs-save-feedback", "children"),
        Output(COHORTS_VERSION, "data", allow_duplicate=True),
        Input({"type": "cs-suggestion-select", "index": ALL}, "n_clicks"),
        Input({"type": "cs-suggestion-save", "index": ALL}, "n_clicks"),
        State("cs-suggested", "data"),
        State("cs-space-a", "value"),
        State("cs-space-b", "value"),
        State("cs-k", "value"),
        State(COHORTS_VERSION, "data"),
        prevent_initial_call=True,
    )
    def _use_suggestion(_select, _save, suggested, space_a, space_b, k, version):
        return use_suggestion(context, ctx.triggered_id, bool(ctx.triggered and ctx.triggered[0]["value"]), suggested, space_a, space_b,
                              effective_k(context, k), version)


def subject_from_event(context: AppContext, trigger: str | dict | None, click: dict | None, clicked: bool = True) -> int | None:
    """The row number of the subject clicked on the map (reduced in the browser to {"row"}) or in a list (the row's id)."""
    if trigger == "cs-map-click" and isinstance(click, dict):
        return validation.integer(click.get("row"), "clicked subject", 0, context.n_subjects - 1)
    if isinstance(trigger, dict) and trigger.get("type") == "cs-row" and clicked:
        return validation.integer(trigger.get("row"), "clicked subject", 0, context.n_subjects - 1)
    return None  # a list was redrawn, not clicked


def use_suggestion(context: AppContext, trigger: dict | None, clicked: bool, suggested: list | None, space_a: str, space_b: str,
                   k: int, version: int | None) -> tuple:
    """Select a suggested group (the shared selection) or save it as a cohort."""
    if not clicked or not isinstance(trigger, dict) or not suggested or trigger["index"] >= len(suggested):
        return dash.no_update, dash.no_update, dash.no_update
    rows = suggested[trigger["index"]]
    if trigger["type"] == "cs-suggestion-select":
        return {"rows": rows, "source": "compare-spaces-suggestion"}, dash.no_update, dash.no_update
    try:
        name = save_suggested_group(context, rows, space_a, space_b, k, trigger["index"])
    except (CohortStoreError, ValueError) as error:
        return dash.no_update, html.Span(str(error), className="text-danger"), dash.no_update
    return dash.no_update, html.Span(f"Saved “{name}” ({len(rows):,} subjects)", className="text-success"), (version or 0) + 1
