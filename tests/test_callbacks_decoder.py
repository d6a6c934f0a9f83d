"""Decoder panel callbacks, called as plain functions on a real app context with the trained small cohort."""

from __future__ import annotations

import random
import re

import numpy as np
import pytest

from app.config import AppConfig
from app.context import AppContext
from app.core.cohort_algebra import CohortDefinition
from app.figures.decoded_views import PLACED_BEAT_LABEL
from app.panels.decoder import choices as decoder_choices
from app.panels.decoder import model as decoder_model
from app.panels.decoder import page as decoder_page
from app.panels.decoder import settings as decoder_settings
from app.panels.decoder import tables as decoder_tables
from app.panels.decoder import views as decoder_views
from app.panels.decoder.settings import DECODER_TAB
from app.server import create_app, hidden_panels
from app.state import CURRENT, EVERYONE, REST
from benchmarks.load import User
from data_loaders import load_cohort
from data_loaders.ecg_measures import without_baseline_wander
from tests.figure_checks import validated
from tests.panels import opened_panel
from tests.serving import running_app
from tests.static_html import elements, text


@pytest.fixture(scope="module")
def context(trained_cohort_dir, tmp_path_factory) -> AppContext:
    return AppContext(AppConfig(cohort_dir=trained_cohort_dir, cache_dir=tmp_path_factory.mktemp("decoder-cache")), load_cohort(trained_cohort_dir))


@pytest.fixture(scope="module")
def models(context) -> decoder_model.DecoderModels:
    return decoder_model.decoder_models(context)


SELECTION = {"rows": list(range(10, 50)), "source": "view-0"}


def test_the_app_lays_out_and_registers_the_decoder(trained_cohort_dir, tmp_path):
    app = create_app(AppConfig(cohort_dir=trained_cohort_dir, cache_dir=tmp_path))
    panel = opened_panel(app, DECODER_TAB)
    for component in ("decoder-subjects", "decoder-ecg", "decoder-ecg-median", "decoder-mri", "decoder-interp-run-help",
                       "decoder-proto-ecg", "decoder-pc-0", "decoder-interp-strip", "decoder-device"):
        assert f'"{component}"' in panel
    assert re.search(r'"id": "decoder-body", "hidden": false', panel)  # a model to decode with: the controls are shown
    outputs = " ".join(app.callback_map)
    for output in ("decoder-ecg.figure", "decoder-proto-mri.figure", "decoder-perturb-ecg.figure", "decoder-interp-strip.figure"):
        assert output in outputs


def test_every_dropdown_offers_its_value_in_the_layout(trained_cohort_dir, tmp_path):
    """Dash 4's dropdown clears a value its options lack when it mounts: one whose options come later would show blank."""
    from dash import dcc

    config = AppConfig(cohort_dir=trained_cohort_dir, cache_dir=tmp_path)
    app = create_app(config)
    panels = hidden_panels(AppContext(config, load_cohort(trained_cohort_dir))).values()  # each sent when its tab is first opened
    dropdowns = [component for layout in (app.layout, *panels) for component in layout._traverse() if isinstance(component, dcc.Dropdown)]
    assert len(dropdowns) > 20
    for dropdown in dropdowns:
        value = getattr(dropdown, "value", None)
        offered = {option["value"] if isinstance(option, dict) else option for option in getattr(dropdown, "options", None) or []}
        chosen = value if isinstance(value, list) else ([] if value is None else [value])
        assert set(chosen) <= offered, f"{dropdown.id}: {value!r} is not among its options"


def test_decoding_gives_ecgs_in_mv_and_cines_on_the_unit_scale(context, models):
    latents = context.cohort.spaces["joint"][:3]
    decoded = models.decode(latents)
    assert decoded.ecg.shape == (3, 600, 12) and decoded.mri.shape == (3, 50, 96, 96)
    assert decoded.mri.min() >= 0 and decoded.mri.max() <= 1
    ids = list(context.cohort.subject_ids[:3])
    truth_ecg, truth_mri = context.cohort.ecg_median(ids), context.cohort.mri(ids)
    assert np.isfinite(decoded.ecg).all() and np.abs(decoded.ecg).max() < 5 * np.abs(truth_ecg).max()  # millivolts, not normalised units
    assert abs(float(decoded.mri.mean()) - float(truth_mri.mean())) < 0.1  # the cohort's intensity scale, not z-scores
    assert decoded.device == "CPU" and decoded.seconds > 0 and "on CPU in" in decoded.status("3 subjects")


