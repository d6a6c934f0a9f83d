"""The input checkers every callback uses: the layout's own choices or a refusal; never a silent coercion."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from app import validation as v
from app.state import selection_mask
from data_loaders.manifest import VariableSpec

VARIABLES = {"age_years": VariableSpec("age_years", "continuous", "Age"), "sex": VariableSpec("sex", "categorical", "Sex")}


@pytest.mark.parametrize("hostile", [True, False, 1.0, 1.7, "3", None, [1], {"a": 1}, -1, 10, 10**30])
def test_integers_are_whole_numbers_in_range_never_coerced(hostile):
    with pytest.raises(v.InputRefused, match="steps: expected a whole number from 0 to 9"):
        v.integer(hostile, "steps", 0, 9)


def test_an_empty_or_out_of_range_number_box_is_named_as_such_not_as_none():
    """Typing 1, 31 or 2.5 in the k box (min 2, max 30) sends None: "got None" told the user nothing."""
    with pytest.raises(v.InputRefused, match="number of clusters: expected a whole number from 2 to 30, got an empty box or a number outside that range"):
        v.integer(None, "number of clusters", 2, 30)
    with pytest.raises(v.InputRefused, match="got an empty box"):
        v.number(None, "threshold", 0, 1)


def test_accepted_values_come_back_unchanged():
    assert v.integer(3, "k", 1, 250) == 3
    assert v.number(0.25, "threshold", 0, 1) == 0.25
    assert v.choice("umap", ("pca", "umap"), "method") == "umap"
    assert v.choices(["a", "b", "a"], ("a", "b"), "spaces", limit=4) == ["a", "b"]
    assert v.rows([0, 4], 5) == [0, 4]
    assert v.optional(v.integer, None, "x", 0, 1) is None
    filters = [{"kind": "range", "variable": "age_years", "low": 40, "high": None}, {"kind": "choice", "variable": "sex", "values": ["female"]}]
    assert v.filter_specs(filters, VARIABLES) == filters


@pytest.mark.parametrize("hostile", [float("nan"), float("inf"), True, "0.5", 2, -0.1, None])
def test_numbers_are_finite_and_in_range(hostile):
    with pytest.raises(v.InputRefused, match="threshold"):
        v.number(hostile, "threshold", 0, 1)


def test_choices_compare_types_too_and_cap_the_count():
    with pytest.raises(v.InputRefused, match="expected one of"):
        v.choice(1, (True, "1"), "flag")  # 1 == True in Python: not here
    with pytest.raises(v.InputRefused, match="at most 4"):
        v.choices(["a"] * 5, ("a",), "subjects", limit=4)
    with pytest.raises(v.InputRefused, match="expected a list"):
        v.choices("a", ("a",), "subjects", limit=4)


@pytest.mark.parametrize("hostile", [{"rows": [-1]}, {"rows": [5]}, {"rows": [1.0]}, {"rows": [True]}, {"rows": ["1"]}, {"rows": 3},
                                     {"rows": list(range(6))}, "rows", [1, 2]])
def test_selections_hold_only_subjects_of_this_cohort(hostile):
    five_subjects = SimpleNamespace(n_subjects=5)
    assert selection_mask(five_subjects, {"rows": [1, 2], "source": "view-0"}).tolist() == [False, True, True, False, False]
    assert selection_mask(five_subjects, None) is None
    with pytest.raises(v.InputRefused, match="selected subjects|selection"):
        selection_mask(five_subjects, hostile)


@pytest.mark.parametrize("hostile", [
    "filters", [1], [{"kind": "range", "variable": "synthetic_seed", "low": 0}], [{"kind": "regex", "variable": "age_years"}],
    [{"kind": "range", "variable": "sex", "low": 0}], [{"kind": "range", "variable": "age_years", "low": "0"}],
    [{"kind": "range", "variable": "age_years", "high": float("inf")}], [{"kind": "choice", "variable": "sex", "values": "female"}],
    [{"kind": "choice", "variable": "sex", "values": [{"x": 1}]}], [{"kind": "choice", "variable": "sex", "values": ["f"] * 1001}],
    [{"kind": "choice", "variable": "sex"}] * 65,
])
def test_filters_name_declared_variables_and_sane_bounds(hostile):
    with pytest.raises(v.InputRefused, match="filter"):
        v.filter_specs(hostile, VARIABLES)


def test_a_refusal_raised_inside_a_background_job_reaches_the_page_as_its_own_message():
    from dash.exceptions import BackgroundCallbackError

    from app.cohort_store import CohortStoreError

    def from_job(error: Exception) -> BackgroundCallbackError:  # how Dash hands a job's exception to on_error: its text and traceback
        return BackgroundCallbackError(f"An error occurred inside a background callback: {error}\nTraceback (most recent call last):\n"
                                       f"  File \"x.py\", line 1, in job\n{type(error).__module__}.{type(error).__qualname__}: {error}\n")

    assert v.refusal_text(from_job(v.InputRefused("steps: expected a whole number from 2 to 12, got 200"))) == "steps: expected a whole number from 2 to 12, got 200"
    assert v.refusal_text(from_job(CohortStoreError("no saved cohort with id 7"))) == "no saved cohort with id 7"
    assert v.refusal_text(CohortStoreError("no saved cohort with id 7")) == "no saved cohort with id 7"
    assert v.refusal_text(from_job(ZeroDivisionError("division by zero"))) is None  # a failure, not a refusal: the generic banner
    assert v.refusal_text(RuntimeError("x")) is None
