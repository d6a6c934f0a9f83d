"""The README's first command on a fresh machine: the demo is served before its model exists, and the model appears without a restart."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from app.config import AppConfig
from app.training import STATUS_FILE
from data_loaders import load_cohort
from tests.browser import plot_state, requires_chromium, severe_console_errors, wait_for
from tests.serving import running_app

pytestmark = [pytest.mark.browser, requires_chromium]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "screenshots"
DEMO_SUBJECTS = 40


def _tab(driver, label: str):
    return next(link for link in driver.find_elements(By.CSS_SELECTOR, ".nav-link") if link.text == label)


def test_first_start_serves_the_baseline_then_the_model_appears_without_a_restart(tmp_path, driver):
    demo = AppConfig(cache_dir=tmp_path, demo_subjects=DEMO_SUBJECTS).demo_cohort_dir
    with running_app(None, tmp_path, timeout=300, extra_args=("--device", "cpu"), extra_env={"LSE_DEMO_SUBJECTS": str(DEMO_SUBJECTS)}) as url:
        served_at = time.time()
        driver.get(url)
        wait_for(lambda: driver.find_elements(By.ID, "training-badge"), message="the model status badge")
        # Served before training ended: the page moves to the raw baseline by itself (the run's first step), the model's tabs wait.
        assert set(load_cohort(demo).spaces) <= {"raw"}
        wait_for(lambda: (traces := plot_state(driver, "view-0")) and sum(len(t["rows"]) for t in traces) == DEMO_SUBJECTS,
                 timeout=300, interval=0.5, message="the raw baseline drawn in Explore")
        assert "raw" in load_cohort(demo).spaces
        _tab(driver, "Decode").click()
        progress = wait_for(lambda: driver.find_elements(By.ID, "training-progress-decoder"), message="the training progress in Decode")[0]
        assert "The model is being trained" in progress.find_element(By.XPATH, "..").text
        wait_for(lambda: "Model ·" in (text := driver.find_element(By.ID, "training-badge").text) and "checking" not in text,
                 message="the badge's first status")
        SCREENSHOTS.mkdir(exist_ok=True)
        driver.save_screenshot(str(SCREENSHOTS / "first-start-training.png"))

        # The model appears without a restart: the page reloads itself into the decoder once the run is done.
        wait_for(lambda: driver.find_elements(By.ID, "decoder-source"), timeout=300, interval=1, message="the decoder panel after training")
        status = json.loads((demo / STATUS_FILE).read_text())
        assert status["state"] == "ready" and status["changed"] and status["updated"] > served_at
        assert set(load_cohort(demo).spaces) == {"raw", "joint", "ecg", "mri"}
        assert (demo / "model" / "weights.pt").is_file()
        assert not driver.find_elements(By.ID, "training-badge")  # the new app has nothing left to watch
        assert not severe_console_errors(driver)
    printed = (tmp_path / "server.log").read_text()
    assert printed.count("Serving on") == 1  # one server process from first page to model
    assert "generating the synthetic demo cohort" in printed and "Ready: model" in printed


def test_a_run_with_nothing_to_do_changes_nothing_and_a_missing_step_is_redone(trained_cohort_dir, tmp_path):
    """The background pipeline reports whether it changed the cohort: only then does the served app reload."""
    import shutil
    import subprocess
    import sys

    from data_loaders.cohort_io import write_manifest
    from models.run_status import read_status

    cohort = Path(shutil.copytree(trained_cohort_dir, tmp_path / "cohort"))
    status_file = tmp_path / "status.json"
    command = [sys.executable, "-m", "models.pipeline", "--cohort", str(cohort), "--device", "cpu", "--status-file", str(status_file)]

    def run() -> bool:
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        status = read_status(status_file)
        assert status is not None and status.state == "ready"
        return status.changed

    assert not run()  # the fixture's pipeline already made the model, the spaces, the raw baseline and the predictions
    manifest = load_cohort(cohort).manifest
    write_manifest(cohort, {**manifest, "spaces": {k: v for k, v in manifest["spaces"].items() if k != "raw"}})
    assert run()
    loaded = load_cohort(cohort)
    assert "raw" in loaded.spaces and set(loaded.predictions()["space"]) == {"joint", "ecg", "mri", "raw"}


def test_a_run_whose_app_died_while_it_was_starting_stops_at_once(tiny_cohort_dir, tmp_path):
    """The app passes its pid: a run whose app is already gone when it gets going (killed during imports) does not train on."""
    import subprocess
    import sys

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    command = [sys.executable, "-m", "models.pipeline", "--cohort", str(tiny_cohort_dir), "--device", "cpu",
               "--status-file", str(tmp_path / "status.json"), "--exit-with-parent", str(gone.pid)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "the app that started this run has exited" in result.stderr
    assert not (tiny_cohort_dir / "model").exists()


def test_a_run_whose_app_is_killed_stops_and_the_next_start_trains_cleanly(small_cohort_dir, tmp_path):
    """kill -9 of the serving process: its training child stops by itself, the badge says so, the next run completes."""
    import os
    import shutil
    import signal
    import subprocess
    import sys

    from app.training import TrainingWatch, process_alive
    from models.pipeline import ensure_trained_demo
    from models.run_status import read_status
    from tests.conftest import NARROW_MODEL, QUICK_TRAINING

    cohort = Path(shutil.copytree(small_cohort_dir, tmp_path / "cohort"))
    status_file = tmp_path / "status.json"
    pipeline = f"{sys.executable} -m models.pipeline --cohort {cohort} --device cpu --status-file {status_file} --exit-with-parent"
    # A stand-in for the app: a shell that starts the run as its child, then waits.
    parent = subprocess.Popen(["bash", "-c", f"{pipeline} & wait"], start_new_session=True)
    started = time.time()
    run = wait_for(lambda: (s := read_status(status_file)) is not None and s.stage == "train" and s, timeout=240, interval=0.5,
                   message="the run to start training")
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait(timeout=10)
    wait_for(lambda: not process_alive(run.pid), timeout=60, message="the orphaned run to stop")
    status = TrainingWatch(status_file, on_ready=lambda: None, started_at=started).status()
    assert status is not None and status.state == "failed" and "next start" in status.message
    assert not (cohort / "model").exists()

    # The next start runs the same pipeline (a narrow model here, to keep the test short) and completes.
    ensure_trained_demo(cohort, device="cpu", model_config=NARROW_MODEL, train_config=QUICK_TRAINING)
    assert {"joint", "ecg", "mri", "raw"} <= set(load_cohort(cohort).spaces)
    assert not list(cohort.glob(".*partial")) and not list(cohort.glob(".*.old-*"))

