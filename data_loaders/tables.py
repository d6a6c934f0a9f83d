"""Readers for the tabular parts of a cohort: phenotypes, latent tables, predictions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from data_loaders.cohort_spec import SPLIT, SUBJECT_ID
from data_loaders.errors import CohortFormatError
from data_loaders.manifest import VariableSpec

TABLE_SUFFIXES = (".parquet", ".csv", ".tsv")


def read_table(path: Path, id_column: str) -> pd.DataFrame:
    """Read a Parquet/CSV/TSV table with one row per id, indexed by its id column as strings (ml4h ids are integers)."""
    table = _read_with_ids(path, id_column)
    duplicated = table[id_column][table[id_column].duplicated()]
    if len(duplicated):
        raise CohortFormatError(path, id_column, "unique ids", f"duplicates such as {list(duplicated.unique()[:5])}")
    return table.set_index(id_column)


def _read_with_ids(path: Path, id_column: str) -> pd.DataFrame:
    """A Parquet/CSV/TSV table whose id column is present, complete, and read as strings."""
    if not path.is_file():
        raise CohortFormatError(path, "file", "an existing Parquet, CSV or TSV file", "no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            table = pd.read_parquet(path)
        elif suffix in (".csv", ".tsv"):
            table = pd.read_csv(path, sep="\t" if suffix == ".tsv" else ",", dtype={id_column: str})
        else:
            raise CohortFormatError(path, "file", f"one of {', '.join(TABLE_SUFFIXES)}", suffix or "no suffix")
    except (OSError, ValueError, pd.errors.ParserError) as error:
        if isinstance(error, CohortFormatError):
            raise
        raise CohortFormatError(path, "file", "a readable table", str(error)) from error
    if id_column not in table.columns:
        raise CohortFormatError(path, id_column, f"an id column named {id_column!r}", f"columns {list(table.columns)[:8]}")
    ids = table[id_column]
    if ids.isna().any():
        raise CohortFormatError(path, id_column, "an id on every row", f"{int(ids.isna().sum())} empty ids")
    table[id_column] = ids.astype(str)
    return table


def read_phenotypes(path: Path, id_column: str, variables: dict[str, VariableSpec]) -> pd.DataFrame:
    """Read the phenotype table and coerce each declared variable to its declared type."""
    table = read_table(path, id_column)
    for name, spec in variables.items():
        if name not in table.columns:
            raise CohortFormatError(path, name, f"a column for the declared variable {name!r}", "no such column")
        table[name] = _coerce(table[name], spec, path)
    return table


def _coerce(column: pd.Series, spec: VariableSpec, path: Path) -> pd.Series:
    if spec.type == "continuous":
        if pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column):
            bad = pd.to_numeric(column, errors="coerce").isna() & column.notna()
            example = column[bad].iloc[0] if bad.any() else column.dtype
            raise CohortFormatError(path, spec.name, "numbers (a continuous variable)", repr(example))
        return column.astype("float64")
    if spec.type == "binary":
        values = set(column.dropna().unique().tolist())
        if not values <= {0, 1}:
            raise CohortFormatError(path, spec.name, "0/1 or true/false (a binary variable)", repr(sorted(values, key=str)[:5]))
        return column.astype("boolean") if column.isna().any() else column.astype(bool)
    as_text = column.astype("string")
    if spec.categories:
        unknown = set(as_text.dropna().unique()) - set(spec.categories)
        if unknown:
            raise CohortFormatError(path, spec.name, f"one of the declared categories {list(spec.categories)}", repr(sorted(unknown)[:5]))
        return pd.Categorical(as_text, categories=list(spec.categories))
    return as_text.astype("category")


def read_latent_table(path: Path, id_column: str = SUBJECT_ID) -> tuple[pd.Index, np.ndarray]:
    """Read an ml4h-style latent TSV/CSV: a sample_id column and latent_0 … latent_<d-1>."""
    table = read_table(path, id_column)
    latent_columns = [column for column in table.columns if column.startswith("latent_")]
    if not latent_columns:
        raise CohortFormatError(path, "latent_0", "columns latent_0 … latent_<d-1>", "no latent_ columns")
    expected = [f"latent_{i}" for i in range(len(latent_columns))]
    if set(latent_columns) != set(expected):
        raise CohortFormatError(path, "latent columns", f"latent_0 … latent_{len(expected) - 1} without gaps", str(latent_columns[:6]))
    for column in expected:
        if not pd.api.types.is_numeric_dtype(table[column]):  # numbers written as text are numbers; anything else is refused
            numbers = pd.to_numeric(table[column], errors="coerce")
            bad = table.index[numbers.isna() & table[column].notna()]
            if len(bad):
                raise CohortFormatError(path, column, "numbers", f"{table[column][bad[0]]!r} for subject {bad[0]} ({len(bad)} such values)")
            table[column] = numbers
    values = table[expected].to_numpy(dtype=np.float32)
    return table.index, values


PREDICTION_COLUMNS = (SUBJECT_ID, "task", "space", "prediction", SPLIT)  # required; kind, threshold and fit are optional
PREDICTION_KINDS = ("binary", "continuous")  # how predictions are scored: as the task variable's type, when it is one of these


def read_predictions(path: Path, phenotypes: pd.DataFrame, variables: dict[str, VariableSpec]) -> pd.DataFrame:
    """A long table of predictor outputs, one row per (subject, task, space), checked against the cohort.

    Only rows whose ``split`` is ``test`` are ever scored (the rest trained the predictor); ``kind``
    (binary: probabilities, continuous: values) defaults to the task variable's type. Checked with
    integer codes, not strings: a million subjects' table has tens of millions of rows.
    """
    table = _read_with_ids(path, SUBJECT_ID)
    missing = [column for column in PREDICTION_COLUMNS if column not in table.columns]
    if missing:
        raise CohortFormatError(path, missing[0], f"columns {', '.join(PREDICTION_COLUMNS)} (split: 'test' marks the held-out rows that are scored)",
                                f"columns {list(table.columns)[:8]}")
    for name in ("task", "space", SPLIT):
        table[name] = table[name].astype(str).astype("category")
    unknown = sorted(set(table["task"].cat.categories) - set(variables))
    if unknown:
        raise CohortFormatError(path, "task", "names of variables declared in the manifest", f"{unknown[:5]}")
    numbers = pd.to_numeric(table["prediction"], errors="coerce")
    bad = numbers.isna() & table["prediction"].notna()
    if bad.any():
        raise CohortFormatError(path, "prediction", "numbers", f"{table['prediction'][bad].iloc[0]!r} for subject {table[SUBJECT_ID][bad].iloc[0]}")
    table["prediction"] = numbers.astype(np.float64)
    subject_codes, subjects = pd.factorize(table[SUBJECT_ID])  # each id looked up once, not once per task and space
    strangers = subjects[phenotypes.index.get_indexer(subjects) < 0]
    if len(strangers):
        raise CohortFormatError(path, SUBJECT_ID, "subjects of the phenotype table", f"{len(strangers)} other ids, e.g. {list(strangers[:3])}")
    task_codes, space_codes = (table[name].cat.codes.to_numpy(np.int64) for name in ("task", "space"))
    key = (subject_codes.astype(np.int64) * len(table["task"].cat.categories) + task_codes) * len(table["space"].cat.categories) + space_codes
    repeated = pd.Series(key).duplicated().to_numpy()
    if repeated.any():
        first = table[repeated].iloc[0]
        raise CohortFormatError(path, SUBJECT_ID, "one row per subject, task and space",
                                f"{int(repeated.sum())} repeats, e.g. {first[SUBJECT_ID]} for {first['task']} in {first['space']}")
    if "test" not in set(table[SPLIT].cat.categories):
        raise CohortFormatError(path, SPLIT, "some rows with split = 'test' (the held-out predictions that are scored)",
                                f"values {sorted(table[SPLIT].cat.categories)[:5]}")
    if "kind" in table.columns:
        table["kind"] = table["kind"].astype(str).astype("category")
        odd = sorted(set(table["kind"].cat.categories) - set(PREDICTION_KINDS))
        if odd:
            raise CohortFormatError(path, "kind", f"one of {', '.join(PREDICTION_KINDS)}", f"{odd[:5]}")
    else:
        kinds = {task: variables[task].type for task in table["task"].cat.categories}
        unscorable = sorted(task for task, kind in kinds.items() if kind not in PREDICTION_KINDS)
        if unscorable:
            raise CohortFormatError(path, "kind", f"a kind column for tasks that are not binary or continuous variables, such as {unscorable[0]!r}", "none")
        table["kind"] = table["task"].map(kinds)
    return table
