"""Who is asking: sign-in (passwords or OpenID Connect), the guard in front of every route, and security headers.

Off for the embedded localhost default; on with one setting (``--auth`` / ``LSE_AUTH``) and on by
default for any non-loopback host. See :func:`app.auth.web.install_security`.
"""

from __future__ import annotations

from flask import current_app, has_request_context
from flask_login import current_user

from app.cohort_store import LOCAL_USER

AUTH_MODE_KEY = "LSE_AUTH_MODE"


def current_username() -> str | None:
    """The signed-in user of this request; ``local`` when sign-in is off; None outside a request (a background job)."""
    if not has_request_context():
        return None
    if current_app.config.get(AUTH_MODE_KEY, "off") == "off":
        return LOCAL_USER
    return current_user.get_id() if current_user.is_authenticated else LOCAL_USER
