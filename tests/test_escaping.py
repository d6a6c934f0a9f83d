"""Item 4 of issue 16: CSV cells a spreadsheet would run, and markup Plotly would render, are neutralised."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from app.core.exports import neutralise_cell, safe_csv_frame
from app.figures.accuracy import CohortData, roc_pr_figure
from app.figures.cine import cine_difference_figure
from app.figures.ecg_paper import median_beat_paper, overlay
from app.figures.text import plotly_text
from tests.figure_checks import validated

HOSTILE_NAME = '<a href="https://evil.example">Click to re-login</a>'


@pytest.mark.parametrize("cell", ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://x")'])
def test_formula_like_text_cells_are_prefixed_with_an_apostrophe(cell):
    assert neutralise_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["LVEF", "a=b", "", -1.5, 3, None])
def test_other_cells_are_left_as_they_are(cell):
    assert neutralise_cell(cell) == cell


def test_safe_csv_frame_neutralises_text_columns_names_and_index_but_not_numbers():
    frame = pd.DataFrame(
        {"subgroup": ["=1+1", "men"], "=evil": ["@x", "ok"], "auc": [-0.5, 0.7], "group": pd.Categorical(["-a", "b"])},
        index=pd.Index(["+id", "SYN1"], name="sample_id"),
    )
    csv = safe_csv_frame(frame).to_csv()
    assert "'=1+1" in csv and "'@x" in csv and "'-a" in csv and "'=evil" in csv and "'+id" in csv
    assert ",-0.5," in csv  # numbers stay numbers
    assert frame.loc["+id", "subgroup"] == "=1+1"  # the caller's frame is not changed


def test_plotly_text_escapes_markup_and_entities():
    assert plotly_text(HOSTILE_NAME) == '&lt;a href="https://evil.example"&gt;Click to re-login&lt;/a&gt;'
    assert plotly_text("A & B") == "A &amp; B"


def test_cohort_names_reach_accuracy_figures_escaped():
    rng = np.random.default_rng(0)
    cohort = CohortData(HOSTILE_NAME, rng.integers(0, 2, 50).astype(bool), rng.random(50), "#000")
    figure = validated(roc_pr_figure([cohort], 0.5, "AF"))
    texts = [trace.name or "" for trace in figure.data] + [trace.hovertemplate or "" for trace in figure.data]
    assert any("&lt;a href" in text for text in texts)
    assert not any("<a " in text for text in texts)


def test_cohort_names_reach_decoder_titles_escaped():
    cine = np.zeros((2, 4, 4), dtype=np.float32)
    player = validated(cine_difference_figure(cine, cine, label_a=HOSTILE_NAME, label_b="B", heart_rate_bpm=60, title=HOSTILE_NAME))
    ecg = np.zeros((500, 12), dtype=np.float32)
    leads = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
    sheet = validated(median_beat_paper(overlay(ecg, ecg, original_label=HOSTILE_NAME), leads, title=HOSTILE_NAME, footnote=HOSTILE_NAME))
    for figure in (player, sheet):
        assert "<a " not in figure.layout.title.text
        assert all("<a " not in annotation.text for annotation in figure.layout.annotations)
        for trace in figure.data:
            bar_title = trace.colorbar.title.text if "colorbar" in trace else None
            assert all("<a " not in (text or "") for text in (trace.name, trace.hovertemplate, bar_title))
