"""Item 3 of issue 16: sign-in in front of every route, Host checking, security headers, per-user cohorts, audit log."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from app import users as users_cli
from app.auth.throttle import MAX_FAILURES_PER_ADDRESS, MAX_FAILURES_PER_NAME, WINDOW_S, SignInThrottle, refusal_message
from app.auth.users import UserStore, UserStoreError
from app.cohort_store import CohortStore, CohortStoreError
from app.config import AppConfig, ConfigError
from app.core.cohort_algebra import CohortDefinition
from app.server import create_app
from data_loaders import load_cohort

PASSWORD = "correct horse battery"
DASH_UPDATE = {"output": "x.children", "outputs": {"id": "x", "property": "children"}, "inputs": [], "changedPropIds": []}


@pytest.fixture(scope="module")
def phenotype_cohort(phenotype_cohort_dir: Path):
    return load_cohort(phenotype_cohort_dir)


def make_client(cohort_dir: Path, cohort, cache_dir: Path, **settings):
    config = AppConfig(cohort_dir=cohort_dir, cache_dir=cache_dir, **settings)
    return create_app(config, cohort).server.test_client(), config


def test_the_localhost_default_needs_no_sign_in_but_sends_security_headers(phenotype_cohort_dir, phenotype_cohort, tmp_path):
    client, _ = make_client(phenotype_cohort_dir, phenotype_cohort, tmp_path)
    response = client.get("/")
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and " 'sha256-" in policy and "''" not in policy
    scripts = policy.split("style-src")[0]
    assert "'unsafe-inline'" not in scripts
    assert "'unsafe-eval'" in scripts  # Plotly's WebGL (regl) compiles shaders with new Function
    assert response.headers["X-Frame-Options"] == "DENY"
    assert client.get("/_dash-layout").status_code == 200


def test_an_unknown_host_header_is_refused(phenotype_cohort_dir, phenotype_cohort, tmp_path):
    client, _ = make_client(phenotype_cohort_dir, phenotype_cohort, tmp_path)
    assert client.get("/", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/", headers={"Host": "127.0.0.1:8050"}).status_code == 200
    client, _ = make_client(phenotype_cohort_dir, phenotype_cohort, tmp_path / "b", allowed_hosts=("lse.hospital.example",))
    assert client.get("/", headers={"Host": "lse.hospital.example:443"}).status_code == 200
    assert client.get("/", headers={"Host": "localhost"}).status_code == 400


def test_with_passwords_every_data_route_needs_a_session(phenotype_cohort_dir, phenotype_cohort, tmp_path):
    client, config = make_client(phenotype_cohort_dir, phenotype_cohort, tmp_path, auth="password")
    UserStore(config.resolved_cohort_db).add("alice", PASSWORD)
    page = client.get("/")
    assert page.status_code == 302 and urlsplit(page.headers["Location"]).path == "/login"
    for path in ("/_dash-layout", "/_dash-dependencies"):
        assert client.get(path).status_code == 401
    assert client.post("/_dash-update-component", json=DASH_UPDATE).status_code == 401
    with client.get("/assets/style.css") as asset:
        assert asset.status_code == 200  # static files stay public
    wrong = client.post("/login", data={"username": "alice", "password": "wrong password!"})
    assert wrong.status_code == 401 and b"Wrong user name or password" in wrong.data
    assert client.post("/login", data={"username": "mallory", "password": PASSWORD}).status_code == 401
    signed_in = client.post("/login?next=//evil.example/x", data={"username": "alice", "password": PASSWORD})
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/"  # no open redirect
    assert client.get("/").status_code == 200
    assert client.get("/_dash-layout").status_code == 200
    client.get("/logout")
    assert client.get("/_dash-layout").status_code == 401


def test_failed_sign_ins_are_counted_per_name_and_address_across_processes_and_forgotten_after_the_window(tmp_path):
    now = [1_000_000.0]
    throttle = SignInThrottle(tmp_path / "c.sqlite", clock=lambda: now[0])
    for _ in range(4):
        throttle.record_failure("alice", "10.0.0.1")
        now[0] += 10
    assert throttle.wait_seconds("alice", "10.0.0.9") == 0
    throttle.record_failure("alice", "10.0.0.1")
    other_worker = SignInThrottle(tmp_path / "c.sqlite", clock=lambda: now[0])  # same file: another worker, or after a restart
    assert other_worker.wait_seconds("alice", "10.0.0.9") == pytest.approx(WINDOW_S - 40)  # until the first failure is 15 min old
    assert other_worker.wait_seconds("bob", "10.0.0.1") == 0  # the address has 5 of its 20
    now[0] += WINDOW_S - 39
    assert throttle.wait_seconds("alice", "10.0.0.9") == 0
    for index in range(MAX_FAILURES_PER_ADDRESS):
        throttle.record_failure(f"user{index}", "10.0.0.2")
    assert throttle.wait_seconds("carol", "10.0.0.2") > 0 and throttle.wait_seconds("carol", "10.0.0.3") == 0
    throttle.record_failure("dave", "10.0.0.4")
    throttle.record_success("dave")
    assert throttle.wait_seconds("dave", "10.0.0.5") == 0
    assert refusal_message(61) == "Too many failed sign-ins; try again in 2 minutes." and refusal_message(5).endswith("in 1 minute.")


def test_repeated_wrong_passwords_lock_the_name_out_with_a_clear_message(phenotype_cohort_dir, phenotype_cohort, tmp_path):
    client, config = make_client(phenotype_cohort_dir, phenotype_cohort, tmp_path, auth="password")
    users = UserStore(config.resolved_cohort_db)
    users.add("alice", PASSWORD)
    users.add("bob", PASSWORD)
    for _ in range(MAX_FAILURES_PER_NAME):
        assert client.post("/login", data={"username": "alice", "password": "not her password"}).status_code == 401
    refused = client.post("/login", data={"username": "alice", "password": PASSWORD})  # right, but not even checked now
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 800
    assert b"Too many failed sign-ins; try again in 15 minutes." in refused.data
    assert client.get("/_dash-layout").status_code == 401
    assert client.post("/login", data={"username": "bob", "password": PASSWORD}).status_code == 302  # another name from the same address


def test_a_removed_user_loses_their_session(phenotype_cohort_dir, phenotype_cohort, tmp_path):
    client, config = make_client(phenotype_cohort_dir, phenotype_cohort, tmp_path, auth="password")
    users = UserStore(config.resolved_cohort_db)
    users.add("bob", PASSWORD)
    client.post("/login", data={"username": "bob", "password": PASSWORD})
    assert client.get("/_dash-layout").status_code == 200
    users.remove("bob")
    assert client.get("/_dash-layout").status_code == 401


def test_oidc_redirects_to_the_issuer_and_signs_in_from_the_callback(phenotype_cohort_dir, phenotype_cohort, tmp_path, monkeypatch):
    from authlib.integrations.flask_client import FlaskOAuth2App

    metadata = {"issuer": "https://idp.example", "authorization_endpoint": "https://idp.example/auth", "token_endpoint": "https://idp.example/token",
                "jwks_uri": "https://idp.example/jwks"}
    monkeypatch.setattr(FlaskOAuth2App, "load_server_metadata", lambda self: {**metadata, **self.server_metadata})
    exchanged = []

    def fake_token_exchange(self, **kwargs):  # the network step; state checking happens before it in the real method
        exchanged.append(kwargs)
        return {"access_token": "t", "userinfo": {"sub": "123", "preferred_username": "dr.house"}}

    monkeypatch.setattr(FlaskOAuth2App, "authorize_access_token", fake_token_exchange)
    client, _ = make_client(phenotype_cohort_dir, phenotype_cohort, tmp_path, auth="oidc", oidc_issuer="https://idp.example",
                            oidc_client_id="lse", oidc_client_secret="s3cret")
    assert b"hospital account" in client.get("/login").data
    redirect = client.get("/login/oidc?next=/")
    assert redirect.status_code == 302
    target = urlsplit(redirect.headers["Location"])
    query = parse_qs(target.query)
    assert f"{target.scheme}://{target.netloc}{target.path}" == "https://idp.example/auth"
    assert query["client_id"] == ["lse"] and query["response_type"] == ["code"] and "openid" in query["scope"][0]
    assert query["state"] and query["nonce"] and query["redirect_uri"] == ["http://localhost/login/oidc/callback"]
    assert client.get("/_dash-layout").status_code == 401
    callback = client.get(f"/login/oidc/callback?code=abc&state={query['state'][0]}")
    assert callback.status_code == 302 and exchanged
    assert client.get("/_dash-layout").status_code == 200


def test_settings_that_would_expose_the_server_are_refused():
    with pytest.raises(ConfigError, match="debug"):
        AppConfig(host="0.0.0.0", debug=True)
    with pytest.raises(ConfigError, match="port"):
        AppConfig(port=99999)
    with pytest.raises(ConfigError, match="oidc"):
        AppConfig(auth="oidc")
    assert AppConfig().resolved_auth == "off"
    assert AppConfig(host="0.0.0.0").resolved_auth == "password"
    assert AppConfig(host="0.0.0.0", auth="off").resolved_auth == "off"


def test_the_scaled_out_workers_ask_for_sign_in_unless_told_otherwise(monkeypatch, phenotype_cohort_dir, phenotype_cohort, tmp_path, caplog):
    """gunicorn binds to loopback behind a proxy, so the host cannot tell that others reach it: app.wsgi's settings turn sign-in on."""
    for name in ("LSE_AUTH", "LSE_HOST"):
        monkeypatch.delenv(name, raising=False)
    assert AppConfig.from_env().resolved_auth == "off"  # python -m app on its default loopback host
    assert AppConfig.for_workers().resolved_auth == "password"
    monkeypatch.setenv("LSE_AUTH", "off")
    assert AppConfig.for_workers().resolved_auth == "off"
    monkeypatch.setenv("LSE_AUTH", "oidc")
    with pytest.raises(ConfigError, match="oidc"):
        AppConfig.for_workers()
    with caplog.at_level("WARNING"):  # no account yet: the log says how to add one
        make_client(phenotype_cohort_dir, phenotype_cohort, tmp_path, auth="password")
    assert "python -m app.users add NAME" in caplog.text


