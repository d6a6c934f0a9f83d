"""Accuracy figures: pure arrays → figures, SVG only, drawing what the metrics say."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from app.core.metrics import limits_of_agreement, subgroup_table
from app.figures.accuracy import (
    COHORT_COLOUR,
    OTHER_COLOUR,
    CohortData,
    agreement_figure,
    confusion_figure,
    forest_figure,
    reliability_figure,
    roc_pr_figure,
)
from app.figures.messages import message_figure
from tests.figure_checks import assert_unchanged_by_validation, validated


def _cohorts(kind: str = "binary") -> list[CohortData]:
    rng = np.random.default_rng(0)
    groups = []
    for name, colour, n in (("Women over 65", COHORT_COLOUR, 120), ("Everyone else", OTHER_COLOUR, 200)):
        if kind == "binary":
            truth = (rng.random(n) < 0.3).astype(float)
            prediction = 1 / (1 + np.exp(-(rng.normal(size=n) + 1.5 * truth - 1)))
        else:
            truth = rng.normal(140, 30, n)
            prediction = truth + rng.normal(5, 12, n)
        groups.append(CohortData(name, truth, prediction, colour))
    return groups


def _all_svg(figure) -> bool:
    return all(trace.type in ("scatter", "heatmap") for trace in figure.data)


def test_roc_and_pr_curves_one_per_cohort_with_the_operating_point():
    cohorts = _cohorts()
    figure = validated(roc_pr_figure(cohorts, threshold=0.4, task_label="Atrial fibrillation"))
    assert _all_svg(figure)
    curves = sorted((t for t in figure.data if t.showlegend is not False and t.mode == "lines"), key=lambda t: t.legendrank)
    assert [t.name for t in curves] == ["Women over 65", "Everyone else"]  # listed in the order given
    assert figure.data[-1].legendgroup == "Women over 65"  # and the first drawn last, on top
    first = cohorts[0]
    roc = curves[0]
    assert (roc.x[0], roc.y[0], roc.x[-1], roc.y[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.trapezoid(roc.y, roc.x) == pytest.approx(skm.roc_auc_score(first.truth, first.prediction))
    points = [t for t in figure.data if t.mode == "markers" and t.legendgroup == "Women over 65"]
    flagged = first.prediction >= 0.4
    assert points[0].y[0] == pytest.approx(skm.recall_score(first.truth, flagged))  # on the ROC curve: sensitivity
    assert points[1].y[0] == pytest.approx(skm.precision_score(first.truth, flagged))  # on the PR curve: precision
    assert figure.layout.xaxis.title.text.startswith("1 − specificity") and figure.layout.yaxis2.title.text == "Precision (PPV)"


def test_reliability_diagram_has_a_line_per_cohort_and_the_diagonal():
    figure = validated(reliability_figure(_cohorts(), n_bins=10))
    names = [t.name for t in figure.data]
    assert names == ["Women over 65", "Everyone else", "perfect calibration"]
    assert sum(figure.data[0].customdata) == 120  # every subject is in one bin
    assert all(0 <= y <= 1 for y in figure.data[0].y)


def test_confusion_matrices_count_every_subject_once():
    cohorts = _cohorts()
    figure = validated(confusion_figure(cohorts, threshold=0.4, task_label="Atrial fibrillation"))
    assert [t.type for t in figure.data] == ["heatmap", "heatmap"]
    first = cohorts[0]
    (tn, fp), (fn, tp) = skm.confusion_matrix(first.truth, first.prediction >= 0.4)
    text = np.asarray(figure.data[0].text)
    assert f"TP <b>{tp}</b>" in text[1, 1] and f"TN <b>{tn}</b>" in text[0, 0] and f"FP <b>{fp}</b>" in text[0, 1]
    np.testing.assert_allclose(np.asarray(figure.data[0].z).sum(axis=1), [1.0, 1.0])  # each row: shares of one true class
    assert [a.text for a in figure.layout.annotations] == ["Women over 65", "Everyone else"]


def test_agreement_figure_draws_bias_and_limits_of_agreement():
    cohorts = _cohorts("continuous")
    figure = validated(agreement_figure(cohorts, "LV mass", "g"))
    assert _all_svg(figure)
    bias, lower, upper = limits_of_agreement(cohorts[0].truth, cohorts[0].prediction)
    levels = sorted(t.y[0] for t in figure.data if t.mode == "lines" and t.legendgroup == "Women over 65")
    assert levels == pytest.approx(sorted([bias, lower, upper]))
    assert lower < bias < upper and bias == pytest.approx(np.mean(cohorts[0].prediction - cohorts[0].truth))
    assert figure.layout.xaxis.title.text == "True LV mass (g)" and figure.layout.yaxis2.title.text == "Predicted − true (g)"


def test_forest_plot_shows_each_subgroup_with_its_interval_and_skips_those_without_a_number():
    rng = np.random.default_rng(1)
    truth = (rng.random(2400) < 0.4).astype(float)
    prediction = np.clip(truth * 0.3 + rng.random(2400) * 0.7, 0, 1)
    table = subgroup_table("binary", [("A", truth[:1200], prediction[:1200], 0.5), ("B", truth[1200:], prediction[1200:], 0.5),
                                      ("tiny", truth[:5], prediction[:5], 0.5)], n_resamples=100)
    figure = validated(forest_figure(table, "auroc", reference=(0.8, 0.75, 0.85)))
    trace = figure.data[0]
    assert list(trace.y) == ["A (n = 1,200)", "B (n = 1,200)"]  # sizes written as everywhere else in the app
    np.testing.assert_allclose(np.asarray(trace.x) + np.asarray(trace.error_x.array), table["auroc_high"][:2])
    np.testing.assert_allclose(np.asarray(trace.x) - np.asarray(trace.error_x.arrayminus), table["auroc_low"][:2])
    assert any(shape.type == "line" and shape.x0 == 0.8 for shape in figure.layout.shapes)
    empty = validated(forest_figure(pd.DataFrame(table.iloc[2:]), "auroc"))
    assert empty.layout.annotations[0].text == "No subgroup has enough test subjects for the AUROC"


def _with_a_cohort_of_cases_only() -> pd.DataFrame:
    """A subgroup table: a group with both classes, a cohort of 40 cases only, and a group too small as a whole."""
    rng = np.random.default_rng(2)
    truth = (rng.random(1200) < 0.4).astype(float)
    prediction = np.clip(truth * 0.3 + rng.random(1200) * 0.7, 0, 1)
    cases_only = np.ones(40), rng.beta(4, 2, 40)
    return subgroup_table("binary", [("A", truth, prediction, 0.5), ("AF", *cases_only, 0.5), ("tiny", truth[:5], prediction[:5], 0.5)],
                          n_resamples=100)


def test_forest_plot_leaves_out_only_the_groups_lacking_the_metric_and_says_why_under_it():
    table = _with_a_cohort_of_cases_only()
    specificity = forest_figure(table, "specificity", reference=(0.7, 0.65, 0.75))
    assert_unchanged_by_validation(specificity)
    figure = validated(specificity)
    assert list(figure.data[0].y) == ["A (n = 1,200)"]
    note = figure.layout.annotations[-1].text
    assert note.startswith("Not plotted for the Specificity:")
    assert "AF: needs controls: all 40 test subjects are cases" in note and "tiny: too few test subjects (n = 5; 10 needed)" in note
    assert figure.layout.margin.b > 52 and figure.layout.annotations[0].text == "Everyone: 0.700"
    sensitivity = validated(forest_figure(table, "sensitivity"))  # the cohort of cases has its sensitivity: plotted with its interval
    assert list(sensitivity.data[0].y) == ["A (n = 1,200)", "AF (n = 40)"]
    np.testing.assert_allclose(np.asarray(sensitivity.data[0].x) + np.asarray(sensitivity.data[0].error_x.array), table["sensitivity_high"][:2])
    assert "AF" not in sensitivity.layout.annotations[-1].text
    ppv = validated(forest_figure(table, "ppv"))  # 1 by construction among cases only: shown in the table, not compared here
    assert list(ppv.data[0].y) == ["A (n = 1,200)"] and "AF: = 1 by construction: no controls here" in ppv.layout.annotations[-1].text
    nothing = validated(forest_figure(table.iloc[1:], "specificity"))
    assert nothing.data == () and "AF: needs controls" in nothing.layout.annotations[0].text


def test_a_confusion_matrix_of_one_class_says_the_other_row_is_empty():
    rng = np.random.default_rng(3)
    cases_only = CohortData("AF", np.ones(30), rng.random(30), COHORT_COLOUR)
    figure = validated(confusion_figure([cases_only], threshold=0.5, task_label="Atrial fibrillation"))
    text = np.asarray(figure.data[0].text)
    assert text[0, 0] == "TN <b>0</b><br>no controls here" and text[0, 1] == "FP <b>0</b><br>no controls here"
    flagged = int((cases_only.prediction >= 0.5).sum())
    assert text[1, 1] == f"TP <b>{flagged}</b><br>{flagged / 30:.0%} of<br>cases"


def test_an_empty_accuracy_figure_says_why_instead_of_empty_axes():
    figure = validated(message_figure("No group here has enough test subjects to draw", height=320))
    assert figure.layout.annotations[0].text == "No group here has enough test subjects to draw"
    assert figure.layout.xaxis.visible is False


def test_prebuilt_figures_send_what_plotly_would_after_validating_them():
    binary, continuous = _cohorts(), _cohorts("continuous")
    table = pd.DataFrame({"subgroup": ["a", "b"], "n": [10, 20], "auroc": [0.7, 0.8], "auroc_low": [0.6, 0.7], "auroc_high": [0.8, 0.9]})
    for figure in (roc_pr_figure(binary, 0.4, "AF"), roc_pr_figure(binary, None, "AF"), reliability_figure(binary), confusion_figure(binary, 0.5, "AF"),
                   agreement_figure(continuous, "LV mass", "g"), forest_figure(table, "auroc", (0.75, 0.7, 0.8)), message_figure("nothing here", height=320)):
        assert_unchanged_by_validation(figure)
