"""Accuracy panel callbacks, called as plain functions on the trained small cohort (stored test-split predictions)."""

from __future__ import annotations

import io
from html import escape

import dash
import numpy as np
import pandas as pd
import pytest
from dash import html
from sklearn.metrics import roc_auc_score

from app.config import AppConfig
from app.context import AppContext
from app.core import metrics
from app.core.cohort_algebra import CohortDefinition
from app.core.filters import ChoiceFilter
from app.core.metrics import MIN_PER_CLASS, MIN_SUBJECTS, N_RESAMPLES, evaluate_group, subgroup_table
from app.panels import accuracy
from app.panels.accuracy import evaluation as accuracy_evaluation
from app.panels.accuracy import settings as accuracy_settings
from app.panels.accuracy import tables as accuracy_tables
from app.panels.accuracy import views as accuracy_views
from app.state import CURRENT, SPACE_LABELS, space_label
from data_loaders import load_cohort
from tests.figure_checks import validated

WOMEN = [ChoiceFilter("sex", ("female",)).to_dict()]


@pytest.fixture
def context(trained_cohort_dir, tmp_path) -> AppContext:
    return AppContext(AppConfig(cohort_dir=trained_cohort_dir, cache_dir=tmp_path), load_cohort(trained_cohort_dir))


def _test_rows(context: AppContext) -> np.ndarray:
    return np.flatnonzero(context.cohort.phenotypes["split"].astype(str).eq("test").to_numpy())


def _women(context: AppContext) -> np.ndarray:
    return context.cohort.phenotypes["sex"].astype(str).eq("female").to_numpy()


def _panel_app(context: AppContext) -> dash.Dash:
    """The panel alone in an app, as app.server registers it (other panels are not needed here)."""
    app = dash.Dash(__name__)
    app.layout = html.Div([accuracy.layout(context)])
    accuracy.register(app, context)
    return app


def test_the_panel_lays_out_its_controls_and_registers_its_callbacks(context):
    app = _panel_app(context)
    layout = str(app.layout)
    for component in ("accuracy-task", "accuracy-space", "accuracy-cohort", "accuracy-threshold", "accuracy-breakdown", "accuracy-export"):
        assert f"'{component}'" in layout
    outputs = " ".join(app.callback_map)
    for output in ("accuracy-metrics.children", "accuracy-subgroups.children", "accuracy-download.data", "accuracy-threshold.value"):
        assert output in outputs


def test_a_cohort_without_stored_predictions_says_how_to_make_them(phenotype_cohort_dir, tmp_path):
    context = AppContext(AppConfig(cohort_dir=phenotype_cohort_dir, cache_dir=tmp_path), load_cohort(phenotype_cohort_dir))
    app = _panel_app(context)
    assert "python -m models.predictors" in str(app.layout)
    assert not app.callback_map  # no callbacks for components that are not there


def test_only_held_out_test_subjects_are_scored(context):
    table = context.cohort.predictions()
    assert set(table["split"]) == {"train", "test"}  # the stored table has both; the panel must keep one
    test_rows = set(_test_rows(context).tolist())
    for (task, _space), predictions in accuracy_evaluation.task_predictions(context).items():
        assert set(predictions.rows.tolist()) <= test_rows
        known = context.cohort.phenotypes[task].notna().to_numpy()
        assert len(predictions.rows) == int(known[sorted(test_rows)].sum())


def test_threshold_starts_at_the_stored_training_threshold(context):
    stored = accuracy_evaluation.task_predictions(context)[("hypertension", "ecg")].threshold
    binary = accuracy_views.threshold_settings(context, "hypertension", "ecg", None)
    assert binary.value == round(stored, 3) and not binary.disabled and "Youden" in binary.note and binary.shown
    assert [o["value"] for o in binary.metric_options][:2] == ["auroc", "auprc"] and binary.metric == "auroc"
    continuous = accuracy_views.threshold_settings(context, "lv_mass_g", "ecg", "auroc")
    assert continuous.disabled and continuous.metric == "r2" and "no threshold" in continuous.note and not continuous.shown
    assert continuous.metric_options[1] == {"label": "MAE (g)", "value": "mae"}
    assert continuous.block_style == {"display": "none"} and binary.block_style == {}
    assert continuous.outputs()[-1] == {"display": "none"}  # the note on prevalence (PPV, NPV, Brier) goes with the threshold


