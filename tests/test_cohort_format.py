"""The cohort format: loading, lazy arrays, writers, ml4h-style readers and generation guarantees."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from data_loaders import CohortFormatError, load_cohort
from data_loaders import cohort_spec as spec
from data_loaders.arrays import read_rows
from data_loaders.cohort_io import write_predictions, write_spaces
from data_loaders.manifest import MANIFEST_NAME, read_manifest
from data_loaders.synthetic import generate as generate_module
from data_loaders.synthetic import schema as s
from data_loaders.synthetic.generate import generate_cohort

ML4H_MEDIAN_ORDER = ("I", "II", "III", "V1", "V2", "V3", "V4", "V5", "V6", "aVF", "aVL", "aVR")


def test_loaded_cohort_has_the_documented_shapes_units_and_types(small_cohort_dir):
    cohort = load_cohort(small_cohort_dir)
    ids = list(cohort.subject_ids[[5, 0, 17]])
    assert cohort.phenotypes.index.name == "sample_id"
    assert cohort.ecg_leads == spec.ECG_LEADS
    strips = cohort.ecg(ids)
    medians = cohort.ecg_median(ids)
    cines = cohort.mri(ids)
    assert strips.shape == (3, 5000, 12) and strips.dtype == np.float32
    assert medians.shape == (3, 600, 12) and medians.dtype == np.float32
    assert cines.shape == (3, 50, 96, 96) and cines.dtype == np.float32
    assert cines.min() >= 0.0 and cines.max() <= 1.0
    assert 0.3 < np.abs(medians).max() < 10.0  # millivolts, not microvolts
    assert cohort.variables[spec.LV_MASS].display_label == "LV mass (g)"
    assert cohort.phenotypes[spec.AF].dtype == bool
    assert cohort.phenotypes[s.SOKOLOW_LYON].between(0.3, 8).all()


def test_arrays_come_back_in_the_order_asked(small_cohort_dir):
    cohort = load_cohort(small_cohort_dir)
    a, b = cohort.subject_ids[3], cohort.subject_ids[40]
    together = cohort.ecg_median([b, a])
    assert np.array_equal(together[0], cohort.ecg_median([b])[0])
    assert np.array_equal(together[1], cohort.ecg_median([a])[0])
    assert np.array_equal(cohort.mri([b, a, b])[2], cohort.mri([b])[0])
    assert cohort.ecg([]).shape == (0, 5000, 12)


@pytest.mark.parametrize("rows", [[5, 6, 7, 2, 9, 9, 0], [0, 1, 2, 3], [11], [3, 1], [4, 8, 10, 11], []])
def test_rows_are_read_in_runs_in_the_order_asked(tmp_path, rows):
    stored = np.arange(12 * 3 * 2, dtype=np.int16).reshape(12, 3, 2)
    with h5py.File(tmp_path / "a.h5", "w") as file:
        file.create_dataset("x", data=stored, chunks=(1, 3, 2), compression="gzip")
    with h5py.File(tmp_path / "a.h5", "r") as file:
        read = read_rows(file["x"], np.array(rows, dtype=np.int64))
    assert read.dtype == stored.dtype and np.array_equal(read, stored[rows])


def test_unknown_subject_ids_are_named(small_cohort_dir):
    with pytest.raises(KeyError, match="NOPE"):
        load_cohort(small_cohort_dir).ecg(["NOPE"])


@pytest.mark.slow
def test_generation_is_deterministic_and_independent_of_workers_and_chunks(tmp_path):
    one = load_cohort(generate_cohort(tmp_path / "one", 9, seed=4, workers=1, chunk_size=9))
    two = load_cohort(generate_cohort(tmp_path / "two", 9, seed=4, workers=2, chunk_size=2))
    pd.testing.assert_frame_equal(one.phenotypes, two.phenotypes)
    ids = list(one.subject_ids)
    assert np.array_equal(one.ecg(ids), two.ecg(ids))
    assert np.array_equal(one.mri(ids), two.mri(ids))


def test_on_demand_arrays_match_stored_arrays(tmp_path, _tiny_cohort_template):
    stored = load_cohort(_tiny_cohort_template)
    on_demand = load_cohort(generate_cohort(tmp_path / "lazy", 12, seed=3, workers=1, arrays_mode="on-demand"))
    assert not any(p.suffix == ".h5" for p in on_demand.root.iterdir())
    pd.testing.assert_frame_equal(stored.phenotypes, on_demand.phenotypes)
    ids = list(stored.subject_ids[[2, 7]])
    assert np.abs(stored.ecg(ids) - on_demand.ecg(ids)).max() <= 0.0006  # int16 µV rounding
    assert np.abs(stored.ecg_median(ids) - on_demand.ecg_median(ids)).max() <= 0.0006
    assert np.array_equal(stored.mri(ids), on_demand.mri(ids))


def test_failed_generation_leaves_nothing_behind(tmp_path, monkeypatch):
    real = generate_module.generate_subject_arrays
    calls = []

    def fail_on_second_chunk(rows, with_mri=True):
        calls.append(len(rows))
        if len(calls) == 2:
            raise RuntimeError("disk full")
        return real(rows, with_mri)

    monkeypatch.setattr(generate_module, "generate_subject_arrays", fail_on_second_chunk)
    with pytest.raises(RuntimeError, match="disk full"):
        generate_cohort(tmp_path / "cohort", 6, workers=1, chunk_size=3)
    assert list(tmp_path.iterdir()) == []


def test_existing_cohort_is_not_overwritten_without_asking(tiny_cohort_dir):
    before = (tiny_cohort_dir / MANIFEST_NAME).read_text()
    with pytest.raises(FileExistsError, match="overwrite"):
        generate_cohort(tiny_cohort_dir, 5, workers=1)
    assert (tiny_cohort_dir / MANIFEST_NAME).read_text() == before


def test_spaces_and_predictions_round_trip(tiny_cohort_dir):
    cohort = load_cohort(tiny_cohort_dir)
    ids = list(cohort.subject_ids)
    rng = np.random.default_rng(0)
    joint = rng.normal(size=(len(ids), 8)).astype(np.float32)
    write_spaces(tiny_cohort_dir, {"joint": joint}, ids, {"joint": "fused"})
    write_spaces(tiny_cohort_dir, {"ecg": joint[:, :4] * 2}, ids)
    predictions = pd.DataFrame({"sample_id": ids, "task": "atrial_fibrillation", "space": "joint", "prediction": rng.random(len(ids))})
    write_predictions(tiny_cohort_dir, predictions)
    reloaded = load_cohort(tiny_cohort_dir)
    assert set(reloaded.spaces) == {"joint", "ecg"}
    assert np.array_equal(reloaded.spaces["joint"], joint)
    assert reloaded.spaces["ecg"].shape == (len(ids), 4)
    assert not reloaded.spaces["joint"].flags.writeable
    assert reloaded.manifest["spaces"]["joint"]["description"] == "fused"
    stored = pd.read_parquet(tiny_cohort_dir / reloaded.manifest["predictions"]["path"])
    assert np.allclose(stored["prediction"], predictions["prediction"])
    assert not list(tiny_cohort_dir.glob("*.partial"))


def test_stored_spaces_are_memory_mapped_so_worker_processes_share_them(tiny_cohort_dir):
    cohort = load_cohort(tiny_cohort_dir)
    ids = list(cohort.subject_ids)
    joint = np.random.default_rng(1).normal(size=(len(ids), 6)).astype(np.float32)
    write_spaces(tiny_cohort_dir, {"joint": joint}, ids)
    mapped = load_cohort(tiny_cohort_dir).spaces["joint"]
    assert np.array_equal(mapped, joint) and not mapped.flags.writeable and not mapped.flags.owndata
    spaces_file = str((tiny_cohort_dir / "spaces.h5").resolve())
    assert spaces_file in Path("/proc/self/maps").read_text()  # a file mapping, not a private copy


def test_a_memory_mapped_space_with_nan_is_refused(tiny_cohort_dir):
    cohort = load_cohort(tiny_cohort_dir)
    ids = list(cohort.subject_ids)
    write_spaces(tiny_cohort_dir, {"joint": np.zeros((len(ids), 3), dtype=np.float32)}, ids)
    with h5py.File(tiny_cohort_dir / "spaces.h5", "r+") as file:
        file["joint"][len(ids) - 1, 2] = np.inf
    with pytest.raises(CohortFormatError, match=f"subject {ids[-1]}, dimension 2"):
        load_cohort(tiny_cohort_dir)


def test_spaces_are_aligned_to_the_phenotype_order(tiny_cohort_dir):
    cohort = load_cohort(tiny_cohort_dir)
    ids = list(cohort.subject_ids)
    latent = np.arange(len(ids), dtype=np.float32)[:, None] * np.ones((1, 3), dtype=np.float32)
    pd.DataFrame(latent[::-1], columns=["latent_0", "latent_1", "latent_2"]).assign(sample_id=ids[::-1]).to_csv(
        tiny_cohort_dir / "reversed.tsv", sep="\t", index=False
    )
    _add_manifest_text(tiny_cohort_dir, '[spaces.ml4h]\npath = "reversed.tsv"\n')
    assert np.array_equal(load_cohort(tiny_cohort_dir).spaces["ml4h"], latent)


def _add_manifest_text(cohort_dir: Path, text: str) -> None:
    manifest = cohort_dir / MANIFEST_NAME
    manifest.write_text(manifest.read_text() + "\n" + text)


def write_ml4h_folder(cohort_dir: Path, folder: Path) -> None:
    """Export a cohort's arrays as ml4h does: one <sample_id>.hd5 per subject, one dataset per lead."""
    cohort = load_cohort(cohort_dir)
    folder.mkdir()
    ids = list(cohort.subject_ids)
    strips, medians, cines = cohort.ecg(ids), cohort.ecg_median(ids), cohort.mri(ids)
    order = [cohort.ecg_leads.index(lead) for lead in ML4H_MEDIAN_ORDER]
    for row, sample_id in enumerate(ids):
        with h5py.File(folder / f"{sample_id}.hd5", "w") as file:
            for lead, column in zip(ML4H_MEDIAN_ORDER, order):
                file[f"ukb_ecg_rest/strip_{lead}/instance_0"] = np.round(strips[row, :, column] * 1000).astype(np.int16)
                file[f"ukb_ecg_rest/median_{lead}/instance_0"] = np.round(medians[row, :, column] * 1000).astype(np.int16)
            file["ukb_cardiac_mri/cine_segmented_lax_4ch/2/instance_0"] = np.round(np.moveaxis(cines[row], 0, -1) * 255).astype(np.uint8)


