"""Per-variable summaries of a cohort, as a clinician would read them in a table 1."""

from __future__ import annotations

import pandas as pd

from data_loaders.manifest import VariableSpec


def variable_summary(phenotypes: pd.DataFrame, variables: dict[str, VariableSpec]) -> pd.DataFrame:
    """One row per variable: label, unit, group, and mean ± SD, % yes, or the commonest category."""
    rows = []
    for name, spec in variables.items():
        column = phenotypes[name]
        if spec.type == "continuous":
            summary = f"{column.mean():.1f} ± {column.std():.1f}"
        elif spec.type == "binary":
            summary = f"{100 * column.astype(float).mean():.1f}% yes"
        else:
            shares = column.value_counts(normalize=True)
            summary = ", ".join(f"{category} {100 * share:.0f}%" for category, share in shares.items())
        rows.append(
            {
                "Group": spec.group,
                "Variable": spec.label,
                "Unit": spec.unit,
                "Summary": summary,
                "Missing": int(column.isna().sum()),
                "Description": spec.description,
            }
        )
    return pd.DataFrame(rows)