def _older_half(context: AppContext) -> dict:
    """A selection of the older half of the test split (and nobody else): both it and its complement can be judged."""
    test = _test_rows(context)
    assert len(test) >= 2 * MIN_SUBJECTS, "the trained small cohort's test split is too small for this test"
    ages = context.cohort.phenotypes["age_years"].to_numpy()[test]
    return {"rows": test[ages >= np.median(ages)].tolist(), "source": "test"}


def _spaces(context: AppContext, task: str) -> list[str]:
    """The spaces with stored predictions of a task, in the order the panel lists them."""
    order = list(SPACE_LABELS)
    return sorted({space for t, space in accuracy_evaluation.task_predictions(context) if t == task}, key=lambda s: order.index(s) if s in order else len(order))


def _balanced_binary_task(context: AppContext) -> str:
    """The binary outcome whose test split has the most subjects in its rarer class."""
    test = _test_rows(context)
    phenotypes = context.cohort.phenotypes
    binary = {task for (task, _), p in accuracy_evaluation.task_predictions(context).items() if p.kind == "binary"}
    return max(sorted(binary), key=lambda t: min(phenotypes[t].to_numpy(dtype=float)[test].sum(), len(test) - phenotypes[t].to_numpy(dtype=float)[test].sum()))


def test_metrics_for_the_cohort_its_complement_and_everyone(context):
    selection = _older_half(context)
    evaluation = accuracy_evaluation.evaluate(context, "lv_mass_g", "joint", None, CURRENT, [], selection)
    test = _test_rows(context)
    cohort, rest, everyone = evaluation.groups
    assert (cohort.name, rest.name, everyone.name) == ("Current cohort", "Everyone else", "Everyone")
    assert (cohort.n, rest.n, everyone.n) == (len(selection["rows"]), len(test) - len(selection["rows"]), len(test))
    mask = np.zeros(context.n_subjects, dtype=bool)
    mask[selection["rows"]] = True
    predictions = accuracy_evaluation.task_predictions(context)[("lv_mass_g", "joint")]
    for group, inside in ((cohort, mask), (rest, ~mask)):
        truth, prediction = predictions.subset(inside)
        direct = evaluate_group(group.name, "continuous", truth, prediction, None, N_RESAMPLES, accuracy_settings.SEED)
        for metric in ("r2", "mae", "rmse", "bias"):
            assert group.estimates[metric].value == pytest.approx(direct.estimates[metric].value)
            assert group.estimates[metric].low == pytest.approx(direct.estimates[metric].low)
            assert group.estimates[metric].low < group.estimates[metric].value < group.estimates[metric].high
    view = accuracy_views.render_evaluation(context, "lv_mass_g", "joint", None, CURRENT, [], selection)
    text = str(view.metrics)
    assert "MAE (g)" in text and f"n = {cohort.n:,}" in text and f"n = {rest.n:,}" in text
    for group in (cohort, rest):
        mae = group.estimates["mae"]
        assert f"{mae.value:.1f}" in text and f"{mae.low:.1f} to {mae.high:.1f}" in text
    assert [getattr(f, "id", None) for f in view.figures if getattr(f, "id", None)] == ["accuracy-agreement"]
    assert "test split only" in view.sizes[0]


def _cases_and_controls(context: AppContext, task: str) -> tuple[np.ndarray, np.ndarray]:
    """The test split's rows with and without the outcome."""
    test = _test_rows(context)
    outcome = context.cohort.phenotypes[task].to_numpy(dtype=float)
    return test[outcome[test] == 1], test[outcome[test] == 0]


