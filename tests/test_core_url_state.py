"""The view in the URL: a round trip keeps it, and hostile links are refused part by part with a message."""

from __future__ import annotations

import pytest

from app.core.filters import ChoiceFilter, RangeFilter
from app.core.url_state import MAX_QUERY_LENGTH, ViewState, Vocabulary, from_query, to_query
from data_loaders.manifest import VariableSpec

VOCABULARY = Vocabulary(
    tabs=("explorer", "compare-cohorts"),
    spaces=("joint", "ecg"),
    projections=("pca", "umap"),
    variables={
        "age_years": VariableSpec("age_years", "continuous", "Age", "years"),
        "sex": VariableSpec("sex", "categorical", "Sex", categories=("female", "male")),
        "diabetes": VariableSpec("diabetes", "binary", "Diabetes"),
    },
)


def test_a_view_survives_the_round_trip():
    state = ViewState(
        tab="explorer", space="joint", projection="umap", colour="age_years",
        filters=(RangeFilter("age_years", 65.0, None).to_dict(), RangeFilter("age_years", 40.5, 70.25).to_dict(),
                 ChoiceFilter("sex", ("female", "male")).to_dict(), ChoiceFilter("diabetes", (True,)).to_dict()),
        cohort=3, selection={"space": "joint", "box": [0.5, 1.0, -2.0, 3.0]}, subject="S0042 b",
    )
    query = to_query(state)
    assert "filter=age_years:65~&" in query and "filter=sex=female|male" in query
    assert from_query(query, VOCABULARY) == (state, [])
    assert to_query(ViewState()) == "" and from_query("", VOCABULARY) == (ViewState(), [])


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("tab=admin", "tab 'admin' is not available"),
        ("space=mri", "space 'mri' is not available"),
        ("colour=password", "colour 'password' is not available"),
        ("filter=height:1~2", "no variable 'height'"),
        ("filter=age_years:old~", "must be numbers"),
        ("filter=age_years:nan~", "finite"),
        ("filter=age_years:65", "expected a range"),
        ("filter=age_years=65", "takes a range"),
        ("filter=sex:1~2", "takes values"),
        ("filter=sex=other", "no category 'other'"),
        ("filter=diabetes=maybe", "true and/or false"),
        ("cohort=1;DROP", "not a saved cohort"),
        ("selection=%7Bbroken", "not readable"),
        ("selection=%5B1%5D", "not readable"),
        ("debug=1", "unknown part 'debug'"),
    ],
)
def test_each_bad_part_is_refused_with_a_message_and_the_rest_kept(query, message):
    state, problems = from_query(f"?tab=explorer&{query}&space=joint", VOCABULARY)
    assert len(problems) == 1 and message in problems[0]
    assert state.space == "joint" and (state.tab == "explorer")
    assert not state.filters and state.cohort is None and state.selection is None


def test_an_overlong_link_is_ignored_with_a_message():
    state, problems = from_query("?tab=explorer&subject=" + "x" * MAX_QUERY_LENGTH, VOCABULARY)
    assert state == ViewState() and "characters long" in problems[0]
