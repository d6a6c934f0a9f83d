"""Saved cohort definitions read as words a clinician understands."""

from __future__ import annotations

import pytest

from app.core.cohort_algebra import CohortDefinition, defining_variables
from app.core.cohort_description import describe_definition, describe_filter, readable_time
from app.core.filters import ChoiceFilter, RangeFilter
from data_loaders.manifest import VariableSpec

VARIABLES = {
    "age": VariableSpec("age", "continuous", "Age", "years"),
    "lvef": VariableSpec("lvef", "continuous", "LVEF", "%"),
    "sex": VariableSpec("sex", "categorical", "Sex", categories=("female", "male")),
    "af": VariableSpec("af", "binary", "AF"),
}
NAMES = {1: "Women", 2: "AF", 3: "Older"}


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        (RangeFilter("age", 65.0, None), "Age ≥ 65 years"),
        (RangeFilter("lvef", None, 40.0), "LVEF ≤ 40 %"),
        (RangeFilter("age", 60.5, 70.0), "Age 60.5–70 years"),
        (ChoiceFilter("sex", ("female",)), "Sex: female"),
        (ChoiceFilter("sex", ("female", "male")), "Sex: female or male"),
        (ChoiceFilter("af", (True,)), "AF"),
        (ChoiceFilter("af", (False,)), "no AF"),
        (RangeFilter("unknown_column", 1.0, None), "unknown_column ≥ 1"),
    ],
)
def test_filters_read_as_words(rule, words):
    assert describe_filter(rule.to_dict(), VARIABLES) == words


def test_a_filtered_selection_reads_as_one_sentence():
    definition = CohortDefinition(
        filters=(RangeFilter("age", 65.0, None).to_dict(), RangeFilter("lvef", None, 40.0).to_dict()),
        subject_ids=tuple(f"S{i}" for i in range(312)),
        selection_label="box in joint/UMAP",
    )
    assert describe_definition(definition, VARIABLES, NAMES.__getitem__) == "Age ≥ 65 years and LVEF ≤ 40 % and box in joint/UMAP (312 subjects)"
    assert CohortDefinition.from_dict(definition.to_dict()) == definition
    assert describe_definition(CohortDefinition(subject_ids=("S1",)), VARIABLES, NAMES.__getitem__) == "selection (1 subject)"
    assert describe_definition(CohortDefinition(), VARIABLES, NAMES.__getitem__) == "everyone"


@pytest.mark.parametrize(
    ("operation", "operands", "words"),
    [("intersection", (1, 2), "Women ∩ AF"), ("union", (1, 2, 3), "Women ∪ AF ∪ Older"), ("difference", (3, 2), "Older − AF"),
     ("complement", (1,), "not Women")],
)
def test_algebra_reads_with_the_operands_names(operation, operands, words):
    assert describe_definition(CohortDefinition(operation=operation, operands=operands), VARIABLES, NAMES.__getitem__) == words


def test_defining_variables_follow_operands():
    saved = {1: CohortDefinition(filters=(ChoiceFilter("sex", ("female",)).to_dict(),)),
             2: CohortDefinition(filters=(ChoiceFilter("af", (True,)).to_dict(), RangeFilter("age", 60.0, None).to_dict()))}
    assert defining_variables(CohortDefinition(operation="intersection", operands=(1, 2)), saved.__getitem__) == {"sex", "af", "age"}
    assert defining_variables(CohortDefinition(subject_ids=("a",)), saved.__getitem__) == set()
    with pytest.raises(ValueError, match="in terms of itself"):
        defining_variables(CohortDefinition(operation="complement", operands=(4,)), {4: CohortDefinition(operation="complement", operands=(4,))}.__getitem__)


def test_creation_time_is_readable():
    assert readable_time("2026-12-04T13:12:09+00:00") == "4 Dec 2026, 13:12 UTC"
    assert readable_time("2026-12-04T14:12:09+01:00") == "4 Dec 2026, 13:12 UTC"
    assert readable_time("not a time") == "not a time"
