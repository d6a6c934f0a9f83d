"""Read a one-component table (app.figures.static_html) back as elements, to test what the browser is given."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree


def elements(component) -> ElementTree.Element:
    """The component's HTML as an element tree under a <root>: it is well-formed XML (void tags self-closed), which this checks."""
    return ElementTree.fromstring(f"<root>{component.children}</root>")


def text(element: ElementTree.Element) -> str:
    return "".join(element.itertext())
