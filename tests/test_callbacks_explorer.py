"""Explorer, cohort and comparison callbacks, called as plain functions on a real app context."""

from __future__ import annotations

import dash
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from app.config import AppConfig
from app.context import AppContext
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
    assert rows == [{"id": saved.id, "name": "women in lasso", "size": int(context.definition_mask(definition).sum()), "kind": "selection + filters"}]


def test_filter_block_offers_the_right_control(context):
    assert "RangeSlider" in str(type(cohorts.filter_block(context, "age_years").children[-1]))
    choice = cohorts.filter_block(context, "atrial_fibrillation").children[-1]
    assert [o["value"] for o in choice.options] == [True, False]


def test_comparison_against_the_rest_and_its_table(context):
    women = resolve_choice(context, "current", WOMEN, None)
    rest = resolve_choice(context, "rest", WOMEN, None, other=women)
    assert (women ^ rest).all()
    from app.core.statistics import compare_groups

    table = compare_cohorts.format_comparison(compare_groups(context.cohort.phenotypes, context.variables, women, rest))
    sex_rows = table[table["Variable"].str.startswith("Sex")]
    assert set(sex_rows["A"]) == {"100.0%", "0.0%"}
    assert list(table.columns) == ["Variable", "A", "B", "Std. difference", "p", "q (BH)", "Test"]
    assert not table["p"].isin(["nan"]).any()
    assert isinstance(table, pd.DataFrame)
