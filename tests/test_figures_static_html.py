"""Static HTML as one component: faithful to the html.* tree it replaces, escaped, and refusing what it cannot write."""

from __future__ import annotations

import dash_bootstrap_components as dbc
import pandas as pd
import pytest
from dash import dcc, html

from app.figures.static_html import one_component, to_html
from tests.static_html import elements, text


def test_a_table_keeps_its_structure_classes_and_attributes():
    table = dbc.Table([html.Thead(html.Tr([html.Th("Name"), html.Th("n", scope="col")])),
                       html.Tbody([html.Tr([html.Td("a", className="fw-semibold", title="first"), html.Td(["1", html.Br(), html.Small("(2)")])],
                                           tabIndex="0", **{"data-row": "7", "aria-label": "row a"})])],
                      size="sm", hover=True, striped=True, responsive=True, className="small")
    component = one_component(table, component_id="my-table")
    assert isinstance(component, dcc.Markdown) and component.dangerously_allow_html and component.id == "my-table"
    assert component.className == "static-html"
    tree = elements(component)
    wrapper = tree.find("div")
    assert wrapper.get("class") == "table-responsive"
    assert wrapper.find("table").get("class") == "table table-sm table-hover table-striped small"
    assert tree.find(".//th[@scope='col']") is not None
    row = tree.find(".//tbody/tr")
    assert (row.get("tabindex"), row.get("data-row"), row.get("aria-label")) == ("0", "7", "row a")
    first, second = row.findall("td")
    assert (first.get("class"), first.get("title"), text(first)) == ("fw-semibold", "first", "a")
    assert second.find("br") is not None and text(second) == "1(2)"


def test_text_and_attributes_cannot_become_markup_or_end_the_html_block():
    hostile = '<img src=x onerror="alert(1)">\n\n# not a heading'
    markup = to_html(html.Div(html.Span(hostile, title='" onmouseover="alert(2)'), style={"whiteSpace": "nowrap"}))
    assert "\n" not in markup and "<img" not in markup and 'onmouseover="' not in markup
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; # not a heading" in markup
    assert 'style="white-space:nowrap"' in markup


def test_what_cannot_be_written_faithfully_is_refused_not_dropped():
    with pytest.raises(ValueError, match="has an id"):
        to_html(html.Div(html.Button("Sort", id={"type": "sort", "column": "n"})))  # a callback may read it
    with pytest.raises(TypeError, match="cannot be written"):
        to_html(html.Div(dcc.Input(value="x")))
    with pytest.raises(ValueError, match="'href'"):
        to_html(html.A("link", href="https://example.org"))
    with pytest.raises(ValueError, match="'style'"):
        to_html(dbc.Table([], style={"width": "50%"}))


def test_a_data_frame_table_reads_back_cell_for_cell():
    frame = pd.DataFrame({"Variable": ["age", "sex & <x>"], "Mean": ["61.2", "–"]})
    tree = elements(one_component(dbc.Table.from_dataframe(frame)))
    assert [text(cell) for cell in tree.findall(".//thead/tr/th")] == ["Variable", "Mean"]
    assert [[text(cell) for cell in row.findall("td")] for row in tree.findall(".//tbody/tr")] == [["age", "61.2"], ["sex & <x>", "–"]]
