"""Every value of a decode request is checked against the Decode tab's own choices before a job is queued."""

from __future__ import annotations

import pytest

from app.config import AppConfig
from app.context import AppContext
from app.panels.decoder.requests import check_decode_request
from app.state import CURRENT, EVERYONE, REST
from app.validation import InputRefused
from data_loaders import load_cohort


@pytest.fixture(scope="module")
def context(small_cohort_dir, tmp_path_factory) -> AppContext:
    return AppContext(AppConfig(cohort_dir=small_cohort_dir, cache_dir=tmp_path_factory.mktemp("requests-cache")), load_cohort(small_cohort_dir))


def test_what_the_page_offers_passes(context):
    subject = str(context.cohort.subject_ids[3])
    for request in (
        {"subjects": [subject], "latent": "ecg", "shown": subject},
        {"subjects": None, "latent": None, "shown": None},
        {"a": CURRENT, "b": REST, "kind": "medoid", "space": "mri", "cohort": {"filters": [], "selection": {"rows": [1, 2]}, "version": 3}},
        {"start": f"subject:{subject}", "space": "joint", "pc0": 0.25, "pc1": -3, "pc2": 0, "direction": "predictor:lvef_pct", "amount": 1.5},
        {"run": 2, "start": "proto-a", "end": EVERYONE, "space": "joint", "steps": 9, "lead": context.cohort.ecg_leads[0], "a": EVERYONE},
    ):
        check_decode_request(context, request)


@pytest.mark.parametrize("request_", [
    {"steps": 200}, {"steps": 10**9}, {"steps": 2}, {"steps": "5"}, {"steps": 5.0}, {"steps": True},
    {"subjects": ["nobody"]}, {"subjects": [-1]}, {"subjects": "SYN"}, {"subjects": ["x"] * 5},
    {"latent": "nowhere"}, {"space": ["joint"]}, {"kind": "max"},
    {"start": "subject:nobody"}, {"end": "proto-c"}, {"start": 3},
    {"pc0": 4}, {"pc2": float("nan")}, {"amount": "1"}, {"amount": True},
    {"direction": "__class__"}, {"direction": ["difference"]},
    {"lead": "V13"}, {"run": -1}, {"a": 99999}, {"b": "1"},
    {"cohort": {"filters": [{"kind": "range", "variable": "nowhere", "low": 0}]}}, {"cohort": {"selection": {"rows": [-1]}}}, {"cohort": "everyone"},
    {"filters": []}, {"__class__": 1},  # settings the Decode tab never sends
], ids=repr)
def test_a_value_the_page_never_offers_is_refused(context, request_):
    with pytest.raises(InputRefused):
        check_decode_request(context, request_)
