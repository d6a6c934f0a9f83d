"""``python -m data_loaders.import``: real WFDB, DICOM and NIfTI files written from demo subjects come back as they were."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data_loaders import CohortFormatError, load_cohort
from data_loaders.cohort_spec import ECG_LEADS
from data_loaders.importers import cohort_import
from data_loaders.importers.cli import main
from data_loaders.importers.cohort_import import ImportOptions, import_cohort
from data_loaders.importers.ecg import lead_name
from data_loaders.importers.mri import scale_intensities
from tests.import_files import write_dicom_cine, write_dicom_ecg, write_nifti_cine, write_wfdb

ODD_ORDER = ("V6", "aVF", "I", "V1", "III", "aVR", "V3", "II", "aVL", "V5", "V2", "V4")  # neither ours nor ml4h's
UPPER_CASE = tuple(lead.upper() for lead in ODD_ORDER)  # AVR, AVL, AVF as many exports spell them
RESOLUTION_MV = 0.0015  # 1 µV storage steps, and 1 µV in the files written from them
# Resampling there and back, as root-mean-square error: at 1000 Hz the polyphase filter trims the
# demo's noise just below 250 Hz (about 1 µV RMS measured); a 250 Hz record has lost everything
# above 125 Hz, the QRS's sharpest edges and the noise (4–19 µV RMS measured, in strips and medians).
DOWN_FROM_1000_HZ_RMS_MV = 0.003
UP_FROM_250_HZ_RMS_MV = 0.03


def _rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


@pytest.fixture(scope="module")
def demo(_tiny_cohort_template: Path):
    """Twelve demo subjects: ids, strips and medians in mV, cines in [0, 1], and a phenotype CSV keyed by ``eid``."""
    cohort = load_cohort(_tiny_cohort_template)
    ids = list(cohort.subject_ids)
    return cohort, ids, cohort.ecg(ids), cohort.ecg_median(ids), cohort.mri(ids)


@pytest.fixture
def phenotype_csv(demo, tmp_path: Path) -> Path:
    cohort, ids, *_ = demo
    table = cohort.phenotypes[["age_years", "sex", "lv_mass_g", "atrial_fibrillation"]].rename_axis("eid").reset_index()
    path = tmp_path / "phenotypes.csv"
    table.to_csv(path, index=False)
    return path


def _import(tmp_path: Path, phenotypes: Path, **sources) -> tuple:
    report = import_cohort(ImportOptions(out=tmp_path / "imported", phenotypes=phenotypes, id_column="eid", **sources))
    return load_cohort(tmp_path / "imported"), report


def _skip_reason(report, subject_id: str, modality: str) -> str:
    rows = [r for r in report.rows if r["subject_id"] == subject_id and r["modality"] == modality]
    assert len(rows) == 1 and rows[0]["status"] == "skipped", rows
    return rows[0]["note"]


def test_wfdb_records_in_any_lead_order_rate_and_unit_come_back_as_recorded(demo, phenotype_csv, tmp_path):
    _, ids, strips, medians, _ = demo
    folder = tmp_path / "wfdb"
    write_wfdb(folder, ids[0], strips[0], ODD_ORDER)
    write_wfdb(folder / "nested", ids[1], strips[1], ODD_ORDER, channel_names=UPPER_CASE, sampling_hz=1000, units="uV")
    write_wfdb(folder, ids[2], strips[2], ODD_ORDER, sampling_hz=250)
    write_wfdb(folder, ids[3], strips[3], ECG_LEADS, channel_names=[("-aVR" if lead == "aVR" else lead) for lead in ECG_LEADS])
    write_wfdb(folder, ids[4], strips[4], ECG_LEADS[:-1])
    write_wfdb(folder, "not-in-the-table", strips[5], ECG_LEADS)

    cohort, report = _import(tmp_path, phenotype_csv, ecg_wfdb=folder)

    assert cohort.ecg_leads == ECG_LEADS and not cohort.has_mri
    np.testing.assert_allclose(cohort.ecg([ids[0]]), strips[[0]], atol=RESOLUTION_MV)
    np.testing.assert_allclose(cohort.ecg_median([ids[0]]), medians[[0]], atol=RESOLUTION_MV)
    assert _rms(cohort.ecg([ids[1]]), strips[[1]]) < DOWN_FROM_1000_HZ_RMS_MV
    assert _rms(cohort.ecg_median([ids[1]]), medians[[1]]) < DOWN_FROM_1000_HZ_RMS_MV
    assert _rms(cohort.ecg([ids[2]]), strips[[2]]) < UP_FROM_250_HZ_RMS_MV
    assert _rms(cohort.ecg_median([ids[2]]), medians[[2]]) < UP_FROM_250_HZ_RMS_MV
    assert "-aVR" in _skip_reason(report, ids[3], "ecg") and "not flipped silently" in _skip_reason(report, ids[3], "ecg")
    assert "no V6" in _skip_reason(report, ids[4], "ecg")
    assert list(cohort.ecg_present) == [True] * 3 + [False] * 9
    assert cohort.phenotypes["has_ecg"].tolist() == list(cohort.ecg_present)
    assert report.count("ecg", "absent") == 7 and report.ignored == {"ecg": 1}
    with pytest.raises(KeyError, match=ids[5]):
        cohort.ecg([ids[5]])
    notes = dict(zip(report.table()["subject_id"], report.table()["note"]))
    assert "resampled from 1000 Hz" in notes[ids[1]] and "resampled from 250 Hz" in notes[ids[2]]


def test_missing_leads_can_be_kept_as_flat_lines_when_asked(demo, phenotype_csv, tmp_path):
    _, ids, strips, _, _ = demo
    write_wfdb(tmp_path / "wfdb", ids[0], strips[0], ECG_LEADS[:-1])
    cohort, report = _import(tmp_path, phenotype_csv, ecg_wfdb=tmp_path / "wfdb", missing_leads="zero")
    stored = cohort.ecg([ids[0]])[0]
    assert np.all(stored[:, -1] == 0)
    np.testing.assert_allclose(stored[:, :-1], strips[0, :, :-1], atol=RESOLUTION_MV)
    assert "leads V6 missing" in report.table().set_index("subject_id").loc[ids[0], "note"]


def test_dicom_ecgs_at_1000_hz_in_microvolts_are_matched_by_patient_id(demo, phenotype_csv, tmp_path):
    _, ids, strips, medians, _ = demo
    write_dicom_ecg(tmp_path / "ecg" / "a.dcm", ids[0], strips[0], ODD_ORDER)
    write_dicom_ecg(tmp_path / "ecg" / "b.dcm", ids[1], strips[1], ECG_LEADS)
    write_dicom_ecg(tmp_path / "ecg" / "c.dcm", ids[2], strips[2], [("-aVR" if lead == "aVR" else lead) for lead in ECG_LEADS])
    (tmp_path / "ecg" / "notes.txt").write_text("not DICOM")
    cohort, report = _import(tmp_path, phenotype_csv, ecg_dicom=tmp_path / "ecg")
    assert _rms(cohort.ecg(ids[:2]), strips[:2]) < DOWN_FROM_1000_HZ_RMS_MV
    assert _rms(cohort.ecg_median(ids[:2]), medians[:2]) < DOWN_FROM_1000_HZ_RMS_MV
    assert "Lead -aVR" in _skip_reason(report, ids[2], "ecg")


def test_dicom_cine_series_written_out_of_order_come_back_in_time_order(demo, phenotype_csv, tmp_path):
    _, ids, _, _, cines = demo
    originals = np.round(cines[:3] * 255).astype(np.uint16)
    for i in range(3):
        write_dicom_cine(tmp_path / "mri" / ids[i] / "lax", ids[i], originals[i] * 4, seed=i)  # 12-bit-like values: any gain
    write_dicom_cine(tmp_path / "mri" / ids[0] / "sax", ids[0], originals[0][:3], description="CINE_segmented_SAX_b5")
    write_dicom_cine(tmp_path / "mri" / ids[3] / "sax", ids[3], originals[3 % 3][:3], description="CINE_segmented_SAX_b5")
    cohort, report = _import(tmp_path, phenotype_csv, mri_dicom=tmp_path / "mri")

    expected = np.round(np.stack([scale_intensities(c.astype(np.float32)) for c in originals]) * 255) / 255
    np.testing.assert_allclose(cohort.mri(ids[:3]), expected, atol=1.01 / 255)
    assert not cohort.has_ecg and list(cohort.mri_present) == [True] * 3 + [False] * 9
    assert "SeriesDescription" in _skip_reason(report, ids[3], "mri") and "CINE_segmented_SAX_b5" in _skip_reason(report, ids[3], "mri")


def test_nifti_cines_honour_pixel_spacing_and_frame_count(demo, phenotype_csv, tmp_path):
    _, ids, _, _, cines = demo
    originals = np.round(cines[:3] * 255)
    write_nifti_cine(tmp_path / "nifti" / f"{ids[0]}.nii.gz", originals[0])
    fine = originals[1].repeat(2, axis=1).repeat(2, axis=2)  # the same cine at 1 mm: 192 × 192 pixels
    write_nifti_cine(tmp_path / "nifti" / ids[1] / "cine_4d.nii.gz", fine, spacing_mm=1.0)
    write_nifti_cine(tmp_path / "nifti" / f"{ids[2]}.nii", originals[2][::2])  # 25 frames
    cohort, report = _import(tmp_path, phenotype_csv, mri_nifti=tmp_path / "nifti")

    imported = cohort.mri(ids[:3])
    assert imported.shape == (3, 50, 96, 96)
    np.testing.assert_allclose(imported[0], np.round(scale_intensities(originals[0]) * 255) / 255, atol=1.01 / 255)
    assert np.abs(imported[1] - scale_intensities(originals[1])).mean() < 0.03  # 2 px blocks, smoothed and resampled back
    np.testing.assert_allclose(imported[2][::2], np.round(scale_intensities(originals[2][::2]) * 255) / 255, atol=1.01 / 255)
    notes = report.table().set_index("subject_id")["note"]
    assert "25 frames resampled to 50" in notes[ids[2]] and "1×1 mm" in notes[ids[1]]


def test_both_modalities_with_some_subjects_missing_one_load_as_a_cohort(demo, phenotype_csv, tmp_path):
    _, ids, strips, _, cines = demo
    for i in range(0, 8):
        write_wfdb(tmp_path / "wfdb", ids[i], strips[i], ECG_LEADS)
    for i in range(4, 12):
        write_nifti_cine(tmp_path / "nifti" / f"{ids[i]}.nii.gz", np.round(cines[i] * 255))
    cohort, report = _import(tmp_path, phenotype_csv, ecg_wfdb=tmp_path / "wfdb", mri_nifti=tmp_path / "nifti")
    assert cohort.ecg_present.sum() == 8 and cohort.mri_present.sum() == 8 and (cohort.ecg_present & cohort.mri_present).sum() == 4
    assert set(cohort.phenotypes["split"]) == {"train", "test"}
    assert cohort.variables["split"].role == "administrative"  # bookkeeping: not a row of Table 1 or a cluster's description
    assert cohort.variables["has_mri"].type == "binary" and cohort.variables["sex"].categories == ("female", "male")
    assert (tmp_path / "imported" / "import_report.csv").is_file()


def test_a_text_column_with_too_many_values_to_be_a_category_is_named_in_the_summary(demo, phenotype_csv, tmp_path, monkeypatch):
    table = pd.read_csv(phenotype_csv)
    table["gp_practice"] = [f"practice {i}" for i in range(len(table))]
    table.to_csv(phenotype_csv, index=False)
    monkeypatch.setattr(cohort_import, "MAX_CATEGORIES", 5)
    cohort, report = _import(tmp_path, phenotype_csv)
    assert "gp_practice" not in cohort.variables and "age_years" in cohort.variables
    assert "  column 'gp_practice' is not offered as a variable: 12 distinct texts (at most 5 make a category)" in report.summary_lines()


def test_a_failing_import_leaves_nothing_behind(demo, phenotype_csv, tmp_path, monkeypatch):
    _, ids, strips, _, _ = demo
    write_wfdb(tmp_path / "wfdb", ids[0], strips[0], ECG_LEADS)

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cohort_import, "conform_ecg", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _import(tmp_path, phenotype_csv, ecg_wfdb=tmp_path / "wfdb")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["phenotypes.csv", "wfdb"]


def test_command_line_prints_every_skipped_subject_and_one_line_errors(demo, phenotype_csv, tmp_path, capsys):
    _, ids, strips, _, _ = demo
    write_wfdb(tmp_path / "wfdb", ids[0], strips[0], ECG_LEADS[:-1])
    write_wfdb(tmp_path / "wfdb", ids[1], strips[1], ECG_LEADS)
    args = ["--out", str(tmp_path / "out"), "--phenotypes", str(phenotype_csv), "--id-column", "eid", "--ecg-wfdb", str(tmp_path / "wfdb")]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "ecg: 1 imported, 1 skipped, 10 without a recording" in printed
    assert f"{ids[0]} ecg: {tmp_path / 'wfdb' / ids[0]}.hea: leads: expected the 12 standard leads" in printed

    assert main(args) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "--overwrite" in error and error.count("\n") == 1
    assert main([*args[:4], "--id-column", "subject", "--overwrite"]) == 2
    error = capsys.readouterr().err
    assert "phenotypes.csv: subject: expected an id column named 'subject'" in error and "Traceback" not in error


@pytest.mark.parametrize(("channel", "lead"), [("I", "I"), ("AVR", "aVR"), ("avl", "aVL"), ("Lead aVF", "aVF"), ("Lead I (Einthoven)", "I"),
                                                ("v6", "V6"), ("-aVR", "-aVR"), ("Lead -aVR", "-aVR"), ("RESP", None), ("MLII", None)])
def test_lead_names_are_matched_whatever_their_spelling(channel, lead):
    assert lead_name(channel) == lead


def test_a_cine_without_contrast_is_refused_naming_the_file():
    with pytest.raises(CohortFormatError, match=r"cine\.nii: pixels: expected a cine with contrast"):
        scale_intensities(np.ones((4, 8, 8), np.float32), "cine.nii")


def test_unknown_modality_folders_are_refused_before_anything_is_written(phenotype_csv, tmp_path):
    with pytest.raises(CohortFormatError, match="--mri-nifti: expected an existing folder"):
        import_cohort(ImportOptions(out=tmp_path / "x", phenotypes=phenotype_csv, id_column="eid", mri_nifti=tmp_path / "nowhere"))
    assert not (tmp_path / "x").exists()
    assert pd.read_csv(phenotype_csv)["eid"].nunique() == 12