def test_a_group_with_too_few_cases_says_so_for_the_metrics_that_need_them(context):
    task = _balanced_binary_task(context)
    cases, controls = _cases_and_controls(context, task)
    selection = {"rows": [int(row) for row in (*cases[:2], *controls[:MIN_SUBJECTS])]}  # enough subjects, too few cases (JSON ints, as a browser sends)
    evaluation = accuracy_evaluation.evaluate(context, task, "ecg", None, CURRENT, [], selection)
    cohort = evaluation.groups[0]
    assert (cohort.n, cohort.cases) == (MIN_SUBJECTS + 2, 2) and cohort.reason is None
    assert cohort.estimates["auroc"].reason == f"too few cases (2 cases, {MIN_SUBJECTS} controls; {MIN_PER_CLASS} of each needed)"
    assert cohort.estimates["sensitivity"].reason == f"too few cases (2; {MIN_PER_CLASS} needed)"
    assert not cohort.estimates["sensitivity"].available and not cohort.estimates["auroc"].available
    assert np.isfinite(cohort.estimates["specificity"].value)  # ten controls: a specificity, whatever its interval
    text = str(accuracy_tables.metrics_table(evaluation, ""))
    assert cohort.estimates["auroc"].reason in text and cohort.estimates["sensitivity"].reason in text
    only_controls = accuracy_evaluation.evaluate(context, task, "ecg", None, CURRENT, [], {"rows": controls[:MIN_SUBJECTS].tolist()})
    assert only_controls.groups[0].reason is None
    assert only_controls.groups[0].estimates["sensitivity"].reason == f"needs cases: none among the {MIN_SUBJECTS} test subjects"
    everyone = evaluation.groups[2]
    assert everyone.reason is None and everyone.estimates["auroc"].available
    assert evaluation.threshold == pytest.approx(accuracy_evaluation.task_predictions(context)[(task, "ecg")].threshold)


@pytest.mark.parametrize("outcome", [1.0, 0.0], ids=["cases only", "controls only"])
def test_a_cohort_of_one_class_shows_what_it_can_and_a_note_per_metric_it_cannot_have(context, monkeypatch, outcome):
    """The clinician's audit: a saved cohort of AF patients showed no metric at all; how many of them does the model flag?"""
    task = _balanced_binary_task(context)  # everyone has enough cases and controls: the cohort is the only one lacking a class
    members = np.flatnonzero(context.cohort.phenotypes[task].to_numpy(dtype=float) == outcome)
    n = int(np.isin(members, _test_rows(context)).sum())
    # The small cohort's test split has at most 7 cases of any outcome: let a group of 5 be judged, so that a cohort of cases only can be.
    monkeypatch.setattr(metrics, "MIN_SUBJECTS", MIN_PER_CLASS)
    assert n >= MIN_PER_CLASS, "the trained small cohort's test split is too small for this test"
    saved = context.store.save("One class", CohortDefinition(subject_ids=tuple(str(context.cohort.phenotypes.index[row]) for row in members)))
    context.store.save("All", CohortDefinition(subject_ids=tuple(str(i) for i in context.cohort.phenotypes.index)))  # both classes
    evaluation = accuracy_evaluation.evaluate(context, task, "joint", None, saved.id, [], None)
    cohort = evaluation.groups[0]
    assert (cohort.name, cohort.n, cohort.cases, cohort.reason) == ("Saved: One class", n, n if outcome else 0, None)
    shown, refused = ("sensitivity", "specificity") if outcome else ("specificity", "sensitivity")
    why = f"needs controls: all {n} test subjects are cases" if outcome else f"needs cases: none among the {n} test subjects"
    both = f"needs cases and controls: {f'all {n} test subjects are cases' if outcome else f'no cases among the {n} test subjects'}"
    estimate = cohort.estimates[shown]
    assert estimate.available and estimate.low <= estimate.value <= estimate.high
    assert cohort.estimates[refused].reason == why and cohort.estimates["auroc"].reason == both and cohort.estimates["brier"].available
    # The side-by-side table: the cohort's column has the metric over its interval, and a note under each metric it lacks.
    table = str(accuracy_tables.metrics_table(evaluation, ""))
    assert f"{estimate.low:.2f} to {estimate.high:.2f}" in table and why in table and both in table
    for metric in ("ppv", "npv"):  # by construction (shown, with the tooltip saying why), or too few flagged or unflagged
        value = cohort.estimates[metric]
        assert value.reason in table and (np.isnan(value.value) or (metrics.BY_CONSTRUCTION in value.reason and np.isnan(value.low)))
        if np.isfinite(value.value):
            assert f'title="{escape(accuracy_settings.BY_CONSTRUCTION_NOTE)}"' in table  # the tooltip (static HTML, escaped)
    lines = accuracy_evaluation.auroc_comparisons(context, evaluation, evaluation.cohort_mask)
    assert lines[0][1] == f"not available for Saved: One class: {both}"
    # Figures: no ROC or PR curve for the cohort (they rank cases against controls), named in the heading; its confusion matrix is drawn.
    view = accuracy_views.render_evaluation(context, task, "joint", None, saved.id, [], None)
    curves = validated(next(f for f in view.figures if getattr(f, "id", None) == "accuracy-curves").figure)
    assert "Saved: One class" not in {trace.name for trace in curves.data}
    assert f"Not drawn here: Saved: One class: {both}" in str(view.figures[0])
    confusion = validated(view.figures[2].children[1].children[1].figure)
    empty_row = 0 if outcome else 1
    assert confusion.layout.annotations[0].text == "Saved: One class"
    assert f"no {'controls' if outcome else 'cases'} here" in confusion.data[0].text[empty_row][0]
    # The subgroup table keeps the row, with its numbers and a note in each cell it cannot fill; the forest plot leaves it out
    # of the metrics it lacks alone, and says so under the plot.
    _kind, subgroups = accuracy_evaluation.subgroup_results(context, task, "joint", None, accuracy_settings.BY_SAVED, [], None)
    row = subgroups.set_index("subgroup").loc["One class"]
    assert row["note"] == "" and row["n"] == n and row[shown] == pytest.approx(estimate.value) and row[f"{refused}_note"] == why
    lacking = accuracy_views.render_subgroups(context, task, "joint", None, accuracy_settings.BY_SAVED, refused, [], None, None)
    component = str(lacking.table)
    assert why in component and both in component and f"{estimate.low:.2f} to {estimate.high:.2f}" in component
    forest = validated(lacking.forest)
    everyone_n = len(_test_rows(context))
    assert list(forest.data[0].y) == [f"All (n = {everyone_n:,})"]  # the other saved cohort is still plotted
    assert f"One class: {why}" in forest.layout.annotations[-1].text
    having = validated(accuracy_views.render_subgroups(context, task, "joint", None, accuracy_settings.BY_SAVED, shown, [], None, None).forest)
    assert sorted(having.data[0].y) == [f"All (n = {everyone_n:,})", f"One class (n = {n:,})"]
    exported = pd.read_csv(io.StringIO(accuracy_evaluation.export_frame(subgroups, task, "joint").to_csv(index=False)))
    one_class = exported.set_index("subgroup").loc["One class"]
    assert one_class[f"{refused}_note"] == why and np.isnan(one_class[refused]) and one_class[shown] == pytest.approx(estimate.value)


