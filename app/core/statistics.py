"""Compare two groups of subjects over every variable: effect sizes, tests and FDR-adjusted q-values."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd

from data_loaders.manifest import VariableSpec

# A standardised difference needs a spread in each group: with fewer subjects it is noise, not an effect.
MIN_GROUP_FOR_EFFECT = 2


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg q-values; NaN p-values stay NaN and do not count as tests."""
    p_values = np.asarray(p_values, dtype=float)
    q_values = np.full_like(p_values, np.nan)
    tested = np.flatnonzero(~np.isnan(p_values))
    if len(tested) == 0:
        return q_values
    order = tested[np.argsort(p_values[tested])]
    ranked = p_values[order] * len(tested) / np.arange(1, len(tested) + 1)
    q_values[order] = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
    return q_values


def _undefined_effect(a: float, b: float) -> float:
    """No spread in either group: no difference is 0, a difference (100 % vs 0 %) has no finite size, so NaN."""
    return 0.0 if a == b else np.nan


def skewness(values: np.ndarray) -> float:
    """Sample skewness m3 / m2^1.5 (Fisher-Pearson, uncorrected: scipy.stats.skew's default).

    Two numpy moments: scipy's own wrapper (NaN policy, axis handling) cost ~0.5 ms per call, and
    Table 1 asks for every continuous variable in both groups on each comparison.
    """
    centred = values - values.mean()
    second = np.mean(centred * centred)
    return float(np.mean(centred * centred * centred) / second**1.5) if second > 0 else 0.0


def is_skewed(*groups: np.ndarray) -> bool:
    """|skewness| > 1 in any group: then Mann–Whitney rather than Welch's t, and median [IQR] rather than mean ± SD."""
    return any(abs(skewness(group)) > 1 for group in groups if len(group) > 2)  # no spread: skewness 0


def _continuous_row(a: np.ndarray, b: np.ndarray) -> dict[str, float | str]:
    from scipy import stats
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    row: dict[str, float | str] = {"A": np.nan, "B": np.nan, "std_diff": np.nan, "p_value": np.nan, "test": ""}
    if len(a) == 0 or len(b) == 0:
        return row
    row["A"], row["B"] = a.mean(), b.mean()
    if len(a) < MIN_GROUP_FOR_EFFECT or len(b) < MIN_GROUP_FOR_EFFECT:
        return row
    pooled_sd = np.sqrt((a.var(ddof=1 if len(a) > 1 else 0) + b.var(ddof=1 if len(b) > 1 else 0)) / 2)
    row["std_diff"] = (a.mean() - b.mean()) / pooled_sd if pooled_sd > 0 else _undefined_effect(a.mean(), b.mean())
    if a.std() == 0 and b.std() == 0:
        row["test"] = "no variation"
        return row
    if is_skewed(a, b):
        row["p_value"] = stats.mannwhitneyu(a, b, alternative="two-sided").pvalue
        row["test"] = "Mann–Whitney U"
    else:
        row["p_value"] = welch_t_p_value(a, b)
        row["test"] = "Welch t"
    return row


def welch_t_p_value(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided p of Welch's unequal-variance t-test: ``scipy.stats.ttest_ind(a, b, equal_var=False)``, from its formula.

    scipy's wrapper (NaN policy, axis handling) cost ~1 ms a call, most of Table 1 under 20 simulated
    users. ``a`` and ``b`` hold no NaN, at least two values each, and not both without spread.
    """
    from scipy import special
    share_a, share_b = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    t = (a.mean() - b.mean()) / np.sqrt(share_a + share_b)
    degrees_of_freedom = (share_a + share_b) ** 2 / (share_a**2 / (len(a) - 1) + share_b**2 / (len(b) - 1))
    return float(2 * special.stdtr(degrees_of_freedom, -abs(t)))


def chi_square_p_value(table: np.ndarray) -> float:
    """p of Pearson's χ² test of independence without continuity correction: ``scipy.stats.chi2_contingency(table,
    correction=False)``, from its formula (no wrapper overhead). Every row and column of ``table`` has a count."""
    from scipy import special, stats
    expected = stats.contingency.expected_freq(table)
    statistic = float(((table - expected) ** 2 / expected).sum())
    return float(special.chdtrc((table.shape[0] - 1) * (table.shape[1] - 1), statistic))


def category_levels(column: pd.Series, spec: VariableSpec) -> list:
    """The levels a binary or categorical variable is counted over: [False, True], the manifest's categories, or those present."""
    if spec.type == "binary":
        return [False, True]
    return list(spec.categories or column.dropna().unique())


