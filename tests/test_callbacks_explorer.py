"""Explorer, cohort and comparison callbacks, called as plain functions on a real app context."""

from __future__ import annotations

import dash
import numpy as np
import plotly.graph_objects as go
import pytest
from dash.exceptions import PreventUpdate

from app.config import AppConfig
from app.context import AppContext
from app.core.cohort_algebra import CohortDefinition
from app.core.cohort_description import describe_definition, readable_time
from app.core.filters import ChoiceFilter, RangeFilter, slider_limits
from app.core.projections import ProjectionSpec
from app.figures.density import COUNT_BAR_MARGIN_PX, SHARE_BAR_MARGIN_PX
from app.figures.scatter import FADED_OFFSET, VIEW_RIGHT_MARGIN_PX
from app.panels import cohorts, compare_cohorts, explorer, tooltips, variables
from app.panels.address_bar import VIEW_CONTROLS
from app.panels.explorer import settings as explorer_settings
from app.panels.explorer import views as explorer_views
from app.panels.selection_marks import outline_in_view
from app.server import create_app
from app.state import highlight_mask, resolve_choice
from app.validation import InputRefused
from data_loaders import load_cohort
from tests.figure_checks import validated
from tests.typed_arrays import unpacked


@pytest.fixture
def context(phenotype_cohort_dir, tmp_path) -> AppContext:
    return AppContext(AppConfig(cohort_dir=phenotype_cohort_dir, cache_dir=tmp_path), load_cohort(phenotype_cohort_dir))


WOMEN = [ChoiceFilter("sex", ("female",)).to_dict()]


def test_app_registers_its_callbacks_and_lays_out_every_panel(phenotype_cohort_dir, tmp_path):
    app = create_app(AppConfig(cohort_dir=phenotype_cohort_dir, cache_dir=tmp_path))
    layout = str(app.layout)
    for component in ("view-0", "view-1", "view-2", "colour-by", "add-filter", "save-cohort", "cohort-facts", "variables-pane", "decoder-pane"):
        assert f"'{component}'" in layout
    for component in ("variable-table", "compare-a", "decoder-subjects", "accuracy-task", "cs-map", "cluster-list"):
        assert f"'{component}'" not in layout  # laid out when its tab is first opened (app.panels.tab_panes)
    context = AppContext(AppConfig(cohort_dir=phenotype_cohort_dir, cache_dir=tmp_path), load_cohort(phenotype_cohort_dir))
    facts = next(c for c in variables.layout(context)._traverse() if getattr(c, "id", None) == "cohort-facts")
    assert facts.children.endswith("spaces: Joint (ECG + MRI), ECG only")  # as every dropdown names them, not "joint, ecg"
    table = variables.content(context).children[-1]
    assert table.id == "variable-table" and table.children.count("<tr>") == len(context.variables) + 1  # a header, then a row per variable
    assert len(app.callback_map) >= 12


def _outputs(callback: dict) -> set[str]:
    """A registered callback's outputs as "id.property" (Dash writes several as "..a.b...c.d..", a duplicate with "@hash")."""
    return {output.split("@")[0] for output in callback["output"].strip(".").split("...")}


def test_a_selection_colour_or_filter_change_repaints_the_views_without_waiting_for_another_server_callback(phenotype_cohort_dir, tmp_path):
    # Dash holds back a callback while any of its inputs is the output of a callback still pending: a server callback
    # that listens to these changes and outputs what the views listen to costs every repaint a round trip first.
    app = create_app(AppConfig(cohort_dir=phenotype_cohort_dir, cache_dir=tmp_path))
    callbacks = app._callback_list
    specs = {f"{ids.spec}.data" for ids in explorer_settings.VIEWS}
    view_inputs = {f"{i['id']}.{i['property']}" for c in callbacks if _outputs(c) & specs for i in c["inputs"]}
    changes = {"selection.data", "filters.data", "colour-by.value"}
    server_listeners = [c for c in callbacks if not c["clientside_function"] and {f"{i['id']}.{i['property']}" for i in c["inputs"]} & changes]
    assert len(server_listeners) > 5  # the views themselves, the summary, the address bar, the histograms, the legend…
    assert [sorted(_outputs(c) & view_inputs) for c in server_listeners if _outputs(c) & view_inputs and not _outputs(c) & specs] == []


def _laid_out_ids(component) -> list:
    """Every id in a layout, depth first (a component may hold one child or a list of them)."""
    ids = [component.id] if getattr(component, "id", None) is not None else []
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list | tuple) else [children]:
        if hasattr(child, "to_plotly_json"):
            ids += _laid_out_ids(child)
    return ids


