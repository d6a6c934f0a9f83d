"""Accounts for password sign-in, kept in the same SQLite file as saved cohorts (one file to back up).

Passwords are stored only as salted scrypt hashes (werkzeug.security); the admin CLI is
``python -m app.users add|remove|list|passwd``.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

USERS_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
)
"""
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")
MIN_PASSWORD_LENGTH = 10
# Checked against when a name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not a real password")


class UserStoreError(ValueError):
    """A refused account operation (bad name, short password, unknown or duplicate user)."""


def check_username(username: str) -> str:
    if not isinstance(username, str) or not USERNAME_PATTERN.match(username):
        raise UserStoreError("a user name is 1-64 letters, digits or . _ @ -")
    return username


class UserStore:
    """Add, remove, list and check password users."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as connection:
            connection.execute(USERS_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(self.path, timeout=10)
        try:
            with connection:
                yield connection
        finally:
            connection.close()

    def add(self, username: str, password: str) -> None:
        check_username(username)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            with self._connect() as connection:
                connection.execute("INSERT INTO users (username, password_hash, created_at) VALUES (?, ?, ?)",
                                   (username, _hash(password), now))
        except sqlite3.IntegrityError as error:
            raise UserStoreError(f"user {username!r} already exists") from error

    def set_password(self, username: str, password: str) -> None:
        with self._connect() as connection:
            updated = connection.execute("UPDATE users SET password_hash = ? WHERE username = ?", (_hash(password), username)).rowcount
        if not updated:
            raise UserStoreError(f"no user {username!r}")

    def remove(self, username: str) -> None:
        with self._connect() as connection:
            deleted = connection.execute("DELETE FROM users WHERE username = ?", (username,)).rowcount
        if not deleted:
            raise UserStoreError(f"no user {username!r}")

    def list(self) -> list[str]:
        with self._connect() as connection:
            return [row[0] for row in connection.execute("SELECT username FROM users ORDER BY username")]

    def exists(self, username: str) -> bool:
        with self._connect() as connection:
            return connection.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone() is not None

    def verify(self, username: str, password: str) -> bool:
        """Whether the password is right; as slow for an unknown name as for a wrong password."""
        with self._connect() as connection:
            row = connection.execute("SELECT password_hash FROM users WHERE username = ?", (str(username),)).fetchone()
        matches = check_password_hash(row[0] if row else _DUMMY_HASH, str(password))
        return row is not None and matches


def _hash(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise UserStoreError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    return generate_password_hash(password)
