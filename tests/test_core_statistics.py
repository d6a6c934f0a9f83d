"""Cohort comparison statistics, checked against scipy and hand computations."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from app.core.statistics import benjamini_hochberg, category_levels, chi_square_p_value, compare_groups, level_codes, level_counts, skewness, welch_t_p_value
from data_loaders.manifest import VariableSpec

VARIABLES = {
    "lv_mass_g": VariableSpec("lv_mass_g", "continuous", "LV mass", "g"),
    "nt_probnp": VariableSpec("nt_probnp", "continuous", "NT-proBNP", "pg/mL"),
    "af": VariableSpec("af", "binary", "AF"),
    "smoking": VariableSpec("smoking", "categorical", "Smoking", categories=("never", "former", "current")),
    "rare": VariableSpec("rare", "binary", "Rare event"),
}


@pytest.fixture
def groups():
    rng = np.random.default_rng(0)
    n = 400
    in_a = np.arange(n) < 150
    table = pd.DataFrame(
        {
            "lv_mass_g": rng.normal(110, 20, n) + 15 * in_a,
            "nt_probnp": rng.lognormal(4, 1.2, n),
            "af": rng.random(n) < np.where(in_a, 0.3, 0.1),
            "smoking": pd.Categorical(rng.choice(["never", "former", "current"], n), categories=["never", "former", "current"]),
            "rare": np.isin(np.arange(n), [0, 1, 200]),
        }
    )
    return table, in_a, ~in_a


def test_benjamini_hochberg_matches_scipy():
    p = np.array([0.01, 0.04, 0.03, 0.2, np.nan, 0.005])
    expected = stats.false_discovery_control(p[~np.isnan(p)], method="bh")
    q = benjamini_hochberg(p)
    assert np.isnan(q[4])
    assert np.allclose(q[~np.isnan(p)], expected)


def test_comparison_matches_scipy_tests(groups):
    table, a, b = groups
    result = compare_groups(table, VARIABLES, a, b).set_index(["variable", "level"])
    mass = result.loc[("lv_mass_g", "")]
    assert mass["test"] == "Welch t"
    assert mass["p_value"] == pytest.approx(stats.ttest_ind(table.lv_mass_g[a], table.lv_mass_g[b], equal_var=False).pvalue)
    pooled = np.sqrt((table.lv_mass_g[a].var() + table.lv_mass_g[b].var()) / 2)
    assert mass["std_diff"] == pytest.approx((table.lv_mass_g[a].mean() - table.lv_mass_g[b].mean()) / pooled)
    skewed = result.loc[("nt_probnp", "")]
    assert skewed["test"] == "Mann–Whitney U"
    assert skewed["p_value"] == pytest.approx(stats.mannwhitneyu(table.nt_probnp[a], table.nt_probnp[b]).pvalue)
    af = result.loc[("af", "")]
    counts = pd.crosstab(a, table.af).to_numpy()[::-1]
    assert af["A"] == pytest.approx(table.af[a].mean())
    assert af["p_value"] == pytest.approx(stats.chi2_contingency(counts, correction=False).pvalue)
    rare = result.loc[("rare", "")]
    assert rare["test"] == "Fisher exact"
    assert rare["p_value"] == pytest.approx(stats.fisher_exact(pd.crosstab(a, table.rare).to_numpy()).pvalue)
    assert set(result.loc["smoking"].index) == {"never", "former", "current"}
    assert result.loc["smoking"]["p_value"].nunique() == 1  # one χ² test per variable


def test_q_values_adjust_over_variables_and_rows_sort_by_effect(groups):
    table, a, b = groups
    result = compare_groups(table, VARIABLES, a, b)
    per_variable = result.drop_duplicates("variable").set_index("variable")
    assert np.allclose(per_variable["q_value"], stats.false_discovery_control(per_variable["p_value"], method="bh"))
    effects = result["std_diff"].abs().to_numpy()
    assert (np.diff(effects) <= 1e-12).all()
    assert result.iloc[0]["variable"] == "lv_mass_g"


def test_empty_group_gives_no_numbers_rather_than_errors(groups):
    table, a, _ = groups
    result = compare_groups(table, VARIABLES, a, np.zeros(len(a), dtype=bool))
    assert result["p_value"].isna().all()


def test_constant_variables_give_no_test_rather_than_warnings(groups):
    table, a, b = groups
    constant = table.assign(lv_mass_g=5.0)
    row = compare_groups(constant, VARIABLES, a, b).set_index("variable").loc["lv_mass_g"]
    assert row["test"] == "no variation" and np.isnan(row["p_value"]) and row["std_diff"] == 0


@pytest.mark.parametrize(
    ("values", "spec", "expected"),
    [
        # Categories match as text, whatever the column's type; missing and undeclared values are in no level.
        (pd.Series(["never", None, "current", "vaping"], dtype="str"), VARIABLES["smoking"], [0, -1, 2, -1]),
        (pd.Series(pd.Categorical(["former", None, "never"])), VARIABLES["smoking"], [1, -1, 0]),
        (pd.Series([1, 2, None], dtype="Int64"), VariableSpec("grade", "categorical", "Grade", categories=("1", "2")), [0, 1, -1]),
        # Binary: non-zero is True, missing is neither.
        (pd.Series([True, False, None], dtype="boolean"), VARIABLES["af"], [1, 0, -1]),
        (pd.Series([1.0, 0.0, np.nan]), VARIABLES["af"], [1, 0, -1]),
    ],
)
def test_each_subject_gets_its_level_once_per_column(values, spec, expected):
    levels = category_levels(values, spec)
    codes = level_codes(values, spec, levels)
    assert codes.tolist() == expected
    everyone = np.ones(len(values), dtype=bool)
    assert level_counts(codes, everyone, len(levels)).tolist() == [expected.count(i) for i in range(len(levels))]


def test_skewness_is_scipys_default_sample_skewness():
    rng = np.random.default_rng(3)
    for values in (rng.normal(size=500), rng.lognormal(size=300), -rng.exponential(size=50), np.array([1.0, 2.0, 10.0])):
        assert skewness(values) == pytest.approx(stats.skew(values), rel=1e-9)
    assert skewness(np.full(10, 4.0)) == 0.0


def test_welch_t_is_scipys_unequal_variance_t_test():
    rng = np.random.default_rng(4)
    pairs = [(rng.normal(0, 1, 500), rng.normal(0.1, 3, 40)), (rng.normal(5, 2, 2), rng.normal(1, 1, 3)),
             (np.array([2.0, 2.0, 2.0]), rng.normal(2.5, 0.5, 30)),  # one group without spread
             (rng.normal(0, 1, 10_000), rng.normal(0.05, 1, 9_000)), (rng.normal(0, 1, 50), rng.normal(40, 1, 50))]  # p underflows
    for a, b in pairs:
        with warnings.catch_warnings(action="ignore"):  # scipy warns of "precision loss" for a group without spread
            expected = stats.ttest_ind(a, b, equal_var=False).pvalue
        assert welch_t_p_value(a, b) == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_chi_square_is_scipys_without_continuity_correction():
    rng = np.random.default_rng(5)
    tables = [np.array([[10, 20], [30, 5]]), np.array([[1, 0, 7], [2, 9, 1]]), rng.integers(1, 1_000, size=(2, 6)), np.array([[500, 500], [500, 500]])]
    for table in tables:
        assert chi_square_p_value(table) == pytest.approx(stats.chi2_contingency(table, correction=False).pvalue, rel=1e-9, abs=1e-300)
