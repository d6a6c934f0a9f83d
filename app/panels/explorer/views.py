"""What each explorer view draws: a full figure, or the Patch that repaints it; its tooltip, the legend and the selection summary."""

from __future__ import annotations

from dataclasses import dataclass

import dash
import numpy as np
import pandas as pd
from dash import Patch, html
from plotly.colors import sample_colorscale

from app import validation
from app.context import AppContext
from app.core.density import Viewport, density_grid, parse_viewport
from app.core.projections import METHODS, ProjectionSpec
from app.figures.density import (
    DENSITY_BINS,
    choose_drawing,
    density_caption,
    density_data,
    density_margin,
    density_right_margin,
    density_traces,
    view_figure,
)
from app.figures.messages import NARROW_LINE, message_figure
from app.figures.preview import density_data_url, preview_data_url
from app.figures.scatter import (
    CONTINUOUS_SCALE,
    MARKER_SIZE_PX,
    ColourCoding,
    colour_coding,
    found_subject_marks,
    highlighted_codes,
    palette,
    typed_array,
    view_margin,
    view_title,
)
from app.panels.explorer.settings import HIGHLIGHT_TRIGGERS, NO_SPACE_YET, NO_SPACES
from app.panels.selection_marks import outline_in_view, plotly_selection_dropped
from app.state import (
    CLUSTER_COLOUR,
    CLUSTERS,
    FOUND_SUBJECT,
    SELECTION,
    SelectionError,
    cluster_column,
    highlight_mask,
    narrowed_mask,
    selection_in_words,
    selection_mask,
    space_label,
    subject_row,
    view_coordinates,
)


def _colour(context: AppContext, colour: str | None, clusters: dict | None = None) -> ColourCoding:
    """The colour codes of a variable, or of the clustering in force (CLUSTER_COLOUR); one colour for everyone otherwise."""
    column = cluster_column(context, clusters) if colour == CLUSTER_COLOUR else None
    if column is not None:
        return colour_coding(*column)
    if not colour or colour not in context.variables:
        return colour_coding(pd.Series(np.zeros(context.n_subjects)), None)
    return colour_coding(context.cohort.phenotypes[colour], context.variables[colour])


def _repaint_only(triggers: set[str]) -> bool:
    """Whether only the colour, the clusters, the highlighted cohort or the found subject changed: a Patch will do."""
    return bool(triggers) and triggers <= HIGHLIGHT_TRIGGERS | {FOUND_SUBJECT}


def other_colour(triggers: set[str], colour: str | None) -> bool:
    """New clusters were found while the views are coloured by something else: nothing to repaint."""
    return triggers == {CLUSTERS} and colour != CLUSTER_COLOUR


def _found_marks(context: AppContext, coordinates: np.ndarray, found: str | None) -> dict[str, list[dict]]:
    row = subject_row(context, found)
    return found_subject_marks(coordinates, row, "" if row is None else str(context.cohort.subject_ids[row]))


def viewport_for(payload: object, revision: str) -> Viewport | None:
    """The zoom a view's browser reported, if it was reported for the figure now drawn (``revision``); None: everything."""
    if not isinstance(payload, dict) or payload.get("revision") != revision or payload.get("x") is None:
        return None
    try:
        return parse_viewport({"x": payload.get("x"), "y": payload.get("y")})
    except ValueError as error:
        raise validation.InputRefused(str(error)) from None


def _drawn_marks(view: dict, selection: dict | None, found_marks: dict[str, list[dict]]) -> dict:
    """What a view draws over its points: the selection's outline and the found subject's ring (shapes) and label."""
    return {"shapes": outline_in_view(view, selection) + found_marks["shapes"], "annotations": found_marks["annotations"]}


def view_marks(view: dict, selection: dict | None, found_marks: dict[str, list[dict]]) -> dict:
    """A newly drawn view's marks (see :func:`_drawn_marks`), with no selection of Plotly's own."""
    return {**_drawn_marks(view, selection, found_marks), **plotly_selection_dropped(selection)}