def level_codes(column: pd.Series, spec: VariableSpec, levels: list) -> np.ndarray:
    """Each subject's position in ``levels`` (-1: missing, or a value that is none of them), computed once per column.

    Binary values count as True when non-zero; categories match as text. Vectorised through category
    codes: comparing a million strings once per level and per group took seconds for Table 1.
    """
    if spec.type == "binary":
        values = column.to_numpy(dtype=float, na_value=np.nan)
        return np.where(np.isnan(values), -1, values != 0).astype(np.int64)
    categorical = column if isinstance(column.dtype, pd.CategoricalDtype) else column.astype("category")
    position = {str(level): index for index, level in enumerate(levels)}
    lookup = np.array([position.get(str(category), -1) for category in categorical.cat.categories] + [-1], dtype=np.int64)
    return lookup[categorical.cat.codes.to_numpy()]  # code -1 (missing) reads the appended -1


def level_counts(codes: np.ndarray, mask: np.ndarray, n_levels: int) -> np.ndarray:
    """How many of the subjects in ``mask`` have each level (missing ones are in none)."""
    chosen = codes[mask]
    return np.bincount(chosen[chosen >= 0], minlength=n_levels)


def _categorical_rows(table: np.ndarray, levels: list) -> list[dict[str, float | str]]:
    """Rows of a (2 groups × levels) count table: the share of each level (of True alone for a binary), one test for all."""
    from scipy import stats
    keep = table.sum(axis=0) > 0
    table, levels = table[:, keep], [level for level, k in zip(levels, keep) if k]
    p_value, test = np.nan, ""
    if table.shape[1] >= 2 and (table.sum(axis=1) > 0).all():
        expected = stats.contingency.expected_freq(table)
        if table.shape == (2, 2) and expected.min() < 5:
            p_value, test = stats.fisher_exact(table).pvalue, "Fisher exact"
        else:
            p_value, test = chi_square_p_value(table), "χ²"
    shares = table / np.maximum(table.sum(axis=1, keepdims=True), 1)
    effect_measurable = (table.sum(axis=1) >= MIN_GROUP_FOR_EFFECT).all()
    rows = []
    for column, level in enumerate(levels):
        if len(levels) == 2 and column == 0 and {False, True} == set(levels):
            continue  # a binary variable is one row: the share of True
        p_a, p_b = shares[0, column], shares[1, column]
        pooled = np.sqrt((p_a * (1 - p_a) + p_b * (1 - p_b)) / 2)
        rows.append(
            {
                "level": "" if level is True else str(level),
                "A": p_a,
                "B": p_b,
                "std_diff": ((p_a - p_b) / pooled if pooled > 0 else _undefined_effect(p_a, p_b)) if effect_measurable else np.nan,
                "p_value": p_value,
                "test": test,
            }
        )
    return rows


def compare_groups(
    phenotypes: pd.DataFrame,
    variables: dict[str, VariableSpec],
    mask_a: np.ndarray,
    mask_b: np.ndarray,
    outside_q_family: Collection[str] = (),
) -> pd.DataFrame:
    """One row per continuous variable and per category level: group A vs B, sorted by |effect|.

    Columns: variable, label, level, kind (mean or proportion), A, B, std_diff (standardised
    difference, NaN when a group has fewer than two subjects), p_value, test, q_value
    (Benjamini–Hochberg over the variables tested). Variables in ``outside_q_family`` (those that
    define a group, whose tiny p-values are circular) keep their p-value but get no q-value and do
    not enter the family of the others.
    """
    rows = []
    for name, spec in variables.items():
        column = phenotypes[name]
        if spec.type == "continuous":
            values = column.to_numpy(dtype=float, na_value=np.nan)
            row = _continuous_row(values[mask_a], values[mask_b])
            rows.append({"variable": name, "label": spec.display_label, "level": "", "kind": "mean", **row})
        else:
            levels = category_levels(column, spec)
            codes = level_codes(column, spec, levels)
            table = np.array([level_counts(codes, mask_a, len(levels)), level_counts(codes, mask_b, len(levels))])
            for row in _categorical_rows(table, levels):
                rows.append({"variable": name, "label": spec.label, "kind": "proportion", **row})
    table = pd.DataFrame(rows, columns=["variable", "label", "level", "kind", "A", "B", "std_diff", "p_value", "test"])
    per_variable = table.drop_duplicates("variable").set_index("variable")["p_value"]
    per_variable = per_variable[~per_variable.index.isin(list(outside_q_family))]
    q_by_variable = pd.Series(benjamini_hochberg(per_variable.to_numpy()), index=per_variable.index)
    table["q_value"] = table["variable"].map(q_by_variable)
    return table.reindex(table["std_diff"].abs().sort_values(ascending=False, na_position="last").index).reset_index(drop=True)
