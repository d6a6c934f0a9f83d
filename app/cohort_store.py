"""Saved cohorts in SQLite: they survive restarts and every worker process sees the same ones.

Every call is its own transaction (WAL mode, busy timeout) on its thread's connection, so the store
holds no data between requests and several gunicorn workers can share one file. A thread keeps its
connection (reopened in a forked child): opening one per call, with its schema read and WAL index
mapped anew, was nine tenths of reading a cohort (340 µs), several times per request. Cohorts are
scoped to a data cohort (``dataset``) so switching the app to another cohort folder shows only its cohorts.

Every cohort has an owner and is private (its owner only) or shared (everyone can see and use it;
only the owner renames, shares or deletes it). The user is asked of ``current_user`` per call, so
one store serves every request. Names are unique per owner, not across users: saving "X" says
nothing about anyone else's cohorts; where a user sees two cohorts of one name, the other user's
is labelled "X (alice)". Databases from before owners existed are migrated in place, in one
transaction: their cohorts become shared cohorts with no owner, readable by all, changeable by none
but local use. Exports are written to an audit log (who, when, what).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from app.core.cohort_algebra import CohortDefinition

COHORTS_TABLE = """
CREATE TABLE IF NOT EXISTS {table} (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dataset TEXT NOT NULL,
    name TEXT NOT NULL,
    definition TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    shared INTEGER NOT NULL DEFAULT 1,
    UNIQUE (dataset, owner, name)
)
"""
AUDIT_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    username TEXT NOT NULL,
    dataset TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
)
"""
# Columns added after the first release: (name, declaration); old rows get the default.
MIGRATIONS = (("owner", "TEXT NOT NULL DEFAULT ''"), ("shared", "INTEGER NOT NULL DEFAULT 1"))
COPIED_COLUMNS = "id, dataset, name, definition, created_at, updated_at, owner, shared"
LOCAL_USER = "local"  # the one user of the embedded, unauthenticated localhost server


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
    owner: str = ""
    shared: bool = True
    label: str = ""  # what the user sees: the name, or "name (owner)" beside another cohort of that name


@dataclass(frozen=True)
class AuditEntry:
    at: str
    username: str
    action: str
    detail: str


COLUMNS = "id, name, definition, created_at, updated_at, owner, shared"


