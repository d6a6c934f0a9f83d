"""Saved cohorts in words: what the definition says, when it was made and how many subjects it holds now.

"Age ≥ 65 years and LV ejection fraction ≤ 40 % and box in joint/UMAP (312 subjects)" or
"Women ∩ AF": a clinician must be able to read what a cohort is without opening its JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from app.core.cohort_algebra import CohortDefinition
from app.core.filters import ChoiceFilter, RangeFilter, filter_from_dict
from data_loaders.manifest import VariableSpec

OPERATION_SYMBOLS = {"union": " ∪ ", "intersection": " ∩ ", "difference": " − "}


def _number(value: float) -> str:
    return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"


def _with_unit(value: float, spec: VariableSpec | None) -> str:
    unit = spec.unit if spec else ""
    return f"{_number(value)} {unit}" if unit else _number(value)


def describe_filter(spec_dict: dict, variables: dict[str, VariableSpec]) -> str:
    """``Age ≥ 65 years``, ``Age 60–70 years``, ``Sex: female``, ``Diabetes``, ``no Diabetes``."""
    rule = filter_from_dict(spec_dict)
    spec = variables.get(rule.variable)
    label = spec.label if spec else rule.variable
    if isinstance(rule, RangeFilter):
        if rule.low is not None and rule.high is not None:
            unit = f" {spec.unit}" if spec and spec.unit else ""
            return f"{label} {_number(rule.low)}–{_number(rule.high)}{unit}"
        if rule.low is not None:
            return f"{label} ≥ {_with_unit(rule.low, spec)}"
        if rule.high is not None:
            return f"{label} ≤ {_with_unit(rule.high, spec)}"
        return f"{label} recorded"
    assert isinstance(rule, ChoiceFilter)
    if spec is not None and spec.type == "binary":
        wanted = {bool(value) for value in rule.values}
        if wanted == {True}:
            return label
        if wanted == {False}:
            return f"no {label}"
        return f"{label} recorded" if wanted else f"{label}: none chosen"
    return f"{label}: {' or '.join(str(value) for value in rule.values) or 'none chosen'}"


def describe_definition(definition: CohortDefinition, variables: dict[str, VariableSpec], cohort_name: Callable[[int], str]) -> str:
    """The definition in words; ``cohort_name`` names the saved cohorts an operation refers to."""
    if definition.operation is not None:
        names = [cohort_name(operand) for operand in definition.operands]
        if definition.operation == "complement":
            return f"not {names[0]}"
        return OPERATION_SYMBOLS[definition.operation].join(names)
    parts = [describe_filter(spec, variables) for spec in definition.filters]
    if definition.subject_ids:
        count = len(definition.subject_ids)
        picked_by = " × ".join(variables[name].label if name in variables else name for name in definition.selection_variables)
        label = definition.selection_label or (f"selection by {picked_by}" if picked_by else "selection")
        parts.append(f"{label} ({count:,} subject{'s' if count != 1 else ''})")
    return " and ".join(parts) or "everyone"


def readable_time(iso_time: str) -> str:
    """``4 Dec 2026, 13:12 UTC`` from a stored ISO timestamp (an unreadable one is shown as stored)."""
    try:
        moment = datetime.fromisoformat(iso_time)
    except ValueError:
        return iso_time
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return f"{moment.day} {moment:%b %Y, %H:%M} UTC"