def test_subject_choices_follow_the_selection_and_start_nearest_its_centre(context):
    options, chosen = decoder_choices.subject_choices(context, CURRENT, [], SELECTION)
    selected_ids = set(context.cohort.subject_ids[SELECTION["rows"]])
    assert {o["value"] for o in options} == selected_ids
    rows = decoder_choices.subject_rows(context, chosen)
    centre = context.cohort.spaces["joint"][SELECTION["rows"]].mean(axis=0)
    distances = np.linalg.norm(context.cohort.spaces["joint"][SELECTION["rows"]] - centre, axis=1)
    assert len(chosen) == 2 and np.allclose(np.sort(np.linalg.norm(context.cohort.spaces["joint"][rows] - centre, axis=1)), np.sort(distances)[:2])
    everyone, _ = decoder_choices.subject_choices(context, EVERYONE, [], SELECTION)
    assert len(everyone) == context.n_subjects
    with pytest.raises(KeyError):
        decoder_choices.subject_rows(context, ["NOT-A-SUBJECT"])


def test_chosen_subjects_are_drawn_on_ecg_paper_original_beside_decoded_with_agreement(context):
    subject_ids = list(context.cohort.subject_ids[[3, 7]])
    view = decoder_views.decode_subjects_view(context, subject_ids, "joint", subject_ids[1])
    strip, median, mri, agreement, table, status = validated(view.strip), validated(view.median), validated(view.mri), validated(view.agreement), view.table, view.status
    assert {t.name for t in strip.data if t.showlegend} == {"original", PLACED_BEAT_LABEL}  # the model decodes median beats, said so
    assert strip.layout.yaxis.scaleratio == pytest.approx(0.4) and any(t.name == "calibration 1 mV" for t in strip.data)
    rhythm = next(t for t in strip.data if t.hovertemplate and t.hovertemplate.startswith("II (rhythm) · original"))
    lead_ii = list(context.cohort.ecg_leads).index("II")
    expected = without_baseline_wander(context.cohort.ecg([subject_ids[1]])[0])[:, lead_ii]
    assert np.allclose(rhythm.customdata, expected, atol=1e-5)  # the subject's own 10 s strip, filtered as printed
    truth = context.cohort.ecg_median([subject_ids[1]])[0]
    lead_i = next(t for t in median.data if t.hovertemplate.startswith("I · original"))
    assert np.allclose(np.asarray(lead_i.customdata)[:, 0], truth[:, 0])
    assert subject_ids[1] in strip.layout.title.text and "joint latent" in median.layout.title.text
    notes = [a.text for a in median.layout.annotations if a.text.startswith("<b>")]
    assert len(notes) == 12 and all("µV" in note for note in notes)
    assert [t.type for t in mri.data] == ["heatmap", "heatmap"] and len(mri.frames) == 50 and mri.layout.meta["cine_loop"]
    rate = context.cohort.phenotypes.loc[subject_ids[1], "heart_rate_bpm"]
    assert mri.layout.meta["frame_ms"] == pytest.approx(60_000 / rate / 50, abs=2)  # one cycle per RR interval
    assert np.array_equal(np.asarray(mri.data[0].z), np.round(context.cohort.mri([subject_ids[1]])[0, 0] * 255).astype(np.uint8))
    assert agreement.data[0].type == "bar" and len(agreement.data[0].x) == 12
    assert all(subject in str(table) for subject in subject_ids) and "RMSE" in str(table) and "on CPU" in status.children


def test_cross_modal_decodes_the_mri_from_the_ecg_latent_alone(context, models):
    subject_ids = list(context.cohort.subject_ids[[5]])
    view = decoder_views.decode_subjects_view(context, subject_ids, "ecg", None)
    mri, agreement = validated(view.mri), validated(view.agreement)
    expected = models.codec.decode(context.cohort.spaces["ecg"][[5]], "mri")[0]
    assert np.array_equal(np.asarray(mri.data[1].z), np.round(expected[0] * 255).astype(np.uint8))
    assert "cross-modal" in mri.layout.annotations[1].text and "cross-modal" in agreement.layout.annotations[1].text
    view = decoder_views.decode_subjects_view(context, subject_ids, "mri", None)
    median = validated(view.median)
    expected_ecg = models.codec.decode(context.cohort.spaces["mri"][[5]], "ecg")[0]
    decoded_i = next(t for t in median.data if t.hovertemplate.startswith("I · decoded"))
    assert np.allclose(np.asarray(decoded_i.customdata)[:, 0], expected_ecg[:, 0], atol=1e-5) and "cross-modal" in median.layout.title.text