class CohortStore:
    """Create, list, rename, share and delete named cohort definitions for one dataset, per user."""

    def __init__(self, path: Path, dataset: str, current_user: Callable[[], str | None] = lambda: LOCAL_USER):
        self.path = Path(path)
        self.dataset = dataset
        self.current_user = current_user
        self._connections = threading.local()  # closed when their thread ends
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=10, isolation_level=None)  # transactions below are explicit
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            _migrate(connection)
        finally:
            connection.close()

    def _visible(self) -> tuple[str, tuple]:
        """The SQL condition (and its parameters) for the cohorts the current user may see.

        No user (None) is trusted server-side work outside any request or job (start-up, command lines, tests);
        a background job acts as the user who asked for it (``app.auth.current_username``).
        """
        user = self.current_user()
        if user is None:
            return "dataset = ?", (self.dataset,)
        return "dataset = ? AND (shared = 1 OR owner = ?)", (self.dataset, user)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """One transaction on this thread's connection: committed on success, rolled back on error."""
        kept = getattr(self._connections, "kept", None)
        if kept is None or kept.pid != os.getpid():
            if kept is not None:  # a forked child neither uses nor closes its parent's connection (SQLite's rule): it keeps it aside
                _INHERITED.append(kept)
            kept = self._connections.kept = _ThreadConnection(self.path)
        with kept.connection:
            yield kept.connection

    def save(self, name: str, definition: CohortDefinition, shared: bool = False) -> SavedCohort:
        name = _clean_name(name)
        for operand in definition.operands:
            self.get(operand)  # refuses algebra over cohorts that do not exist
        if self.depth(definition) > MAX_DEFINITION_DEPTH:
            raise CohortStoreError(f"cohorts combine at most {MAX_DEFINITION_DEPTH} levels deep: save an intermediate result as filters instead")
        now = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            with self._connect() as connection:
                cursor = connection.execute(
                    "INSERT INTO cohorts (dataset, name, definition, created_at, updated_at, owner, shared) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (self.dataset, name, json.dumps(definition.to_dict()), now, now, self.current_user() or LOCAL_USER, int(bool(shared))),
                )
        except sqlite3.IntegrityError as error:
            raise CohortStoreError(f"a cohort named “{name}” already exists") from error
        return self.get(int(cursor.lastrowid))

    def save_unique(self, name: str, definition: CohortDefinition, attempts: int = 50) -> SavedCohort:
        """Save under ``name``, or ``name (2)``, ``name (3)``… when taken: for names the app makes up (a suggested group, a cluster).

        The same group saved again by its owner is refused, naming the copy (a second click on a cluster's Save made "… (2)").
        """
        names = [name, *(f"{name} ({attempt})" for attempt in range(2, attempts + 1))]
        same = next((saved for saved in self.list() if saved.name in names and saved.definition == definition and self.is_owner(saved)), None)
        if same is not None:
            raise CohortStoreError(f"already saved as “{same.name}”")
        for candidate in names:
            try:
                return self.save(candidate, definition)
            except CohortStoreError as error:
                if "already exists" not in str(error):
                    raise
        raise CohortStoreError(f"too many cohorts named “{name}”")

    def depth(self, definition: CohortDefinition) -> int:
        """Levels of algebra under a definition (filters or ids: 0); the longest chain of operands."""
        if definition.operation is None:
            return 0
        return 1 + max(self.depth(self.get(operand).definition) for operand in definition.operands)

    def get(self, cohort_id: int) -> SavedCohort:
        """A cohort the current user may see (their own or a shared one)."""
        _check_id(cohort_id)
        condition, parameters = self._visible()
        with self._connect() as connection:
            row = connection.execute(f"SELECT {COLUMNS} FROM cohorts WHERE {condition} AND id = ?", (*parameters, cohort_id)).fetchone()
            if row is None:
                raise CohortStoreError(f"no saved cohort with id {cohort_id}")
            clash = connection.execute(f"SELECT 1 FROM cohorts WHERE {condition} AND name = ? AND owner != ? LIMIT 1",
                                       (*parameters, row[1], row[5])).fetchone()
        return self._labelled(_to_saved(row), clash is not None)

    def list(self) -> list[SavedCohort]:
        """The current user's cohorts and the shared ones, by name; labels tell apart cohorts of one name."""
        condition, parameters = self._visible()
        with self._connect() as connection:
            rows = connection.execute(f"SELECT {COLUMNS} FROM cohorts WHERE {condition} ORDER BY name COLLATE NOCASE, id", parameters).fetchall()
        owners: dict[str, set[str]] = {}
        for row in rows:
            owners.setdefault(row[1], set()).add(row[5])
        return [self._labelled(_to_saved(row), len(owners[row[1]]) > 1) for row in rows]

    def _labelled(self, saved: SavedCohort, name_clashes: bool) -> SavedCohort:
        """The cohort with its label: its name, or "name (owner)" for another user's cohort whose name the user also sees on another's."""
        if not name_clashes or saved.owner == (self.current_user() or LOCAL_USER):  # (a cohort from before owners is labelled too)
            return replace(saved, label=saved.name)
        return replace(saved, label=f"{saved.name} ({saved.owner or LOCAL_USER})")

    def is_owner(self, saved: SavedCohort) -> bool:
        """Whether the current user may rename, delete or share this cohort (cohorts from before owners belong to the local user)."""
        user = self.current_user() or LOCAL_USER
        return saved.owner == user or (saved.owner == "" and user == LOCAL_USER)

    def require_owner(self, cohort_id: int) -> SavedCohort:
        """The cohort, if the current user may rename, share or delete it; else CohortStoreError saying who may."""
        saved = self.get(cohort_id)
        if not self.is_owner(saved):
            raise CohortStoreError(f"only {saved.owner or 'a local user'} can change the cohort “{saved.name}”")
        return saved

    def set_shared(self, cohort_id: int, shared: bool) -> SavedCohort:
        """Share a cohort with every user, or make it private again (its owner only)."""
        self.require_owner(cohort_id)
        with self._connect() as connection:
            connection.execute("UPDATE cohorts SET shared = ? WHERE dataset = ? AND id = ?", (int(bool(shared)), self.dataset, int(cohort_id)))
        return self.get(cohort_id)

    def rename(self, cohort_id: int, new_name: str) -> SavedCohort:
        self.require_owner(cohort_id)
        new_name = _clean_name(new_name)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            with self._connect() as connection:
                updated = connection.execute(
                    "UPDATE cohorts SET name = ?, updated_at = ? WHERE dataset = ? AND id = ?", (new_name, now, self.dataset, cohort_id)
                ).rowcount
        except sqlite3.IntegrityError as error:
            raise CohortStoreError(f"a cohort named “{new_name}” already exists") from error
        if not updated:
            raise CohortStoreError(f"no saved cohort with id {cohort_id}")
        return self.get(cohort_id)

    def delete(self, cohort_id: int) -> None:
        """Delete a cohort unless another saved cohort is defined in terms of it."""
        self.require_owner(cohort_id)
        with self._connect() as connection:  # every user's cohorts: a private one may be defined from a shared one
            rows = connection.execute("SELECT id, definition FROM cohorts WHERE dataset = ?", (self.dataset,)).fetchall()
        dependents = {dependent for dependent, definition in rows if cohort_id in CohortDefinition.from_dict(json.loads(definition)).operands}
        if dependents:
            seen = [saved.label for saved in self.list() if saved.id in dependents]  # others' private cohorts are counted, not named
            hidden = len(dependents) - len(seen)
            named = [*seen, *([f"{hidden} private cohort{'s' if hidden > 1 else ''} of other users"] if hidden else [])]
            raise CohortStoreError(f"cannot delete: {', '.join(named)} {'is' if len(dependents) == 1 else 'are'} defined from it")
        with self._connect() as connection:
            deleted = connection.execute("DELETE FROM cohorts WHERE dataset = ? AND id = ?", (self.dataset, cohort_id)).rowcount
        if not deleted:
            raise CohortStoreError(f"no saved cohort with id {cohort_id}")


    def record(self, action: str, detail: str) -> None:
        """Append to the audit log (e.g. ``export``, what and how many subjects) under the current user."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        with self._connect() as connection:
            connection.execute("INSERT INTO audit_log (at, username, dataset, action, detail) VALUES (?, ?, ?, ?, ?)",
                               (now, self.current_user() or LOCAL_USER, self.dataset, action, detail))

    def audit_log(self, limit: int = 1000) -> list[AuditEntry]:
        """The newest audit entries of this dataset, newest first."""
        with self._connect() as connection:
            rows = connection.execute("SELECT at, username, action, detail FROM audit_log WHERE dataset = ? ORDER BY id DESC LIMIT ?",
                                      (self.dataset, int(limit))).fetchall()
        return [AuditEntry(*row) for row in rows]


_INHERITED: list[_ThreadConnection] = []


class _ThreadConnection:
    """One thread's connection to the store, closed when the thread (or the store) is gone and its thread-local value with it."""

    def __init__(self, path: Path):
        self.pid = os.getpid()
        # Used by its own thread only; closing it may fall to whichever thread drops the last reference.
        self.connection = sqlite3.connect(path, timeout=10, check_same_thread=False)

    def __del__(self):
        self.connection.close()