def test_passwords_are_hashed_and_checked(tmp_path):
    users = UserStore(tmp_path / "c.sqlite")
    users.add("carol", PASSWORD)
    stored = sqlite3.connect(tmp_path / "c.sqlite").execute("SELECT password_hash FROM users").fetchone()[0]
    assert PASSWORD not in stored and stored.startswith("scrypt:")
    assert users.verify("carol", PASSWORD) and not users.verify("carol", "wrong password") and not users.verify("nobody", PASSWORD)
    with pytest.raises(UserStoreError, match="at least"):
        users.add("dave", "short")
    with pytest.raises(UserStoreError, match="user name"):
        users.add("bad name!", PASSWORD)
    with pytest.raises(UserStoreError, match="already exists"):
        users.add("carol", PASSWORD)


def test_the_users_command_adds_lists_changes_and_removes(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LSE_COHORT_DB", str(tmp_path / "cohorts.sqlite"))
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert users_cli.main(["add", "erin", "--password-stdin"]) == 0
    assert users_cli.main(["list"]) == 0
    assert "erin" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("another long password\n"))
    assert users_cli.main(["passwd", "erin", "--password-stdin"]) == 0
    assert UserStore(tmp_path / "cohorts.sqlite").verify("erin", "another long password")
    assert users_cli.main(["remove", "erin"]) == 0
    assert users_cli.main(["remove", "erin"]) == 2
    assert capsys.readouterr().err.strip() == "error: no user 'erin'"


