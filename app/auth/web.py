"""Security for the Flask server under Dash: Host checking, CSP and frame headers, and sign-in.

With sign-in on, every route needs a session except the login pages, Dash's JavaScript bundles and
assets/ (static files, no data): the page, ``/_dash-layout``, ``/_dash-dependencies``,
``/_dash-update-component`` (and with it every download) answer 401 or redirect to ``/login``.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import dash
from flask import Flask, Response, abort, redirect, render_template_string, request, session, url_for
from flask_login import LoginManager, UserMixin, login_required, login_user, logout_user

from app.auth import AUTH_MODE_KEY
from app.auth.throttle import SignInThrottle, refusal_message
from app.auth.users import UserStore
from app.config import AppConfig, is_loopback

logger = logging.getLogger(__name__)

PUBLIC_PREFIXES = ("/login", "/assets/", "/_dash-component-suites/", "/_favicon.ico")
API_PREFIXES = ("/_dash-", "/_reload-hash")
OIDC_CLIENT = "hospital"

LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · Latent Space Explorer</title>
<link rel="stylesheet" href="/assets/00-bootstrap-flatly.min.css"></head>
<body class="bg-light"><main class="container" style="max-width: 24rem; margin-top: 10vh">
<h1 class="h4 mb-3">Latent Space Explorer</h1>
{% if error %}<div class="alert alert-danger py-2" id="login-error">{{ error }}</div>{% endif %}
{% if mode == "password" %}
<form method="post" action="{{ url_for('lse_login', next=next) }}">
  <label class="form-label" for="username">User name</label>
  <input class="form-control mb-2" id="username" name="username" autocomplete="username" required autofocus>
  <label class="form-label" for="password">Password</label>
  <input class="form-control mb-3" id="password" name="password" type="password" autocomplete="current-password" required>
  <button class="btn btn-primary w-100" id="login-submit" type="submit">Sign in</button>
</form>
{% else %}
<a class="btn btn-primary w-100" id="login-oidc" href="{{ url_for('lse_login_oidc', next=next) }}">Sign in with your hospital account</a>
{% endif %}
</main></body></html>"""


class User(UserMixin):
    def __init__(self, username: str):
        self.id = username


def secret_key(config: AppConfig) -> str:
    """The configured key, else one random key in the cache folder, created once (0600) and shared by every worker."""
    if config.secret_key:
        return config.secret_key
    path = Path(config.cache_dir) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(secrets.token_hex(32))
    return path.read_text(encoding="ascii").strip()


