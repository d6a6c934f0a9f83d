"""Item 5 of issue 16: hostile cohort folders are refused at load with the file and field named, never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

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


def test_an_all_missing_continuous_variable_is_left_out(tiny_cohort_dir):
    table = pd.read_parquet(tiny_cohort_dir / "phenotypes.parquet")
    table["lv_mass_g"] = np.nan
    table.to_parquet(tiny_cohort_dir / "phenotypes.parquet", index=False)
    cohort = load_cohort(tiny_cohort_dir)
    assert "lv_mass_g" not in cohort.variables and "age_years" in cohort.variables
