"""Decoder panel callbacks, called as plain functions on a real app context with the trained small cohort."""

from __future__ import annotations

import numpy as np
import pytest

from app.config import AppConfig
from app.context import AppContext
from app.core.cohort_algebra import CohortDefinition
from app.panels import decoder
from app.server import create_app
from app.state import CURRENT, REST
from data_loaders import load_cohort


@pytest.fixture(scope="module")
def context(trained_cohort_dir, tmp_path_factory) -> AppContext:
    return AppContext(AppConfig(cohort_dir=trained_cohort_dir, cache_dir=tmp_path_factory.mktemp("decoder-cache")), load_cohort(trained_cohort_dir))


@pytest.fixture(scope="module")
def models(context) -> decoder.DecoderModels:
    return decoder.decoder_models(context)


SELECTION = {"rows": list(range(10, 50)), "source": "view-0"}


def test_the_app_lays_out_and_registers_the_decoder(trained_cohort_dir, tmp_path):
    app = create_app(AppConfig(cohort_dir=trained_cohort_dir, cache_dir=tmp_path))
    layout = str(app.layout)
    for component in ("decoder-subjects", "decoder-ecg", "decoder-mri", "decoder-proto-ecg", "decoder-pc-0", "decoder-interp-strip", "decoder-device"):
        assert f"'{component}'" in layout
    outputs = " ".join(app.callback_map)
    for output in ("decoder-ecg.figure", "decoder-proto-mri.figure", "decoder-perturb-ecg.figure", "decoder-interp-strip.figure"):
        assert output in outputs


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
    options, chosen = decoder.subject_choices(context, CURRENT, [], SELECTION)
    selected_ids = set(context.cohort.subject_ids[SELECTION["rows"]])
    assert {o["value"] for o in options} == selected_ids
    rows = decoder.subject_rows(context, chosen)
    centre = context.cohort.spaces["joint"][SELECTION["rows"]].mean(axis=0)
    distances = np.linalg.norm(context.cohort.spaces["joint"][SELECTION["rows"]] - centre, axis=1)
    assert len(chosen) == 2 and np.allclose(np.sort(np.linalg.norm(context.cohort.spaces["joint"][rows] - centre, axis=1)), np.sort(distances)[:2])
    everyone, _ = decoder.subject_choices(context, decoder.EVERYONE, [], SELECTION)
    assert len(everyone) == context.n_subjects
    with pytest.raises(KeyError):
        decoder.subject_rows(context, ["NOT-A-SUBJECT"])


def test_chosen_subjects_are_drawn_original_beside_decoded_with_agreement(context):
    subject_ids = list(context.cohort.subject_ids[[3, 7]])
    ecg, mri, agreement, table, status = decoder.decode_subjects_view(context, subject_ids, "joint", subject_ids[1])
    assert [t.name for t in ecg.data[:1]] == ["original"] and {t.name for t in ecg.data} == {"original", "decoded"}
    truth = context.cohort.ecg_median([subject_ids[1]])[0]
    assert np.allclose(ecg.data[0].y, truth[:, 0])  # lead I of the subject shown
    assert subject_ids[1] in ecg.layout.title.text and "joint latent" in ecg.layout.title.text
    assert [t.type for t in mri.data] == ["heatmap", "heatmap"] and len(mri.frames) == 50
    assert np.array_equal(np.asarray(mri.data[0].z), np.round(context.cohort.mri([subject_ids[1]])[0, 0] * 255).astype(np.uint8))
    assert agreement.data[0].type == "bar" and len(agreement.data[0].x) == 12
    assert all(subject in str(table) for subject in subject_ids) and "on CPU" in status.children


def test_cross_modal_decodes_the_mri_from_the_ecg_latent_alone(context, models):
    subject_ids = list(context.cohort.subject_ids[[5]])
    _, mri, agreement, _, _ = decoder.decode_subjects_view(context, subject_ids, "ecg", None)
    expected = models.codec.decode(context.cohort.spaces["ecg"][[5]], "mri")[0]
    assert np.array_equal(np.asarray(mri.data[1].z), np.round(expected[0] * 255).astype(np.uint8))
    assert "cross-modal" in mri.layout.annotations[1].text and "cross-modal" in agreement.layout.annotations[1].text
    ecg, *_ = decoder.decode_subjects_view(context, subject_ids, "mri", None)
    expected_ecg = models.codec.decode(context.cohort.spaces["mri"][[5]], "ecg")[0]
    assert np.allclose(ecg.data[12].y, expected_ecg[:, 0], atol=1e-5) and "cross-modal" in ecg.layout.title.text


def test_no_subjects_gives_guidance_not_empty_axes(context):
    ecg, mri, *_ = decoder.decode_subjects_view(context, [], "joint", None)
    assert "Choose subjects" in ecg.layout.annotations[0].text