def test_every_explorer_view_id_written_out_in_settings_is_laid_out_once_and_the_address_bar_names_the_same(context):
    laid_out = _laid_out_ids(explorer.layout(context))
    written = [value for ids in explorer_settings.VIEWS for value in vars(ids).values()]
    assert len(written) == 2 * 8 + 5 and all(laid_out.count(value) == 1 for value in written)
    assert [ids.graph for ids in explorer_settings.VIEWS] == ["view-0", "view-1", "view-2"]  # the order assets/explorer.js reads them in
    assert tuple((ids.space, ids.method) for ids in explorer_settings.LATENT_VIEWS) == VIEW_CONTROLS


def _highlighted_rows(context, filters, selection):
    """Rows of the current cohort (filters ∧ selection), or None when neither narrows it."""
    mask = highlight_mask(context, filters, selection)
    return None if mask is None else np.flatnonzero(mask)


def test_highlight_is_filters_and_selection_together(context):
    phenotypes = context.cohort.phenotypes
    assert highlight_mask(context, [], None) is None
    women = np.flatnonzero((phenotypes["sex"] == "female").to_numpy())
    assert np.flatnonzero(highlight_mask(context, WOMEN, None)).tolist() == women.tolist()
    chosen = {"rows": [0, 1, 2, 3, 4, 5]}
    assert np.flatnonzero(highlight_mask(context, WOMEN, chosen)).tolist() == [r for r in range(6) if r in set(women)]
    assert np.flatnonzero(highlight_mask(context, [], {"rows": []})).tolist() == []


def _operations(patch: dash.Patch) -> dict[tuple, object]:
    return {tuple(op["location"]): op["params"].get("value") for op in patch.to_plotly_json()["operations"]}


def test_latent_view_draws_one_trace_then_patches_only_its_marker_colours(context):
    latent = explorer_views.render_latent_view(context, 0, "joint", "pca", "sex", [], None, {"view-0-space"})
    figure = latent.figure
    assert isinstance(figure, go.Figure) and latent.request is None and len(figure.data) == 1 and len(unpacked(figure.data[0].x)) == context.n_subjects
    latent = explorer_views.render_latent_view(context, 0, "joint", "pca", "sex", WOMEN, None, {"filters"})
    patch = latent.figure
    assert isinstance(patch, dash.Patch) and latent.request is dash.no_update
    operations = _operations(patch)
    assert set(operations) == {("data", 0, "marker", "color"), ("data", 0, "meta", "highlight")}  # no coordinates, no other trace
    women = (context.cohort.phenotypes["sex"] == "female").to_numpy()
    assert (unpacked(operations[("data", 0, "marker", "color")]) < FADED_OFFSET).tolist() == women.tolist()


def test_a_colour_change_patches_the_colour_scale_and_keeps_the_selection(context):
    selection = {"source": "view-0", "view": {"kind": "latent", "space": "joint", "method": "pca"},
                 "shape": {"kind": "box", "x": [-1e9, 1e9], "y": [0, 1e9]}}
    patch = explorer_views.render_latent_view(context, 0, "joint", "pca", "age_years", [], selection, {"colour-by"}).figure
    operations = _operations(patch)
    assert len(operations[("data", 0, "meta", "palette")]) == 256  # a new colour for each code, with the new codes
    inside = context.cached_projection("joint", ProjectionSpec(method="pca"))[:, 1] >= 0
    assert (unpacked(operations[("data", 0, "marker", "color")]) < FADED_OFFSET).tolist() == inside.tolist()
    assert ("layout", "selectionrevision") not in _operations(patch)


def test_a_box_drawn_in_one_view_is_resolved_on_that_view_and_highlights_filters_and_box_everywhere(context):
    phenotypes = context.cohort.phenotypes
    selection = {"source": "view-2", "view": {"kind": "clinical", "x": "age_years", "y": "lv_mass_g"},
                 "shape": {"kind": "box", "x": [60, 200], "y": [-1e9, 1e9]}, "at": 1}
    in_box = (phenotypes["age_years"] >= 60).to_numpy()
    women = (phenotypes["sex"] == "female").to_numpy()
    assert _highlighted_rows(context, WOMEN, selection).tolist() == np.flatnonzero(in_box & women).tolist()
    own = _operations(explorer_views.render_clinical_view(context, "age_years", "lv_mass_g", None, WOMEN, selection, {"selection"}))
    other = explorer_views.render_latent_view(context, 0, "joint", "pca", None, WOMEN, selection, {"selection"}).figure
    other = _operations(other)
    for operations in (own, other):
        assert (unpacked(operations[("data", 0, "marker", "color")]) < FADED_OFFSET).tolist() == (in_box & women).tolist()
    # Plotly's own outline is dropped everywhere, the one just drawn too: the server's outline (a shape) replaces it where it was drawn.
    for operations in (own, other):
        assert operations[("layout", "selections")] == [] and operations[("layout", "selectionrevision")]
    assert [shape["name"] for shape in own[("layout", "shapes")]] == ["selection"]
    assert other[("layout", "shapes")] == []
    lasso = {**selection, "shape": {"kind": "lasso", "x": [60, 200, 200, 60], "y": [-1e9, -1e9, 1e9, 1e9]}}
    assert _highlighted_rows(context, [], lasso).tolist() == np.flatnonzero(in_box).tolist()


