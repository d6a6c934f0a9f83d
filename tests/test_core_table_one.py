"""Table 1: summaries checked against numpy/scipy, the q-value family, exclusions and formats."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from app.core.statistics import benjamini_hochberg
from app.core.table_one import format_probability, table_one
from data_loaders.manifest import VariableSpec

VARIABLES = {
    "age": VariableSpec("age", "continuous", "Age", "years"),
    "nt_probnp": VariableSpec("nt_probnp", "continuous", "NT-proBNP", "pg/mL"),
    "lvef": VariableSpec("lvef", "continuous", "LVEF", "%"),
    "af": VariableSpec("af", "binary", "AF"),
    "smoking": VariableSpec("smoking", "categorical", "Smoking", categories=("never", "former", "current")),
    "split": VariableSpec("split", "categorical", "Split", categories=("train", "test"), role="administrative"),
}


@pytest.fixture
def cohort() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 500
    age = rng.normal(62, 8, n)
    return pd.DataFrame(
        {
            "age": age,
            "nt_probnp": rng.lognormal(4, 1.2, n),
            "lvef": np.where(rng.random(n) < 0.1, np.nan, rng.normal(60, 6, n) - 0.3 * (age - 62)),
            "af": rng.random(n) < 0.05 + 0.01 * (age > 65) * (age - 65),
            "smoking": pd.Categorical(rng.choice(["never", "former", "current"], n), categories=["never", "former", "current"]),
            "split": pd.Categorical(rng.choice(["train", "test"], n), categories=["train", "test"]),
        }
    )


@pytest.mark.parametrize(
    ("p", "shown"),
    [(0.0123, "0.012"), (0.5, "0.500"), (0.001, "0.001"), (3.24e-5, "3.2×10⁻⁵"), (0.00099996, "1.0×10⁻³"), (2e-123, "2.0×10⁻¹²³"),
     (0.0, "<10⁻³⁰⁸"), (np.nan, "–")],
)
def test_probabilities_read_as_one_token(p, shown):
    assert format_probability(p) == shown
    assert not any(character.isspace() or character == "-" for character in format_probability(p))


def test_table_one_describes_each_group_like_a_clinical_paper(cohort):
    older = (cohort["age"] >= 65).to_numpy()
    table = table_one(cohort, VARIABLES, older, ~older, defining={"age"}, group_names=("Older", "Younger"))
    rows = table.rows.set_index(["variable", "level"])
    assert table.group_sizes == (older.sum(), (~older).sum())
    lvef_a = cohort["lvef"][older]
    assert rows.loc[("lvef", ""), "statistic"] == "mean ± SD"
    assert rows.loc[("lvef", ""), "summary_a"] == f"{lvef_a.mean():.1f} ± {lvef_a.std(ddof=1):.1f}"
    assert (rows.loc[("lvef", ""), "missing_a"], rows.loc[("lvef", ""), "missing_b"]) == (lvef_a.isna().sum(), cohort["lvef"][~older].isna().sum())
    bnp_b = cohort["nt_probnp"][~older]
    q1, median, q3 = np.percentile(bnp_b, [25, 50, 75])
    assert rows.loc[("nt_probnp", ""), "statistic"] == "median [IQR]"
    assert rows.loc[("nt_probnp", ""), "summary_b"] == f"{median:.1f} [{q1:.1f}, {q3:.1f}]"
    af_a = cohort["af"][older]
    assert rows.loc[("af", ""), "summary_a"] == f"{af_a.sum()} ({100 * af_a.mean():.1f} %)"
    assert list(table.rows.loc[table.rows["variable"] == "smoking", "level"]) == ["never", "former", "current"]
    assert "split" not in set(table.rows["variable"])


def test_defining_variables_are_marked_and_left_out_of_the_q_family(cohort):
    older = (cohort["age"] >= 65).to_numpy()
    table = table_one(cohort, VARIABLES, older, ~older, defining={"age"})
    per_variable = table.rows.drop_duplicates("variable").set_index("variable")
    assert per_variable.loc["age", "defining"] and np.isnan(per_variable.loc["age", "q_value"])
    assert per_variable.loc["age", "p_value"] == pytest.approx(stats.ttest_ind(cohort.age[older], cohort.age[~older], equal_var=False).pvalue)
    others = per_variable.drop(index="age")
    assert np.allclose(others["q_value"], benjamini_hochberg(others["p_value"].to_numpy()))
    shown = table.display()
    assert shown["Variable"].iloc[0] == f"Age (years) †, {table.rows['statistic'].iloc[0]}"
    assert any("†" in note for note in table.footnotes())


def test_a_one_subject_group_gets_no_standardised_difference(cohort):
    alone = np.zeros(len(cohort), dtype=bool)
    alone[0] = True
    table = table_one(cohort, VARIABLES, alone, ~alone)
    assert table.rows["std_diff"].isna().all()
    assert table.rows.set_index("variable").loc["age", "summary_a"] == f"{cohort.age[0]:.1f}"


def test_exports_keep_the_formatting(cohort):
    older = (cohort["age"] >= 65).to_numpy()
    table = table_one(cohort, VARIABLES, older, ~older, defining={"age"}, group_names=("<Older>", "Younger"))
    csv = table.to_csv()
    assert csv.startswith("\ufeffVariable,<Older> (n = ")
    assert '"Age (years) †, ' in csv
    page = table.to_html(title="Older vs younger")
    assert "&lt;Older&gt;" in page and "<Older>" not in page
    assert page.count("class=nowrap") == (len(table.display().columns) - 1) * len(table.rows)


def test_exports_say_what_each_group_is_below_the_table(cohort):
    """An exported "Table 1: group A vs group B" did not say which cohorts A and B were."""
    older = (cohort["age"] >= 65).to_numpy()
    table = table_one(cohort, VARIABLES, older, ~older, defining={"age"})
    groups = ["A: the current cohort: Age ≥ 65 years", "=HYPERLINK(\"http://x\")"]
    lines = pd.read_csv(io.StringIO(table.to_csv(groups=groups).lstrip("\ufeff")), keep_default_na=False)["Variable"].tolist()
    first_note = lines.index("A: the current cohort: Age ≥ 65 years")
    assert lines[first_note - 1] == "" and lines[first_note + 1] == "'=HYPERLINK(\"http://x\")"  # never a formula
    assert lines[first_note + 2].startswith("Std. difference") and lines[-1].startswith("†")
    page = table.to_html(groups=groups)
    assert page.index("A: the current cohort") < page.index("<table>")


def test_the_csv_never_hands_a_spreadsheet_a_formula_from_a_group_name(cohort):
    older = (cohort["age"] >= 65).to_numpy()
    csv = table_one(cohort, VARIABLES, older, ~older, group_names=("=HYPERLINK(\"http://x\")", "@SUM(1)")).to_csv()
    header = csv.splitlines()[0]
    assert "'=HYPERLINK" in header and "'@SUM(1)" in header
    assert ",=" not in csv and ",@" not in csv


def test_the_dash_table_keeps_numbers_on_one_line_and_shows_the_footnotes(cohort):
    from app.figures.table_one import table_one_component
    from tests.static_html import elements, text

    older = (cohort["age"] >= 65).to_numpy()
    component = table_one_component(table_one(cohort, VARIABLES, older, ~older, defining={"age"}))
    tree = elements(component)
    header = tree.findall(".//thead/tr/th")
    assert [text(cell) for cell in header][-4:-1] == ["Std. difference", "p", "q (BH)"]
    assert header[0].get("class") is None
    first = tree.find(".//tbody/tr")
    assert first.get("class") == "table-one-defining"
    assert [cell.get("class") for cell in first.findall("td")][1:] == ["text-nowrap"] * (len(first.findall("td")) - 1)
    assert any("†" in text(note) for note in tree.findall("./div/p"))


def test_a_complete_separation_has_no_finite_standardised_difference(cohort):
    women = np.arange(len(cohort)) % 2 == 0
    cohort = cohort.assign(smoking=pd.Categorical(np.where(women, "never", "current"), categories=["never", "former", "current"]))
    rows = table_one(cohort, VARIABLES, women, ~women).rows.set_index(["variable", "level"])
    assert np.isnan(rows.loc[("smoking", "never"), "std_diff"]) and np.isnan(rows.loc[("smoking", "current"), "std_diff"])
