"""What the space comparison shows, as frozen dataclasses of figures, records and components; the callbacks only turn them into outputs."""

from __future__ import annotations

from dataclasses import dataclass, replace

import dash
import dash_bootstrap_components as dbc
import numpy as np
from dash import Patch, html

from app import validation
from app.cohort_store import CohortStoreError
from app.comparisons import aligned_layouts, transition_frame_count
from app.context import AppContext
from app.core.alignment import transition_fractions, transition_frames
from app.core.neighbours import MAX_K, METRICS, NeighbourComparison, cohort_summary, common_changes
from app.core.projections import METHODS
from app.figures.compare_spaces import neighbourhood_multiples, overlap_density_map, overlap_histogram, overlap_map
from app.figures.messages import message_figure
from app.figures.static_html import one_component
from app.panels.compare_spaces.neighbourhoods import (
    changed_trails,
    common_profile,
    effective_k,
    focus_subject,
    load_comparison,
    overlap_range,
    rows_in_range,
    save_suggested_group,
    selected_rows,
)
from app.panels.compare_spaces.settings import BACKGROUND_SUBJECTS, INLINE_SUBJECTS, MAP_SOURCE
from app.panels.compare_spaces.tables import change_table, changed_lists, suggestion_list
from app.panels.selection_marks import outline_in_view, plotly_selection_dropped
from app.panels.tooltips import Tooltip, hover_tooltip
from app.state import SELECTION, space_label, transition_view


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

    map: object = dash.no_update  # the overlap map: a figure (its frames drawn in the browser), or a Patch of its highlighted points
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
        """A figure goes to the map's spec (the browser draws its frames), a Patch to the figure drawn."""
        spec, patch = (dash.no_update, self.map) if isinstance(self.map, Patch) else (self.map, dash.no_update)
        return (spec, patch, self.histogram, self.most, self.least, self.suggestions, self.suggested, self.request, self.summary, self.title)


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
    as_density = len(drawn) > context.config.density_threshold  # as the explorer's views: no point per subject above it
    fractions = transition_fractions(transition_frame_count(context.n_subjects))
    # A lasso on a frame travels as its shape and that frame's name, resolved on the same coordinates here, unless
    # the map shows a brushed range only (the shape would take in subjects not drawn) or B aligned on the selection
    # (which the lasso itself changes): then it sends the rows inside it.
    views = None if brushed is not None or align_on_selection else [transition_view(space_a, space_b, method, frame) for frame in range(len(fractions))]
    outline = map_outline(views, selection)
    if triggers and triggers <= {SELECTION} and not align_on_selection:
        if as_density:  # cells have no points to highlight: the histogram and the summary show the selection
            return Overview(histogram=histogram, summary=summary)
        return Overview(map=highlight_patch(context, drawn, rows_selected, selection, outline, views), histogram=histogram, summary=summary)
    layout_a, layout_b = layouts
    max_trails = int(np.clip(context.n_subjects // 20, 30, 300))  # the strongest few hundred at most, fewer in small cohorts
    changed_below = validation.number(0.3 if trail_threshold is None else trail_threshold, "trail threshold", 0.0, 1.0)
    trails = changed_trails(context, space_a, space_b, method, k, metric, changed_below, max_trails) if show_trails else None
    if trails is not None and brushed is not None:
        keep = np.isin(trails[0], drawn)
        trails = (trails[0][keep], trails[1][keep])
    labels = (space_label(space_a), space_label(space_b))
    shown = f" · overlap {brushed[0]:.2f}–{brushed[1]:.2f}: {len(drawn):,} subjects" if brushed else ""
    axis_labels = (f"{METHODS[method]} 1", f"{METHODS[method]} 2")
    if as_density:
        frames = transition_frames(layout_a, layout_b, len(fractions))
        figure = overlap_density_map(frames, overlap, rows=drawn, trails=trails, frame_labels=labels, axis_labels=axis_labels,
                                     revision=f"{space_a}-{space_b}-{method}-density")
        title = (f"{labels[0]} layout ({METHODS[method]}) as a density of {len(drawn):,} subjects: each cell coloured by the mean share "
                 f"of their {k} nearest neighbours kept in {labels[1]}{shown} (above {context.config.density_threshold:,} subjects; "
                 "select with the histogram, focus from the lists)")
    else:
        figure = overlap_map(layout_a, layout_b, fractions, overlap, rows=drawn, selected_rows=rows_selected, trails=trails, frame_labels=labels,
                             axis_labels=axis_labels, revision=f"{space_a}-{space_b}-{method}", frame_views=views, outline=outline)
        title = (f"{labels[0]} layout ({METHODS[method]}), each subject coloured by the share of its {k} nearest neighbours "
                 f"it keeps in {labels[1]}{shown}")
    most, least = changed_lists(context, comparison, drawn)
    suggestions, suggested = suggestion_list(context, comparison)
    return Overview(map=figure, histogram=histogram, most=most, least=least, suggestions=suggestions, suggested=suggested,
                    summary=summary, title=title)


def map_outline(frame_views: list[dict] | None, selection: dict | None) -> tuple[int, dict] | None:
    """The selection's box or lasso as a layout shape, and the map's frame it was drawn on; None when it was drawn on none of them."""
    for frame, view in enumerate(frame_views or []):
        if shapes := outline_in_view(view, selection):
            return frame, shapes[0]
    return None


def highlight_patch(context: AppContext, drawn: np.ndarray, rows_selected: np.ndarray | None, selection: dict | None,
                    outline: tuple[int, dict] | None, frame_views: list[dict] | None) -> Patch:
    """The map's new selection, patched into the figure drawn: its highlighted points and its outline, on the frame it belongs to.

    Each frame says whether it shows the outline (Plotly applies a frame's layout as it draws the frame); a
    box just drawn on the map is on the frame shown. Plotly's own outline goes as the server's replaces it,
    and when the selection came from elsewhere (it outlined the old one); a brushed map's rows-only lasso keeps it.
    """
    patch = Patch()
    if rows_selected is None:
        patch["data"][0]["selectedpoints"] = None
    else:
        chosen = np.zeros(context.n_subjects, dtype=bool)
        chosen[rows_selected] = True
        patch["data"][0]["selectedpoints"] = np.flatnonzero(chosen[drawn]).tolist()
    drawn_here = (selection or {}).get("source") == MAP_SOURCE
    patch["layout"]["shapes"] = [] if outline is None else [{**outline[1], "visible": drawn_here}]
    patch["layout"]["meta"]["outline_frame"] = None if outline is None else outline[0]
    for frame in range(len(frame_views or [])):
        patch["frames"][frame]["layout"] = {} if outline is None else {"shapes": [{"visible": frame == outline[0]}]}
    if outline is not None or not drawn_here:
        for key, value in plotly_selection_dropped(selection).items():
            patch["layout"][key] = value
    return patch


def map_tooltip(context: AppContext, hover: dict | None, space_a: object, space_b: object, k: object, metric: object) -> Tooltip:
    """The hovered subject on the overlap map, and its overlap (read from the cached comparison, as the map was drawn from it)."""
    def overlap_line(row: int) -> list[str]:
        spaces = list(context.cohort.spaces)
        first = validation.choice(space_a, spaces, "space A")
        second = validation.choice(space_b, [space for space in spaces if space != first], "space B (not A)")
        neighbours = effective_k(context, validation.integer(k, "neighbours k", 1, MAX_K))
        comparison = load_comparison(context, first, second, neighbours, validation.choice(metric, list(METRICS), "distance"))
        return [] if comparison is None else [f"overlap {comparison.overlap[row]:.2f}"]

    return hover_tooltip(context, hover, overlap_line)


@dataclass(frozen=True)
class SubjectView:
    """The focused subject: its neighbourhoods in both spaces, a title saying what it kept, and what the selection changed in common."""

    neighbourhood: object  # a figure: small multiples, or a hint
    title: str = ""
    common: object = ""  # gained/lost tables and the clinical profile, or a hint

    def outputs(self) -> tuple:
        return self.neighbourhood, self.title, self.common


def render_subject(context: AppContext, space_a: str | None, space_b: str | None, method: str, k: int | None, metric: str,
                   subject: int | None, selection: dict | None, align_on_selection: list | None) -> SubjectView:
    """The focus subject's small multiples and title, and what the selection gained/lost in common and shares clinically."""
    hint = "Click a subject on the map or in a list,\nlasso a group, or pick a suggested group"
    if not space_a or not space_b or space_a == space_b or len(context.cohort.spaces) < 2:
        return SubjectView(message_figure(hint))
    k = effective_k(context, k)
    comparison = load_comparison(context, space_a, space_b, k, metric, compute=context.n_subjects <= INLINE_SUBJECTS)
    rows_selected = selected_rows(context, selection)
    layouts = aligned_layouts(context, space_a, space_b, method, rows_selected if align_on_selection else None)
    if comparison is None or layouts is None:
        return SubjectView(message_figure("Waiting for the neighbours…"))
    focus = focus_subject(comparison, subject, rows_selected)
    if focus is None:
        return SubjectView(message_figure(hint), "", html.Div("Select subjects to see what their neighbourhoods gained and lost in common, "
                                                              "and what they share clinically.", className="small text-muted"))
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
                     change_table(context, "gained", changes.gained_rows, changes.gained_counts, len(rows))], md=6),
            dbc.Col([html.Div("Lost (neighbours only in A)", className="small", style={"color": "#e66101"}),
                     change_table(context, "lost", changes.lost_rows, changes.lost_counts, len(rows))], md=6),
        ], className="g-2"),
    ]
    if len(rows) >= 2 and len(rows) < context.n_subjects:
        profile = common_profile(context, rows)
        common += [html.Div("What the selected subjects have in common: the variables that set them apart from everyone else",
                            className="small fw-semibold mt-2 mb-1"),
                   one_component(dbc.Table.from_dataframe(profile, striped=True, hover=True, size="sm", className="small mb-0"), component_id="cs-profile")]
    return SubjectView(figure, title, common)