def test_a_selection_from_a_link_or_a_redraw_shows_its_outline_on_the_view_it_was_drawn_on_only(context):
    box = {"source": "link", "view": {"kind": "clinical", "x": "age_years", "y": "lv_mass_g"},
           "shape": {"kind": "box", "x": [60, 200], "y": [-1e9, 1e9]}}
    patched = _operations(explorer_views.render_clinical_view(context, "age_years", "lv_mass_g", None, [], box, {"selection"}))
    outline = {key: value for key, value in patched[("layout", "shapes")][0].items() if key not in ("line", "fillcolor", "layer")}
    assert outline == {"type": "rect", "name": "selection", "xref": "x", "yref": "y", "x0": 60, "x1": 200, "y0": -1e9, "y1": 1e9}
    redrawn = explorer_views.render_clinical_view(context, "age_years", "lv_mass_g", None, [], box, {"clinical-x"}, drawn=False)
    assert [(shape.type, shape.name) for shape in redrawn.layout.shapes] == [("rect", "selection")] and not redrawn.layout.selections
    elsewhere = explorer_views.render_latent_view(context, 0, "joint", "pca", None, [], box, {"selection"}).figure
    assert _operations(elsewhere)[("layout", "shapes")] == []
    other_axes = explorer_views.render_clinical_view(context, "age_years", "bmi_kg_m2", None, [], box, {"clinical-y"}, drawn=False)
    assert not other_axes.layout.shapes  # the same view showing other variables: the box does not belong there
    lasso = {**box, "shape": {"kind": "lasso", "x": [60, 200, 200], "y": [0, 0, 500]}}
    path, = outline_in_view(box["view"], lasso)
    assert (path["type"], path["path"]) == ("path", "M60.0,0.0L200.0,0.0L200.0,500.0Z")


def test_a_cleared_or_stale_selection_highlights_nobody_and_says_why_and_a_malformed_one_is_refused(context):
    assert _highlighted_rows(context, [], {"source": "clear", "at": 5}) is None
    broken = {"source": "view-0", "view": {"kind": "latent", "space": "joint", "method": "pca"}, "shape": {"kind": "box", "x": ["a"], "y": []}}
    with pytest.raises(InputRefused, match="selection shape x must be a list of numbers"):
        _highlighted_rows(context, [], broken)
    with pytest.raises(InputRefused, match="expected a whole number from 0"):
        explorer_views.selection_summary(context, [], {"rows": [context.n_subjects]})
    unknown_view = {**broken, "shape": {"kind": "box", "x": [0, 1], "y": [0, 1]}, "view": {"kind": "latent", "space": "nope", "method": "pca"}}
    assert _highlighted_rows(context, [], unknown_view) is None
    assert explorer_views.selection_summary(context, [], unknown_view).startswith("Selection ignored:")
    assert "unknown view" in explorer_views.selection_summary(context, [], unknown_view)


def test_hovering_a_point_looks_up_that_subject_only(context):
    # Each colour group is its own trace, so the row comes from the point's customdata, never its position.
    tooltip = tooltips.hover_tooltip(context, {"points": [{"curveNumber": 5, "pointNumber": 0, "customdata": 3, "bbox": {"x0": 1}}]})
    assert tooltip.show and tooltip.bbox == {"x0": 1} and context.cohort.phenotypes.index[3] in str(tooltip.children)
    for hostile in (None, {"points": [{"curveNumber": 0, "pointNumber": 3}]}, {"points": [{"customdata": -1}]}, {"points": [{"customdata": "3"}]},
                    {"points": [{"customdata": True}]}, {"points": [{"customdata": context.n_subjects}]}, {"points": ["x"]}):
        assert tooltips.hover_tooltip(context, hostile) == tooltips.Tooltip(show=False)  # bbox and children unchanged


def test_a_saved_cohort_is_highlighted_by_reference_not_by_a_list_of_rows(context):
    saved = context.store.save("women", cohorts.current_definition(context, WOMEN, None))
    women = (context.cohort.phenotypes["sex"] == "female").to_numpy()
    assert _highlighted_rows(context, [], {"cohort": saved.id, "source": "saved"}).tolist() == np.flatnonzero(women).tolist()
    assert "cannot be highlighted" in explorer_views.selection_summary(context, [], {"cohort": 999, "source": "saved"})


