"""Failed password sign-ins, counted per user name and per client address, in the users' SQLite file.

After too many failures within the window a name (or an address) is refused until its oldest
counted failure leaves the window: guessing a password costs hours, not seconds. The counts live
in the same file as users and saved cohorts, so every worker process sees them and a restart (or a
kill -9: each failure is one transaction) forgets nothing. A refused attempt is not checked and not
counted, so a refusal cannot be extended forever by hammering it.
"""

from __future__ import annotations

import math
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

FAILURES_SCHEMA = """
CREATE TABLE IF NOT EXISTS sign_in_failures (
    key TEXT NOT NULL,
    at REAL NOT NULL
)
"""
FAILURES_INDEX = "CREATE INDEX IF NOT EXISTS sign_in_failures_by_key ON sign_in_failures (key, at)"
WINDOW_S = 15 * 60
MAX_FAILURES_PER_NAME = 5
# Higher per address: a hospital's NAT, or the reverse proxy in front of the server, puts many users behind one address.
MAX_FAILURES_PER_ADDRESS = 20
MAX_KEY_LENGTH = 200  # a hostile name of megabytes is counted by its first characters


class SignInThrottle:
    """Count failed sign-ins and say how long a user name or a client address must wait."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time, window_s: float = WINDOW_S,
                 per_name: int = MAX_FAILURES_PER_NAME, per_address: int = MAX_FAILURES_PER_ADDRESS):
        self.path = Path(path)
        self.clock, self.window_s, self.per_name, self.per_address = clock, window_s, per_name, per_address
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as connection:
            connection.execute(FAILURES_SCHEMA)
            connection.execute(FAILURES_INDEX)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(self.path, timeout=10)
        try:
            with connection:  # one transaction: commits on success, rolls back on error
                yield connection
        finally:
            connection.close()

    def _keys(self, username: str, address: str) -> tuple[tuple[str, int], tuple[str, int]]:
        return ((f"name:{str(username)[:MAX_KEY_LENGTH]}", self.per_name), (f"address:{str(address)[:MAX_KEY_LENGTH]}", self.per_address))

    def wait_seconds(self, username: str, address: str) -> float:
        """How long this name and address must wait before their next attempt is checked (0: now)."""
        now = self.clock()
        wait = 0.0
        with self._connect() as connection:
            for key, limit in self._keys(username, address):
                recent = [row[0] for row in connection.execute(
                    "SELECT at FROM sign_in_failures WHERE key = ? AND at > ? ORDER BY at DESC LIMIT ?", (key, now - self.window_s, limit))]
                if len(recent) >= limit:
                    wait = max(wait, recent[-1] + self.window_s - now)
        return wait

    def record_failure(self, username: str, address: str) -> None:
        now = self.clock()
        with self._connect() as connection:
            connection.execute("DELETE FROM sign_in_failures WHERE at <= ?", (now - self.window_s,))
            connection.executemany("INSERT INTO sign_in_failures (key, at) VALUES (?, ?)",
                                   [(key, now) for key, _limit in self._keys(username, address)])

    def record_success(self, username: str) -> None:
        """The name's failures are forgotten; the address's stay (a valid account must not reset guesses at others)."""
        with self._connect() as connection:
            connection.execute("DELETE FROM sign_in_failures WHERE key = ?", (self._keys(username, "")[0][0],))


def refusal_message(wait_s: float) -> str:
    minutes = max(1, math.ceil(wait_s / 60))
    return f"Too many failed sign-ins; try again in {minutes} minute{'s' if minutes > 1 else ''}."
