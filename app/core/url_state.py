"""The view in the address bar: a reload, a shared link or back/forward reopens the same view.

``?tab=explore&view1=joint:umap&view2=ecg:pca&colour=age_years&filter=age_years:65~&filter=sex=female&cohort=3``

``viewN`` is latent view N's space and projection; ``clinical=x:y`` the clinical view's two
variables (``&clinical=age_years:lvef_pct``); an empty ``colour=`` means no colour. A part the
link leaves out is the page's default. Everything read from a URL is hostile: an unknown tab,
space, variable or a malformed filter is dropped with a message saying what was wrong (never a
traceback, never silently changed into something else), and the rest of the view still opens.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

from app.core.filters import ChoiceFilter, RangeFilter, filter_from_dict
from data_loaders.manifest import VariableSpec

MAX_QUERY_LENGTH = 8000  # browsers and proxies start refusing URLs not far above this
RANGE_SEPARATOR = "~"
CHOICE_SEPARATOR = "|"
VIEW_SEPARATOR = ":"


@dataclass(frozen=True)
class ViewState:
    """What the address bar holds. ``selection`` is the selection store's JSON, validated by its owner."""

    tab: str | None = None
    views: tuple[tuple[str, str] | None, ...] = ()  # (space, projection) of each latent view; None: not in the link
    colour: str | None = None  # "": no colour; None: not in the link
    filters: tuple[dict[str, Any], ...] = ()
    cohort: int | None = None  # a saved cohort's id
    selection: dict[str, Any] | None = None
    subject: str | None = None  # a subject found by id search
    clinical: tuple[str, str] | None = None  # the clinical view's x and y variables; None: not in the link


@dataclass(frozen=True)
class Vocabulary:
    """The values a URL may name in this app and cohort."""

    tabs: tuple[str, ...]
    spaces: tuple[str, ...]
    projections: tuple[str, ...]
    variables: dict[str, VariableSpec] = field(default_factory=dict)
    latent_views: int = 2
    colours: tuple[str, ...] = ()  # what colour may name when the page offers more than variables; empty: the variables
    axes: tuple[str, ...] = ()  # the variables the clinical view may plot


def _number(value: float) -> str:
    return f"{value:.10g}"


def encode_filter(spec: dict[str, Any]) -> str:
    """``age_years:65~80`` for a range (either side may be empty), ``sex=female|male`` for a choice."""
    rule = filter_from_dict(spec)
    if isinstance(rule, RangeFilter):
        low = "" if rule.low is None else _number(rule.low)
        high = "" if rule.high is None else _number(rule.high)
        return f"{rule.variable}:{low}{RANGE_SEPARATOR}{high}"
    return f"{rule.variable}={CHOICE_SEPARATOR.join(str(value).lower() if isinstance(value, bool) else str(value) for value in rule.values)}"


def _decode_filter(text: str, variables: dict[str, VariableSpec]) -> dict[str, Any]:
    """The filter dict, or ValueError naming what is wrong with ``text``."""
    range_at, choice_at = text.find(":"), text.find("=")
    is_range = range_at > 0 and (choice_at < 0 or range_at < choice_at)
    name, _, rest = text.partition(":" if is_range else "=")
    spec = variables.get(name)
    if spec is None:
        raise ValueError(f"filter {text!r}: no variable {name!r} in this cohort")
    if is_range:
        if spec.type != "continuous":
            raise ValueError(f"filter {text!r}: {name} is {spec.type}, so it takes values (name=a|b), not a range")
        low_text, separator, high_text = rest.partition(RANGE_SEPARATOR)
        if not separator:
            raise ValueError(f"filter {text!r}: expected a range such as {name}:60~70, {name}:60~ or {name}:~70")
        try:
            low, high = (float(side) if side else None for side in (low_text, high_text))
        except ValueError:
            raise ValueError(f"filter {text!r}: the range limits must be numbers") from None
        if any(side is not None and not math.isfinite(side) for side in (low, high)):
            raise ValueError(f"filter {text!r}: the range limits must be finite numbers")
        if low is not None and high is not None and low > high:
            raise ValueError(f"filter {text!r}: the lower limit is above the upper one")
        return RangeFilter(name, low, high).to_dict()
    if spec.type == "continuous":
        raise ValueError(f"filter {text!r}: {name} is continuous, so it takes a range ({name}:low~high)")
    values = [value for value in rest.split(CHOICE_SEPARATOR) if value]
    if spec.type == "binary":
        if not set(values) <= {"true", "false"}:
            raise ValueError(f"filter {text!r}: {name} is yes/no, so its values are true and/or false")
        return ChoiceFilter(name, tuple(value == "true" for value in values)).to_dict()
    unknown = [value for value in values if spec.categories and value not in spec.categories]
    if unknown:
        raise ValueError(f"filter {text!r}: {name} has no category {', '.join(map(repr, unknown))}; expected {', '.join(spec.categories)}")
    return ChoiceFilter(name, tuple(values)).to_dict()