def test_legend_lists_categories_or_a_colour_bar(context):
    assert "female" in str(explorer_views.colour_legend(context, "sex"))
    assert "legend-bar" in str(explorer_views.colour_legend(context, "age_years"))
    assert explorer_views.colour_legend(context, None) == []


def test_missing_umap_is_requested_in_the_background_not_computed_in_the_request(context, refuse_slow_projections):
    latent = explorer_views.render_latent_view(context, 1, "ecg", "umap", None, [], None, {"view-1-method"})
    figure = validated(latent.figure)
    assert latent.request == {"space": "ecg", "method": "umap"}
    assert not context.projection_ready("ecg", ProjectionSpec(method="umap"))
    with pytest.raises(AssertionError, match="computed in the request"):  # what computing it here would have met
        context.compute_projection("ecg", ProjectionSpec(method="umap"))
    assert "Computing the UMAP" in figure.layout.annotations[0].text
    unchanged = explorer_views.render_latent_view(context, 1, "ecg", "umap", None, WOMEN, None, {"filters"}).figure
    assert unchanged is dash.no_update  # nothing drawn yet, so nothing to patch


@pytest.mark.slow
def test_a_waiting_view_draws_once_its_projection_is_cached(context):
    pending = {"space": "ecg", "method": "tsne"}
    assert not explorer_views.projection_arrived(context, None)  # waits for nothing
    assert not explorer_views.projection_arrived(context, pending)
    context.compute_projection("ecg", ProjectionSpec(method="tsne"))
    assert explorer_views.projection_arrived(context, pending)
    latent = explorer_views.render_latent_view(context, 1, "ecg", "tsne", None, [], None, {"projection-poll"})
    figure = latent.figure
    assert latent.request is None and len(figure.data) >= 1


def test_a_latent_view_queues_its_projection_once_and_records_what_it_drew(context, refuse_slow_projections):
    drawn = explorer_views.render_latent_view(context, 0, "joint", "pca", None, [], None, {"view-0-space"})
    assert drawn.outputs("joint-pca") == (drawn.figure, dash.no_update, None, "joint-pca")  # waits for nothing, no empty job queued
    waiting = explorer_views.render_latent_view(context, 1, "ecg", "umap", None, [], None, {"view-1-method"})
    request = {"space": "ecg", "method": "umap"}
    assert waiting.outputs("ecg-umap") == (waiting.figure, request, request, None)  # asked for and waited for; nothing drawn yet
    repainted = explorer_views.render_latent_view(context, 0, "joint", "pca", None, WOMEN, None, {"filters"})
    assert isinstance(repainted.figure, dash.Patch) and repainted.outputs("joint-pca")[1:] == (dash.no_update,) * 3

def test_a_view_whose_request_another_view_replaced_asks_again_once_that_job_is_done(context, refuse_slow_projections):
    umap, tsne, pca = ({"space": "ecg", "method": "umap"}, {"space": "joint", "method": "tsne"}, {"space": "joint", "method": "pca"})
    assert explorer_views.ask_again(context, None, tsne) is None  # waits for nothing
    assert explorer_views.ask_again(context, umap, umap) is None  # its own job is the one running
    assert explorer_views.ask_again(context, umap, tsne) is None  # the other view's job still runs
    assert explorer_views.ask_again(context, umap, pca) == umap  # the other view's projection is there: its turn
    assert explorer_views.ask_again(context, umap, None) == umap


@pytest.mark.parametrize("hostile", ["umap", ["ecg", "umap"], {"space": "ecg"}, {"space": "nowhere", "method": "umap"},
                                     {"space": "ecg", "method": "mds"}, {"space": "ecg", "method": "umap", "rows": [1]}, {"space": 1, "method": "pca"}])
def test_a_malformed_waiting_or_requested_projection_is_refused(context, hostile):
    with pytest.raises(InputRefused, match="projection"):
        explorer_views.checked_projection(context, hostile, "waiting projection")
    with pytest.raises(InputRefused, match="projection"):
        explorer_views.ask_again(context, {"space": "ecg", "method": "umap"}, hostile)


def test_a_poll_with_a_malformed_waiting_projection_gets_a_message_not_an_error(phenotype_cohort_dir, tmp_path):
    from tests.serving import callback_body

    app = create_app(AppConfig(cohort_dir=phenotype_cohort_dir, cache_dir=tmp_path))
    values = {"view-0-space.value": "joint", "view-0-method.value": "umap", "view-0-pending.data": {"space": "joint"}, "projection-request.data": None}
    answer = app.server.test_client().post("/_dash-update-component", json=callback_body(app, "view-0-spec.data", values, ["projection-poll.n_intervals"]))
    assert answer.status_code == 200 and "waiting projection: expected a space and a method" in answer.get_data(as_text=True)


