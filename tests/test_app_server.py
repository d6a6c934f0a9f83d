"""The real server starts from the command line and serves the cohort overview."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from app.config import AppConfig
from app.server import create_app
from data_loaders import load_cohort

REPO_ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_layout_names_the_cohort_and_lists_its_variables(small_cohort_dir):
    cohort = load_cohort(small_cohort_dir)
    app = create_app(AppConfig(cohort_dir=small_cohort_dir), cohort)
    layout = str(app.layout)
    assert cohort.name in layout
    assert "LV mass" in layout and "120 subjects" in layout


def test_python_m_app_serves_the_page(small_cohort_dir, tmp_path):
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "app", "--cohort", str(small_cohort_dir), "--port", str(port)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={"LSE_CACHE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_dash-layout", timeout=2) as response:
                    layout = response.read().decode()
                break
            except OSError:
                assert server.poll() is None, server.stdout.read().decode()
                assert time.monotonic() < deadline, "server did not answer within 60 s"
                time.sleep(0.5)
        assert "Synthetic cardiac cohort" in layout
    finally:
        server.terminate()
        server.wait(timeout=10)
        server.stdout.close()


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
