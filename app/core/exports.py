"""What every CSV export goes through: cells a spreadsheet would run as a formula are neutralised.

A saved-cohort name such as ``=HYPERLINK(...)`` or a manifest category ``@SUM(...)`` must reach a
clinician's spreadsheet as text, never as a formula (CWE-1236). Numbers are left alone, so a
negative value stays a number.
"""

from __future__ import annotations

import pandas as pd

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: object) -> object:
    """A text cell that starts like a formula, prefixed with an apostrophe; anything else unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def safe_csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells, column names and index are safe to open in a spreadsheet."""
    safe = frame.copy()
    for column in safe.columns:
        values = safe[column]
        if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
            safe[column] = values.astype(object).map(neutralise_cell)
    safe.columns = [neutralise_cell(str(column)) for column in safe.columns]
    if not pd.api.types.is_numeric_dtype(safe.index):
        safe.index = pd.Index([neutralise_cell(str(label)) for label in safe.index], name=safe.index.name)
    return safe


def file_name_part(text: str, limit: int = 40) -> str:
    """``text`` as part of a download's file name: letters, digits, - and _ only (no path, no control or bidi characters)."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)[:limit]