ML4H_SECTIONS = """
[ecg]
format = "ml4h_hd5"
path = "tensors"
leads = ["I", "II", "III", "V1", "V2", "V3", "V4", "V5", "V6", "aVF", "aVL", "aVR"]
scale_to_mv = 0.001

[mri]
format = "ml4h_hd5"
path = "tensors"
dataset = "ukb_cardiac_mri/cine_segmented_lax_4ch/2/instance_0"
intensity_scale = 255
"""


def _use_ml4h_folder(cohort_dir: Path) -> None:
    write_ml4h_folder(cohort_dir, cohort_dir / "tensors")
    text = (cohort_dir / MANIFEST_NAME).read_text()
    start, end = text.index("[ecg]"), text.index("[variables")
    (cohort_dir / MANIFEST_NAME).write_text(text[:start] + ML4H_SECTIONS + "\n" + text[end:])


def test_ml4h_hd5_folder_reads_the_same_signals_in_its_own_lead_order(tiny_cohort_dir):
    ours = load_cohort(tiny_cohort_dir)
    ids = list(ours.subject_ids[[1, 4]])
    expected_median, expected_cine = ours.ecg_median(ids), ours.mri(ids)
    _use_ml4h_folder(tiny_cohort_dir)
    theirs = load_cohort(tiny_cohort_dir)
    assert theirs.ecg_leads == ML4H_MEDIAN_ORDER
    reorder = [ML4H_MEDIAN_ORDER.index(lead) for lead in spec.ECG_LEADS]
    assert np.allclose(theirs.ecg_median(ids)[:, :, reorder], expected_median, atol=0.0006)
    assert theirs.ecg(ids).shape == (2, 5000, 12)
    assert np.allclose(theirs.mri(ids), expected_cine, atol=1 / 255)


