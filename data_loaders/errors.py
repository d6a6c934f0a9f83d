"""The one exception type the data layer raises for bad cohorts."""

from __future__ import annotations

from pathlib import Path


class CohortFormatError(ValueError):
    """A cohort on disk does not match the documented format.

    The message always names the file, the field inside it, and what was expected, so a user
    can fix their export without reading our code.
    """

    def __init__(self, path: Path | str, field: str, expected: str, found: str | None = None):
        self.path = Path(path)
        self.field = field
        self.expected = expected
        self.found = found
        message = f"{self.path}: {field}: expected {expected}"
        if found is not None:
            message += f", found {found}"
        super().__init__(message)
