"""Item 5 of issue 16: hostile cohort folders are refused at load with the file and field named, never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from app.config import AppConfig
from app.context import AppContext
from app.core.metrics import held_out_test_predictions
from app.panels import variables
from data_loaders import CohortFormatError, load_cohort
from data_loaders.cohort_io import update_manifest, write_spaces
from data_loaders.manifest import MANIFEST_NAME, read_manifest
from models.sources import source_from_manifest


def set_attribute(path: Path, name: str, value) -> None:
    with h5py.File(path, "a") as file:
        file.attrs[name] = value


@pytest.mark.parametrize(("file", "attribute", "value"), [
    ("ecg.h5", "scale_to_mv", "millivolts"), ("ecg.h5", "scale_to_mv", 0.0), ("ecg.h5", "scale_to_mv", np.nan),
    ("mri.h5", "intensity_scale", 0), ("mri.h5", "intensity_scale", -255.0),
])
def test_a_non_numeric_zero_or_negative_scale_is_refused(tiny_cohort_dir, file, attribute, value):
    set_attribute(tiny_cohort_dir / file, attribute, value)
    with pytest.raises(CohortFormatError, match=f"attrs.{attribute}: expected a finite number above zero"):
        load_cohort(tiny_cohort_dir)


def test_non_finite_values_are_refused_naming_the_subject(tiny_cohort_dir):
    with h5py.File(tiny_cohort_dir / "mri.h5", "a") as file:
        cine = file["cine"]
        if not np.issubdtype(cine.dtype, np.floating):
            values = cine[()].astype(np.float32)
            del file["cine"]
            cine = file.create_dataset("cine", data=values)
        cine[3, 0, 0, 0] = np.nan
        bad_id = file["sample_id"].asstr()[3]
    cohort = load_cohort(tiny_cohort_dir)
    with pytest.raises(CohortFormatError, match=f"1 subjects with NaN/inf, e.g. \\['{bad_id}'\\]"):
        cohort.mri(list(cohort.subject_ids[:5]))


def test_impossible_cine_dimensions_are_refused_before_reading(tiny_cohort_dir):
    path = tiny_cohort_dir / "mri.h5"
    with h5py.File(path, "a") as file:
        ids = file["sample_id"][()]
        del file["cine"]
        file.create_dataset("cine", shape=(len(ids), 50, 100000, 100000), dtype="uint8", chunks=(1, 1, 64, 64))  # nothing written
    with pytest.raises(CohortFormatError, match="at most 64,000,000 values per subject"):
        load_cohort(tiny_cohort_dir)


def test_a_zero_dimension_space_is_refused(tiny_cohort_dir):
    ids = list(load_cohort(tiny_cohort_dir).subject_ids)
    write_spaces(tiny_cohort_dir, {"empty": np.zeros((len(ids), 0), dtype=np.float32)}, ids)
    with pytest.raises(CohortFormatError, match="d >= 1"):
        load_cohort(tiny_cohort_dir)


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink"])
def test_paths_outside_the_cohort_are_refused_unless_the_manifest_allows_them(tiny_cohort_dir, tmp_path, kind):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    os.replace(tiny_cohort_dir / "phenotypes.parquet", outside / "phenotypes.parquet")
    if kind == "symlink":
        (tiny_cohort_dir / "phenotypes.parquet").symlink_to(outside / "phenotypes.parquet")
        relative = "phenotypes.parquet"
    else:
        relative = "../elsewhere/phenotypes.parquet" if kind == "dotdot" else str(outside / "phenotypes.parquet")
    manifest = read_manifest(tiny_cohort_dir / MANIFEST_NAME)
    update_manifest(tiny_cohort_dir, phenotypes={**manifest["phenotypes"], "path": relative})
    with pytest.raises(CohortFormatError, match="phenotypes.path: expected a path inside the cohort folder"):
        load_cohort(tiny_cohort_dir)
    update_manifest(tiny_cohort_dir, allow_outside_paths=True)
    assert len(load_cohort(tiny_cohort_dir).subject_ids) == 12


@pytest.mark.parametrize("model", [{"path": "../../root"}, {"path": "/etc"},
                                   {"format": "torchscript", "ecg_encoder": "ecg_encoder.pt", "mri_encoder": "mri_encoder.pt",
                                    "ecg_decoder": "/etc/passwd", "mri_decoder": "mri_decoder.pt"}])
def test_model_paths_outside_the_cohort_are_refused_unless_the_manifest_allows_them(tmp_path, model):
    """A model is read and run by the server (TorchScript is code): its files are held to the cohort folder like the data."""
    field = "model.path" if "path" in model else "model.ecg_decoder"
    with pytest.raises(CohortFormatError, match=f"{field}: expected a path inside the cohort folder"):
        source_from_manifest(tmp_path, {"model": model})
    assert source_from_manifest(tmp_path, {"model": model, "allow_outside_paths": True}) is not None
    inside = source_from_manifest(tmp_path, {"model": {"path": "model"}})
    assert inside is not None and inside.path == (tmp_path / "model").resolve()


def _as_whole_number(synthetic_id: str) -> int:
    return 1_000_000 + int(synthetic_id.removeprefix("SYN"))


def _store_ids_as(path: Path, dtype: str) -> None:
    with h5py.File(path, "a") as file:
        stored = file["sample_id"]
        numbers = stored[()] if np.issubdtype(stored.dtype, np.integer) else np.array([_as_whole_number(i) for i in stored.asstr()[()]])
        del file["sample_id"]
        file.create_dataset("sample_id", data=numbers.astype(dtype))


def test_whole_number_ids_in_hdf5_files_are_read_as_the_tables_ids(tiny_cohort_dir):
    """ml4h and UK Biobank ids are integers: an HDF5 file may store them so, as its latent TSVs do."""
    all_ids = list(load_cohort(tiny_cohort_dir).subject_ids)
    write_spaces(tiny_cohort_dir, {"joint": np.random.default_rng(0).normal(size=(len(all_ids), 4)).astype(np.float32)}, all_ids)
    before = load_cohort(tiny_cohort_dir)
    chosen = list(before.subject_ids[[2, 7]])
    path = tiny_cohort_dir / "phenotypes.parquet"
    table = pd.read_parquet(path)
    table["sample_id"] = [str(_as_whole_number(i)) for i in table["sample_id"]]
    table.to_parquet(path, index=False)
    for name in ("ecg.h5", "mri.h5", "spaces.h5"):
        _store_ids_as(tiny_cohort_dir / name, "int64")
    after = load_cohort(tiny_cohort_dir)
    renamed = [str(_as_whole_number(i)) for i in chosen]
    assert list(after.subject_ids) == [str(_as_whole_number(i)) for i in before.subject_ids]
    assert np.array_equal(after.ecg_median(renamed), before.ecg_median(chosen)) and np.array_equal(after.mri(renamed), before.mri(chosen))
    assert np.array_equal(after.spaces["joint"], before.spaces["joint"])
    _store_ids_as(tiny_cohort_dir / "spaces.h5", "float64")
    with pytest.raises(CohortFormatError, match="spaces.h5: sample_id: expected subject ids as strings or whole numbers, found dtype float64"):
        load_cohort(tiny_cohort_dir)


def test_text_in_a_latent_column_is_refused_naming_the_column_the_value_and_the_subject(tiny_cohort_dir):
    ids = list(load_cohort(tiny_cohort_dir).subject_ids)
    table = pd.DataFrame({"sample_id": ids, "latent_0": np.arange(len(ids), dtype=float), "latent_1": ["0.5"] * len(ids)})
    table.loc[4, "latent_1"] = "about 0.3"
    table.to_csv(tiny_cohort_dir / "mine.tsv", sep="\t", index=False)
    update_manifest(tiny_cohort_dir, spaces={**read_manifest(tiny_cohort_dir / MANIFEST_NAME).get("spaces", {}), "mine": {"path": "mine.tsv"}})
    with pytest.raises(CohortFormatError, match=f"mine.tsv: latent_1: expected numbers, found 'about 0.3' for subject {ids[4]} \\(1 such values\\)"):
        load_cohort(tiny_cohort_dir)
    table.loc[4, "latent_1"] = "0.25"  # numbers written as text are numbers
    table.to_csv(tiny_cohort_dir / "mine.tsv", sep="\t", index=False)
    assert load_cohort(tiny_cohort_dir).spaces["mine"][4, 1] == np.float32(0.25)


def test_integer_arrays_need_their_scale_and_cines_must_scale_into_zero_to_one(tiny_cohort_dir):
    """Without the attribute, a uint8 cine read as 0-255 (and an integer ECG in its stored units), silently."""
    with h5py.File(tiny_cohort_dir / "mri.h5", "a") as file:
        assert file["cine"].dtype == np.uint8
        del file.attrs["intensity_scale"]
    with pytest.raises(CohortFormatError, match=r"mri.h5: attrs.intensity_scale: expected the stored value of full intensity \(255 for uint8\) "
                                                r"\(needed: cine is stored as uint8\), found none"):
        load_cohort(tiny_cohort_dir)
    set_attribute(tiny_cohort_dir / "mri.h5", "intensity_scale", 100.0)  # too small: bright pixels land above 1
    cohort = load_cohort(tiny_cohort_dir)
    with pytest.raises(CohortFormatError, match=r"mri.h5: cine: expected intensities in \[0, 1\] once divided by attrs.intensity_scale"):
        cohort.mri(list(cohort.subject_ids[:3]))
    with h5py.File(tiny_cohort_dir / "ecg.h5", "a") as file:
        integer = np.issubdtype(file["strip"].dtype, np.integer)
        del file.attrs["scale_to_mv"]
    if integer:
        with pytest.raises(CohortFormatError, match="ecg.h5: attrs.scale_to_mv: expected the millivolts per stored unit"):
            load_cohort(tiny_cohort_dir)


def _write_predictions(cohort_dir: Path, table: pd.DataFrame) -> None:
    table.to_csv(cohort_dir / "predictions.tsv", sep="\t", index=False)
    update_manifest(cohort_dir, predictions={"path": "predictions.tsv"})


def test_a_predictions_table_of_its_own_needs_only_the_documented_columns_and_is_scored_by_each_tasks_type(tiny_cohort_dir):
    ids = list(load_cohort(tiny_cohort_dir).subject_ids)
    split = ["train"] * 6 + ["test"] * 6
    table = pd.concat([pd.DataFrame({"sample_id": ids, "task": task, "space": "joint", "prediction": np.linspace(0.1, 0.9, 12), "split": split})
                       for task in ("atrial_fibrillation", "lv_mass_g")])
    _write_predictions(tiny_cohort_dir, table)
    read = load_cohort(tiny_cohort_dir).predictions()
    assert dict(zip(read["task"], read["kind"])) == {"atrial_fibrillation": "binary", "lv_mass_g": "continuous"}  # not all "binary"
    cohort = load_cohort(tiny_cohort_dir)
    scored = held_out_test_predictions(read, cohort.phenotypes)
    assert {key: task.kind for key, task in scored.items()} == {("atrial_fibrillation", "joint"): "binary", ("lv_mass_g", "joint"): "continuous"}
    assert all(set(task.rows) <= set(range(6, 12)) for task in scored.values())  # the test rows only


@pytest.mark.parametrize(("change", "message"), [
    (lambda t: t.drop(columns="split"), "predictions.tsv: split: expected columns sample_id, task, space, prediction, split"),
    (lambda t: t.assign(split="train"), "predictions.tsv: split: expected some rows with split = 'test'"),
    (lambda t: t.assign(task="lv_mas_g"), r"predictions.tsv: task: expected names of variables declared in the manifest, found \['lv_mas_g'\]"),
    (lambda t: t.assign(prediction=["high"] + [0.5] * 11), "predictions.tsv: prediction: expected numbers, found 'high' for subject"),
    (lambda t: t.assign(sample_id=["nobody"] + list(t.sample_id[1:])), r"predictions.tsv: sample_id: expected subjects of the phenotype table, found 1 other ids"),
    (lambda t: pd.concat([t, t.iloc[:1]]), "predictions.tsv: sample_id: expected one row per subject, task and space, found 1 repeats"),
    (lambda t: t.assign(kind="probability"), r"predictions.tsv: kind: expected one of binary, continuous, found \['probability'\]"),
])
def test_a_predictions_table_that_cannot_be_scored_is_refused_naming_file_column_and_value(tiny_cohort_dir, change, message):
    ids = list(load_cohort(tiny_cohort_dir).subject_ids)
    table = pd.DataFrame({"sample_id": ids, "task": "lv_mass_g", "space": "joint", "prediction": 0.5, "split": ["train"] * 6 + ["test"] * 6})
    _write_predictions(tiny_cohort_dir, change(table))
    with pytest.raises(CohortFormatError, match=message):
        load_cohort(tiny_cohort_dir).predictions()


def test_the_manifests_descriptions_are_shown_in_the_variables_tab_as_markdown_without_html(tiny_cohort_dir, tmp_path):
    ids = list(load_cohort(tiny_cohort_dir).subject_ids)
    write_spaces(tiny_cohort_dir, {"joint": np.zeros((len(ids), 2), dtype=np.float32)}, ids, descriptions={"joint": "Fused ECG + MRI"})
    update_manifest(tiny_cohort_dir, description="Ward 7's **2024** intake <img src=x onerror=alert(1)>")
    context = AppContext(AppConfig(cohort_dir=tiny_cohort_dir, cache_dir=tmp_path), load_cohort(tiny_cohort_dir))
    about, spaces, table = variables.content(context).children
    assert about.id == "cohort-description" and "**2024**" in about.children and not getattr(about, "dangerously_allow_html", None)
    assert "Joint (ECG + MRI)" in str(spaces) and "Fused ECG + MRI" in str(spaces) and table.id == "variable-table"  # named as the dropdowns do
    update_manifest(tiny_cohort_dir, description=["not", "text"])
    with pytest.raises(CohortFormatError, match=r"manifest.toml: description: expected text \(Markdown\), found list"):
        load_cohort(tiny_cohort_dir)


def test_an_all_missing_continuous_variable_is_left_out(tiny_cohort_dir):
    table = pd.read_parquet(tiny_cohort_dir / "phenotypes.parquet")
    table["lv_mass_g"] = np.nan
    table.to_parquet(tiny_cohort_dir / "phenotypes.parquet", index=False)
    cohort = load_cohort(tiny_cohort_dir)
    assert "lv_mass_g" not in cohort.variables and "age_years" in cohort.variables