def test_the_current_cohort_being_everyone_is_explained_not_compared_with_nobody(context):
    view = accuracy_views.render_evaluation(context, "lv_mass_g", "ecg", None, CURRENT, [], None)
    assert "The current cohort is everyone" in str(view.sizes)
    assert "no test subjects" in str(view.metrics)
    names = [trace.name for trace in validated(view.figures[1].figure).data if trace.showlegend is not False]
    assert "Everyone" in names and "Current cohort" not in names


def test_subgroups_by_sex_by_space_and_by_saved_cohort(context):
    test = _test_rows(context)
    women = _women(context)
    kind, table = accuracy_evaluation.subgroup_results(context, "lv_mass_g", "mri", None, "sex", [], None)
    assert kind == "continuous"
    assert table["subgroup"].tolist() == [accuracy_settings.EVERYONE_ROW, "Sex: female", "Sex: male"]
    assert table["n"].tolist() == [len(test), int(women[test].sum()), int((~women[test]).sum())]
    selection = _older_half(context)
    _, by_space = accuracy_evaluation.subgroup_results(context, "lv_mass_g", "mri", None, accuracy_settings.BY_SPACE, [], selection)
    spaces = [space_label(space) for space in _spaces(context, "lv_mass_g")]
    assert by_space["subgroup"].tolist()[1:] == [f"{space} · {side}" for space in spaces for side in ("Current cohort", "everyone else")]
    assert by_space["n"].iloc[1:].tolist() == [len(selection["rows"]), len(test) - len(selection["rows"])] * len(spaces)
    assert by_space["mae"].iloc[1::2].nunique() == len(spaces)  # one predictor per space, each its own error
    _, none_saved = accuracy_evaluation.subgroup_results(context, "lv_mass_g", "mri", None, accuracy_settings.BY_SAVED, [], None)
    assert len(none_saved) == 1
    no_saved = accuracy_views.render_subgroups(context, "lv_mass_g", "mri", None, accuracy_settings.BY_SAVED, "mae", [], None, None)
    assert "No saved cohorts yet" in str(no_saved.table) and "No saved cohorts yet" in validated(no_saved.forest).layout.annotations[0].text
    women_cohort = context.store.save("Women", CohortDefinition(filters=tuple(WOMEN)))
    _, saved = accuracy_evaluation.subgroup_results(context, "lv_mass_g", "mri", None, accuracy_settings.BY_SAVED, [], None)
    assert saved["subgroup"].tolist() == [accuracy_settings.EVERYONE_ROW, "Women"] and saved["n"].iloc[1] == int(women[test].sum())
    evaluation = accuracy_evaluation.evaluate(context, "lv_mass_g", "mri", None, women_cohort.id, [], None)
    assert evaluation.groups[0].name == "Saved: Women" and evaluation.groups[0].n == int(women[test].sum())
    # the latent-space breakdown follows the cohort chosen above it, not the current one
    _, by_space_saved = accuracy_evaluation.subgroup_results(context, "lv_mass_g", "mri", None, accuracy_settings.BY_SPACE, [], selection, None, women_cohort.id)
    assert by_space_saved["subgroup"].iloc[1] == "Joint (ECG + MRI) · Saved: Women"
    assert by_space_saved["n"].iloc[1:].tolist() == [int(women[test].sum()), int((~women[test]).sum())] * len(spaces)
    context.store.delete(women_cohort.id)
    deleted = accuracy_views.render_evaluation(context, "lv_mass_g", "mri", None, women_cohort.id, [], None)
    assert "cannot be used" in str(deleted.metrics) and "cannot be used" in deleted.sizes[0] and deleted.figures == []