# ---- validation: every error names the file, the field and what was expected ----


def _rewrite_phenotypes(cohort_dir: Path, change) -> None:
    path = cohort_dir / "phenotypes.parquet"
    change(pd.read_parquet(path)).to_parquet(path, index=False)


def _set_manifest(cohort_dir: Path, old: str, new: str) -> None:
    path = cohort_dir / MANIFEST_NAME
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def _replace_h5_dataset(path: Path, name: str, data: np.ndarray) -> None:
    with h5py.File(path, "a") as file:
        del file[name]
        file[name] = data


def _break_manifest_toml(d):
    (d / MANIFEST_NAME).write_text("name = 'unterminated\n")


def _add_unknown_variable_type(d):
    _set_manifest(d, 'type = "continuous"', 'type = "numberish"')


def _unknown_variable_role(d):
    _set_manifest(d, 'role = "administrative"', 'role = "bookkeeping"')


def _remove_phenotype_file(d):
    (d / "phenotypes.parquet").unlink()


def _duplicate_an_id(d):
    _rewrite_phenotypes(d, lambda t: t.assign(sample_id=[t.sample_id[0], *t.sample_id[:-1]]))


def _drop_declared_column(d):
    _rewrite_phenotypes(d, lambda t: t.drop(columns=[spec.LV_MASS]))


