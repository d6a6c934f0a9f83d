"""The one background-job helper: the stores it lays out, what it refuses, and the gate in front of a job."""

from __future__ import annotations

import dash
import pytest
from dash import Input, State, dcc

from app.jobs import BackgroundJob, pass_on
from app.validation import InputRefused


def test_a_cached_job_lays_out_its_request_ready_counter_and_poll_and_an_output_job_its_request_alone():
    cached = BackgroundJob(request="x-request", ready="x-ready", poll="x-poll", poll_ms=700)
    parts = cached.components()
    assert [part.id for part in parts] == ["x-request", "x-ready", "x-poll"]
    assert parts[1].data == 0 and isinstance(parts[2], dcc.Interval) and parts[2].interval == 700 and parts[2].disabled
    assert [part.id for part in BackgroundJob(request="y-request").components()] == ["y-request"]


def test_a_job_with_nowhere_for_its_result_is_refused_when_registered():
    with pytest.raises(ValueError, match="needs outputs"):
        BackgroundJob(request="z-request").register(dash.Dash(__name__), lambda request, progress: None)


def _gate(visible=lambda tab: tab == "shown", check=None):
    app = dash.Dash(__name__)
    job = BackgroundJob(request="g-request")
    pass_on(app, job, {"space": Input("space", "value"), "steps": State("steps", "value")}, [Input("tab", "value")], visible, check)
    return app.callback_map["g-request.data"]["callback"].__wrapped__


def test_the_gate_passes_a_request_on_only_while_visible_and_only_when_it_changed():
    gate = _gate()
    assert gate("joint", "shown", 5, None) == {"space": "joint", "steps": 5}
    assert gate("joint", "hidden", 5, None) is dash.no_update  # a hidden panel queues nothing
    assert gate("joint", "shown", 5, {"space": "joint", "steps": 5}) is dash.no_update  # unchanged: nothing computed again
    assert gate("ecg", "shown", 5, {"space": "joint", "steps": 5}) == {"space": "ecg", "steps": 5}


def test_the_gate_refuses_a_request_its_check_refuses_so_no_job_is_queued():
    def check(request):
        if request["steps"] > 50:
            raise InputRefused("steps must be at most 50")

    gate = _gate(check=check)
    assert gate("joint", "shown", 5, None) == {"space": "joint", "steps": 5}
    with pytest.raises(InputRefused, match="at most 50"):
        gate("joint", "shown", 500, None)