@dataclass(frozen=True)
class SuggestionUse:
    """What using a suggested group changes: the shared selection, the save feedback, the saved-cohort version (no_update: unchanged)."""

    selection: object = dash.no_update
    feedback: object = dash.no_update
    cohorts_version: object = dash.no_update

    def outputs(self) -> tuple:
        return self.selection, self.feedback, self.cohorts_version


def use_suggestion(context: AppContext, trigger: dict | None, clicked: bool, suggested: list | None, space_a: str, space_b: str,
                   k: int, version: int | None) -> SuggestionUse:
    """Select a suggested group (the shared selection) or save it as a cohort."""
    if not clicked or not isinstance(trigger, dict) or not suggested or trigger["index"] >= len(suggested):
        return SuggestionUse()
    rows = suggested[trigger["index"]]
    if trigger["type"] == "cs-suggestion-select":
        return SuggestionUse(selection={"rows": rows, "source": "compare-spaces-suggestion"})
    try:
        name = save_suggested_group(context, rows, space_a, space_b, k, trigger["index"])
    except (CohortStoreError, ValueError) as error:
        return SuggestionUse(feedback=html.Span(str(error), className="text-danger"))
    return SuggestionUse(feedback=html.Span(f"Saved “{name}” ({len(rows):,} subjects)", className="text-success"), cohorts_version=(version or 0) + 1)
