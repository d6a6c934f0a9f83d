"""The address bar, the subject search and the found subject's marks, called as plain functions on a real app."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import dash
import numpy as np
import pytest
from dash import dcc

from app.config import AppConfig
from app.context import AppContext
from app.core.cohort_algebra import CohortDefinition
from app.core.filters import ChoiceFilter, RangeFilter, slider_limits
from app.panels import address_bar, search
from app.panels.address_bar import KEEP, Page
from app.panels.decoder import choices as decoder_choices
from app.panels.explorer import views as explorer_views
from app.server import create_app
from app.state import FOUND_SUBJECT, SELECTION
from app.validation import InputRefused
from data_loaders import load_cohort
from tests.typed_arrays import unpacked


@pytest.fixture(scope="module")
def app(phenotype_cohort_dir, tmp_path_factory) -> dash.Dash:
    return create_app(AppConfig(cohort_dir=phenotype_cohort_dir, cache_dir=tmp_path_factory.mktemp("address-app")))


@pytest.fixture
def context(phenotype_cohort_dir, tmp_path) -> AppContext:
    return AppContext(AppConfig(cohort_dir=phenotype_cohort_dir, cache_dir=tmp_path), load_cohort(phenotype_cohort_dir))


@pytest.fixture
def setup(context, app) -> address_bar.LinkSetup:
    return address_bar.link_setup(context, app.layout)


DEFAULT_PAGE = Page("explore", (("joint", "pca"), ("ecg", "pca")), "atrial_fibrillation", [], None, None)
BOX = {"kind": "box", "x": [-0.123456789012, 1.5], "y": [-2.0, 2.25]}


def _changed(update: address_bar.AddressUpdate) -> dict:
    """The outputs an update sets (the rest are left as they are)."""
    names = ["search", "tab", "view-0-space", "view-0-method", "view-1-space", "view-1-method", "clinical-x", "clinical-y", "colour", "filters",
             "filter_variables", "selection", "subject", "subject_options", "note"]
    return {name: value for name, value in zip(names, update.outputs()) if value is not KEEP}


def _browsed_page(context) -> Page:
    top = slider_limits(context.cohort.phenotypes["age_years"])[1]
    return Page("compare-cohorts", (("joint", "umap"), ("ecg", "pca")), "sex",
                [RangeFilter("age_years", 65.0, top).to_dict(), ChoiceFilter("sex", ("female",)).to_dict()],
                {"source": "view-0", "view": {"kind": "latent", "space": "joint", "method": "umap"}, "shape": BOX, "at": 17},
                str(context.cohort.subject_ids[5]))


def test_the_app_has_an_address_bar_that_changes_the_url_without_reloading(app):
    location = app.layout[address_bar.LOCATION]
    assert isinstance(location, dcc.Location) and location.refresh is False
    assert "page-location.search" in " ".join(app.callback_map)


def test_a_page_written_into_a_link_opens_as_the_same_page(context, setup):
    page = _browsed_page(context)
    search = address_bar.record(context, setup, "", page).search
    assert search.startswith("?tab=compare-cohorts&view1=joint:umap&view2=ecg:pca&clinical=age_years:lv_mass_g&colour=sex&")
    assert "filter=age_years:65~&" in search  # a limit at the slider's end is left open: "65 and over"
    assert "-0.1234568" in search and "-0.123456789" not in search  # a shape at float32 precision keeps the link short
    assert f"subject={page.subject}" in search
    linked = json.loads(dict(parse_qsl(search[1:]))["selection"])
    assert set(linked) == {"view", "shape"}  # which view drew it and when stay out of the link

    restored = _changed(address_bar.restore(context, setup, search, DEFAULT_PAGE))
    assert "search" not in restored  # restoring never pushes a history entry
    assert restored["tab"] == "compare-cohorts" and restored["view-0-method"] == "umap" and restored["colour"] == "sex"
    assert "view-0-space" not in restored and "view-1-space" not in restored  # only what differs is set
    assert restored["filters"] == [RangeFilter("age_years", 65.0, None).to_dict(), ChoiceFilter("sex", ("female",)).to_dict()]
    assert restored["filter_variables"] == ["age_years", "sex"]
    assert restored["selection"]["source"] == "link" and restored["selection"]["view"] == page.selection["view"]
    assert restored["subject"] == page.subject and restored["subject_options"] == [{"label": page.subject, "value": page.subject}]

    reopened = Page(restored["tab"], (("joint", "umap"), ("ecg", "pca")), restored["colour"], restored["filters"], restored["selection"],
                    restored["subject"])
    assert _changed(address_bar.record(context, setup, search, reopened)) == {"note": ""}  # the same view: no new entry
    assert _changed(address_bar.restore(context, setup, search, reopened)) == {}


def test_the_default_page_needs_no_link_and_a_bare_address_restores_it(context, setup):
    assert _changed(address_bar.record(context, setup, "", DEFAULT_PAGE)) == {"note": ""}
    restored = _changed(address_bar.restore(context, setup, "", _browsed_page(context)))
    assert restored["tab"] == "explore" and restored["view-0-method"] == "pca" and restored["colour"] == "atrial_fibrillation"
    assert restored["filters"] == [] and restored["selection"] is None and restored["subject"] is None


def test_no_colour_is_written_as_an_empty_colour_and_read_back(context, setup):
    search = address_bar.record(context, setup, "", Page("explore", DEFAULT_PAGE.views, None, [], None, None)).search
    assert "colour=" in search and "colour=atrial" not in search
    assert _changed(address_bar.restore(context, setup, search, DEFAULT_PAGE)) == {"colour": None}


def test_each_tampered_part_is_refused_and_the_rest_applies(context, setup):
    search = ("?tab=admin&view1=joint:umap&view2=secret:pca&colour=sex&filter=age_years:old~&filter=bmi_kg_m2:20~30&filter=bmi_kg_m2:1~2"
              "&cohort=99&subject=NOBODY&selection=%7B%22shape%22%3A1%7D")
    update = address_bar.restore(context, setup, search, DEFAULT_PAGE)
    problems = " | ".join(update.problems)
    for refused in ("tab 'admin'", "space 'secret'", "must be numbers", "filters bmi_kg_m2 twice", "saved cohort 99",
                    "no subject 'NOBODY'", "selection in the link was left out"):
        assert refused in problems
    restored = _changed(update)
    assert restored["view-0-method"] == "umap" and restored["colour"] == "sex"
    assert restored["filters"] == [RangeFilter("bmi_kg_m2", 20.0, 30.0).to_dict()]
    assert "tab" not in restored and "selection" not in restored and "subject" not in restored
    assert "Parts of this link were not applied" in address_bar.refused_parts_message(update.problems)


def test_a_selection_on_a_view_this_app_lacks_is_refused(context, setup):
    foreign = '{"view":{"kind":"latent","space":"mri","method":"pca"},"shape":{"kind":"box","x":[0,1],"y":[0,1]}}'
    update = address_bar.restore(context, setup, f"?selection={foreign}", DEFAULT_PAGE)
    assert "view this app does not have" in update.problems[0] and "selection" not in _changed(update)


def test_a_lasso_on_a_frame_of_compare_spaces_map_travels_in_the_link_with_that_frame(context, setup):
    frame = {"kind": "transition", "a": "ecg", "b": "joint", "method": "pca", "frame": 3}
    page = Page("compare-spaces", DEFAULT_PAGE.views, "sex", [], {"source": "compare-spaces-map", "view": frame, "shape": BOX, "at": 5}, None)
    search = address_bar.record(context, setup, "", page).search
    assert json.loads(dict(parse_qsl(search[1:]))["selection"])["view"] == frame
    restored = _changed(address_bar.restore(context, setup, search, DEFAULT_PAGE))
    assert restored["selection"]["view"] == frame and restored["selection"]["source"] == "link"
    beyond = search.replace("%22frame%22:3,", "%22frame%22:30,")
    assert beyond != search and "view this app does not have" in address_bar.restore(context, setup, beyond, DEFAULT_PAGE).problems[0]


def test_a_saved_cohort_travels_as_its_number(context, setup):
    saved = context.store.save("women", CohortDefinition(filters=(ChoiceFilter("sex", ("female",)).to_dict(),)))
    page = Page("explore", DEFAULT_PAGE.views, "atrial_fibrillation", [], {"cohort": saved.id, "source": "saved"}, None)
    search = address_bar.record(context, setup, "", page).search
    assert f"cohort={saved.id}" in search and "selection" not in search
    assert _changed(address_bar.restore(context, setup, search, DEFAULT_PAGE))["selection"] == {"cohort": saved.id, "source": "saved"}


def test_a_large_pick_stays_out_of_the_link_and_the_page_says_so(context, setup):
    few = Page("explore", DEFAULT_PAGE.views, "sex", [], {"rows": [3, 4, 5], "source": "compare-spaces"}, None)
    assert "rows" in address_bar.record(context, setup, "", few).search
    many = Page("explore", DEFAULT_PAGE.views, "sex", [], {"rows": list(range(200)), "source": "compare-spaces"}, None)
    update = address_bar.record(context, setup, "", many)
    assert "selection" not in update.search and "rows" not in update.search
    assert "200 subjects" in update.note and "save it as a cohort" in update.note


def test_a_lasso_too_detailed_for_a_link_stays_out_of_it_and_the_page_says_so(context, setup):
    angles = np.linspace(0, 2 * np.pi, 2000, endpoint=False)
    lasso = {"kind": "lasso", "x": (np.cos(angles) * 1.2345678).tolist(), "y": (np.sin(angles) * 2.3456789).tolist()}
    page = Page("explore", DEFAULT_PAGE.views, "sex", [], {"source": "view-0", "view": {"kind": "latent", "space": "joint", "method": "pca"},
                                                          "shape": lasso}, None)
    update = address_bar.record(context, setup, "", page)
    assert "selection" not in update.search and "colour=sex" in update.search and "too detailed" in update.note


def test_the_clinical_views_variables_travel_in_the_link(context, setup):
    page = Page("explore", DEFAULT_PAGE.views, "sex", [], None, None, ("bmi_kg_m2", "lvef_pct"))
    search = address_bar.record(context, setup, "", page).search
    assert "clinical=bmi_kg_m2:lvef_pct" in search
    restored = _changed(address_bar.restore(context, setup, search, Page("explore", DEFAULT_PAGE.views, "sex", [], None, None,
                                                                         ("age_years", "lvef_pct"))))
    assert restored == {"clinical-x": "bmi_kg_m2"}  # only what differs is set
    update = address_bar.restore(context, setup, "?clinical=bmi_kg_m2:password", DEFAULT_PAGE)
    assert "clinical y 'password'" in update.problems[0] and "clinical-x" not in _changed(update)
    with pytest.raises(InputRefused):
        address_bar.record(context, setup, "", Page("explore", DEFAULT_PAGE.views, "sex", [], None, None, ("sex", "lvef_pct")))


def test_a_cluster_travels_as_its_clustering_and_number_once_computed_here(context, setup):
    clustering = {"space": "joint", "method": "kmeans", "n_clusters": 3, "min_cluster_size": 50}
    page = Page("explore", DEFAULT_PAGE.views, "sex", [], {"cluster": {**clustering, "label": 1}, "source": "clusters"}, None)
    search = address_bar.record(context, setup, "", page).search
    assert json.loads(dict(parse_qsl(search[1:]))["selection"]) == {"cluster": {**clustering, "label": 1}}
    not_yet = address_bar.restore(context, setup, search, DEFAULT_PAGE)
    assert "not computed here yet" in not_yet.problems[0] and "selection" not in _changed(not_yet)
    space, spec = address_bar.clustering_spec(context, clustering)
    context.compute_clusters(space, spec)
    restored = _changed(address_bar.restore(context, setup, search, DEFAULT_PAGE))
    assert restored["selection"] == {"cluster": {**clustering, "label": 1}, "source": "link"}
    with pytest.raises(InputRefused):
        address_bar.record(context, setup, "", Page("explore", DEFAULT_PAGE.views, "sex", [], {"cluster": [3], "source": "clusters"}, None))


def test_a_selection_a_link_cannot_carry_stays_out_with_a_note(context, setup):
    update = address_bar.record(context, setup, "", Page("explore", DEFAULT_PAGE.views, "sex", [], {"bitset": "ff00", "source": "x"}, None))
    assert "selection" not in update.search and "save it as a cohort" in update.note
    assert address_bar.record(context, setup, "", Page("explore", DEFAULT_PAGE.views, "sex", [], {"source": "clear", "at": 3}, None)).note == ""


def test_a_hostile_page_value_is_refused_not_written(context, setup):
    for page in (Page("admin", DEFAULT_PAGE.views, None, [], None, None), Page("explore", (("joint", "nope"), ("ecg", "pca")), None, [], None, None),
                 Page("explore", DEFAULT_PAGE.views, "password", [], None, None), Page("explore", DEFAULT_PAGE.views, None, [], None, "NOBODY")):
        with pytest.raises(InputRefused):
            address_bar.record(context, setup, "", page)


def test_search_suggests_a_bounded_list_of_ids_and_keeps_the_chosen_one(context):
    ids = [str(subject) for subject in context.cohort.subject_ids]
    suggested = [option["value"] for option in search.suggestions(context, "syn0001", ids[250])]
    assert len(suggested) == search.SUGGESTIONS + 1 and suggested[-1] == ids[250]
    assert all("syn0001" in subject.lower() for subject in suggested[:-1])
    assert search.suggestions(context, ids[7].lower(), None)[0]["value"] == ids[7]  # the exact id first
    with pytest.raises(InputRefused):
        search.suggestions(context, ["SYN"], None)


def test_open_in_decode_switches_to_decode_with_that_subject(context):
    subject = str(context.cohort.subject_ids[42])
    assert search.decode_request(context, 3, subject) == ("decoder", {"subject": subject, "at": 3})
    for hostile in (None, "NOBODY", 42):
        with pytest.raises(InputRefused):
            search.decode_request(context, 1, hostile)
    options, chosen = decoder_choices.with_requested_subject(context, [{"label": "a", "value": "a"}, {"label": subject, "value": subject}],
                                                     {"subject": subject, "at": 3})
    assert chosen == [subject] and [option["value"] for option in options] == [subject, "a"]


def _operations(patch: dash.Patch) -> dict[tuple, object]:
    return {tuple(op["location"]): op["params"].get("value") for op in patch.to_plotly_json()["operations"]}


def test_a_found_subject_is_ringed_and_labelled_in_every_view(context):
    row = 42
    subject = str(context.cohort.subject_ids[row])
    figure = explorer_views.render_latent_view(context, 0, "joint", "pca", None, [], None, {"view-0-space"}, found=subject).figure
    (label,), (ring,) = figure.layout.annotations, figure.layout.shapes
    x, y = unpacked(figure.data[0].x)[row], unpacked(figure.data[0].y)[row]
    assert label.text == subject and (label.x, label.y) == pytest.approx((x, y)) and (ring.xanchor, ring.yanchor) == pytest.approx((x, y))

    patch = _operations(explorer_views.render_clinical_view(context, "age_years", "lv_mass_g", None, [], None, {FOUND_SUBJECT}, found=subject))
    assert set(patch) == {("layout", "annotations"), ("layout", "shapes")}  # only the marks travel, not the colours
    phenotypes = context.cohort.phenotypes
    assert patch[("layout", "annotations")][0]["x"] == pytest.approx(phenotypes["age_years"].iloc[row])
    cleared = _operations(explorer_views.render_latent_view(context, 0, "joint", "pca", None, [], None, {FOUND_SUBJECT}, found=None).figure)
    assert cleared == {("layout", "annotations"): [], ("layout", "shapes"): []}
    with pytest.raises(InputRefused, match="no subject"):
        explorer_views.render_latent_view(context, 0, "joint", "pca", None, [], None, {FOUND_SUBJECT}, found="NOBODY")


def test_a_view_whose_figure_never_arrived_is_drawn_in_full_not_patched(context):
    figure = explorer_views.render_latent_view(context, 0, "joint", "pca", "sex", [], {"rows": [1, 2]}, {SELECTION}, drawn=False).figure
    assert figure.data[0].type == "scattergl" and len(unpacked(figure.data[0].x)) == context.n_subjects
    clinical = explorer_views.render_clinical_view(context, "age_years", "lv_mass_g", "sex", [], {"rows": [1, 2]}, {SELECTION}, drawn=False)
    assert unpacked(clinical.data[0].x).size == context.n_subjects