def _set_marks(patch: Patch, view: dict, selection: dict | None, triggers: set[str], found_marks: dict[str, list[dict]]) -> None:
    """Redraw the outline and the found subject's marks when the selection or the found subject changed."""
    marks = _drawn_marks(view, selection, found_marks) if triggers & {SELECTION, FOUND_SUBJECT} else {}
    if SELECTION in triggers:
        marks.update(plotly_selection_dropped(selection))
    for key, value in marks.items():
        patch["layout"][key] = value


def repaint_patch(view: dict, coding: ColourCoding, highlight: np.ndarray | None, selection: dict | None,
                  triggers: set[str], marks: dict[str, list[dict]], rows: np.ndarray | None = None) -> Patch:
    """The marker colours (codes with the cohort highlighted) of an already drawn view, or its found-subject marks; zoom is untouched.

    ``view``: what the view shows (see :func:`outline_in_view`); ``marks``: the found subject's (see
    ``found_subject_marks``); ``rows``: the subjects a zoomed-in view draws (point *i* is ``rows[i]``).
    The view's outline follows the selection in force.
    """
    patch = Patch()
    if triggers & HIGHLIGHT_TRIGGERS:
        codes = highlighted_codes(coding, highlight)
        colours = typed_array(codes if rows is None else codes[rows])
        patch["data"][0]["marker"]["color"] = colours
        if triggers & {"colour-by", CLUSTERS}:
            patch["data"][0]["meta"]["palette"] = palette(coding)
        patch["data"][0]["meta"]["highlight"] = highlight is not None  # the rest of meta (colour groups, zoom) stays
    _set_marks(patch, view, selection, triggers, marks)
    return patch


def render_view(context: AppContext, view: dict, coordinates: np.ndarray, labels: dict[str, str], colour: str | None,
                filters: list | None, selection: dict | None, triggers: set[str], viewport: object, drawn: bool = True,
                clusters: dict | None = None, found: str | None = None) -> object:
    """A drawn view's figure, or the Patch that repaints it when only the colour, the highlighted cohort or the found subject changed.

    Above the density threshold the view draws a density image (a repaint sends its new layers, a
    few hundred KB), or, zoomed in to few enough subjects, their points; ``labels``: title, axis
    labels and the revision that keeps zoom; ``view``: what the view shows (kind, space and method,
    or x and y); ``found``: a subject to ring in the view.
    """
    coding = _colour(context, colour, clusters)
    highlight = highlight_mask(context, filters, selection)
    threshold = context.config.density_threshold
    zoom = viewport_for(viewport, labels["revision"])
    drawing = choose_drawing(coordinates, zoom, threshold)
    marks = _found_marks(context, coordinates, found)
    if not (drawn and _repaint_only(triggers)):
        return view_figure(coordinates, coding, drawing, highlight=highlight, viewport=zoom, threshold=threshold,
                           marks=view_marks(view, selection, marks), **labels)
    if drawing.mode != "density":
        return repaint_patch(view, coding, highlight, selection, triggers, marks, drawing.rows)
    patch = Patch()  # a density view: new layers, the same axes, zoom and outline
    if triggers & HIGHLIGHT_TRIGGERS:
        patch["data"] = density_data(coordinates, coding, highlight, zoom)
        patch["layout"]["margin"]["r"] = density_right_margin(coding)  # room for its colour bar, if it has one
        patch["layout"]["title"]["text"] = view_title(labels["title"], density_caption(drawing, threshold, coding))
    _set_marks(patch, view, selection, triggers, marks)
    return patch


@dataclass(frozen=True)
class LatentView:
    """What a latent view shows and what it waits for."""

    figure: object  # a figure, the Patch that repaints the one drawn, or no_update
    request: object = None  # {"space", "method"} for the background job to compute; None: waits for nothing; no_update: unchanged

    def outputs(self, shown: str) -> tuple:
        """(figure, projection request, what the view waits for, what it has drawn); ``shown``: the key of the space and method asked for."""
        if self.request is None:  # drawn: the view waits for nothing, and no (empty) background job is queued
            return self.figure, dash.no_update, None, shown
        if self.request is dash.no_update:
            return self.figure, dash.no_update, dash.no_update, dash.no_update
        return self.figure, self.request, self.request, None


