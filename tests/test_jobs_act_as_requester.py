"""Saved cohorts are resolved as the user who asked, in the request and inside background jobs.

Alice's private cohort must not be decoded, evaluated, compared or selected by Bob passing its id,
neither in a request (the signed-in user) nor in a job (a thread, or a Celery worker, with no
request: the job manager hands the requester to the job); once Alice shares it, Bob may use it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from dash._callback_context import context_value
from flask_login import login_user

from app.auth import REQUESTING_USER, UNKNOWN_REQUESTER, current_username
from app.auth.web import User
from app.cohort_store import CohortStoreError
from app.config import AppConfig
from app.context import AppContext
from app.core.cohort_algebra import CohortDefinition
from app.panels import compare_cohorts
from app.panels.accuracy import evaluation as accuracy_evaluation
from app.panels.decoder import choices as decoder_choices
from app.panels.decoder import views as decoder_views
from app.server import ThreadJobManager, create_app
from app.state import REST, SelectionError, check_choice, selection_mask
from app.validation import InputRefused, refusal_text
from data_loaders import load_cohort
from tests.test_background_jobs import _result as job_result

WOMEN = CohortDefinition(filters=({"kind": "choice", "variable": "sex", "values": ["female"]},))


@pytest.fixture(scope="module")
def served(trained_cohort_dir, tmp_path_factory):
    """An app with password sign-in (its Flask server gives the requests), an app context on the same store, and its job manager."""
    config = AppConfig(cohort_dir=trained_cohort_dir, cache_dir=tmp_path_factory.mktemp("requester-cache"), auth="password")
    cohort = load_cohort(trained_cohort_dir)
    app = create_app(config, cohort)
    context = AppContext(config, cohort)
    manager = app._background_manager
    assert isinstance(manager, ThreadJobManager)
    return app.server, context, manager


@contextmanager
def signed_in(server, username: str) -> Iterator[None]:
    """Inside a request of ``username``, as a callback of theirs runs."""
    with server.test_request_context("/_dash-update-component", method="POST"):
        login_user(User(username))
        yield


def as_job(server, manager: ThreadJobManager, username: str, work: Callable[[], object], key: str):
    """Run ``work`` as a background job that ``username`` asked for (through Dash's own job function), and collect its result."""
    with signed_in(server, username):
        cache_key = manager.build_cache_key(work, [], [], None) + key
        job = manager.call_job_fn(cache_key, manager.make_job_fn(lambda: work(), progress=False), [], {"triggered_inputs": []})
    return job_result(manager, cache_key, job, timeout=60)


def job_refusal(result) -> str | None:
    from dash.exceptions import BackgroundCallbackError

    if not (isinstance(result, dict) and "background_callback_error" in result):
        return None
    error = result["background_callback_error"]
    return refusal_text(BackgroundCallbackError(f"An error occurred inside a background callback: {error['msg']}\n{error['tb']}"))


def test_alices_private_cohort_is_refused_to_bob_in_every_panel_and_in_jobs_until_she_shares_it(served):
    server, context, manager = served
    with signed_in(server, "alice"):
        women = context.store.save("Alice's women", WOMEN)
    n_women = int((context.cohort.phenotypes["sex"] == "female").sum())
    task = next(iter(accuracy_evaluation.task_predictions(context)))

    def decode_prototypes():
        return decoder_views.prototype_view(context, decoder_choices.Groups(a=women.id, b=REST), "joint").status.children

    def interpolate():
        return decoder_views.interpolate_view(context, "proto-a", "proto-b", "joint", 3, "V5", decoder_choices.Groups(a=women.id, b=REST)).strip

    with signed_in(server, "bob"):
        with pytest.raises(InputRefused, match=f"cohort A: no saved cohort with id {women.id}"):
            check_choice(context, women.id, "cohort A")  # the decoder's request, before any job is queued
        with pytest.raises(CohortStoreError):
            decoder_choices.subject_choices(context, women.id, [], None, 2)
        with pytest.raises(CohortStoreError):
            accuracy_evaluation.evaluate(context, task[0], task[1], None, women.id, [], None)
        with pytest.raises(CohortStoreError):
            compare_cohorts.compare_table(context, women.id, REST, [], None)
        with pytest.raises(SelectionError):
            selection_mask(context, {"cohort": women.id})  # Apply / a link's cohort=…: the selection every panel reads
        assert [saved.name for saved in context.store.list()] == []
    assert job_refusal(as_job(server, manager, "bob", decode_prototypes, "bob-1")) == f"no saved cohort with id {women.id}"
    with pytest.raises(CohortStoreError), signed_in(server, "bob"):
        decoder_views.perturb_view(context, "proto-a", "joint", [0.0], None, 0.0, decoder_choices.Groups(a=women.id, b=REST))
    assert "2 prototypes" in as_job(server, manager, "alice", decode_prototypes, "alice-1")

    with signed_in(server, "alice"):
        context.store.set_shared(women.id, True)
    assert "2 prototypes" in as_job(server, manager, "bob", decode_prototypes, "bob-2")
    assert as_job(server, manager, "bob", interpolate, "bob-3").data  # the interpolation strip, drawn
    with signed_in(server, "bob"):
        check_choice(context, women.id, "cohort A")
        assert int(selection_mask(context, {"cohort": women.id}).sum()) == n_women
        assert accuracy_evaluation.evaluate(context, task[0], task[1], None, women.id, [], None) is not None
        assert compare_cohorts.compare_table(context, women.id, REST, [], None) is not None


def test_a_job_knows_who_asked_and_keeps_each_users_results_apart(served):
    server, _context, manager = served
    assert as_job(server, manager, "bob", current_username, "who") == "bob"
    assert as_job(server, manager, "alice", current_username, "who") == "alice"
    with signed_in(server, "alice"):
        alices_key = manager.build_cache_key(current_username, [1], [], None)
    with signed_in(server, "bob"):
        assert manager.build_cache_key(current_username, [1], [], None) != alices_key


def test_a_job_that_names_no_requester_sees_only_shared_cohorts(served):
    _server, context, _manager = served
    assert current_username() is None  # start-up, command lines, tests: trusted server-side code
    token = context_value.set({"triggered_inputs": []})  # a job some other manager queued, without a requester
    try:
        assert current_username() == UNKNOWN_REQUESTER
        assert all(saved.shared for saved in context.store.list())
    finally:
        context_value.reset(token)
    token = context_value.set({"triggered_inputs": [], REQUESTING_USER: "carol"})
    try:
        assert current_username() == "carol"
    finally:
        context_value.reset(token)