def _text_in_continuous_column(d):
    _rewrite_phenotypes(d, lambda t: t.assign(**{spec.AGE: ["old"] * len(t)}))


def _non_binary_outcome(d):
    _rewrite_phenotypes(d, lambda t: t.assign(**{spec.AF: [2] * len(t)}))


def _drop_a_subject_from_the_table(d):
    _rewrite_phenotypes(d, lambda t: t.iloc[1:])


def _short_ecg_strips(d):
    _replace_h5_dataset(d / "ecg.h5", "strip", np.zeros((12, 4000, 12), np.int16))


def _text_cines(d):
    _replace_h5_dataset(d / "mri.h5", "cine", np.array([["x"] * 2] * 12, dtype=object).astype("S1").reshape(12, 1, 1, 2))


def _ecg_file_missing(d):
    (d / "ecg.h5").unlink()


def _nan_in_latent(d):
    ids = list(load_cohort(d).subject_ids)
    latent = np.zeros((len(ids), 2), np.float32)
    latent[3, 1] = np.nan
    with h5py.File(d / "spaces.h5", "w") as file:
        file["sample_id"] = np.array(ids, dtype=object).astype("S")
        file["joint"] = latent
    _add_manifest_text(d, '[spaces.joint]\npath = "spaces.h5"\n')


def _latent_table_missing_subjects(d):
    ids = list(load_cohort(d).subject_ids)
    pd.DataFrame({"sample_id": ids[:-2], "latent_0": 0.0, "latent_1": 1.0}).to_csv(d / "latents.tsv", sep="\t", index=False)
    _add_manifest_text(d, '[spaces.ecg]\npath = "latents.tsv"\n')


def _latent_columns_with_a_gap(d):
    ids = list(load_cohort(d).subject_ids)
    pd.DataFrame({"sample_id": ids, "latent_0": 0.0, "latent_2": 1.0}).to_csv(d / "latents.tsv", sep="\t", index=False)
    _add_manifest_text(d, '[spaces.ecg]\npath = "latents.tsv"\n')


def _unknown_array_format(d):
    _set_manifest(d, 'format = "hdf5"', 'format = "dicom"')


def _ml4h_strip_of_wrong_length(d):
    _use_ml4h_folder(d)
    first = sorted((d / "tensors").glob("*.hd5"))[0]
    _replace_h5_dataset(first, "ukb_ecg_rest/strip_V1/instance_0", np.zeros(2500, np.int16))


def _ml4h_file_missing(d):
    _use_ml4h_folder(d)
    sorted((d / "tensors").glob("*.hd5"))[0].unlink()


BROKEN_COHORTS = {
    "manifest is not TOML": (_break_manifest_toml, MANIFEST_NAME, "valid TOML"),
    "unknown variable type": (_add_unknown_variable_type, MANIFEST_NAME, "one of continuous, binary, categorical"),
    "unknown variable role": (_unknown_variable_role, MANIFEST_NAME, "one of clinical, administrative"),
    "phenotype file missing": (_remove_phenotype_file, "phenotypes.parquet", "an existing"),
    "duplicate ids": (_duplicate_an_id, "phenotypes.parquet", "unique ids"),
    "declared column missing": (_drop_declared_column, "phenotypes.parquet", "lv_mass_g"),
    "text in a continuous column": (_text_in_continuous_column, "phenotypes.parquet", "numbers"),
    "binary column with a 2": (_non_binary_outcome, "phenotypes.parquet", "0/1"),
    "ids differ between table and arrays": (_drop_a_subject_from_the_table, "ecg.h5", "the same subject ids"),
    "ECG strips of the wrong length": (_short_ecg_strips, "ecg.h5", "shape (12, 5000, 12)"),
    "cines of the wrong dtype": (_text_cines, "mri.h5", "a numeric dtype"),
    "ECG file missing": (_ecg_file_missing, "ecg.h5", "an existing HDF5 file"),
    "NaN in a latent space": (_nan_in_latent, "spaces.h5", "finite values"),
    "latent table missing subjects": (_latent_table_missing_subjects, "latents.tsv", "a latent vector for every subject"),
    "latent columns with a gap": (_latent_columns_with_a_gap, "latents.tsv", "without gaps"),
    "unknown array format": (_unknown_array_format, MANIFEST_NAME, "ecg.format"),
    "ml4h file missing": (_ml4h_file_missing, "hd5", "one .hd5 file per subject"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_COHORTS))
