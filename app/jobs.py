"""One way for a panel to compute in the background: a request store, then a Dash background callback.

A panel writes what to compute into the job's request store (a few settings: a selection travels
as its shape or a cohort's number, never as rows); the background callback (threads when embedded,
Celery with Redis when scaled out, acting as the user who asked) runs it. Its result either goes
straight to the page (``outputs``: the decoder's views, the clusters in force) or lands in a disk
cache (``ready``): the job then bumps a counter, and the panel, which shows a message meanwhile,
polls with an interval (a cheap file check) until the result is there, because Dash does not rerun
a callback from a chain its own output started.

:func:`pass_on` is the cheap gate in front of a job whose panel may be hidden: it passes a request
on only while the panel is visible and only when the settings changed, so nothing is queued for a
hidden tab and coming back to an unchanged view computes nothing again.

Each job runs in a lane: ``quick`` (decodes) or ``heavy`` (projections, neighbour lists, clusters).
The lanes have their own threads, or their own Celery queues, so a decode never waits behind
someone's t-SNE.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import dash
from dash import Input, Output, State, dcc, set_props

from app.figures.prebuilt import sendable

Progress = Callable[[tuple], None] | None  # Dash's set_progress, when the job reports progress
Lane = Literal["quick", "heavy"]
QUICK: Lane = "quick"  # a fraction of a second to a few seconds (decodes): never waits behind a heavy job
HEAVY: Lane = "heavy"  # seconds to minutes (UMAP, t-SNE, neighbour lists, clusters)
LANES: tuple[Lane, ...] = (QUICK, HEAVY)
# How often the page asks for a job's result. A decode takes ~0.1-0.3 s, so Dash's default second would
# more than double the wait from click to drawn; one user's decode, click to answered, p50: 0.77-0.82 s
# polled every 200 ms, 0.65-0.68 s every 100 ms (benchmarks.load --only decode, 40 decodes, same machine).
POLL_MS: dict[Lane, int] = {QUICK: 100, HEAVY: 1000}


class JobStopped(RuntimeError):
    """A background job that ended without a result (its worker process was killed or ran out of memory); the message is for the user."""


def stopped_job_result() -> dict:
    """The result a job that never wrote its own is given: Dash's shape for a failed background callback, whose last
    line names a JobStopped, so the page shows its message (app.validation.refusal_text) instead of waiting for good."""
    stopped = JobStopped("the computation stopped before it finished: its worker process ended (killed, or out of memory). "
                         "Ask again to start it in a new worker.")
    return {"background_callback_error": {"msg": str(stopped), "tb": f"{JobStopped.__module__}.{JobStopped.__qualname__}: {stopped}"}}


@dataclass(frozen=True)
class BackgroundJob:
    """The ids of one background computation: its request store and, for a cached result, its ready counter and poll."""

    request: str
    ready: str | None = None  # a counter bumped when the result is in the disk cache; None: the result goes to ``outputs``
    poll: str | None = None  # the interval a waiting panel polls the cache with
    poll_ms: int = 1000
    lane: Lane = QUICK  # which pool (threads) or Celery queue runs it
    failed: str | None = None  # a store changed each time a job ends without a result, so a panel polling the cache stops waiting

    def components(self) -> list:
        """The stores (and interval) to put in the panel's layout."""
        parts: list = [dcc.Store(id=self.request)]
        if self.ready:
            parts.append(dcc.Store(id=self.ready, data=0))
        if self.failed:
            parts.append(dcc.Store(id=self.failed))
        if self.poll:
            parts.append(dcc.Interval(id=self.poll, interval=self.poll_ms, disabled=True))
        return parts

    def register(self, app: dash.Dash, compute: Callable[[dict, Progress], Any], *, outputs: Sequence[Output] = (),
                 running: Sequence[tuple] = (), progress: Sequence[Output] | None = None) -> None:
        """Run ``compute(request, set_progress)`` in the background whenever a panel writes a request.

        With ``outputs`` its return value is what they are set to; otherwise it fills a cache and
        the ready counter is bumped when it is done.
        """
        if not outputs and not self.ready:
            raise ValueError(f"the job {self.request!r} needs outputs for its result or a ready counter for a cached one")
        targets = list(outputs) or [Output(self.ready, "data")]
        states = [] if outputs else [State(self.ready, "data")]
        nothing = dash.no_update if len(targets) == 1 else (dash.no_update,) * len(targets)

        def _run(*arguments):
            set_progress, (request, *ready) = (arguments[0], arguments[1:]) if progress else (None, arguments)
            if not request:
                return nothing
            result = compute(request, set_progress)
            return _without_figure_objects(result, len(targets)) if outputs else (ready[0] or 0) + 1

        _run.lane = self.lane  # read by the job managers (app.server) when Dash hands them the function
        app.callback(*targets, Input(self.request, "data"), *states, background=True, interval=POLL_MS[self.lane],
                     running=list(running) or None, progress=list(progress) if progress else None, prevent_initial_call=True,
                     on_error=self._ended_without_result if self.failed else None)(_run)

    def _ended_without_result(self, error: Exception) -> None:
        """The app's message for a failed job (or a killed worker), and a new value in the ``failed`` store.

        Not the request itself: the renderer's polls, which collect the error, carry no input values.
        """
        from app.validation import show_refusal  # app.validation names this module's JobStopped

        show_refusal(error)
        set_props(self.failed, {"data": time.time_ns()})


def _without_figure_objects(result, n_outputs: int):
    """A job's outputs with each go.Figure as the plain dict Dash would send (app.figures.prebuilt.sendable): the result
    is pickled into the cache and read back by the request that collects it, where a figure object is validated again."""
    return sendable(result) if n_outputs == 1 else [sendable(value) for value in result]


def pass_on(app: dash.Dash, job: BackgroundJob, settings: dict[str, Input | State], visibility: Sequence[Input],
            visible: Callable[..., bool], check: Callable[[dict], None] | None = None) -> None:
    """Write ``settings`` (named) into the job's request while ``visible(*visibility values)``, and only when they changed.

    ``check``: raises ``InputRefused`` for a request this user may not make, so no job is queued for it.
    """
    names = list(settings)
    inputs = [dependency for dependency in settings.values() if isinstance(dependency, Input)]
    states = [dependency for dependency in settings.values() if not isinstance(dependency, Input)]
    ordered = [name for name in names if isinstance(settings[name], Input)] + [name for name in names if not isinstance(settings[name], Input)]

    # Not on page load: no panel is shown before the page has drawn, so the call would only answer "no update".
    @app.callback(Output(job.request, "data"), *inputs, *visibility, *states, State(job.request, "data"), prevent_initial_call=True)
    def _pass_on(*values):
        shown = values[len(inputs): len(inputs) + len(visibility)]
        chosen = [*values[: len(inputs)], *values[len(inputs) + len(visibility): -1]]
        request = dict(zip(ordered, chosen))
        if not visible(*shown) or request == values[-1]:
            return dash.no_update
        if check is not None:
            check(request)
        return request
