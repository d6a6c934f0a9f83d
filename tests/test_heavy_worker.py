"""The embedded server's heavy jobs run in a spawned worker process, at a lower CPU priority, that ends with the server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import psutil
import pytest

from app.config import AppConfig
from app.context import AppContext
from app.core.projections import ProjectionSpec
from app.heavy_worker import HEAVY_NICENESS
from app.server import create_app
from app.validation import REFUSAL_ALERT_ID
from data_loaders import load_cohort
from tests.serving import REPO_ROOT, callback_body, free_port, heavy_workers, poll_job, projection_job_body, run_job, start_job, wait_until_serving

TSNE_REQUEST = {"space": "joint", "method": "tsne"}


@pytest.fixture
def served(phenotype_cohort_dir, tmp_path):
    """(config, app, post): the app in this process (a page loaded), ``post`` answering as the server would; its heavy worker closed afterwards."""
    config = AppConfig(cohort_dir=phenotype_cohort_dir, cache_dir=tmp_path / "cache")
    app = create_app(config)
    client = app.server.test_client()

    def post(path: str, body: dict) -> str:
        answer = client.post(path, json=body)
        assert answer.status_code in (200, 204), answer.get_data(as_text=True)[:300]
        return answer.get_data(as_text=True)

    client.get("/")
    yield config, app, post
    app._background_manager.close()


def test_a_projection_job_runs_in_a_spawned_lower_priority_worker_that_fills_the_shared_cache(served, phenotype_cohort_dir, refuse_slow_projections):
    config, app, post = served
    # t-SNE is refused in this process (refuse_slow_projections): it can only have been computed elsewhere.
    assert run_job(post, projection_job_body(TSNE_REQUEST)) == {"projection-ready": {"data": 1}}
    context = AppContext(config, load_cohort(phenotype_cohort_dir))
    assert context.projection_ready("joint", ProjectionSpec(method="tsne"))
    (worker,) = heavy_workers(os.getpid())
    assert worker.nice() == psutil.Process().nice() + HEAVY_NICENESS
    app._background_manager.close()
    worker.wait(timeout=20)  # the app's manager closed (a demo app replaced by its trained one): its worker ends


def test_a_job_whose_worker_is_killed_ends_with_a_message_and_the_next_job_gets_a_new_worker(served, refuse_slow_projections):
    _config, app, post = served
    body = projection_job_body(TSNE_REQUEST)
    handles = start_job(post, body)
    deadline = time.monotonic() + 60
    while not heavy_workers(os.getpid()) and time.monotonic() < deadline:
        time.sleep(0.05)
    (killed,) = heavy_workers(os.getpid())
    killed.send_signal(signal.SIGKILL)  # mid-job, as the kernel's out-of-memory killer would
    answer = poll_job(post, body, handles, timeout=60)
    message = answer["sideUpdate"][REFUSAL_ALERT_ID]
    assert message["is_open"] and message["children"].startswith("Not done: the computation stopped before it finished"), message
    ended = answer["sideUpdate"]["projection-failed"]["data"]
    assert isinstance(ended, int)
    # The view that waited for it says so and stops polling; the other view (waiting for nothing) is left alone.
    for view, pending in (("view-1", TSNE_REQUEST), ("view-0", None)):
        values = {f"{view}-space.value": "joint", f"{view}-method.value": "tsne", "projection-failed.data": ended,
                  f"{view}-pending.data": pending, "filters.data": []}
        outputs = json.loads(post("/_dash-update-component", callback_body(app, f"{view}-spec.data", values, ["projection-failed.data"])) or "{}")
        if pending is None:
            assert not outputs.get("response")  # nothing changed
            continue
        shown = outputs["response"]
        assert "was not computed" in shown[f"{view}-spec"]["data"]["layout"]["annotations"][0]["text"]
        assert shown[f"{view}-pending"] == {"data": None} and shown[f"{view}-drawn"] == {"data": None}
    assert run_job(post, body) == {"projection-ready": {"data": 1}}  # asked again: a new worker computes it
    (worker,) = heavy_workers(os.getpid())
    assert worker.pid != killed.pid


def test_the_heavy_worker_dies_with_a_server_killed_by_sigkill(phenotype_cohort_dir, tmp_path):
    port = free_port()
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen([sys.executable, "-m", "app", "--cohort", str(phenotype_cohort_dir), "--port", str(port)],
                                  cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "LSE_CACHE_DIR": str(tmp_path / "cache")})
    url = f"http://127.0.0.1:{port}"

    def post(path: str, body: dict) -> str:
        request = urllib.request.Request(url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.read().decode()

    try:
        wait_until_serving(url, [server], 90, log_path)
        urllib.request.urlopen(url, timeout=30).close()
        assert run_job(post, projection_job_body(TSNE_REQUEST)) == {"projection-ready": {"data": 1}}
        (worker,) = heavy_workers(server.pid)
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=10)
        worker.wait(timeout=10)  # psutil.TimeoutExpired if the worker outlived the server
    finally:
        if server.poll() is None:
            server.kill()