def test_an_evaluation_is_worked_out_once_per_cohort_however_the_cohort_was_named(context, monkeypatch):
    evaluated = []
    monkeypatch.setattr(accuracy_views, "evaluate_cohort", lambda *args: evaluated.append(args[1:5]) or accuracy_evaluation.evaluate_cohort(*args))
    women = _women(context)
    by_filter = accuracy_views.render_evaluation(context, "lv_mass_g", "ecg", None, CURRENT, list(WOMEN), None)
    by_selection = accuracy_views.render_evaluation(context, "lv_mass_g", "ecg", None, CURRENT, [], {"rows": np.flatnonzero(women).tolist()})
    everyone = accuracy_views.render_evaluation(context, "lv_mass_g", "ecg", None, CURRENT, [], None)
    assert by_selection is by_filter and everyone is not by_filter  # the same women, however chosen: one evaluation
    assert [args[0] for args in evaluated] == ["lv_mass_g", "lv_mass_g"]
    accuracy_views.render_evaluation(context, "lv_mass_g", "mri", None, CURRENT, list(WOMEN), None)
    assert len(evaluated) == 3  # another space is another evaluation


def test_sorting_keeps_everyone_first_and_flips_on_a_second_click(context):
    sort = accuracy_evaluation.next_sort(None, "mae")
    assert sort == {"column": "mae", "descending": False}  # lower error is better: best first
    assert accuracy_evaluation.next_sort(sort, "mae") == {"column": "mae", "descending": True}
    assert accuracy_evaluation.next_sort(None, "r2")["descending"] is True
    _, table = accuracy_evaluation.subgroup_results(context, "lv_mass_g", "joint", None, accuracy_settings.BY_AGE, [], None, {"column": "mae", "descending": False})
    assert table["subgroup"].iloc[0] == accuracy_settings.EVERYONE_ROW
    ranked = table["mae"].iloc[1:].dropna().tolist()
    assert ranked == sorted(ranked)
    subgroups = accuracy_views.render_subgroups(context, "lv_mass_g", "joint", None, accuracy_settings.BY_AGE, "mae", [], None,
                                                {"column": "mae", "descending": False})
    assert "MAE (g) ▲" in str(subgroups.table)
    assert validated(subgroups.forest).layout.xaxis.title.text == "MAE with 95% bootstrap interval"


