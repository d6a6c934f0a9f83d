"""Checks on every value a browser sends to a callback: one of the layout's own choices, or a clear refusal.

A browser (or anyone posting to ``/_dash-update-component``) can send anything: ``true`` or ``1.7``
where an id belongs, ``-1`` (which numpy would read as the last subject), an unknown space, a
200 MB body. Callbacks call these checkers on their inputs; each raises :class:`InputRefused` with
a sentence saying what was expected, which :func:`show_refusal` (Dash's ``on_error`` for every
callback) puts in the page instead of answering with a 500. Nothing is coerced: a string, float or
bool is never accepted as an integer.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection

from dash import set_props
from dash.exceptions import BackgroundCallbackError

from app.cohort_store import CohortStoreError
from app.jobs import JobStopped

MAX_REQUEST_BYTES = 32 * 2**20  # a selection of a million subjects is about 8 MB of JSON
REFUSAL_ALERT_ID = "input-refused"

log = logging.getLogger(__name__)


class InputRefused(ValueError):
    """A value from the browser outside what the page offers; the message is shown to the user."""


def _describe(value: object) -> str:
    if value is None:  # what a browser's number box sends when it is empty or holds a number outside its min/max
        return "an empty box or a number outside that range"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def integer(value: object, what: str, low: int, high: int) -> int:
    """An int in [low, high]; bools, floats and strings are refused, not converted."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputRefused(f"{what}: expected a whole number from {low:,} to {high:,}, got {_describe(value)}")
    if not low <= value <= high:
        raise InputRefused(f"{what}: expected a whole number from {low:,} to {high:,}, got {value:,}")
    return value


def number(value: object, what: str, low: float, high: float) -> float:
    """A finite int or float in [low, high] (never a bool or a string)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or not low <= value <= high:
        expected = "a finite number" if math.isinf(low) and math.isinf(high) else f"a number from {low:g} to {high:g}"
        raise InputRefused(f"{what}: expected {expected}, got {_describe(value)}")
    return float(value)


def choice(value: object, allowed: Collection, what: str):
    """One of the layout's own options (compared by type too: ``True`` is not ``1``)."""
    if not any(type(value) is type(option) and value == option for option in allowed):
        shown = ", ".join(map(str, list(allowed)[:8])) + (", ..." if len(allowed) > 8 else "")
        raise InputRefused(f"{what}: expected one of {shown}, got {_describe(value)}")
    return value


def choices(values: object, allowed: Collection, what: str, limit: int) -> list:
    """A list of distinct options, at most ``limit`` of them."""
    if not isinstance(values, list):
        raise InputRefused(f"{what}: expected a list, got {_describe(values)}")
    if len(values) > limit:
        raise InputRefused(f"{what}: at most {limit:,}, got {len(values):,}")
    return list(dict.fromkeys(choice(value, allowed, what) for value in values))


def rows(values: object, n_subjects: int, what: str = "subjects", limit: int | None = None) -> list[int]:
    """Row positions of subjects: whole numbers from 0 to n - 1 (no negatives that wrap round), at most ``limit``."""
    if not isinstance(values, list):
        raise InputRefused(f"{what}: expected a list of row numbers, got {_describe(values)}")
    cap = n_subjects if limit is None else limit
    if len(values) > cap:
        raise InputRefused(f"{what}: at most {cap:,}, got {len(values):,}")
    return [integer(value, what, 0, n_subjects - 1) for value in values]


def text(value: object, what: str, max_length: int) -> str:
    if not isinstance(value, str) or len(value) > max_length:
        raise InputRefused(f"{what}: expected text of at most {max_length} characters, got {_describe(value)}")
    return value


def optional(checker, value: object, *args, **kwargs):
    """``None`` (nothing chosen yet) or what ``checker`` accepts."""
    return None if value is None else checker(value, *args, **kwargs)


USER_FACING_ERRORS = (InputRefused, CohortStoreError, JobStopped)  # their messages are written for the user


def refusal_text(error: Exception) -> str | None:
    """What to tell the user about a refusal, also one raised inside a background job; None for any other failure.

    Dash hands a job's exception to ``on_error`` as a BackgroundCallbackError whose text ends with the
    job's traceback, whose last line is ``module.Class: message`` (the class itself does not cross
    from a Celery worker).
    """
    if isinstance(error, USER_FACING_ERRORS):
        return str(error)
    if isinstance(error, BackgroundCallbackError):
        last_line = str(error).rstrip().rsplit("\n", 1)[-1]
        for kind in USER_FACING_ERRORS:
            prefix = f"{kind.__module__}.{kind.__qualname__}: "
            if last_line.startswith(prefix):
                return last_line[len(prefix):]
    return None


def show_refusal(error: Exception) -> None:
    """Dash's ``on_error`` for every callback: the refusal (or any failure) as a message in the page, never a 500.

    Returning None leaves the callback's outputs as they were.
    """
    refusal = refusal_text(error)
    if refusal is not None:
        message = f"Not done: {refusal}"
    else:
        log.error("callback failed", exc_info=error)
        message = "Not done: this could not be computed (the details are in the server log)."
    set_props(REFUSAL_ALERT_ID, {"children": message, "is_open": True})



MAX_FILTERS = 64
MAX_FILTER_VALUES = 1_000


def filter_specs(filters: object, variables: dict) -> list[dict]:
    """The shared ``filters`` store: range filters on declared continuous variables, choice filters on the others."""
    if filters is None:
        return []
    if not isinstance(filters, list) or len(filters) > MAX_FILTERS:
        raise InputRefused(f"filters: expected a list of at most {MAX_FILTERS}, got {_describe(filters)}")
    for spec in filters:
        if not isinstance(spec, dict):
            raise InputRefused(f"filter: expected a filter, got {_describe(spec)}")
        variable = choice(spec.get("variable"), list(variables), "filter variable")
        kind = choice(spec.get("kind"), ("range", "choice"), "filter kind")
        if kind == "range":
            if variables[variable].type != "continuous":
                raise InputRefused(f"filter on {variable}: a range needs a continuous variable")
            for side in ("low", "high"):
                optional(number, spec.get(side), f"filter on {variable}: {side}", -1e300, 1e300)
        else:
            values = spec.get("values", [])
            if not isinstance(values, list) or len(values) > MAX_FILTER_VALUES or any(not isinstance(v, str | int) for v in values):
                raise InputRefused(f"filter on {variable}: expected a list of categories, got {_describe(values)}")
    return filters
