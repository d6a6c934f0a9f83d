"""The linked scatter figure builder."""

from __future__ import annotations

import numpy as np
import pandas as pd

from app.figures.scatter import hover_texts, scatter_figure, selected_points, trace_groups
from data_loaders.manifest import VariableSpec

AGE = VariableSpec("age_years", "continuous", "Age", "years")
SEX = VariableSpec("sex", "categorical", "Sex", categories=("female", "male"))
AF = VariableSpec("af", "binary", "AF")


def _table() -> pd.DataFrame:
    return pd.DataFrame(
        {"age_years": [50.0, np.nan, 70.0, 61.0], "sex": ["male", "female", None, "female"], "af": [True, False, False, True]},
        index=pd.Index(["s0", "s1", "s2", "s3"], name="sample_id"),
    )


def test_groups_cover_every_subject_once_with_missing_apart():
    table = _table()
    for spec in (AGE, SEX, AF):
        groups = trace_groups(table[spec.name], spec)
        rows = np.sort(np.concatenate([g.rows for g in groups]))
        assert rows.tolist() == [0, 1, 2, 3]
    assert [(g.name, g.rows.tolist()) for g in trace_groups(table.sex, SEX)] == [("female", [1, 3]), ("male", [0]), ("missing", [2])]
    assert [(g.name, g.rows.tolist()) for g in trace_groups(table.af, AF)] == [("AF: no", [1, 2]), ("AF: yes", [0, 3])]
    assert [(g.name, g.rows.tolist()) for g in trace_groups(table.age_years, AGE)] == [("Age", [0, 2, 3]), ("missing", [1])]


def test_selection_maps_rows_to_positions_within_each_trace():
    groups = trace_groups(_table().sex, SEX)
    assert selected_points(groups, np.array([3, 2])) == [[1], [], [0]]
    assert selected_points(groups, None) == [None, None, None]
    assert selected_points(groups, np.array([], dtype=int)) == [[], [], []]


def test_figure_links_by_row_ids_and_keeps_zoom_across_colourings():
    table = _table()
    coordinates = np.arange(8, dtype=np.float32).reshape(4, 2)
    hover = hover_texts(table, {"age_years": AGE, "sex": SEX}, ["age_years", "sex"])
    assert hover[0] == "s0<br>Age 50 years<br>Sex male"
    by_age = scatter_figure(coordinates, trace_groups(table.age_years, AGE), table.age_years, AGE, hover, revision="view-1")
    by_sex = scatter_figure(coordinates, trace_groups(table.sex, SEX), table.sex, SEX, hover, selected_rows=np.array([1]), revision="view-1")
    assert all(trace.type == "scattergl" for trace in by_age.data + by_sex.data)
    assert by_age.layout.uirevision == by_sex.layout.uirevision == "view-1"
    assert by_age.data[0].marker.colorbar.title.text == "Age (years)"
    assert list(by_sex.data[0].customdata) == [1, 3] and list(by_sex.data[0].x) == [2.0, 6.0]
    assert list(by_sex.data[0].selectedpoints) == [0]
    assert by_sex.data[0].unselected.marker.opacity < 0.2
    assert [t.name for t in by_sex.data] == ["female", "male", "missing"]


def test_uncoloured_figure_draws_everyone_in_one_trace():
    coordinates = np.zeros((3, 2), dtype=np.float32)
    figure = scatter_figure(coordinates, [], None, None, np.array(["a", "b", "c"], dtype=object))
    assert len(figure.data) == 1 and list(figure.data[0].customdata) == [0, 1, 2]
