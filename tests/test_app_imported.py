"""The app on an imported cohort where some subjects lack an ECG or a cine: it serves, says so, and decodes without crashing."""

from __future__ import annotations

import urllib.request

import numpy as np
import pytest

from app.config import AppConfig
from app.context import AppContext
from app.panels.accuracy import evaluation as accuracy_evaluation
from app.panels.accuracy import views as accuracy_views
from app.panels.decoder import views as decoder_views
from app.state import CURRENT
from data_loaders import load_cohort
from tests.figure_checks import validated
from tests.serving import running_app
from tests.static_html import elements, text


@pytest.fixture(scope="module")
def context(imported_cohort_dir, tmp_path_factory) -> AppContext:
    return AppContext(AppConfig(cohort_dir=imported_cohort_dir, cache_dir=tmp_path_factory.mktemp("imported-cache")), load_cohort(imported_cohort_dir))


def test_python_m_app_serves_an_imported_cohort_and_says_who_lacks_a_recording(imported_cohort_dir, tmp_path):
    with running_app(imported_cohort_dir, tmp_path, timeout=60) as url, urllib.request.urlopen(f"{url}/_dash-layout", timeout=10) as response:
        layout = response.read().decode()
    assert "12 of 42 subjects have no ECG; 12 have no cine MRI: their latents come from the recording they have" in layout
    assert "decoder-pane" in layout and "training-progress-decoder" not in layout  # the model's tabs are served, not waiting for a training


def test_decoding_subjects_without_an_ecg_or_a_cine_shows_what_there_is(context):
    cohort = context.cohort
    no_ecg = str(cohort.subject_ids[~cohort.ecg_present & cohort.mri_present][0])
    no_mri = str(cohort.subject_ids[cohort.ecg_present & ~cohort.mri_present][0])
    neither = str(cohort.subject_ids[~cohort.ecg_present & ~cohort.mri_present][0])
    both = str(cohort.subject_ids[cohort.ecg_present & cohort.mri_present][0])
    chosen = [no_ecg, no_mri, neither, both]

    view = decoder_views.decode_subjects_view(context, chosen, "joint", no_ecg)
    strip, median, mri, agreement, table, status = validated(view.strip), validated(view.median), validated(view.mri), validated(view.agreement), view.table, view.status
    for sheet in (strip, median):
        title = sheet.layout.title.text or str(sheet.layout.annotations)
        assert f"{no_ecg} " in title and "no ECG recorded" in title
        assert not any("original" in (trace.name or "") for trace in sheet.data)
    assert mri.layout.title.text.startswith(f"{no_ecg} · 4-chamber cine") and "original" in str(mri.layout.annotations)
    assert not any(trace.type == "bar" for trace in agreement.data)  # no per-lead r without a recorded ECG
    assert f"no ECG recorded for {no_ecg}" in status.children and f"no cine recorded for {no_mri}" in status.children

    view = decoder_views.decode_subjects_view(context, chosen, "ecg", no_mri)
    mri, agreement = validated(view.mri), validated(view.agreement)
    assert mri.layout.title.text == f"{no_mri} · no cine recorded: decoded only" and "original" not in str(mri.layout.annotations)
    assert [trace.name for trace in agreement.data if trace.type == "scatter"] in (["decoded"], [])

    view = decoder_views.decode_subjects_view(context, chosen, "mri", neither)
    strip, mri, table = validated(view.strip), validated(view.mri), view.table
    assert "no ECG recorded" in (strip.layout.title.text or str(strip.layout.annotations)) and "no cine recorded" in mri.layout.title.text
    header = next([text(cell) for cell in row.findall("th")] for row in elements(table).iter("tr") if row.findall("th"))
    rows = {cells[0]: dict(zip(header, cells)) for cells in ([text(cell) for cell in row.findall("td")] for row in elements(table).iter("tr")) if cells}
    rmse, fac = "ECG RMSE (µV, median of leads)", "LV FAC original"
    assert rows[neither][rmse] == "–" and rows[no_mri][fac] == "–" and np.isfinite(float(rows[both][rmse])) and np.isfinite(float(rows[both][fac]))


def test_accuracy_says_how_many_scored_subjects_lack_a_recording(context):
    cohort = context.cohort
    task, space = next(iter(accuracy_evaluation.task_predictions(context)))
    summary = accuracy_views.render_evaluation(context, task, space, None, CURRENT, [], None).sizes
    rows = accuracy_evaluation.task_predictions(context)[(task, space)].rows
    lacking = int((~(cohort.ecg_present & cohort.mri_present))[rows].sum())
    assert lacking > 0  # 22 of the 42 subjects lack a recording; the seeded split puts some of them in the test split
    notes = [part for part in summary if getattr(part, "id", None) == "accuracy-missing-modalities"]
    assert len(notes) == 1 and notes[0].children.startswith(f"{lacking:,} of these test subjects lack an ECG or a cine")
