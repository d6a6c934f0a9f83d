"""Static HTML (tables, mostly) sent as one component: the html.* tree serialised, escaped, into a ``dcc.Markdown``.

Dash's renderer dispatches a reset for every component it mounts, and each dispatch runs the selector of
every component already on the page: a table built of html.Tr/html.Td is O(cells x components). Opening
Compare spaces cost 11 s at 100,000 subjects with its two 50-row lists as components (4 s as one each).
Tables are built with the ordinary html.* and dbc.Table components, then ``one_component`` turns them into
a single component. Interactive parts keep working without being components: rows or buttons carry
``data-*`` attributes, and a delegated listener in assets/ sets a store (``dash_clientside.set_props``).
"""

from __future__ import annotations

from html import escape

import dash_bootstrap_components as dbc
from dash import dcc
from dash.development.base_component import Component

VOID_TAGS = {"br", "hr", "wbr"}
ATTRIBUTES = {"className": "class", "title": "title", "scope": "scope", "colSpan": "colspan", "rowSpan": "rowspan", "tabIndex": "tabindex",
              "role": "role", "type": "type"}  # html.* props written as attributes; anything else is refused, never dropped
PASSIVE_PROPS = {"n_clicks", "n_clicks_timestamp", "disable_n_clicks"}  # set on every html component by default
TABLE_PROPS = {"children", "size", "hover", "striped", "bordered", "borderless", "color", "className", "responsive"}  # dbc.Table's, as written


def _text(value: object) -> str:
    """Escaped text that cannot open a tag or end the one-line HTML block (a blank line would let Markdown parse the rest)."""
    text = str(value)
    if "\n" in text or "\r" in text:
        text = " ".join(text.split())
    return escape(text)


def _attribute(name: str, value: object) -> str:
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f' {name}="{_text(value)}"'


def _table_classes(table: dbc.Table) -> str:
    """The Bootstrap classes dbc.Table would set for its props."""
    classes = ["table"]
    if getattr(table, "size", None):
        classes.append(f"table-{table.size}")
    classes += [f"table-{flag}" for flag in ("hover", "striped", "bordered", "borderless") if getattr(table, flag, None)]
    if getattr(table, "color", None):
        classes.append(f"table-{table.color}")
    if getattr(table, "className", None):
        classes.append(table.className)
    return " ".join(classes)


def to_html(node: object) -> str:
    """One line of HTML for a tree of html.* components (and dbc.Table), every text and attribute escaped.

    Refuses what it cannot write faithfully: a component with an id (a callback may read or write it:
    keep it a component), other libraries' components, props it does not know.
    """
    if node is None:
        return ""
    if isinstance(node, (list, tuple)):
        return "".join(to_html(child) for child in node)
    if not isinstance(node, Component):
        return _text(node)
    if getattr(node, "id", None) is not None:
        raise ValueError(f"{node._type} has an id ({node.id!r}): a callback may use it, so it must stay a component")
    if isinstance(node, dbc.Table):
        unwritten = sorted(prop for prop in node._prop_names if prop not in TABLE_PROPS and getattr(node, prop, None) is not None)
        if unwritten:
            raise ValueError(f"dbc.Table's {unwritten} have no static HTML form here")
        table = f'<table class="{_text(_table_classes(node))}">{to_html(getattr(node, "children", None))}</table>'
        return f'<div class="table-responsive">{table}</div>' if getattr(node, "responsive", None) else table
    if node._namespace != "dash_html_components":
        raise TypeError(f"{node._namespace}.{node._type} cannot be written as static HTML")
    tag = node._type.lower()
    attributes = []
    for prop in node._prop_names + sorted(name for name in vars(node) if name.startswith(("data-", "aria-"))):
        value = getattr(node, prop, None)
        if value is None or prop in ("children", "id") or prop in PASSIVE_PROPS:
            continue
        if prop.startswith(("data-", "aria-")):
            attributes.append(_attribute(prop, value))
        elif prop == "style":
            css = ";".join(f"{_css_name(key)}:{item}" for key, item in value.items())
            attributes.append(_attribute("style", css))
        elif prop in ATTRIBUTES:
            attributes.append(_attribute(ATTRIBUTES[prop], value))
        else:
            raise ValueError(f"html.{node._type}'s {prop!r} has no static HTML form here")
    if tag in VOID_TAGS:
        return f"<{tag}{''.join(attributes)}/>"  # self-closed: dcc.Markdown draws nothing at all for a table with a bare <br>
    return f"<{tag}{''.join(attributes)}>{to_html(getattr(node, 'children', None))}</{tag}>"


def _css_name(key: str) -> str:
    """React's camelCase style keys as CSS property names (whiteSpace → white-space)."""
    return "".join(f"-{letter.lower()}" if letter.isupper() else letter for letter in key)


def one_component(tree: object, *, component_id: str | None = None) -> dcc.Markdown:
    """``tree`` as a single component (see the module's docstring); ``component_id`` goes on the wrapper, which tests and styles find."""
    extra = {"id": component_id} if component_id else {}
    return dcc.Markdown(to_html(tree), dangerously_allow_html=True, className="static-html", **extra)