def test_no_subjects_gives_guidance_not_empty_axes(context):
    view = decoder_views.decode_subjects_view(context, [], "joint", None)
    ecg = validated(view.strip)
    assert "Choose subjects" in ecg.layout.annotations[0].text


def test_prototypes_of_a_saved_cohort_and_the_rest_are_decoded_with_predictions(context, models):
    women = context.store.save("Women (decoder test)", CohortDefinition(filters=({"kind": "choice", "variable": "sex", "values": ["female"]},)))
    groups = decoder_choices.Groups(a=women.id, b=REST, kind="mean")
    view = decoder_views.prototype_view(context, groups, "joint")
    ecg, mri, table, status = validated(view.ecg), validated(view.mri), view.table, view.status
    n_women = int((context.cohort.phenotypes["sex"] == "female").sum())
    label_a = f"A: mean of Women (decoder test) ({n_women:,})"
    assert any(t.name == label_a for t in ecg.data) and any(t.name == f"{label_a} − B: mean of everyone else ({context.n_subjects - n_women:,})"
                                                            for t in ecg.data)
    a_minus_b = [t for t in ecg.data if " − " in (t.name or "")]
    a_trace = next(t for t in ecg.data if t.name == label_a and t.hovertemplate.startswith("V1 "))
    b_trace = next(t for t in ecg.data if (t.name or "").startswith("B: mean") and t.hovertemplate.startswith("V1 "))
    v1 = next(t for t in a_minus_b if t.hovertemplate.startswith("V1 "))
    assert np.allclose(np.asarray(v1.customdata)[:, 0], np.asarray(a_trace.customdata)[:, 0] - np.asarray(b_trace.customdata)[:, 0], atol=1e-5)
    assert len(mri.data) == 3 and mri.layout.annotations[2].text.replace("<br>", " ").endswith("− B: mean of everyone else (" + f"{context.n_subjects - n_women:,})")
    assert "2 prototypes" in status.children
    text = str(table)
    assert all(decoder_tables.task_label(context, task) in text for task in models.tasks("joint"))
    assert "QRS duration (ms)" in text and "LV fractional area change (%)" in text and "A − B" in text and "B − A" not in text
    assert f"{label_a} · B: mean of everyone else" in text and "A = A:" not in text  # each side named once
    # Each predictor's outcome is measured once more in what moved, named once with its unit once ("LV mass (g) (predicted) (g)" was shown).
    assert all(f"{decoder_tables.predictor_name(context, task)}, predicted (" in text for task in models.tasks("joint")) and "(predicted)" not in text
    medoid_groups = decoder_choices.Groups(a=women.id, b=REST, kind="medoid")
    latent, label = decoder_choices.endpoint_latent(context, "proto-a", "joint", medoid_groups)
    assert "medoid" in label and any(np.array_equal(latent, row) for row in context.cohort.spaces["joint"])
    empty = decoder_choices.Groups(a=CURRENT, b=REST, selection={"rows": []})
    view = decoder_views.prototype_view(context, empty, "joint")
    figure = validated(view.ecg)
    assert "at least one subject" in figure.layout.annotations[0].text


@pytest.mark.parametrize("amount, arrow", [(2.0, "↑"), (-2.0, "↓")])
def test_perturbing_along_a_predictors_direction_moves_its_prediction_that_way(context, models, amount, arrow):
    task = "lv_mass_g" if "lv_mass_g" in models.tasks("joint") else models.tasks("joint")[0]
    groups = decoder_choices.Groups(selection=SELECTION)
    view = decoder_views.perturb_view(context, "proto-a", "joint", [0, 0, 0], f"predictor:{task}", amount, groups)
    ecg, table = validated(view.ecg), view.table
    predictors = elements(table.children[-1])
    rows = [[text(cell) for cell in row.findall("td")] for row in predictors.iter("tr")]
    row = next(cells for cells in rows if cells and cells[0] == decoder_tables.task_label(context, task))
    assert row[-1].endswith(arrow)  # A − B: perturbed − start
    assert {t.name for t in ecg.data} == {"start: mean of current cohort", "perturbed", "perturbed − start: mean of current cohort", "calibration 1 mV"}
    start, _ = decoder_choices.endpoint_latent(context, "proto-a", "joint", groups)
    principal, extra = decoder_views.perturbation_directions(context, models, "joint", groups, f"predictor:{task}")
    moved = start + extra.step(amount)
    assert np.sign(models.predict(task, "joint", moved)[0] - models.predict(task, "joint", start)[0]) == np.sign(amount)
    assert len(principal) == decoder_settings.PRINCIPAL_SLIDERS


