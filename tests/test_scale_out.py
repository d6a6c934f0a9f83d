"""The README's scale-out recipe, for real: Redis, gunicorn with two gthread workers and a Celery worker per lane,
driven in headless Chromium through a projection, a decode and a saved cohort."""

from __future__ import annotations

import json
import signal
import urllib.request

import psutil
import pytest
from selenium.webdriver.common.by import By

from app.validation import REFUSAL_ALERT_ID
from tests.browser import (
    box_select_middle,
    choose_dropdown_option,
    chrome,
    highlighted_rows,
    plot_state,
    requires_chromium,
    requires_redis,
    running_scaled_out,
    severe_console_errors,
    wait_for,
)
from tests.conftest import SMALL_COHORT_SUBJECTS
from tests.serving import poll_job, projection_job_body, run_job, start_job

pytestmark = [pytest.mark.browser, pytest.mark.slow, requires_chromium, requires_redis]


def _drawn(driver, graph_id: str) -> bool:
    traces = plot_state(driver, graph_id)
    return bool(traces and sum(len(trace["rows"]) for trace in traces) == SMALL_COHORT_SUBJECTS)


def _title(driver, graph_id: str) -> str:
    return driver.execute_script(f"const g = document.querySelector('#{graph_id} .js-plotly-plot'); "
                                 "return g && g.layout && g.layout.title ? (g.layout.title.text || '') : '';")


def test_gunicorn_and_celery_serve_a_projection_a_decode_and_a_saved_cohort(trained_cohort_dir, tmp_path):
    driver = chrome()
    try:
        with running_scaled_out(trained_cohort_dir, tmp_path, web_workers=2) as (url, processes):
            driver.get(url)
            wait_for(lambda: _drawn(driver, "view-1"), timeout=60, message="view 2 drawn")

            choose_dropdown_option(driver, "view-1-method", "UMAP")
            wait_for(lambda: "UMAP" in _title(driver, "view-1") and _drawn(driver, "view-1"), timeout=180,
                     message="the UMAP computed by the Celery worker and drawn")

            box_select_middle(driver, "view-0")
            selected = wait_for(lambda: highlighted_rows(plot_state(driver, "view-0")), message="a selection")
            assert 2 <= len(selected) < SMALL_COHORT_SUBJECTS
            driver.find_element(By.XPATH, "//a[contains(@class, 'nav-link') and normalize-space()='Decode']").click()
            wait_for(lambda: "on CPU in" in driver.find_element(By.ID, "decoder-subject-status").text, timeout=120,
                     message="two subjects decoded by the Celery worker")
            assert len(driver.find_elements(By.CSS_SELECTOR, "#decoder-shown label")) == 2

            driver.find_element(By.ID, "cohort-name").send_keys("Seen by both workers")
            driver.find_element(By.ID, "save-cohort").click()
            wait_for(lambda: "Saved" in driver.find_element(By.ID, "save-feedback").text, message="save confirmation")
            for _ in range(3):  # reloads spread over both gunicorn workers: each lists the cohort from the shared store
                driver.refresh()
                listed = wait_for(lambda: [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".saved-cohort")], message="saved cohorts listed")
                assert any("Seen by both workers" in text for text in listed)
            assert severe_console_errors(driver) == []
            assert all(process.poll() is None for process in processes), "Redis, Celery and gunicorn still running"
        log = (tmp_path / "server.log").read_text()
        assert "Booting worker" in log and log.count("Booting worker") >= 2
        assert "succeeded in" in log  # the Celery worker ran the background jobs
        assert "Traceback" not in log
    finally:
        driver.quit()


def _maps_torch(process: psutil.Process) -> bool:
    try:
        return any("libtorch" in region.path for region in process.memory_maps())
    except psutil.Error:
        return False


def test_a_job_whose_celery_pool_process_is_killed_ends_with_a_message_and_the_next_one_runs(trained_cohort_dir, tmp_path):
    with running_scaled_out(trained_cohort_dir, tmp_path, web_workers=1) as (url, processes):
        def post(path: str, body: dict) -> str:
            request = urllib.request.Request(url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=60) as answer:
                return answer.read().decode()

        urllib.request.urlopen(url, timeout=30).close()
        body = projection_job_body({"space": "joint", "method": "umap"})  # a fresh pool process first imports UMAP and compiles it: seconds
        heavy_worker = psutil.Process(processes[2].pid)  # the recipe's Celery worker for the heavy lane (tests.browser.scale_out_commands)
        assert heavy_worker.nice() == min(19, psutil.Process().nice() + 10)  # the web workers and decodes get the CPU first
        # The quick lane's pool processes load the decoder's model as they start, so no user's first decode waits for torch.
        quick_pool = wait_for(lambda: psutil.Process(processes[1].pid).children(), timeout=30, message="the quick lane's pool processes")
        wait_for(lambda: all(_maps_torch(process) for process in quick_pool), timeout=90, message="the model loaded in every quick pool process")
        assert not any(_maps_torch(process) for process in heavy_worker.children())  # the heavy lane never decodes
        pool = wait_for(lambda: heavy_worker.children(), timeout=30, message="the heavy lane's pool process")
        idle = sum(process.cpu_times().user for process in pool)
        handles = start_job(post, body)
        # The task has reached the pool once it works (an idle pool process uses no CPU): killed before, Celery would hand it to a new one.
        wait_for(lambda: sum(process.cpu_times().user for process in pool) > idle + 0.3, timeout=60, interval=0.05, message="the pool process at work")
        for process in pool:
            process.send_signal(signal.SIGKILL)  # as the kernel's out-of-memory killer would
        answer = poll_job(post, body, handles, timeout=60)
        message = answer["sideUpdate"][REFUSAL_ALERT_ID]
        assert message["is_open"] and message["children"].startswith("Not done: the computation stopped before it finished"), message
        assert run_job(post, body) == {"projection-ready": {"data": 1}}  # asked again: Celery's new pool process computes it
