"""The raw-signal baseline space, the background run's status file, and what the served app does with it."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from app.config import AppConfig
from app.context import AppContext
from app.panels.explorer import views as explorer_views
from app.panels.training_status import should_reload
from app.training import LiveApp
from data_loaders import load_cohort
from models.baseline import RawBaseline, ensure_raw_space, signal_features
from models.readiness import RAW_SPACE
from models.run_status import RunStatus, read_status, write_status
from tests.figure_checks import validated


def test_the_raw_space_is_stored_like_any_other_and_computed_once(tiny_cohort_dir):
    assert ensure_raw_space(tiny_cohort_dir)
    cohort = load_cohort(tiny_cohort_dir)
    space = cohort.spaces[RAW_SPACE]
    assert space.shape == (12, 12) and np.isfinite(space).all()  # at most one component per subject
    assert "PCA" in cohort.manifest["spaces"][RAW_SPACE]["description"]
    stored = (tiny_cohort_dir / "spaces.h5").stat().st_mtime_ns
    assert ensure_raw_space(tiny_cohort_dir)
    assert (tiny_cohort_dir / "spaces.h5").stat().st_mtime_ns == stored


@pytest.mark.slow
def test_components_are_ordered_by_the_variance_they_explain(small_cohort_dir):
    cohort = load_cohort(small_cohort_dir)
    space = RawBaseline(components=8).fit_transform(cohort, chunk_subjects=50)  # 120 subjects: the fit sample is everyone
    variances = space.var(axis=0)
    assert space.shape == (120, 8)
    assert np.all(np.diff(variances) <= 1e-6 * variances[0])
    assert np.allclose(space.mean(axis=0), 0, atol=1e-3 * np.sqrt(variances[0]))


@pytest.mark.slow
def test_a_fit_sample_smaller_than_the_cohort_still_projects_everyone(small_cohort_dir):
    cohort = load_cohort(small_cohort_dir)
    events = []
    space = RawBaseline(components=4, fit_subjects=30).fit_transform(cohort, chunk_subjects=50, progress=lambda *e: events.append(e))
    assert space.shape == (120, 4) and np.isfinite(space).all()
    assert events[-1] == (150, 150)  # the sample once, then everyone


def test_each_modality_carries_the_same_total_variance_whatever_its_size_or_units(small_cohort_dir):
    cohort = load_cohort(small_cohort_dir)
    ids = [str(i) for i in cohort.phenotypes.index]
    ecg, cine = signal_features(cohort, ids)
    assert ecg.shape[1] < cine.shape[1]  # the cine has far more features
    baseline = RawBaseline()
    from sklearn.preprocessing import StandardScaler

    for blocks in ([ecg, cine], [ecg * 1000.0, cine]):  # µV instead of mV changes nothing
        baseline.scalers = [StandardScaler().fit(block) for block in blocks]
        balanced = baseline._balanced(blocks)
        ecg_part, cine_part = balanced[:, :ecg.shape[1]], balanced[:, ecg.shape[1]:]
        constant = [(block.std(axis=0) == 0).sum() / block.shape[1] for block in blocks]  # constant features carry nothing
        assert ecg_part.var(axis=0).sum() == pytest.approx(1 - constant[0], rel=1e-3)
        assert cine_part.var(axis=0).sum() == pytest.approx(1 - constant[1], rel=1e-3)


def test_a_cohort_without_arrays_gets_no_raw_space(phenotype_cohort_dir):
    assert not ensure_raw_space(phenotype_cohort_dir)
    assert RAW_SPACE not in load_cohort(phenotype_cohort_dir).spaces


def test_the_status_says_where_a_run_is_and_how_long_is_left(tmp_path):
    status = RunStatus(state="running", stage="train", done=50, total=200, epoch=7, epochs=26, stage_started=1000.0, updated=1100.0)
    assert status.fraction == 0.25 and status.eta_s == pytest.approx(300.0)
    assert status.describe() == "Training: epoch 7 of 26, about 5 min left"
    assert RunStatus(state="running", stage="encode", done=1, total=4, stage_started=0.0, updated=10.0).describe() == "Encoding subjects: 25%, about 30 s left"
    assert RunStatus(state="running").describe() == "Starting…"
    assert RunStatus(state="failed", message="disk full").describe() == "training failed: disk full"
    path = tmp_path / "status.json"
    write_status(path, status)
    again = read_status(path)
    assert again is not None and again.epoch == 7 and again.updated > status.updated
    path.write_text("{half a file")
    assert read_status(path) is None and read_status(tmp_path / "missing.json") is None


def test_an_app_served_before_its_first_space_says_so_and_moves_on_once_the_baseline_is_written(tiny_cohort_dir, tmp_path):
    context = AppContext(AppConfig(cohort_dir=tiny_cohort_dir, cache_dir=tmp_path), load_cohort(tiny_cohort_dir), spaces_pending=True)
    latent = explorer_views.render_latent_view(context, 0, None, "pca", None, [], None, set())
    assert latent.request is None and "being computed in the background" in validated(latent.figure).layout.annotations[0].text.replace("<br>", " ")
    baseline = RunStatus(state="running", stage="baseline", done=3, total=12)
    assert not should_reload(baseline, waiting=True, spaces_pending=True)
    assert not should_reload(None, waiting=True, spaces_pending=True)
    training = RunStatus(state="running", stage="train", done=1, total=26)
    assert should_reload(training, waiting=True, spaces_pending=True)  # the baseline is written: show it while the model trains
    assert not should_reload(training, waiting=True, spaces_pending=False)  # an app that shows the baseline waits for the model
    assert not should_reload(RunStatus(state="failed", stage="baseline"), waiting=True, spaces_pending=True)
    assert should_reload(RunStatus(state="ready", stage="done"), waiting=True, spaces_pending=False)
    assert not should_reload(RunStatus(state="ready", stage="done", changed=False), waiting=False, spaces_pending=False)


def test_the_live_app_replaces_an_app_once_however_often_it_asks():
    built = []

    class Built:
        def __init__(self, on_ready):
            self.on_ready = on_ready
            self._background_manager = SimpleNamespace(closed=0)
            self._background_manager.close = lambda: setattr(self._background_manager, "closed", self._background_manager.closed + 1)
            built.append(self)

    live = LiveApp(Built)
    first = live.current
    first.on_ready()
    first.on_ready()  # a second poll of the replaced app changes nothing
    assert len(built) == 2 and live.current is built[1]
    assert first._background_manager.closed == 1 and built[1]._background_manager.closed == 0  # the replaced app's jobs end
    live.current.on_ready()
    assert len(built) == 3 and live.current is built[2]