def _check_id(cohort_id: object) -> None:
    """Store ids are positive SQLite integers: no bool, float or string stands in for one, none past 2**63 - 1."""
    if isinstance(cohort_id, bool) or not isinstance(cohort_id, int) or not 1 <= cohort_id < 2**63:
        raise CohortStoreError(f"no saved cohort with id {cohort_id!r}")


BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _clean_name(name: str) -> str:
    """The name with its white space collapsed; refused when empty, too long, or holding characters that would change how
    the text around it reads (controls, and text-direction overrides that turned "…RTL \u202eevil" into "…RTL live")."""
    cleaned = " ".join(str(name).split())
    if not cleaned:
        raise CohortStoreError("a cohort needs a name")
    if len(cleaned) > 80:
        raise CohortStoreError("cohort names are at most 80 characters")
    odd = next((c for c in cleaned if c in BIDI_CONTROLS or unicodedata.category(c) == "Cc"), None)
    if odd is not None:
        raise CohortStoreError(f"a cohort name cannot hold control or text-direction characters (found U+{ord(odd):04X})")
    return cleaned


def _migrate(connection: sqlite3.Connection) -> None:
    """Bring any earlier schema to this one in one transaction (a kill -9 leaves the old one, whole).

    Earlier releases lacked ``owner`` and ``shared`` (added with their defaults) and made names unique
    across all users (the table is rebuilt with names unique per owner, ids and the id sequence kept).
    BEGIN IMMEDIATE: of several workers starting at once, one migrates and the others then find nothing to do.
    """
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.execute(COHORTS_TABLE.format(table="cohorts"))
        connection.execute(AUDIT_SCHEMA)
        present = {row[1] for row in connection.execute("PRAGMA table_info(cohorts)")}
        for column, declaration in MIGRATIONS:
            if column not in present:
                connection.execute(f"ALTER TABLE cohorts ADD COLUMN {column} {declaration}")
        if _unique_across_users(connection):
            sequence = connection.execute("SELECT seq FROM sqlite_sequence WHERE name = 'cohorts'").fetchone()
            connection.execute(COHORTS_TABLE.format(table="cohorts_per_owner"))
            connection.execute(f"INSERT INTO cohorts_per_owner ({COPIED_COLUMNS}) SELECT {COPIED_COLUMNS} FROM cohorts")
            connection.execute("DROP TABLE cohorts")
            connection.execute("ALTER TABLE cohorts_per_owner RENAME TO cohorts")
            if sequence is not None:  # ids of deleted cohorts are never given again (old links must not find a new cohort)
                connection.execute("DELETE FROM sqlite_sequence WHERE name = 'cohorts'")
                connection.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('cohorts', ?)", (sequence[0],))
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def _unique_across_users(connection: sqlite3.Connection) -> bool:
    """Whether the cohorts table still has the first release's UNIQUE (dataset, name)."""
    for index in connection.execute("PRAGMA index_list(cohorts)").fetchall():
        if index[2]:  # unique
            columns = [row[2] for row in connection.execute(f"PRAGMA index_info({index[1]!r})")]
            if columns == ["dataset", "name"]:
                return True
    return False


def _to_saved(row: tuple) -> SavedCohort:
    return SavedCohort(row[0], row[1], CohortDefinition.from_dict(json.loads(row[2])), row[3], row[4], row[5], bool(row[6]))