def test_saved_cohorts_are_private_unless_shared_and_only_owners_change_them(tmp_path):
    user = {"name": "alice"}
    store = CohortStore(tmp_path / "c.sqlite", dataset="d", current_user=lambda: user["name"])
    mine = store.save("Alice's", CohortDefinition.from_dict({"filters": []}))
    user["name"] = "bob"
    assert store.list() == []
    with pytest.raises(CohortStoreError):
        store.get(mine.id)
    user["name"] = "alice"
    store.set_shared(mine.id, True)
    user["name"] = "bob"
    assert [saved.name for saved in store.list()] == ["Alice's"]
    for change in (lambda: store.rename(mine.id, "x"), lambda: store.delete(mine.id), lambda: store.set_shared(mine.id, False)):
        with pytest.raises(CohortStoreError, match="only alice"):
            change()


def test_an_old_cohort_database_is_migrated_and_its_cohorts_stay_readable(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE cohorts (id INTEGER PRIMARY KEY AUTOINCREMENT, dataset TEXT NOT NULL, name TEXT NOT NULL, "
                           "definition TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, UNIQUE (dataset, name))")
        connection.execute("INSERT INTO cohorts (dataset, name, definition, created_at, updated_at) VALUES ('d', 'Old', '{\"filters\": []}', 't', 't')")
    store = CohortStore(path, dataset="d", current_user=lambda: "alice")
    assert [(saved.name, saved.shared, saved.owner) for saved in store.list()] == [("Old", True, "")]
    with pytest.raises(CohortStoreError):
        store.delete(store.list()[0].id)  # an ownerless cohort is changed by the local user only


FIRST_RELEASE_TABLE = ("CREATE TABLE cohorts (id INTEGER PRIMARY KEY AUTOINCREMENT, dataset TEXT NOT NULL, name TEXT NOT NULL, "
                       "definition TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL, UNIQUE (dataset, name))")


def test_cohort_names_are_unique_per_owner_so_saving_one_reveals_nothing_about_others(tmp_path):
    user = {"name": "alice"}
    store = CohortStore(tmp_path / "c.sqlite", dataset="d", current_user=lambda: user["name"])
    everyone = CohortDefinition.from_dict({"filters": []})
    alices = store.save("Ward 7", everyone)
    user["name"] = "bob"
    bobs = store.save("Ward 7", everyone)  # alice's private "Ward 7" is no obstacle and no hint
    with pytest.raises(CohortStoreError, match="a cohort named “Ward 7” already exists"):
        store.save("Ward 7", everyone)
    assert [(saved.id, saved.label) for saved in store.list()] == [(bobs.id, "Ward 7")]
    user["name"] = "alice"
    store.set_shared(alices.id, True)
    user["name"] = "bob"
    assert sorted(saved.label for saved in store.list()) == ["Ward 7", "Ward 7 (alice)"]  # his own keeps its plain name
    assert store.get(alices.id).label == "Ward 7 (alice)" and store.get(bobs.id).label == "Ward 7"
    user["name"] = "carol"
    assert [saved.label for saved in store.list()] == ["Ward 7"]  # only alice's is shared: nothing to tell apart
    user["name"] = "bob"
    store.set_shared(bobs.id, True)
    user["name"] = "carol"
    assert sorted(saved.label for saved in store.list()) == ["Ward 7 (alice)", "Ward 7 (bob)"]


def test_deleting_a_cohort_others_build_on_names_only_what_the_user_may_see(tmp_path):
    user = {"name": "alice"}
    store = CohortStore(tmp_path / "c.sqlite", dataset="d", current_user=lambda: user["name"])
    base = store.save("Base", CohortDefinition.from_dict({"filters": []}), shared=True)
    user["name"] = "bob"
    store.save("Bob's secret study", CohortDefinition(operation="complement", operands=(base.id,)))
    user["name"] = "alice"
    with pytest.raises(CohortStoreError) as refused:
        store.delete(base.id)
    assert "secret" not in str(refused.value) and "1 private cohort of other users is defined from it" in str(refused.value)


def test_a_first_release_database_is_migrated_to_names_unique_per_owner_keeping_ids(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute(FIRST_RELEASE_TABLE)
        for name in ("Old", "Gone", "Kept"):
            connection.execute("INSERT INTO cohorts (dataset, name, definition, created_at, updated_at) VALUES ('d', ?, '{\"filters\": []}', 't', 't')",
                               (name,))
        connection.execute("DELETE FROM cohorts WHERE name = 'Gone'")
    user = {"name": "alice"}
    store = CohortStore(path, dataset="d", current_user=lambda: user["name"])
    assert [(saved.id, saved.name, saved.shared, saved.owner) for saved in store.list()] == [(3, "Kept", True, ""), (1, "Old", True, "")]
    assert store.save("Old", CohortDefinition.from_dict({"filters": []})).id == 4  # id 2 (deleted) is never given again
    assert [saved.label for saved in store.list()] == ["Kept", "Old (local)", "Old"]  # the earlier version's "Old" told apart from alice's
    with sqlite3.connect(path) as connection:
        indexes = [row[1] for row in connection.execute("PRAGMA index_list(cohorts)") if row[2]]
        unique = [[column[2] for column in connection.execute(f"PRAGMA index_info('{index}')")] for index in indexes]
    assert unique == [["dataset", "owner", "name"]]
    CohortStore(path, dataset="d", current_user=lambda: "bob")  # opening again migrates nothing
    assert len(store.list()) == 3


def test_a_database_with_owners_but_names_unique_across_users_is_migrated_too(tmp_path):
    path = tmp_path / "owners.sqlite"
    with sqlite3.connect(path) as connection:
        connection.execute(FIRST_RELEASE_TABLE)
        connection.execute("ALTER TABLE cohorts ADD COLUMN owner TEXT NOT NULL DEFAULT ''")
        connection.execute("ALTER TABLE cohorts ADD COLUMN shared INTEGER NOT NULL DEFAULT 1")
        connection.execute("INSERT INTO cohorts (dataset, name, definition, created_at, updated_at, owner, shared) "
                           "VALUES ('d', 'Mine', '{\"filters\": []}', 't', 't', 'alice', 0)")
    store = CohortStore(path, dataset="d", current_user=lambda: "bob")
    assert store.list() == []
    store.save("Mine", CohortDefinition.from_dict({"filters": []}))  # refused before: alice had one of that name
    alice = CohortStore(path, dataset="d", current_user=lambda: "alice")
    assert [(saved.name, saved.owner, saved.shared) for saved in alice.list()] == [("Mine", "alice", False)]


def test_exports_are_written_to_the_audit_log(tmp_path):
    store = CohortStore(tmp_path / "c.sqlite", dataset="d", current_user=lambda: "alice")
    store.record("export", "cohort 'A': 12 subjects")
    [entry] = store.audit_log()
    assert (entry.username, entry.action, entry.detail) == ("alice", "export", "cohort 'A': 12 subjects")


def test_the_sharing_switch_shows_a_cohorts_state_and_only_its_owner_changes_it(tmp_path):
    from types import SimpleNamespace

    from app.panels.cohorts import set_sharing, sharing_state
    from app.validation import InputRefused

    user = {"name": "alice"}
    context = SimpleNamespace(store=CohortStore(tmp_path / "c.sqlite", dataset="d", current_user=lambda: user["name"]))
    mine = context.store.save("Alice's", CohortDefinition.from_dict({"filters": []}))
    assert sharing_state(context, mine.id) == (False, False) and sharing_state(context, None) == (False, True)
    assert set_sharing(context, mine.id, False) is None  # the switch showing the state changes nothing
    assert "now shared" in set_sharing(context, mine.id, True)
    assert [entry.action for entry in context.store.audit_log()] == ["share"]
    with pytest.raises(InputRefused):
        set_sharing(context, mine.id, "yes")
    user["name"] = "bob"
    assert sharing_state(context, mine.id) == (True, True)  # bob sees it, shared, and cannot change that
    with pytest.raises(CohortStoreError, match="only alice"):
        set_sharing(context, mine.id, False)
