"""The view in the URL: a round trip keeps it, and hostile links are refused part by part with a message."""

from __future__ import annotations

import pytest

from app.core.filters import ChoiceFilter, RangeFilter
from app.core.url_state import MAX_QUERY_LENGTH, ViewState, Vocabulary, from_query, to_query
from data_loaders.manifest import VariableSpec

VOCABULARY = Vocabulary(
    tabs=("explore", "compare-cohorts"),
    spaces=("joint", "ecg"),
    projections=("pca", "umap"),
    variables={
        "age_years": VariableSpec("age_years", "continuous", "Age", "years"),
        "sex": VariableSpec("sex", "categorical", "Sex", categories=("female", "male")),
        "diabetes": VariableSpec("diabetes", "binary", "Diabetes"),
    },
    axes=("age_years", "bmi_kg_m2"),
)


def test_a_view_survives_the_round_trip():
    state = ViewState(
        tab="explore", views=(("joint", "umap"), ("ecg", "pca")), colour="age_years",
        filters=(RangeFilter("age_years", 65.0, None).to_dict(), RangeFilter("age_years", 40.5, 70.25).to_dict(),
                 ChoiceFilter("sex", ("female", "male")).to_dict(), ChoiceFilter("diabetes", (True,)).to_dict()),
        cohort=3, selection={"space": "joint", "box": [0.5, 1.0, -2.0, 3.0]}, subject="S0042 b", clinical=("bmi_kg_m2", "age_years"),
    )
    query = to_query(state)
    assert "view1=joint:umap&view2=ecg:pca&clinical=bmi_kg_m2:age_years" in query
    assert "filter=age_years:65~&" in query and "filter=sex=female|male" in query
    assert from_query(query, VOCABULARY) == (state, [])
    assert to_query(ViewState()) == "" and from_query("", VOCABULARY) == (ViewState(), [])


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("tab=admin", "tab 'admin' is not available"),
        ("view2=mri:pca", "space 'mri' is not available"),
        ("view2=ecg:isomap", "projection 'isomap' is not available"),
        ("view2=ecg", "expected a space and a projection"),
        ("view3=ecg:pca", "unknown part 'view3'"),
        ("colour=password", "colour 'password' is not available"),
        ("filter=height:1~2", "no variable 'height'"),
        ("filter=age_years:old~", "must be numbers"),
        ("filter=age_years:nan~", "finite"),
        ("filter=age_years:65", "expected a range"),
        ("filter=age_years:80~60", "lower limit is above"),
        ("filter=age_years=65", "takes a range"),
        ("filter=sex:1~2", "takes values"),
        ("filter=sex=other", "no category 'other'"),
        ("filter=diabetes=maybe", "true and/or false"),
        ("cohort=1;DROP", "not a saved cohort"),
        ("cohort=%D9%A3", "not a saved cohort"),  # an Arabic-Indic three is not taken for 3
        ("selection=%7Bbroken", "not readable"),
        ("selection=%5B1%5D", "not readable"),
        ("debug=1", "unknown part 'debug'"),
        ("clinical=age_years", "expected two variables"),
        ("clinical=age_years:sex", "clinical y 'sex' is not a variable the clinical view can plot"),
    ],
)
def test_each_bad_part_is_refused_with_a_message_and_the_rest_kept(query, message):
    state, problems = from_query(f"?tab=explore&{query}&view1=joint:pca", VOCABULARY)
    assert len(problems) == 1 and message in problems[0]
    assert state.views == (("joint", "pca"), None) and state.tab == "explore"
    assert not state.filters and state.cohort is None and state.selection is None


def test_an_overlong_link_is_ignored_with_a_message():
    state, problems = from_query("?tab=explore&subject=" + "x" * MAX_QUERY_LENGTH, VOCABULARY)
    assert state == ViewState() and "characters long" in problems[0]


def test_an_empty_colour_means_no_colour_and_a_missing_one_the_default():
    assert from_query("?colour=", VOCABULARY) == (ViewState(colour=""), [])
    assert to_query(ViewState(colour="")) == "?colour="
    assert from_query("?tab=explore", VOCABULARY)[0].colour is None


def test_colour_may_name_what_the_page_offers_beyond_variables():
    offered = Vocabulary(tabs=VOCABULARY.tabs, spaces=VOCABULARY.spaces, projections=VOCABULARY.projections,
                         variables=VOCABULARY.variables, colours=("sex", "@clusters"))
    assert from_query("?colour=@clusters", offered) == (ViewState(colour="@clusters"), [])
    assert "not available" in from_query("?colour=age_years", offered)[1][0]
