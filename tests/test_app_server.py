"""The real server starts from the command line and serves the cohort overview."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest

from app.config import AppConfig
from app.context import AppContext
from app.core.projections import ProjectionSpec
from app.panels.decoder import model as decoder_model
from app.server import create_app
from data_loaders import load_cohort
from tests.serving import REPO_ROOT, running_app


def test_layout_names_the_cohort_and_lists_its_variables(small_cohort_dir):
    cohort = load_cohort(small_cohort_dir)
    app = create_app(AppConfig(cohort_dir=small_cohort_dir), cohort)
    layout = str(app.layout)
    assert cohort.name in layout
    assert "LV mass" in layout and "120 subjects" in layout


def test_json_answers_are_compressed_for_browsers_that_offer_it_and_pages_are_not(small_cohort_dir, tmp_path):
    cohort = load_cohort(small_cohort_dir)
    client = create_app(AppConfig(cohort_dir=small_cohort_dir, cache_dir=tmp_path), cohort).server.test_client()
    plain = client.get("/_dash-layout")
    packed = client.get("/_dash-layout", headers={"Accept-Encoding": "gzip, deflate, br, zstd"})  # what headless Chromium offers
    assert "Content-Encoding" not in plain.headers and packed.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(packed.data)) == json.loads(plain.data)
    assert len(packed.data) < len(plain.data) / 3
    page = client.get("/", headers={"Accept-Encoding": "gzip, br, zstd"})
    assert page.status_code == 200 and "Content-Encoding" not in page.headers  # HTML (forms) never compressed


def test_dash_scripts_are_gzipped_once_per_resource_however_their_address_is_spelled(small_cohort_dir, tmp_path):
    server = create_app(AppConfig(cohort_dir=small_cohort_dir, cache_dir=tmp_path), load_cohort(small_cohort_dir)).server
    (cache,) = [hook.__self__.cache for hook in server.after_request_funcs[None] if hasattr(getattr(hook, "__self__", None), "cache")]
    client = server.test_client()
    plotly = "/_dash-component-suites/plotly/package_data/plotly.min.js"  # as dcc.Graph asks for it
    plain = client.get(plotly)
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    spellings = (plotly, plotly.replace("plotly.min.js", "plotly.v1_2_3m0123abc.min.js"), plotly + "?again=1")
    answers = [client.get(address, headers={"Accept-Encoding": "gzip, deflate, br, zstd"}) for address in spellings]
    assert {answer.headers["Content-Encoding"] for answer in answers} == {"gzip"}
    assert gzip.decompress(answers[0].data) == plain.data and len(answers[0].data) < len(plain.data) / 2.5  # 4.8 MB → 1.7 MB
    assert all(answer.data == answers[0].data for answer in answers)
    client.get("/_dash-layout", headers={"Accept-Encoding": "gzip"})
    assert list(cache._kept) == ["gzip;" + plotly]  # one entry for the script; a callback's answer is never kept
    assert client.get("/_dash-component-suites/plotly/package_data/nothing.js", headers={"Accept-Encoding": "gzip"}).status_code >= 400
    assert len(cache._kept) == 1


@pytest.mark.parametrize("warm_up", [True, False])
def test_a_server_draws_its_default_views_once_at_start_so_the_first_page_finds_their_projections(phenotype_cohort_dir, tmp_path, warm_up):
    config = AppConfig(cohort_dir=phenotype_cohort_dir, cache_dir=tmp_path)
    create_app(config, warm_up=warm_up)
    context = AppContext(config, load_cohort(phenotype_cohort_dir))
    default_spaces = {"joint", "ecg"}  # the two latent views' first spaces (app/panels/explorer/page.py), PCA at first

    def cached() -> bool:
        return all(context.projection_cache.has(context.space_fingerprints[space], ProjectionSpec("pca")) for space in default_spaces)

    deadline = time.monotonic() + 30
    while warm_up and not cached() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert cached() is warm_up  # a test's app (warm_up off) computes nothing it was not asked for


def test_a_server_loads_the_decoder_model_after_its_default_views(phenotype_cohort_dir, tmp_path, monkeypatch):
    warmed = []
    monkeypatch.setattr(decoder_model, "warm_up", lambda context: warmed.append(context.projection_cache.has(context.space_fingerprints["joint"], ProjectionSpec("pca"))))
    create_app(AppConfig(cohort_dir=phenotype_cohort_dir, cache_dir=tmp_path), warm_up=True)
    deadline = time.monotonic() + 30
    while not warmed and time.monotonic() < deadline:
        time.sleep(0.1)
    assert warmed == [True]  # once, and only after the first page's views were drawn


@pytest.mark.slow
def test_the_decoder_warm_up_leaves_the_model_loaded_and_a_cohort_without_one_loads_nothing(trained_cohort_dir, phenotype_cohort_dir, tmp_path):
    trained = AppContext(AppConfig(cohort_dir=trained_cohort_dir, cache_dir=tmp_path, device="cpu"), load_cohort(trained_cohort_dir))
    decoder_model.warm_up(trained)
    before = decoder_model._load_models.cache_info()
    decoder_model.decoder_models(trained)
    assert decoder_model._load_models.cache_info().hits == before.hits + 1  # the first user's decode finds it loaded

    no_model = AppContext(AppConfig(cohort_dir=phenotype_cohort_dir, cache_dir=tmp_path), load_cohort(phenotype_cohort_dir))
    decoder_model.warm_up(no_model)
    assert decoder_model._load_models.cache_info().misses == before.misses


@pytest.mark.slow
def test_python_m_app_serves_the_page(small_cohort_dir, tmp_path):
    with running_app(small_cohort_dir, tmp_path, timeout=60) as url, urllib.request.urlopen(f"{url}/_dash-layout", timeout=10) as response:
        layout = response.read().decode()
    assert "Synthetic cardiac cohort" in layout


@pytest.mark.slow
def test_a_broken_cohort_stops_the_app_with_a_clear_message(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "app", "--cohort", str(tmp_path / "nowhere")],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "nowhere/manifest.toml: manifest: expected a manifest.toml file" in result.stderr


def test_background_callbacks_use_celery_when_a_broker_is_configured(phenotype_cohort_dir, tmp_path):
    import dash

    from app.server import background_manager

    assert isinstance(background_manager(AppConfig(cache_dir=tmp_path)), dash.DiskcacheManager)
    celery_config = AppConfig(cohort_dir=phenotype_cohort_dir, cache_dir=tmp_path, celery_broker="redis://127.0.0.1:6399/0")
    manager = background_manager(celery_config)
    assert isinstance(manager, dash.CeleryManager)
    assert manager.handle.conf.broker_url == "redis://127.0.0.1:6399/0"
    create_app(celery_config, manager=manager)  # builds without reaching the broker


@pytest.mark.slow
def test_gunicorn_without_a_cohort_or_a_built_demo_stops_with_one_clear_line(tmp_path):
    environment = {key: value for key, value in os.environ.items() if not key.startswith("LSE_")} | {"LSE_CACHE_DIR": str(tmp_path)}
    # One worker: with two, gunicorn's arbiter can be told twice to halt (each worker's failed load) and
    # then prints its own HaltServer traceback and exits 1, a race inside gunicorn, not in the app's message.
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--workers", "1", "--bind", "127.0.0.1:0", "app.wsgi:server"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, env=environment,
    )
    assert result.returncode == 4  # gunicorn halts: the app failed to load (no endless worker respawns)
    assert "error: no cohort: set LSE_COHORT to a cohort folder, or build the demo first with" in result.stderr
    assert "python -m app --prepare-only" in result.stderr
    assert "Traceback" not in result.stderr
    assert not list(tmp_path.iterdir())  # nothing half-built

