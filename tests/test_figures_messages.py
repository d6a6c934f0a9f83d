"""The message figure: its text is shown and no empty axes are drawn around it."""

from __future__ import annotations

from app.figures.messages import NARROW_LINE, message_figure
from tests.figure_checks import validated


def test_message_figure_shows_the_text_without_axes():
    figure = validated(message_figure("Computing the UMAP…"))
    assert [annotation.text for annotation in figure.layout.annotations] == ["Computing the UMAP…"]
    assert figure.layout.xaxis.visible is False and figure.layout.yaxis.visible is False
    assert len(figure.data) == 0


def test_a_message_keeps_its_line_breaks_and_shows_markup_as_typed():
    figure = validated(message_figure("Click a subject,\nor a <b>group</b>"))
    assert figure.layout.annotations[0].text == "Click a subject,<br>or a &lt;b&gt;group&lt;/b&gt;"


def test_a_long_message_wraps_at_word_breaks_to_fit_a_narrow_view():
    """"Computing the UMAP of the Joint (ECG + MRI) space…" ran past both edges of its view ("omputing … spac")."""
    text = validated(message_figure("Computing the UMAP of the Joint (ECG + MRI) space…", line_characters=NARROW_LINE)).layout.annotations[0].text
    assert text == "Computing the UMAP of the Joint (ECG + MRI)<br>space…"
    assert all(len(line) <= 44 for line in text.split("<br>"))