def to_query(state: ViewState) -> str:
    """The query string (with its leading ``?``, or empty) for ``state``."""
    pairs: list[tuple[str, str]] = [("tab", state.tab)] if state.tab else []
    pairs += [(f"view{number}", f"{view[0]}{VIEW_SEPARATOR}{view[1]}") for number, view in enumerate(state.views, start=1) if view]
    if state.clinical:
        pairs.append(("clinical", VIEW_SEPARATOR.join(state.clinical)))
    if state.colour is not None:
        pairs.append(("colour", state.colour))
    pairs += [("filter", encode_filter(spec)) for spec in state.filters]
    if state.cohort is not None:
        pairs.append(("cohort", str(state.cohort)))
    if state.selection:
        pairs.append(("selection", json.dumps(state.selection, separators=(",", ":"), sort_keys=True)))
    if state.subject:
        pairs.append(("subject", state.subject))
    return f"?{urlencode(pairs, safe=':~|=,')}" if pairs else ""


def from_query(search: str | None, vocabulary: Vocabulary) -> tuple[ViewState, list[str]]:
    """Parse ``search`` (``location.search``); return the view and a message for each part that was refused."""
    search = (search or "").lstrip("?")
    if len(search) > MAX_QUERY_LENGTH:
        return ViewState(), [f"the link is {len(search):,} characters long; at most {MAX_QUERY_LENGTH:,} are read, so it was ignored"]
    problems: list[str] = []
    values: dict[str, Any] = {}
    filters: list[dict[str, Any]] = []
    views: list[tuple[str, str] | None] = [None] * vocabulary.latent_views
    view_keys = {f"view{number}": number - 1 for number in range(1, vocabulary.latent_views + 1)}
    single = {"tab": vocabulary.tabs, "colour": ("", *(vocabulary.colours or vocabulary.variables))}
    for key, value in parse_qsl(search, keep_blank_values=True):
        if key in view_keys:
            try:
                views[view_keys[key]] = _decode_view(key, value, vocabulary)
            except ValueError as error:
                problems.append(str(error))
        elif key == "clinical":
            try:
                values["clinical"] = _decode_axes(value, vocabulary)
            except ValueError as error:
                problems.append(str(error))
        elif key in single:
            if value in single[key]:
                values[key] = value
            else:
                problems.append(f"{key} {value!r} is not available here; expected one of {', '.join(filter(None, single[key])) or 'nothing'}")
        elif key == "filter":
            try:
                filters.append(_decode_filter(value, vocabulary.variables))
            except ValueError as error:
                problems.append(str(error))
        elif key == "cohort":
            if value.isascii() and value.isdigit():
                values["cohort"] = int(value)
            else:
                problems.append(f"cohort {value!r} is not a saved cohort's number")
        elif key == "selection":
            try:
                selection = json.loads(value)
            except json.JSONDecodeError:
                selection = None
            if isinstance(selection, dict):
                values["selection"] = selection
            else:
                problems.append("the selection in the link is not readable, so it was left out")
        elif key == "subject":
            values["subject"] = value.strip()[:200] or None
        else:
            problems.append(f"unknown part {key!r} of the link was ignored")
    return ViewState(views=tuple(views) if any(views) else (), filters=tuple(filters), **values), problems


def _decode_view(key: str, text: str, vocabulary: Vocabulary) -> tuple[str, str]:
    """(space, projection) from ``joint:umap``, or ValueError naming what is wrong."""
    space, separator, projection = text.rpartition(VIEW_SEPARATOR)
    if not separator:
        raise ValueError(f"{key} {text!r}: expected a space and a projection, e.g. {key}=joint{VIEW_SEPARATOR}umap")
    if space not in vocabulary.spaces:
        raise ValueError(f"{key}: space {space!r} is not available here; expected one of {', '.join(vocabulary.spaces) or 'nothing'}")
    if projection not in vocabulary.projections:
        raise ValueError(f"{key}: projection {projection!r} is not available here; expected one of {', '.join(vocabulary.projections)}")
    return space, projection


def _decode_axes(text: str, vocabulary: Vocabulary) -> tuple[str, str]:
    """(x, y) variables of the clinical view from ``age_years:lvef_pct``, or ValueError naming what is wrong."""
    x, separator, y = text.partition(VIEW_SEPARATOR)
    if not separator:
        raise ValueError(f"clinical {text!r}: expected two variables, e.g. clinical=age_years{VIEW_SEPARATOR}lvef_pct")
    for axis, name in (("x", x), ("y", y)):
        if name not in vocabulary.axes:
            raise ValueError(f"clinical {axis} {name!r} is not a variable the clinical view can plot here")
    return x, y