def test_a_principal_component_perturbation_changes_the_decoded_heart(context):
    groups = decoder_choices.Groups(selection=SELECTION)
    subject = f"subject:{context.cohort.subject_ids[0]}"
    view = decoder_views.perturb_view(context, subject, "mri", [2.5, 0, 0], None, 0, groups)
    ecg, mri = validated(view.ecg), validated(view.mri)
    assert "PC 1 +2.5 SD" in ecg.layout.title.text
    assert not np.array_equal(np.asarray(mri.data[0].z), np.asarray(mri.data[1].z)) and np.abs(np.asarray(mri.data[2].z)).max() > 0
    view = decoder_views.perturb_view(context, subject, "mri", [0, 0, 0], None, 0, groups)
    same, same_mri = validated(view.ecg), validated(view.mri)
    difference = [t for t in same.data if (t.name or "").startswith("perturbed − ")]
    assert all(np.allclose(t.customdata[:, 0] if np.ndim(t.customdata) == 2 else t.customdata, 0) for t in difference)
    assert "no move yet" in same.layout.title.text and not np.asarray(same_mri.data[2].z).any()


def test_interpolation_between_prototypes_decodes_every_step_and_reports_progress(context, models):
    events = []
    groups = decoder_choices.Groups(a=CURRENT, b=REST, selection=SELECTION)
    view = decoder_views.interpolate_view(context, "proto-a", "proto-b", "ecg", 4, "V5", groups,
                                                          progress=lambda percent, text: events.append(percent))
    strip, predictions, change, status = validated(view.strip), validated(view.predictions), view.change, view.status
    assert events == sorted(events) and len(events) >= 3
    assert len([t for t in strip.data if t.type == "heatmap"]) == 3 * 4  # end-diastole, end-systole and the change at end-diastole
    assert "4 interpolation steps" in status.children
    assert len(predictions.data) >= len(models.tasks("ecg"))
    assert all(len(trace.y) == 4 for trace in predictions.data)
    assert "A − B: A = mean of current cohort (start)" in str(change) and "QRS duration (ms)" in str(change)


def _decoder_body(layout):
    return next(component for component in layout._traverse() if getattr(component, "id", None) == "decoder-body")


def test_a_cohort_without_a_model_shows_advice_instead_of_failing(phenotype_cohort_dir, tmp_path):
    context = AppContext(AppConfig(cohort_dir=phenotype_cohort_dir, cache_dir=tmp_path), load_cohort(phenotype_cohort_dir))
    assert "no ECG or MRI" in decoder_model.model_problem(context)
    layout = decoder_page.layout(context)
    assert "no ECG or MRI" in str(layout) and "'decoder-ecg'" in str(layout)
    assert _decoder_body(layout).hidden  # the advice alone, no controls that could never answer
    app = create_app(AppConfig(cohort_dir=phenotype_cohort_dir, cache_dir=tmp_path / "app"))
    assert any("decoder-ecg.figure" in output for output in app.callback_map)


def test_the_device_badge_says_where_decodes_run_once_asked():
    assert decoder_page.device_badge("cpu") == "Decoding on CPU (no CUDA GPU found)"


def test_the_device_badge_is_asked_for_when_the_tab_opens_not_on_each_selection(trained_cohort_dir, tmp_path):
    with running_app(trained_cohort_dir, tmp_path) as url:
        user = User(int(url.rsplit(":", 1)[1]), random.Random(0))

        def badge_requests() -> int:
            return sum(len(seconds) for output, seconds in user.callback_seconds.items() if output.startswith("decoder-device.children"))

        try:
            user.load_page()
            user.tab(DECODER_TAB)
            assert badge_requests() == 1 and user.page.get("decoder-device", "children").startswith("Decoding on CPU")
            for start in (0, 10, 20):  # the selection changes while the tab is open: its subjects follow, the badge does not
                user.act("selection", "data", {"rows": list(range(start, start + 30)), "source": "view-0"})
            assert badge_requests() == 1
        finally:
            user.close()