def test_cohort_without_spaces_says_how_to_make_them(context):
    figure = validated(explorer_views.render_latent_view(context, 0, None, "pca", None, [], None, set()).figure)
    assert "models.encode" in figure.layout.annotations[0].text


def test_clinical_view_plots_variables_with_units(context):
    figure = explorer_views.render_clinical_view(context, "age_years", "lv_mass_g", "atrial_fibrillation", [], None, {"clinical-x"})
    assert figure.layout.xaxis.title.text == "Age (years)" and figure.layout.yaxis.title.text == "LV mass (g)"
    legend = str(explorer_views.colour_legend(context, "atrial_fibrillation"))
    assert len(figure.data) == 1 and "Atrial fibrillation: no" in legend and "Atrial fibrillation: yes" in legend


def test_filter_controls_become_filter_specs():
    specs = cohorts.filters_from_controls(
        [{"type": "range-filter", "variable": "age_years"}], [[60, 70]],
        [{"type": "choice-filter", "variable": "sex"}], [["female"]],
    )
    assert specs == [RangeFilter("age_years", 60, 70).to_dict(), ChoiceFilter("sex", ("female",)).to_dict()]


def test_saving_the_current_cohort_keeps_filters_and_selected_ids(context):
    definition = cohorts.current_definition(context, WOMEN, {"rows": [3, 1]})
    assert definition.subject_ids == tuple(context.cohort.subject_ids[[1, 3]])
    saved = context.store.save("women in lasso", definition)
    rows = cohorts.saved_cohort_rows(context)
    assert rows == [{"id": saved.id, "name": "women in lasso", "size": int(context.definition_mask(definition).sum()),
                     "definition": "Sex: female and selection (2 subjects)", "created": readable_time(saved.created_at),
                     "shared": False, "owner": "local", "mine": True}]  # private until its owner shares it


def test_filter_block_offers_the_right_control(context):
    slider, boxes = cohorts.filter_block(context, "age_years").children[-1].children
    assert "RangeSlider" in str(type(slider)) and [box.debounce for box in boxes.children[::2]] == [True, True]
    kept = cohorts.filter_block(context, "age_years", RangeFilter("age_years", 65.0, None).to_dict()).children[-1].children[0]
    assert kept.value == [65.0, slider.value[1]]
    women = cohorts.filter_block(context, "sex", ChoiceFilter("sex", ("female",)).to_dict()).children[-1]
    assert women.value == ["female"]
    choice = cohorts.filter_block(context, "atrial_fibrillation").children[-1]
    assert [o["value"] for o in choice.options] == [True, False]


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [(65, None, ([65.0, 82.0], 65.0, 82.0)), (None, None, ([45.0, 82.0], 45.0, 82.0)), (90, 30, ([45.0, 82.0], 45.0, 82.0)),
     (70, 50, ([50.0, 70.0], 50.0, 70.0))],
)
def test_typed_limits_are_kept_in_range_and_order(low, high, expected):
    assert cohorts.synced_range(low, high, 45.0, 82.0) == expected


def test_comparison_against_the_rest_is_a_table_one_that_marks_the_defining_filter(context):
    women = resolve_choice(context, "current", WOMEN, None)
    rest = resolve_choice(context, "rest", WOMEN, None, other=women)
    assert (women ^ rest).all()
    table = compare_cohorts.compare_table(context, "current", "rest", WOMEN, None)
    assert table.group_sizes == (int(women.sum()), int(rest.sum()))
    sex_rows = table.rows[table.rows["variable"] == "sex"]
    assert sex_rows["defining"].all() and sex_rows["q_value"].isna().all()
    assert sex_rows.set_index("level").loc["female", "summary_a"] == f"{int(women.sum()):,} (100.0 %)"
    assert "split" not in set(table.rows["variable"])
    assert not table.rows.loc[~table.rows["defining"], "q_value"].isna().all()
    assert compare_cohorts.compare_table(context, "current", "rest", [], {"rows": []}) is None
    # Worked out once per pair of groups, whatever named them: the same members given as rows is the same table.
    assert compare_cohorts.compare_table(context, "current", "rest", WOMEN, None) is table
    as_rows = {"rows": np.flatnonzero(women).tolist()}
    assert compare_cohorts.compare_table(context, "current", "rest", [], as_rows).group_sizes == table.group_sizes
    assert compare_cohorts.compare_table(context, "current", "rest", [], {"rows": list(range(10))}).group_sizes == (10, context.n_subjects - 10)


