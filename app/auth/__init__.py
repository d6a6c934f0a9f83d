"""Who is asking: sign-in (passwords or OpenID Connect), the guard in front of every route, and security headers.

Off for the embedded localhost default; on with one setting (``--auth`` / ``LSE_AUTH``) and on by
default for any non-loopback host. See :func:`app.auth.web.install_security`.

A background job (a decode, a projection, a clustering) runs in a thread or a Celery worker with no
Flask request: the job manager (``app.server``) writes the requesting user into the job's callback
context under :data:`REQUESTING_USER`, and :func:`current_username` reads it there, so a job sees
exactly the saved cohorts its requester may see.
"""

from __future__ import annotations

from dash._callback_context import context_value
from flask import current_app, has_request_context
from flask_login import current_user

from app.cohort_store import LOCAL_USER

AUTH_MODE_KEY = "LSE_AUTH_MODE"
REQUESTING_USER = "lse_requesting_user"  # key in a background job's callback context
UNKNOWN_REQUESTER = "(unknown requester)"  # a job without one: no user is named so (not a valid user name), it sees shared cohorts only


def current_username() -> str | None:
    """Who acts now: the signed-in user of this request (``local`` when sign-in is off), the user who
    asked for the background job running now, or None outside both (start-up, command lines, tests)."""
    if has_request_context():
        if current_app.config.get(AUTH_MODE_KEY, "off") == "off":
            return LOCAL_USER
        return current_user.get_id() if current_user.is_authenticated else LOCAL_USER
    job = context_value.get({})
    if job:  # inside a Dash callback without a request: a background job
        return job.get(REQUESTING_USER) or UNKNOWN_REQUESTER
    return None


def job_context(context: dict) -> dict:
    """A background job's callback context with the requesting user in it (called in the request thread)."""
    return {**context, REQUESTING_USER: current_username()}
