"""Explorer, cohort and comparison callbacks, called as plain functions on a real app context."""

from __future__ import annotations

import dash
import numpy as np
import plotly.graph_objects as go
import pytest

from app.config import AppConfig
from app.context import AppContext
from app.core.cohort_description import readable_time
from app.core.filters import ChoiceFilter, RangeFilter
from app.core.projections import ProjectionSpec
from app.panels import cohorts, compare_cohorts, explorer
from app.server import create_app
from app.state import resolve_choice
from data_loaders import load_cohort


@pytest.fixture
def context(phenotype_cohort_dir, tmp_path) -> AppContext:
    return AppContext(AppConfig(cohort_dir=phenotype_cohort_dir, cache_dir=tmp_path), load_cohort(phenotype_cohort_dir))


WOMEN = [ChoiceFilter("sex", ("female",)).to_dict()]


def test_app_registers_its_callbacks_and_lays_out_every_panel(phenotype_cohort_dir, tmp_path):
    app = create_app(AppConfig(cohort_dir=phenotype_cohort_dir, cache_dir=tmp_path))
    layout = str(app.layout)
    for component in ("view-0", "view-1", "view-2", "colour-by", "add-filter", "save-cohort", "compare-a", "variable-table"):
        assert f"'{component}'" in layout
    assert len(app.callback_map) >= 12


def test_highlight_is_filters_and_selection_together(context):
    phenotypes = context.cohort.phenotypes
    assert explorer.highlight_rows(context, [], None) is None
    women = np.flatnonzero((phenotypes["sex"] == "female").to_numpy())
    assert explorer.highlight_rows(context, WOMEN, None).tolist() == women.tolist()
    chosen = {"rows": [0, 1, 2, 3, 4, 5]}
    assert explorer.highlight_rows(context, WOMEN, chosen).tolist() == [r for r in range(6) if r in set(women)]
    assert explorer.highlight_rows(context, [], {"rows": []}).tolist() == []


def test_latent_view_draws_a_figure_then_patches_only_the_selection(context):
    figure, request = explorer.render_latent_view(context, 0, "joint", "pca", "sex", [], None, {"view-0-space"})
    assert isinstance(figure, go.Figure) and request is None
    assert sorted(np.concatenate([np.asarray(t.customdata) for t in figure.data]).tolist()) == list(range(context.n_subjects))
    patch, request = explorer.render_latent_view(context, 0, "joint", "pca", "sex", WOMEN, None, {"filters"})
    assert isinstance(patch, dash.Patch) and request is dash.no_update
    operations = patch.to_plotly_json()["operations"]
    female_trace = next(op for op in operations if op["location"] == ["data", 0, "selectedpoints"])
    assert len(female_trace["params"]["value"]) == len(figure.data[0].customdata)  # every woman highlighted in the female trace
    male_trace = next(op for op in operations if op["location"] == ["data", 1, "selectedpoints"])
    assert male_trace["params"]["value"] == []


def test_missing_umap_is_requested_in_the_background_not_computed_in_the_request(context):
    figure, request = explorer.render_latent_view(context, 1, "ecg", "umap", None, [], None, {"view-1-method"})
    assert request == {"space": "ecg", "method": "umap"}
    assert "Computing the UMAP" in figure.layout.annotations[0].text
    unchanged, _ = explorer.render_latent_view(context, 1, "ecg", "umap", None, WOMEN, None, {"filters"})
    assert unchanged is dash.no_update  # nothing drawn yet, so nothing to patch


def test_a_waiting_view_draws_once_its_projection_is_cached(context):
    pending = {"space": "ecg", "method": "tsne"}
    assert not explorer.projection_arrived(context, None)  # waits for nothing
    assert not explorer.projection_arrived(context, pending)
    context.compute_projection("ecg", ProjectionSpec(method="tsne"))
    assert explorer.projection_arrived(context, pending)
    figure, request = explorer.render_latent_view(context, 1, "ecg", "tsne", None, [], None, {"projection-poll"})
    assert request is None and len(figure.data) >= 1


def test_cohort_without_spaces_says_how_to_make_them(context):
    figure, _ = explorer.render_latent_view(context, 0, None, "pca", None, [], None, set())
    assert "models.encode" in figure.layout.annotations[0].text


def test_clinical_view_plots_variables_with_units(context):
    figure = explorer.render_clinical_view(context, "age_years", "lv_mass_g", "atrial_fibrillation", [], None, {"clinical-x"})
    assert figure.layout.xaxis.title.text == "Age (years)" and figure.layout.yaxis.title.text == "LV mass (g)"
    assert [t.name for t in figure.data] == ["Atrial fibrillation: no", "Atrial fibrillation: yes"]


def test_filter_controls_become_filter_specs():
    specs = cohorts.filters_from_controls(
        [{"type": "range-filter", "variable": "age_years"}], [[60, 70]],
        [{"type": "choice-filter", "variable": "sex"}], [["female"]],
    )
    assert specs == [RangeFilter("age_years", 60, 70).to_dict(), ChoiceFilter("sex", ("female",)).to_dict()]


def test_saving_the_current_cohort_keeps_filters_and_selected_ids(context):
    definition = cohorts.current_definition(context, WOMEN, {"rows": [3, 1]})
    assert definition.subject_ids == tuple(context.cohort.subject_ids[[3, 1]])
    saved = context.store.save("women in lasso", definition)
    rows = cohorts.saved_cohort_rows(context)
    assert rows == [{"id": saved.id, "name": "women in lasso", "size": int(context.definition_mask(definition).sum()),
                     "definition": "Sex: female and selection (2 subjects)", "created": readable_time(saved.created_at)}]


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
