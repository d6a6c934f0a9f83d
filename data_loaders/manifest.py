"""The cohort manifest: a TOML file that names a cohort's files and describes every variable.

Only the parts every reader needs are typed here (variables and section lookups); sections that
belong to other layers (``[model]``) stay plain dictionaries for those layers to validate.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data_loaders.errors import CohortFormatError

MANIFEST_NAME = "manifest.toml"
FORMAT_VERSION = 1
VARIABLE_TYPES = ("continuous", "binary", "categorical")
# "administrative" columns (a train/test split, a generator seed) describe the study, not the subject:
# summaries such as Table 1 leave them out.
VARIABLE_ROLES = ("clinical", "administrative")


@dataclass(frozen=True)
class VariableSpec:
    """What the app needs to show a variable: its type, a readable label and its unit."""

    name: str
    type: str
    label: str
    unit: str = ""
    description: str = ""
    group: str = ""
    categories: tuple[str, ...] = ()
    role: str = "clinical"

    @property
    def display_label(self) -> str:
        """Label with the unit, as axis titles and legends show it: ``LV mass (g)``."""
        return f"{self.label} ({self.unit})" if self.unit else self.label


def read_manifest(path: Path) -> dict[str, Any]:
    """Parse a manifest file, turning TOML syntax errors into a CohortFormatError."""
    if not path.is_file():
        raise CohortFormatError(path, "manifest", f"a {MANIFEST_NAME} file describing the cohort", "no such file")
    try:
        manifest = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise CohortFormatError(path, "manifest", "valid TOML", str(error)) from error
    except UnicodeDecodeError as error:
        raise CohortFormatError(path, "manifest", "UTF-8 text", str(error)) from error
    version = manifest.get("format_version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise CohortFormatError(path, "format_version", f"{FORMAT_VERSION}", repr(version))
    return manifest


def section(manifest: dict[str, Any], name: str, path: Path, *, required: bool = True) -> dict[str, Any] | None:
    """Return the ``[name]`` table, or None when it is optional and absent."""
    table = manifest.get(name)
    if table is None:
        if required:
            raise CohortFormatError(path, f"[{name}]", f"a [{name}] table", "none")
        return None
    if not isinstance(table, dict):
        raise CohortFormatError(path, f"[{name}]", "a table", type(table).__name__)
    return table


def string_field(table: dict[str, Any], key: str, path: Path, where: str, default: str | None = None) -> str:
    """Return ``table[key]`` as a non-empty string, naming ``where.key`` when it is wrong."""
    value = table.get(key, default)
    if not isinstance(value, str) or not value:
        found = "nothing" if value is None else repr(value)
        raise CohortFormatError(path, f"{where}.{key}", "a non-empty string", found)
    return value


def parse_variables(manifest: dict[str, Any], path: Path) -> dict[str, VariableSpec]:
    """Read the ``[variables.<column>]`` tables into specs, rejecting unknown types."""
    tables = section(manifest, "variables", path)
    variables = {}
    for name, table in tables.items():
        where = f"variables.{name}"
        if not isinstance(table, dict):
            raise CohortFormatError(path, where, "a table with type, label and unit", type(table).__name__)
        kind = table.get("type")
        if kind not in VARIABLE_TYPES:
            raise CohortFormatError(path, f"{where}.type", f"one of {', '.join(VARIABLE_TYPES)}", repr(kind))
        categories = table.get("categories", [])
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            raise CohortFormatError(path, f"{where}.categories", "a list of strings", repr(categories))
        role = table.get("role", "clinical")
        if role not in VARIABLE_ROLES:
            raise CohortFormatError(path, f"{where}.role", f"one of {', '.join(VARIABLE_ROLES)}", repr(role))
        variables[name] = VariableSpec(
            name=name,
            type=kind,
            label=str(table.get("label", name)),
            unit=str(table.get("unit", "")),
            description=str(table.get("description", "")),
            group=str(table.get("group", "")),
            categories=tuple(categories),
            role=role,
        )
    return variables


def variables_to_tables(variables: dict[str, VariableSpec]) -> dict[str, dict[str, Any]]:
    """The inverse of parse_variables, for writing a manifest."""
    tables = {}
    for spec in variables.values():
        table: dict[str, Any] = {"type": spec.type, "label": spec.label}
        for key in ("unit", "description", "group"):
            if getattr(spec, key):
                table[key] = getattr(spec, key)
        if spec.categories:
            table["categories"] = list(spec.categories)
        if spec.role != "clinical":
            table["role"] = spec.role
        tables[spec.name] = table
    return tables
