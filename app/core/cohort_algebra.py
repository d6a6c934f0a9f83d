"""Cohort definitions and their resolution to boolean masks.

A saved cohort keeps its *definition* — filters, an explicit id list (a lasso/box selection), or
set algebra over other saved cohorts — so it means the same thing when the data are reloaded and
its size is always recomputed, never trusted from when it was saved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from app.core.filters import combined_mask, filter_from_dict

Operation = Literal["union", "intersection", "difference", "complement"]
OPERATIONS: tuple[Operation, ...] = ("union", "intersection", "difference", "complement")
OPERAND_COUNTS: dict[str, tuple[int, int | None]] = {"union": (2, None), "intersection": (2, None), "difference": (2, 2), "complement": (1, 1)}


@dataclass(frozen=True)
class CohortDefinition:
    """Filter specs and/or explicit subject ids (both must hold), or an operation over saved cohorts (by store id)."""

    filters: tuple[dict[str, Any], ...] = ()
    subject_ids: tuple[str, ...] = ()
    operation: Operation | None = None
    operands: tuple[int, ...] = ()
    selection_label: str = ""  # where the ids were picked, for people: "box in joint/UMAP", "cluster 2 of joint"
    # The variables the ids were picked by (a clinical view's axes, a highlighted saved cohort's filters): comparing on them
    # is circular, as on the filters', though only the ids are kept.
    selection_variables: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.operation is not None:
            if self.operation not in OPERATIONS:
                raise ValueError(f"unknown operation {self.operation!r}; expected one of {OPERATIONS}")
            fewest, most = OPERAND_COUNTS[self.operation]
            if self.filters or self.subject_ids:
                raise ValueError("a cohort is either filters/ids or an operation over other cohorts, not both")
            if not fewest <= len(self.operands) <= (most or len(self.operands)):
                wanted = f"{fewest}" if fewest == most else f"at least {fewest}"
                raise ValueError(f"{self.operation} takes {wanted} cohorts, got {len(self.operands)}")
            if len(set(self.operands)) != len(self.operands):
                raise ValueError(f"{self.operation} needs different cohorts: a cohort combined with itself is itself (or empty)")
        for spec in self.filters:
            filter_from_dict(spec)  # refuse a malformed filter when it is defined, not when it is used

    @property
    def kind(self) -> str:
        if self.operation is not None:
            return "algebra"
        if self.subject_ids:
            return "selection + filters" if self.filters else "selection"
        return "filters"

    def to_dict(self) -> dict[str, Any]:
        saved = {"filters": list(self.filters), "subject_ids": list(self.subject_ids), "operation": self.operation, "operands": list(self.operands)}
        if self.selection_label:
            saved["selection_label"] = self.selection_label
        if self.selection_variables:
            saved["selection_variables"] = list(self.selection_variables)
        return saved

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CohortDefinition:
        return cls(
            filters=tuple(data.get("filters") or ()),
            subject_ids=tuple(str(i) for i in data.get("subject_ids") or ()),
            operation=data.get("operation"),
            operands=tuple(int(i) for i in data.get("operands") or ()),
            selection_label=str(data.get("selection_label") or ""),
            selection_variables=tuple(str(name) for name in data.get("selection_variables") or ()),
        )


def defining_variables(definition: CohortDefinition, lookup: Callable[[int], CohortDefinition], _seen: frozenset[int] = frozenset()) -> set[str]:
    """The variables a cohort's filters and selection use, through its operands: comparing on them is circular."""
    names = {filter_from_dict(spec).variable for spec in definition.filters} | set(definition.selection_variables)
    for operand in definition.operands:
        if operand in _seen:
            raise ValueError(f"cohort {operand} is defined in terms of itself")
        names |= defining_variables(lookup(operand), lookup, _seen | {operand})
    return names


def _rows_holding(index: pd.Index, subject_ids: tuple[str, ...]) -> np.ndarray:
    """Mask of the rows whose id is one of ``subject_ids`` (unknown ids ignored).

    A hash lookup per id: ``Index.isin`` walks every row in Python for string ids, which made
    listing a hundred saved cohorts cost O(cohorts × subjects).
    """
    rows = index.get_indexer(list(subject_ids))
    mask = np.zeros(len(index), dtype=bool)
    mask[rows[rows >= 0]] = True
    return mask


def leaf_mask(definition: CohortDefinition, phenotypes: pd.DataFrame) -> np.ndarray:
    """Mask of a cohort defined by filters and/or ids (no operation): what a memo may keep, as it reads no other cohort.

    Ids no longer in the data are ignored (a selection saved on another cohort version).
    """
    mask = combined_mask(phenotypes, [filter_from_dict(spec) for spec in definition.filters])
    if definition.subject_ids:
        mask &= _rows_holding(phenotypes.index, definition.subject_ids)
    return mask


def resolve_mask(
    definition: CohortDefinition,
    phenotypes: pd.DataFrame,
    lookup: Callable[[int], CohortDefinition],
    _seen: frozenset[int] = frozenset(),
    *,
    leaf: Callable[[CohortDefinition], np.ndarray] | None = None,
) -> np.ndarray:
    """Boolean mask over ``phenotypes`` rows; ``lookup`` fetches operand definitions by store id (and refuses what the user may not see).

    ``leaf`` gives the masks of filter/id cohorts (default: :func:`leaf_mask`; a memo in the app).
    """
    if definition.operation is None:
        return leaf(definition) if leaf is not None else leaf_mask(definition, phenotypes)
    masks = []
    for operand in definition.operands:
        if operand in _seen:
            raise ValueError(f"cohort {operand} is defined in terms of itself")
        masks.append(resolve_mask(lookup(operand), phenotypes, lookup, _seen | {operand}, leaf=leaf))
    if definition.operation == "union":
        return np.logical_or.reduce(masks)
    if definition.operation == "intersection":
        return np.logical_and.reduce(masks)
    if definition.operation == "difference":
        return masks[0] & ~masks[1]
    return ~masks[0]