def render_latent_view(context: AppContext, view: int, space: str | None, method: str, colour: str | None,
                       filters: list | None, selection: dict | None, triggers: set[str], drawn: bool = True,
                       clusters: dict | None = None, found: str | None = None, viewport: object = None) -> LatentView:
    """The figure (or patch) of one latent view, and the projection it asks for; ``drawn``: the view shows its points now; ``found``: a subject to mark."""
    if not space:
        return LatentView(message_figure(NO_SPACE_YET if context.spaces_pending else NO_SPACES, line_characters=NARROW_LINE))
    spec = ProjectionSpec(method=method)
    coordinates = context.cached_projection(space, spec)
    if coordinates is None:
        if _repaint_only(triggers):
            return LatentView(dash.no_update, dash.no_update)
        text = f"Computing the {METHODS[method]} of the {space_label(space)} space…"
        return LatentView(message_figure(text, line_characters=NARROW_LINE), {"space": space, "method": method})
    labels = {"title": f"{space_label(space)} · {METHODS[method]}", "x_label": f"{METHODS[method]} 1", "y_label": f"{METHODS[method]} 2",
              "revision": f"{view}-{space}-{method}"}
    shown = {"kind": "latent", "space": space, "method": method}
    figure = render_view(context, shown, coordinates, labels, colour, filters, selection, triggers, viewport, drawn=drawn,
                         clusters=clusters, found=found)
    return LatentView(figure, dash.no_update if isinstance(figure, Patch) else None)


def ask_again(context: AppContext, pending: dict | None, asked: object) -> dict | None:
    """The projection a waiting view asks for again (its own, ``pending``), or None while there is no need.

    ``asked``: the request now in the job's store. The latent views share it, so a view asking for
    a projection while the other view's job runs replaces that job (Dash stops it): that view
    asks again once the job that replaced its own is done, so both are computed, one after the other.
    """
    if checked_projection(context, pending, "waiting projection") is None or asked == pending:
        return None
    if asked is not None and not projection_arrived(context, asked):
        return None  # the job now asked for is still running
    return pending


def projection_not_computed(space: str, method: str) -> object:
    """What a view waiting for a projection shows once its job ended without one (the page's message says why)."""
    return message_figure(f"The {METHODS[method]} of the {space_label(space)} space\nwas not computed:\nthe message above says why.\n"
                          "To ask again, choose another\nmethod, then this one.")


def render_clinical_view(context: AppContext, x: str | None, y: str | None, colour: str | None,
                         filters: list | None, selection: dict | None, triggers: set[str], drawn: bool = True,
                         found: str | None = None, clusters: dict | None = None, viewport: object = None) -> object:
    if not x or not y:
        return message_figure("Choose two continuous variables")
    coordinates = view_coordinates(context, {"kind": "clinical", "x": x, "y": y})
    labels = {"title": f"{context.variables[x].label} vs {context.variables[y].label}", "x_label": context.variables[x].display_label,
              "y_label": context.variables[y].display_label, "revision": f"clinical-{x}-{y}"}
    return render_view(context, {"kind": "clinical", "x": x, "y": y}, coordinates, labels, colour, filters, selection, triggers,
                       viewport, drawn=drawn, clusters=clusters, found=found)


def warm_up(context: AppContext, views: tuple, clinical: tuple | None, colour: str | None) -> None:
    """Draw the page's default views once, off any request, so the first page after a start does not wait for what they need.

    On a fresh 100,000-subject cohort the first page's first view took 1.2 s (its PCA projections
    computed and cached, the libraries they need imported) and each later one 8 ms; with the
    projections cached from an earlier run, 0.15 s. ``views``: each latent view's (space, method) or
    None, ``clinical``: the clinical view's (x, y), as the page's layout starts them.
    """
    for view, shown in enumerate(views):
        if shown:
            render_latent_view(context, view, shown[0], shown[1], colour, [], None, set())
    if clinical:
        render_clinical_view(context, clinical[0], clinical[1], colour, [], None, set())