def test_disparities_are_flagged_only_when_the_interval_excludes_everyone():
    assert accuracy_evaluation.disparity("auroc", 0.5, 0.7, 0.8) == "worse"
    assert accuracy_evaluation.disparity("auroc", 0.82, 0.9, 0.8) == "better"
    assert accuracy_evaluation.disparity("mae", 12.0, 15.0, 10.0) == "worse"
    assert accuracy_evaluation.disparity("auroc", 0.7, 0.9, 0.8) is None
    assert accuracy_evaluation.disparity("bias", 5.0, 8.0, 0.0) is None  # no better direction for a bias


def test_export_is_a_csv_of_numbers_with_what_they_are_of(context):
    _kind, table = accuracy_evaluation.subgroup_results(context, "hypertension", "joint", 0.4, "sex", [], None)
    frame = accuracy_evaluation.export_frame(table, "hypertension", "joint")
    back = pd.read_csv(io.StringIO(frame.to_csv(index=False)))
    assert back.columns[:8].tolist() == ["task", "space", "subgroup", "n", "cases", "prevalence", "threshold", "note"]
    assert {"auroc", "auroc_low", "auroc_high", "brier", "bootstrap_resamples", "seed"} <= set(back.columns)
    assert back["threshold"].eq(0.4).all() and back["bootstrap_resamples"].eq(N_RESAMPLES).all()
    assert back.loc[0, "auroc"] == pytest.approx(table.loc[0, "auroc"])
    assert back["prevalence"].tolist() == pytest.approx((back["cases"] / back["n"]).tolist())


def test_every_exported_row_carries_the_threshold_it_was_evaluated_at(context):
    tasks = accuracy_evaluation.task_predictions(context)
    _kind, table = accuracy_evaluation.subgroup_results(context, "hypertension", "joint", 0.4, accuracy_settings.BY_SPACE, [], _older_half(context))
    back = pd.read_csv(io.StringIO(accuracy_evaluation.export_frame(table, "hypertension", "joint").to_csv(index=False)))
    spaces = _spaces(context, "hypertension")
    expected = [0.4] + [0.4 if space == "joint" else tasks[("hypertension", space)].threshold for space in spaces for _ in range(2)]
    assert back["threshold"].tolist() == pytest.approx(expected)
    assert back["threshold"].nunique() == len(spaces)  # every other space keeps its own training threshold
    assert all(f"at ≥ {row.threshold:.3f}" in row.subgroup for row in back.iloc[1:].itertuples())  # the label and the number agree


def test_a_typed_threshold_moves_the_slider_and_an_impossible_one_is_refused():
    sync = accuracy_views.synced_threshold
    assert sync("accuracy-threshold-value", 0.1234, 0.5) == accuracy_views.ThresholdSync(slider=0.123, typed=dash.no_update, invalid=False)
    assert sync("accuracy-threshold-value", 1.5, 0.5) == accuracy_views.ThresholdSync(slider=dash.no_update, typed=dash.no_update, invalid=True)
    assert sync("accuracy-threshold-value", None, 0.5) == accuracy_views.ThresholdSync(slider=dash.no_update, typed=dash.no_update, invalid=True)
    assert sync("accuracy-threshold", 0.3, 0.27) == accuracy_views.ThresholdSync(slider=dash.no_update, typed=0.27, invalid=False)


def test_auroc_differences_prevalence_and_its_note_are_shown(context):
    task = _balanced_binary_task(context)
    selection = _older_half(context)
    evaluation = accuracy_evaluation.evaluate(context, task, "joint", None, CURRENT, [], selection)
    lines = accuracy_evaluation.auroc_comparisons(context, evaluation, evaluation.cohort_mask)
    assert lines[0][0].startswith("AUROC, Current cohort − everyone else")
    cohort, rest = evaluation.groups[:2]
    # The small test split leaves everyone else too few cases for an AUROC: the unpaired line says so instead of a number.
    assert cohort.reason is None and not np.isfinite(rest.estimates["auroc"].value)
    assert lines[0][1] == f"not available for Everyone else: {rest.estimates['auroc'].reason}"
    others = [space for space in _spaces(context, task) if space != "joint"]
    assert [what.split(" space, same")[0] for what, _ in lines[1:]] == [f"AUROC, Joint (ECG + MRI) − {space_label(other)}" for other in others]
    # The paired line: the two spaces' AUROCs on the cohort's test subjects, as scikit-learn computes them.
    inside = np.asarray(evaluation.cohort_mask, dtype=bool)
    truth, joint_scores = evaluation.predictions.subset(inside)
    other_truth, other_scores = accuracy_evaluation.task_predictions(context)[(task, others[0])].subset(inside)
    assert np.array_equal(truth, other_truth)
    expected = roc_auc_score(truth.astype(int), joint_scores) - roc_auc_score(truth.astype(int), other_scores)
    assert lines[1][1].startswith(f"{expected:+.3f} (95% CI")
    text = str(accuracy_views.render_evaluation(context, task, "joint", None, CURRENT, [], selection).metrics)
    assert "paired DeLong" in text and text.count("moves with prevalence") == 3
    assert f"({100 * cohort.prevalence:.1f}%)" in text
    component = accuracy_views.render_subgroups(context, task, "joint", None, "sex", "auroc", [], None, None).table
    assert "Prevalence" in str(component) and "%" in str(component)