def test_prototypes_of_a_saved_cohort_and_the_rest_are_decoded_with_predictions(context, models):
    women = context.store.save("Women (decoder test)", CohortDefinition(filters=({"kind": "choice", "variable": "sex", "values": ["female"]},)))
    groups = decoder.Groups(a=women.id, b=REST, kind="mean")
    ecg, mri, table, status = decoder.prototype_view(context, groups, "joint")
    n_women = int((context.cohort.phenotypes["sex"] == "female").sum())
    assert any(f"Women (decoder test) ({n_women:,})" in (t.name or "") for t in ecg.data)
    assert len(mri.data) == 2 and "2 prototypes" in status.children
    assert all(decoder.task_label(context, task) in str(table) for task in models.tasks("joint"))
    medoid_groups = decoder.Groups(a=women.id, b=REST, kind="medoid")
    latent, label = decoder.endpoint_latent(context, "proto-a", "joint", medoid_groups)
    assert "medoid" in label and any(np.array_equal(latent, row) for row in context.cohort.spaces["joint"])
    empty = decoder.Groups(a=CURRENT, b=REST, selection={"rows": []})
    figure, *_ = decoder.prototype_view(context, empty, "joint")
    assert "at least one subject" in figure.layout.annotations[0].text


@pytest.mark.parametrize("amount, arrow", [(2.0, "↑"), (-2.0, "↓")])
def test_perturbing_along_a_predictors_direction_moves_its_prediction_that_way(context, models, amount, arrow):
    task = "lv_mass_g" if "lv_mass_g" in models.tasks("joint") else models.tasks("joint")[0]
    groups = decoder.Groups(selection=SELECTION)
    ecg, mri, table, _ = decoder.perturb_view(context, "proto-a", "joint", [0, 0, 0], f"predictor:{task}", amount, groups)
    row = next(r for r in table.children[1].children if r.children[0].children == decoder.task_label(context, task))
    assert row.children[-1].children.endswith(arrow)
    assert {t.name for t in ecg.data} == {"start: mean of current cohort", "perturbed"}
    start, _ = decoder.endpoint_latent(context, "proto-a", "joint", groups)
    principal, extra = decoder.perturbation_directions(context, models, "joint", groups, f"predictor:{task}")
    moved = start + extra.step(amount)
    assert np.sign(models.predict(task, "joint", moved)[0] - models.predict(task, "joint", start)[0]) == np.sign(amount)
    assert len(principal) == decoder.PRINCIPAL_SLIDERS


def test_a_principal_component_perturbation_changes_the_decoded_heart(context):
    groups = decoder.Groups(selection=SELECTION)
    subject = f"subject:{context.cohort.subject_ids[0]}"
    ecg, mri, _, _ = decoder.perturb_view(context, subject, "mri", [2.5, 0, 0], None, 0, groups)
    assert "PC 1 +2.5 SD" in ecg.layout.title.text
    assert not np.array_equal(np.asarray(mri.data[0].z), np.asarray(mri.data[1].z))
    same, *_ = decoder.perturb_view(context, subject, "mri", [0, 0, 0], None, 0, groups)
    assert np.allclose(same.data[0].y, same.data[12].y) and "no move yet" in same.layout.title.text


def test_interpolation_between_prototypes_decodes_every_step_and_reports_progress(context, models):
    events = []
    groups = decoder.Groups(a=CURRENT, b=REST, selection=SELECTION)
    strip, predictions, status = decoder.interpolate_view(context, "proto-a", "proto-b", "ecg", 4, "V5", groups,
                                                          progress=lambda percent, text: events.append(percent))
    assert events == sorted(events) and len(events) >= 3
    assert len([t for t in strip.data if t.type == "heatmap"]) == 3 * 4  # end-diastole, end-systole and the change at end-diastole
    assert "4 interpolation steps" in status.children
    assert len(predictions.data) >= len(models.tasks("ecg"))
    assert all(len(trace.y) == 4 for trace in predictions.data)


def test_a_cohort_without_a_model_shows_advice_instead_of_failing(phenotype_cohort_dir, tmp_path):
    context = AppContext(AppConfig(cohort_dir=phenotype_cohort_dir, cache_dir=tmp_path), load_cohort(phenotype_cohort_dir))
    assert "no ECG or MRI" in decoder.model_problem(context)
    layout = decoder.layout(context)
    assert "no ECG or MRI" in str(layout) and "'decoder-ecg'" in str(layout)
    app = create_app(AppConfig(cohort_dir=phenotype_cohort_dir, cache_dir=tmp_path / "app"))
    assert any("decoder-ecg.figure" in output for output in app.callback_map)