def test_a_highlighted_saved_cohort_or_a_clinical_view_box_marks_its_variables_as_defining(context):
    """Chosen as "Saved: AF" the AF row had no q-value; the same group highlighted and compared as the current cohort had one."""
    af = context.store.save("AF only", CohortDefinition(filters=(ChoiceFilter("atrial_fibrillation", (True,)).to_dict(),)))
    try:
        highlighted = compare_cohorts.compare_table(context, "current", "rest", [], {"cohort": af.id, "source": "saved"})
        chosen = compare_cohorts.compare_table(context, af.id, "rest", [], None)
        for table in (highlighted, chosen):
            assert table.rows.loc[table.rows["variable"] == "atrial_fibrillation", "defining"].all()
            assert table.rows.loc[table.rows["variable"] == "atrial_fibrillation", "q_value"].isna().all()
    finally:
        context.store.delete(af.id)
    box = {"shape": {"kind": "box", "x": [50, 70], "y": [0, 400]}, "view": {"kind": "clinical", "x": "age_years", "y": "lv_mass_g"}}
    drawn = compare_cohorts.compare_table(context, "current", "rest", [], box)
    assert set(drawn.rows.loc[drawn.rows["defining"], "variable"]) == {"age_years", "lv_mass_g"}


def test_a_cohort_saved_from_a_clinical_view_box_or_a_highlighted_cohort_keeps_the_variables_it_was_picked_by(context):
    """Saved, a clinical-view box became its subjects' ids only, and Table 1 gave age and LV mass q-values it had drawn by hand."""
    box = {"shape": {"kind": "box", "x": [50, 70], "y": [0, 400]}, "view": {"kind": "clinical", "x": "age_years", "y": "lv_mass_g"}}
    from_box = context.store.save("boxed", cohorts.current_definition(context, WOMEN, box))
    af = context.store.save("AF only", CohortDefinition(filters=(ChoiceFilter("atrial_fibrillation", (True,)).to_dict(),)))
    from_highlight = context.store.save("AF again", cohorts.current_definition(context, [], {"cohort": af.id, "source": "saved"}))
    latent_box = {"shape": {"kind": "box", "x": [-100, 100], "y": [-100, 100]}, "view": {"kind": "latent", "space": "joint", "method": "pca"}}
    from_latent = context.store.save("latent box", cohorts.current_definition(context, [], latent_box))
    try:
        reloaded = {record.id: record for record in context.store.list()}  # as stored, not as saved in this process
        assert reloaded[from_box.id].definition.selection_variables == ("age_years", "lv_mass_g")
        assert reloaded[from_highlight.id].definition.selection_variables == ("atrial_fibrillation",)
        assert reloaded[from_latent.id].definition.selection_variables == ()
        table = compare_cohorts.compare_table(context, from_box.id, "rest", [], None)
        assert set(table.rows.loc[table.rows["defining"], "variable"]) == {"sex", "age_years", "lv_mass_g"}
        assert table.rows.loc[table.rows["defining"], "q_value"].isna().all()
        assert describe_definition(reloaded[from_box.id].definition, context.variables, str).endswith(
            f"selection by Age × LV mass ({len(from_box.definition.subject_ids):,} subjects)")
    finally:
        for record in (from_box, from_highlight, from_latent, af):
            context.store.delete(record.id)


def test_the_summary_and_an_exported_table_one_say_what_is_highlighted_and_what_each_group_is(context):
    """After Highlight and a reload only the link's cohort=5 said which saved cohort was lit; exports said "group A"."""
    af = context.store.save("AF <b>only</b>", CohortDefinition(filters=(ChoiceFilter("atrial_fibrillation", (True,)).to_dict(),)))
    highlighted = {"cohort": af.id, "source": "saved"}
    assert explorer_views.selection_summary(context, [], highlighted).endswith("subjects highlighted · saved cohort “AF <b>only</b>”")
    box = {"shape": {"kind": "lasso", "x": [50, 70, 70], "y": [0, 0, 400]}, "view": {"kind": "clinical", "x": "age_years", "y": "lv_mass_g"}}
    assert "· a lasso in the clinical view (Age × LV mass)" in explorer_views.selection_summary(context, [], box)
    assert compare_cohorts.group_in_words(context, "current", WOMEN, highlighted) == "the current cohort: Sex: female and saved cohort “AF <b>only</b>”"
    assert compare_cohorts.group_in_words(context, "current", [], None) == "the current cohort: everyone"
    assert compare_cohorts.group_in_words(context, "rest", WOMEN, None) == "everyone not in group A"
    assert compare_cohorts.group_in_words(context, af.id, [], None) == "saved cohort “AF <b>only</b>”: Atrial fibrillation"
    assert compare_cohorts.group_file_name(context, af.id) == "AF__b_only__b_" and compare_cohorts.group_file_name(context, "rest") == "rest"
    context.store.delete(af.id)