def test_broken_cohorts_are_refused_with_file_field_and_expectation(tiny_cohort_dir, case):
    breaks, file_name, expectation = BROKEN_COHORTS[case]
    breaks(tiny_cohort_dir)
    with pytest.raises(CohortFormatError) as caught:
        load_cohort(tiny_cohort_dir)
    message = str(caught.value)
    assert file_name in message and expectation in message and "expected" in message


def test_ml4h_array_errors_name_the_subject_file_and_dataset(tiny_cohort_dir):
    _ml4h_strip_of_wrong_length(tiny_cohort_dir)
    cohort = load_cohort(tiny_cohort_dir)
    first_id = sorted(p.stem for p in (tiny_cohort_dir / "tensors").glob("*.hd5"))[0]
    with pytest.raises(CohortFormatError, match=rf"{first_id}\.hd5: ukb_ecg_rest/strip_V1/instance_0: expected 5000 samples, found 2500"):
        cohort.ecg([first_id])


def test_missing_manifest_is_named(tmp_path):
    with pytest.raises(CohortFormatError, match=r"manifest\.toml: manifest: expected a manifest\.toml file"):
        load_cohort(tmp_path)


def test_manifest_written_by_the_generator_documents_every_column(small_cohort_dir):
    manifest = read_manifest(small_cohort_dir / MANIFEST_NAME)
    phenotype_columns = set(pd.read_parquet(small_cohort_dir / "phenotypes.parquet").columns) - {spec.SUBJECT_ID, s.SEED}
    assert set(manifest["variables"]) == phenotype_columns
    assert manifest["variables"][spec.LV_MASS] == {
        "type": "continuous", "label": "LV mass", "unit": "g", "group": "MRI", "description": "Left-ventricular myocardial mass."
    }
    assert manifest["variables"][spec.SPLIT]["role"] == "administrative"


def test_a_partial_array_file_leaves_the_other_subjects_without_that_modality(tiny_cohort_dir):
    ids = list(load_cohort(tiny_cohort_dir).subject_ids)
    with h5py.File(tiny_cohort_dir / "mri.h5", "r") as file:
        cines, scale = file["cine"][2:], file.attrs["intensity_scale"]
    with h5py.File(tiny_cohort_dir / "mri.h5", "w") as file:
        file["sample_id"] = np.array(ids[2:], dtype=object).astype("S")
        file["cine"] = cines
        file.attrs["intensity_scale"] = scale
    with pytest.raises(CohortFormatError, match="the same subject ids"):
        load_cohort(tiny_cohort_dir)
    _set_manifest(tiny_cohort_dir, 'path = "mri.h5"', 'path = "mri.h5"\npartial = true')
    cohort = load_cohort(tiny_cohort_dir)
    assert cohort.mri_present.tolist() == [False, False] + [True] * 10 and cohort.ecg_present.all()
    np.testing.assert_allclose(cohort.mri([ids[2]]), cines[:1] / scale, rtol=1e-6)
    with pytest.raises(KeyError, match=ids[0]):
        cohort.mri([ids[0]])
    _set_manifest(tiny_cohort_dir, "partial = true", 'partial = "yes"')
    with pytest.raises(CohortFormatError, match="mri.partial: expected true or false"):
        load_cohort(tiny_cohort_dir)


def test_leftovers_of_a_killed_writer_are_removed_and_a_half_swapped_folder_is_put_back(tmp_path: Path) -> None:
    from data_loaders.cohort_io import clean_leftovers

    (tmp_path / ".spaces.h5.abc123.partial").write_bytes(b"half a file")
    (tmp_path / ".model.xyz.partial").mkdir()
    (tmp_path / ".model.xyz.partial" / "weights.pt").write_bytes(b"half a model")
    retired = tmp_path / ".model.old-4242"  # killed between atomic_folder's two renames: no model/ at all
    retired.mkdir()
    (retired / "weights.pt").write_bytes(b"the previous model")
    (tmp_path / "predictions").mkdir()
    (tmp_path / ".predictions.old-99").mkdir()  # killed after the second rename: the new one stands
    (tmp_path / "manifest.toml").write_text("kept")
    assert len(clean_leftovers(tmp_path)) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.toml", "model", "predictions"]
    assert (tmp_path / "model" / "weights.pt").read_bytes() == b"the previous model"
    assert clean_leftovers(tmp_path) == []