def content_security_policy(app: dash.Dash) -> str:
    """Scripts only from this server plus Dash's own inline scripts by hash; no framing, no plug-ins.

    ``'unsafe-eval'`` is required: Plotly's WebGL traces compile their shaders through regl's ``new Function``
    (without it every scattergl view shows "WebGL is not supported"; checked in tests/test_browser_auth.py).
    Plotly sets inline styles, hence ``style-src 'unsafe-inline'``.
    """
    hashes = " ".join(app.csp_hashes())  # already quoted: 'sha256-…'
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' 'unsafe-eval' {hashes}",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def host_name(host_header: str) -> str:
    """``Example.org:8050`` → ``example.org``; ``[::1]:8050`` → ``::1``."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _safe_next(target: str | None) -> str:
    """Only a path on this server (no scheme, no host, no ``//``): never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return "/"
    return target


def install_security(app: dash.Dash, config: AppConfig) -> None:
    """Host checking and headers always; sign-in when ``config.resolved_auth`` is not ``off``.

    Call after every callback is registered (the CSP hashes cover clientside callbacks).
    """
    server: Flask = app.server
    allowed = set(config.resolved_allowed_hosts)
    policy = content_security_policy(app)
    mode = config.resolved_auth
    server.config[AUTH_MODE_KEY] = mode
    server.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax")

    @server.before_request
    def _check_host():
        if host_name(request.host) not in allowed:
            return Response("Unknown host: set --allowed-hosts (LSE_ALLOWED_HOSTS) to the names this server is reached by.\n",
                            status=400, mimetype="text/plain")
        return None

    @server.after_request
    def _headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = policy
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    if mode == "off":
        if not is_loopback(config.host):
            logger.warning("WARNING: sign-in is OFF on the non-loopback host %s: anyone who reaches this port can read and export every subject",
                           config.host)
        return
    _install_sign_in(server, config, mode)


def _install_sign_in(server: Flask, config: AppConfig, mode: str) -> None:
    server.secret_key = secret_key(config)
    server.config["SESSION_COOKIE_SECURE"] = not is_loopback(config.host)
    users = UserStore(config.resolved_cohort_db)
    if mode == "password" and not users.list():
        logger.warning("Sign-in is on and there are no accounts yet: add one with `python -m app.users add NAME` (same LSE_COHORT_DB / cache folder)")
    throttle = SignInThrottle(config.resolved_cohort_db)
    manager = LoginManager(server)
    manager.login_view = "lse_login"

    @manager.user_loader
    def _load(username: str) -> User | None:
        if mode == "password":
            return User(username) if users.exists(username) else None
        return User(username)

    @server.before_request
    def _require_sign_in():
        from flask_login import current_user

        path = request.path
        if current_user.is_authenticated or path.startswith(PUBLIC_PREFIXES):
            return None
        if path.startswith(API_PREFIXES):
            return Response('{"message": "sign in first"}', status=401, mimetype="application/json")
        return redirect(url_for("lse_login", next=request.full_path.rstrip("?")))

    @server.route("/login", methods=["GET", "POST"], endpoint="lse_login")
    def _login():
        target = _safe_next(request.args.get("next"))
        error, status, headers = None, 200, {}
        if request.method == "POST" and mode == "password":
            username, address = request.form.get("username", ""), request.remote_addr or "unknown"
            wait = throttle.wait_seconds(username, address)
            if wait > 0:  # not checked, not counted
                error, status, headers = refusal_message(wait), 429, {"Retry-After": str(int(wait) + 1)}
            elif users.verify(username, request.form.get("password", "")):
                throttle.record_success(username)
                session.clear()
                login_user(User(username))
                return redirect(target)
            else:
                throttle.record_failure(username, address)
                error, status = "Wrong user name or password.", 401
        return render_template_string(LOGIN_PAGE, mode=mode, error=error, next=target), status, headers

    @server.route("/logout", methods=["POST", "GET"], endpoint="lse_logout")
    @login_required
    def _logout():
        logout_user()
        session.clear()
        return redirect(url_for("lse_login"))

    if mode == "oidc":
        _install_oidc(server, config)


def oidc_username(userinfo: dict) -> str:
    """The account name shown and stored as a cohort's owner: the IdP's preferred name, e-mail or subject."""
    for claim in ("preferred_username", "email", "sub"):
        value = userinfo.get(claim)
        if isinstance(value, str) and value:
            return f"oidc:{value}"
    abort(403)


def _install_oidc(server: Flask, config: AppConfig) -> None:
    from authlib.integrations.flask_client import OAuth

    oauth = OAuth(server)
    oauth.register(
        OIDC_CLIENT,
        client_id=config.oidc_client_id,
        client_secret=config.oidc_client_secret,
        server_metadata_url=config.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs={"scope": "openid email profile"},
    )
    server.extensions["lse_oidc"] = oauth

    @server.route("/login/oidc", endpoint="lse_login_oidc")
    def _login_oidc():
        session["lse_next"] = _safe_next(request.args.get("next"))
        return oauth.create_client(OIDC_CLIENT).authorize_redirect(url_for("lse_oidc_callback", _external=True))

    @server.route("/login/oidc/callback", endpoint="lse_oidc_callback")
    def _oidc_callback():
        token = oauth.create_client(OIDC_CLIENT).authorize_access_token()  # checks state, nonce and the ID token's signature
        target = session.pop("lse_next", "/")
        session.clear()
        login_user(User(oidc_username(token.get("userinfo") or {})))
        return redirect(_safe_next(target))