def test_table_one_waits_until_its_tab_has_been_shown_and_reads_the_cohort_through_the_tab(context):
    with pytest.raises(PreventUpdate):  # never shown: the store the browser fills while the tab is shown is empty
        compare_cohorts.compare_when_shown(context, "current", "rest", "age_years", None)
    _table, _figure, sizes = compare_cohorts.compare_when_shown(context, "current", "rest", "age_years",
                                                                {"filters": WOMEN, "selection": None, "version": 0})
    women = int(resolve_choice(context, "current", WOMEN, None).sum())
    assert sizes == f"A: {women:,} subjects · B: {context.n_subjects - women:,} subjects"
    with pytest.raises(InputRefused, match="panel inputs"):
        compare_cohorts.compare_when_shown(context, "current", "rest", "age_years", {"filters": WOMEN, "rows": [1]})


@pytest.fixture
def dense_context(phenotype_cohort_dir, tmp_path) -> AppContext:
    """The 300-subject cohort with a density threshold of 50: every view starts as a density."""
    config = AppConfig(cohort_dir=phenotype_cohort_dir, cache_dir=tmp_path, density_threshold=50)
    return AppContext(config, load_cohort(phenotype_cohort_dir))


def test_above_the_threshold_a_view_draws_the_density_of_everyone_then_repaints_its_layers(dense_context):
    latent = explorer_views.render_latent_view(dense_context, 0, "joint", "pca", "sex", [], None, {"view-0-space"})
    figure = latent.figure
    assert latent.request is None and [trace.type for trace in figure.data] == ["heatmap", "heatmap", "scatter"]
    assert figure.data[0].meta["density"] == dense_context.n_subjects
    assert f"Density of {dense_context.n_subjects} subjects" in figure.layout.title.text
    selection = {"source": "view-2", "view": {"kind": "clinical", "x": "age_years", "y": "lv_mass_g"},
                 "shape": {"kind": "box", "x": [60, 200], "y": [-1e9, 1e9]}, "at": 1}
    latent = explorer_views.render_latent_view(dense_context, 0, "joint", "pca", "sex", [], selection, {"selection"})
    patch = latent.figure
    assert isinstance(patch, dash.Patch) and latent.request is dash.no_update
    operations = _operations(patch)
    layers = operations[("data",)]
    assert layers[0]["meta"]["highlight"] is True and len(layers) == 3  # the cohort coloured over everyone faded
    assert "Density of" in operations[("layout", "title", "text")]
    assert operations[("layout", "shapes")] == []  # the box drawn in the clinical view is not outlined here
    own = _operations(explorer_views.render_clinical_view(dense_context, "age_years", "lv_mass_g", "sex", [], selection, {"selection"}))
    assert [shape["name"] for shape in own[("layout", "shapes")]] == ["selection"] and own[("data",)][0]["meta"]["highlight"] is True


def test_a_colour_change_on_a_density_gives_its_colour_bar_room_or_takes_it_back(dense_context):
    """The patch sets the right margin with the layers: a bar drawn in too narrow a margin makes Plotly push it and draw again."""
    def margin_after(colour):
        patch = explorer_views.render_latent_view(dense_context, 0, "joint", "pca", colour, [], None, {"colour-by"}).figure
        return _operations(patch)[("layout", "margin", "r")]

    assert margin_after("atrial_fibrillation") == SHARE_BAR_MARGIN_PX
    assert margin_after(None) == COUNT_BAR_MARGIN_PX  # no colour: counts, with their bar
    assert margin_after("sex") == VIEW_RIGHT_MARGIN_PX  # each cell's majority: the page's legend, no bar


def _zoom(view_revision: str, x, y) -> dict:
    return {"revision": view_revision, "x": x, "y": y}