@dataclass(frozen=True)
class ViewPicture:
    """A picture of a view's plot area (a ``data:`` URL) and the view's margins, around it."""

    url: str
    margin: dict[str, int]


def view_preview(context: AppContext, coordinates: np.ndarray | None, colour: str | None, view_size_px: tuple[int, int]) -> ViewPicture | None:
    """A picture of a view as it is first drawn (everyone, not highlighted; see app.figures.preview) to show until it is:
    its points, or above the density threshold its density; None where there is nothing to picture yet (a projection not computed).

    ``view_size_px``: the view's (width, height); the picture is of its plot area, the margins left out (the page
    stretches it to the width the view has on the screen).
    """
    if coordinates is None:
        return None
    coding = _colour(context, colour)
    points = choose_drawing(coordinates, None, context.config.density_threshold).mode == "points"
    margin = view_margin() if points else density_margin(coding)
    plot = {"width": view_size_px[0] - margin["l"] - margin["r"], "height": view_size_px[1] - margin["t"] - margin["b"]}
    if points:
        return ViewPicture(preview_data_url(coordinates, coding.codes, palette(coding), marker_px=MARKER_SIZE_PX, **plot), margin)
    grid = density_grid(coordinates, None, DENSITY_BINS)
    layers = [trace for trace in density_traces(grid, coding, None) if trace.type == "heatmap"]
    return ViewPicture(density_data_url(layers, grid.x_edges, grid.y_edges, **plot), margin)


def colour_legend(context: AppContext, colour: str | None, clusters: dict | None = None) -> list:
    """One legend for the three views (they are coloured alike): category swatches or a colour bar."""
    if colour == CLUSTER_COLOUR and cluster_column(context, clusters) is None:
        return [html.Span("No clusters yet: find them in the Clusters tab.", className="text-muted")]
    if not colour or (colour not in context.variables and colour != CLUSTER_COLOUR):
        return []
    coding = _colour(context, colour, clusters)
    items = []
    if coding.continuous is not None:
        label, low, high = coding.continuous
        stops = ", ".join(sample_colorscale(CONTINUOUS_SCALE, np.linspace(0, 1, 6).tolist()))
        items.append(html.Span([html.Span(f"{label}  {low:.3g} "), html.Span(className="legend-bar", style={"background": f"linear-gradient(to right, {stops})"}),
                                html.Span(f" {high:.3g}")], className="me-3"))
    for name, swatch in coding.legend:
        items.append(html.Span([html.Span(className="legend-swatch", style={"background": swatch}), name], className="me-3 text-nowrap"))
    return items


def checked_projection(context: AppContext, value: object, what: str) -> dict | None:
    """A projection as the browser sends it back (a view's waiting store, the job's request): None, or one of the cohort's spaces and a method."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"space", "method"}:
        raise validation.InputRefused(f"{what}: expected a space and a method, got {value!r:.80}")
    validation.choice(value["space"], list(context.cohort.spaces), f"{what}: space")
    validation.choice(value["method"], list(METHODS), f"{what}: method")
    return value


def projection_arrived(context: AppContext, pending: object) -> bool:
    """Whether the projection a view waits for is now cached (False when it waits for none)."""
    pending = checked_projection(context, pending, "waiting projection")
    return pending is not None and context.projection_ready(pending["space"], ProjectionSpec(method=pending["method"]))


def selection_summary(context: AppContext, filters: list | None, selection: dict | None) -> str:
    """How many are highlighted, and by what; the selection resolved once (a lasso at a million subjects is not free)."""
    try:
        selected = selection_mask(context, selection)
    except SelectionError as error:
        return f"Selection ignored: {error}"
    highlighted = narrowed_mask(context, filters, selected)
    if highlighted is None:
        return f"All {context.n_subjects:,} subjects · lasso or box-select points in any view"
    words = selection_in_words(context, selection, selected)
    return f"{int(highlighted.sum()):,} of {context.n_subjects:,} subjects highlighted" + (f" · {words}" if words else "")