def test_a_table_cell_says_why_a_group_lacks_a_metric_instead_of_the_row_being_refused():
    """No trained cohort needed: the tables from groups evaluated directly."""
    rng = np.random.default_rng(4)
    truth = (rng.random(400) < 0.3).astype(float)
    prediction = np.clip(0.3 * truth + 0.7 * rng.random(400), 0, 1)
    cases_only = np.ones(40), rng.beta(4, 2, 40)
    table = subgroup_table("binary", [("Everyone (all test subjects)", truth, prediction, 0.5), ("AF", *cases_only, 0.5),
                                      ("tiny", truth[:6], prediction[:6], 0.5)], n_resamples=200)
    component = str(accuracy_tables.subgroup_table_component(table, "binary", "", None))
    rows = component.split("<tr")
    af_row = next(row for row in rows if ">AF<" in row)
    af = table.iloc[1]
    assert f"{af['sensitivity']:.2f}" in af_row and f"{af['sensitivity_low']:.2f} to {af['sensitivity_high']:.2f}" in af_row
    assert af_row.count("needs cases and controls: all 40 test subjects are cases") == 2  # AUROC and AUPRC
    assert "needs controls: all 40 test subjects are cases" in af_row and "= 1 by construction: no controls here" in af_row
    assert "accuracy-note" not in af_row  # no whole-row refusal under its name
    tiny_row = next(row for row in rows if ">tiny<" in row)
    assert tiny_row.count("too few test subjects") == 1 and "accuracy-note" in tiny_row  # refused as a whole: said once, beside the name
    # The side-by-side table: the cohort's column has a number or a note in every row.
    predictions = metrics.TaskPredictions("af", "joint", "binary", np.arange(440), np.r_[truth, cases_only[0]], np.r_[prediction, cases_only[1]], 0.5)
    groups = (evaluate_group("Saved: AF", "binary", *cases_only, 0.5, 200), evaluate_group("Everyone else", "binary", truth, prediction, 0.5, 200),
              evaluate_group("Everyone", "binary", predictions.truth, predictions.prediction, 0.5, 200))
    evaluation = accuracy_evaluation.Evaluation(predictions, "Saved: AF", groups, (cases_only, (truth, prediction), (predictions.truth, predictions.prediction)),
                                                False, 0.5)
    side_by_side = str(accuracy_tables.metrics_table(evaluation, ""))
    sensitivity = groups[0].estimates["sensitivity"]
    assert f"{sensitivity.low:.2f} to {sensitivity.high:.2f}" in side_by_side and "one class only: all" not in side_by_side
    assert "needs controls: all 40 test subjects are cases" in side_by_side
    assert "Specificity is shown for a group of at least 10 test subjects with at least 5 controls." in side_by_side  # the note's tooltip


def test_numbers_are_formatted_for_reading():
    assert accuracy_tables.format_number("auroc", "binary", 0.8123) == "0.81"
    assert accuracy_tables.format_number("brier", "binary", 0.04567) == "0.046"
    assert accuracy_tables.format_number("mae", "continuous", 12.345) == "12.3"
    assert accuracy_tables.format_number("bias", "continuous", -4.56) == "-4.6" and accuracy_tables.format_number("bias", "continuous", 2.0) == "+2.0"
    assert accuracy_tables.format_number("r2", "continuous", -0.001) == "0.00"  # not "-0.00"