def test_zooming_in_to_few_enough_subjects_draws_their_points_and_recolours_only_those(dense_context):
    coordinates = dense_context.cached_projection("joint", ProjectionSpec(method="pca"))
    x_low, x_high = np.quantile(coordinates[:, 0], [0.0, 0.1])
    viewport = _zoom("0-joint-pca", [float(x_low), float(x_high)], [-1e3, 1e3])
    inside = np.flatnonzero(coordinates[:, 0] <= x_high)
    figure = explorer_views.render_latent_view(dense_context, 0, "joint", "pca", "sex", [], None, {"view-0-viewport"}, viewport=viewport).figure
    (trace,) = figure.data
    assert trace.type == "scattergl" and trace.meta["follows_zoom"] and unpacked(trace.customdata).tolist() == inside.tolist()
    patch = explorer_views.render_latent_view(dense_context, 0, "joint", "pca", "sex", WOMEN, None, {"filters"}, viewport=viewport).figure
    codes = unpacked(_operations(patch)[("data", 0, "marker", "color")])
    women = (dense_context.cohort.phenotypes["sex"] == "female").to_numpy()
    assert (codes < FADED_OFFSET).tolist() == women[inside].tolist()  # one byte per subject drawn, in the drawn order
    tooltip = tooltips.hover_tooltip(dense_context, {"points": [{"curveNumber": 0, "pointNumber": 0, "customdata": int(inside[3])}]})
    assert tooltip.show and dense_context.cohort.phenotypes.index[inside[3]] in str(tooltip.children)


def test_a_zoom_reported_for_another_figure_is_ignored_and_a_hostile_one_refused(dense_context):
    stale = _zoom("0-ecg-pca", [0, 0.1], [0, 0.1])  # the view showed another space then
    figure = explorer_views.render_latent_view(dense_context, 0, "joint", "pca", None, [], None, {"view-0-viewport"}, viewport=stale).figure
    assert figure.data[0].type == "heatmap" and figure.data[0].meta["density"] == dense_context.n_subjects
    everyone = _zoom("0-joint-pca", None, None)  # a double-click back to the full extent
    assert explorer_views.render_latent_view(dense_context, 0, "joint", "pca", None, [], None, {"view-0-viewport"}, viewport=everyone).figure.data[0].type == "heatmap"
    with pytest.raises(InputRefused, match="x range must be a list of two numbers"):
        explorer_views.render_latent_view(dense_context, 0, "joint", "pca", None, [], None, {"view-0-viewport"},
                                    viewport=_zoom("0-joint-pca", ["0", 1], [0, 1]))


def test_below_the_threshold_a_zoom_changes_nothing_drawn(context):
    viewport = _zoom("0-joint-pca", [0, 0.01], [0, 0.01])
    figure = explorer_views.render_latent_view(context, 0, "joint", "pca", None, [], None, {"view-0-viewport"}, viewport=viewport).figure
    assert len(unpacked(figure.data[0].x)) == context.n_subjects and "follows_zoom" not in figure.data[0].meta


def test_a_range_filter_is_kept_in_step_within_the_servers_limits_and_hostile_values_are_refused(context):
    top = slider_limits(context.cohort.phenotypes["age_years"])[1]
    typed = {"type": "range-low", "variable": "age_years"}
    slider, low, high = cohorts.checked_range_sync(context, typed, None, 65, None)
    assert slider == [65.0, top] and (low, high) == (65.0, top)  # the page's own min and max are never read
    moved = {"type": "range-filter", "variable": "age_years"}
    assert cohorts.checked_range_sync(context, moved, [50, 60], None, None) == (dash.no_update, 50.0, 60.0)
    for trigger, slider, low in ((typed, None, [60, 70]), (typed, None, "65"), (typed, None, True), (moved, [50], None),
                                 (moved, "50-60", None), ({"type": "range-low", "variable": "sex"}, None, 1),
                                 ({"type": "range-low", "variable": "password"}, None, 1), ("range-low", None, 1)):
        with pytest.raises(InputRefused):
            cohorts.checked_range_sync(context, trigger, slider, low, None)


def test_the_clinical_views_dropdowns_name_variables_short_but_search_and_hover_with_their_group():
    from types import SimpleNamespace

    from app.state import variable_options
    from data_loaders.manifest import VariableSpec

    variables = {"age": VariableSpec("age", "continuous", "Age", "years", group="Clinical"),
                 "ecg_hr": VariableSpec("ecg_hr", "continuous", "Heart rate", "bpm", group="ECG"),
                 "mri_hr": VariableSpec("mri_hr", "continuous", "Heart rate", "bpm", group="MRI"),
                 "af": VariableSpec("af", "binary", "AF", group="Outcome")}
    context = SimpleNamespace(variables=variables)
    assert [o["label"] for o in variable_options(context, ("continuous",))] == ["Clinical · Age (years)", "ECG · Heart rate (bpm)", "MRI · Heart rate (bpm)"]
    short = variable_options(context, ("continuous",), short=True)
    assert [o["label"] for o in short] == ["Age (years)", "ECG · Heart rate (bpm)", "MRI · Heart rate (bpm)"]  # a shared label keeps its group
    assert short[0] == {"label": "Age (years)", "value": "age", "search": "Clinical · Age (years)", "title": "Clinical · Age (years)"}
