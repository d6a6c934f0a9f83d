"""Saved cohorts in SQLite: they survive restarts and every worker process sees the same ones.

Each call opens its own short-lived connection (WAL mode, busy timeout), so the store holds no
state between requests and several gunicorn workers can share one file. Cohorts are scoped to a
data cohort (``dataset``) so switching the app to another cohort folder shows only its cohorts.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from app.core.cohort_algebra import CohortDefinition

SCHEMA = """
CREATE TABLE IF NOT EXISTS cohorts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset TEXT NOT NULL,
    name TEXT NOT NULL,
    definition TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (dataset, name)
)
"""


MAX_DEFINITION_DEPTH = 6  # A ∪ (B ∩ (C − …)): resolving a saved cohort stays a handful of look-ups


class CohortStoreError(ValueError):
    """A user-facing problem with a cohort operation (duplicate name, unknown cohort, in use)."""


@dataclass(frozen=True)
class SavedCohort:
    id: int
    name: str
    definition: CohortDefinition
    created_at: str
    updated_at: str


class CohortStore:
    """Create, list, rename and delete named cohort definitions for one dataset."""

    def __init__(self, path: Path, dataset: str):
        self.path = Path(path)
        self.dataset = dataset
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(self.path, timeout=10)
        try:
            with connection:  # commits on success, rolls back on error
                yield connection
        finally:
            connection.close()

    def save(self, name: str, definition: CohortDefinition) -> SavedCohort:
        name = _clean_name(name)
        for operand in definition.operands:
            self.get(operand)  # refuses algebra over cohorts that do not exist
        if self.depth(definition) > MAX_DEFINITION_DEPTH:
            raise CohortStoreError(f"cohorts combine at most {MAX_DEFINITION_DEPTH} levels deep: save an intermediate result as filters instead")
        now = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            with self._connect() as connection:
                cursor = connection.execute(
                    "INSERT INTO cohorts (dataset, name, definition, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                    (self.dataset, name, json.dumps(definition.to_dict()), now, now),
                )
        except sqlite3.IntegrityError as error:
            raise CohortStoreError(f"a cohort named {name!r} already exists") from error
        return self.get(int(cursor.lastrowid))

    def depth(self, definition: CohortDefinition) -> int:
        """Levels of algebra under a definition (filters or ids: 0); the longest chain of operands."""
        if definition.operation is None:
            return 0
        return 1 + max(self.depth(self.get(operand).definition) for operand in definition.operands)

    def get(self, cohort_id: int) -> SavedCohort:
        _check_id(cohort_id)
        with self._connect() as connection:
            row = connection.execute(
                "SELECT id, name, definition, created_at, updated_at FROM cohorts WHERE dataset = ? AND id = ?",
                (self.dataset, cohort_id),
            ).fetchone()
        if row is None:
            raise CohortStoreError(f"no saved cohort with id {cohort_id}")
        return _to_saved(row)

    def list(self) -> list[SavedCohort]:
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT id, name, definition, created_at, updated_at FROM cohorts WHERE dataset = ? ORDER BY name COLLATE NOCASE",
                (self.dataset,),
            ).fetchall()
        return [_to_saved(row) for row in rows]

    def rename(self, cohort_id: int, new_name: str) -> SavedCohort:
        _check_id(cohort_id)
        new_name = _clean_name(new_name)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            with self._connect() as connection:
                updated = connection.execute(
                    "UPDATE cohorts SET name = ?, updated_at = ? WHERE dataset = ? AND id = ?", (new_name, now, self.dataset, cohort_id)
                ).rowcount
        except sqlite3.IntegrityError as error:
            raise CohortStoreError(f"a cohort named {new_name!r} already exists") from error
        if not updated:
            raise CohortStoreError(f"no saved cohort with id {cohort_id}")
        return self.get(cohort_id)

    def delete(self, cohort_id: int) -> None:
        """Delete a cohort unless another saved cohort is defined in terms of it."""
        _check_id(cohort_id)
        dependents = [saved.name for saved in self.list() if cohort_id in saved.definition.operands]
        if dependents:
            raise CohortStoreError(f"cannot delete: {', '.join(dependents)} {'is' if len(dependents) == 1 else 'are'} defined from it")
        with self._connect() as connection:
            deleted = connection.execute("DELETE FROM cohorts WHERE dataset = ? AND id = ?", (self.dataset, cohort_id)).rowcount
        if not deleted:
            raise CohortStoreError(f"no saved cohort with id {cohort_id}")


def _check_id(cohort_id: object) -> None:
    """Store ids are positive SQLite integers: no bool, float or string stands in for one, none past 2**63 - 1."""
    if isinstance(cohort_id, bool) or not isinstance(cohort_id, int) or not 1 <= cohort_id < 2**63:
        raise CohortStoreError(f"no saved cohort with id {cohort_id!r}")


def _clean_name(name: str) -> str:
    cleaned = " ".join(str(name).split())
    if not cleaned:
        raise CohortStoreError("a cohort needs a name")
    if len(cleaned) > 80:
        raise CohortStoreError("cohort names are at most 80 characters")
    return cleaned


def _to_saved(row: tuple) -> SavedCohort:
    return SavedCohort(row[0], row[1], CohortDefinition.from_dict(json.loads(row[2])), row[3], row[4])
