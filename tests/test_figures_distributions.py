"""Distribution figures: shares within each group, and every subject drawn even beyond a clipped axis."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from app.figures.distributions import filter_histogram, overlaid_distributions
from data_loaders.manifest import VariableSpec
from tests.figure_checks import assert_unchanged_by_validation, validated

MASS = VariableSpec("lv_mass_g", "continuous", "LV mass", "g")
SEX = VariableSpec("sex", "categorical", "Sex", categories=("female", "male"))


@pytest.fixture
def masses() -> pd.Series:
    rng = np.random.default_rng(0)
    values = rng.normal(110, 20, 5000)
    values[:3] = [900.0, 950.0, 1.0]  # outliers beyond the 0.5th–99.5th percentile axis
    return pd.Series(values)


def test_filter_histograms_show_shares_so_a_small_cohort_is_visible(masses):
    small = np.zeros(len(masses), dtype=bool)
    small[:100] = True
    figure = filter_histogram(masses, MASS, small)
    everyone, cohort = (trace["y"] for trace in figure["data"])
    assert sum(everyone) == pytest.approx(1) and sum(cohort) == pytest.approx(1)
    assert max(cohort) > 0.5 * max(everyone)  # with counts it would be a fiftieth
    sexes = pd.Series(pd.Categorical(np.where(np.arange(5000) % 3 == 0, "male", "female")))
    _, cohort_shares = (trace["y"] for trace in filter_histogram(sexes, SEX, small)["data"])
    assert cohort_shares == pytest.approx([(np.arange(100) % 3 != 0).mean(), (np.arange(100) % 3 == 0).mean()])


def test_overlaid_distributions_draw_every_subject_and_say_where_the_axis_is_clipped(masses):
    group_a = np.arange(len(masses)) < 54
    prebuilt = overlaid_distributions(masses, MASS, {"A": group_a, "B": ~group_a})
    assert_unchanged_by_validation(prebuilt)
    figure = validated(prebuilt)
    bars_a = figure.data[0]
    assert bars_a.name == "A (n=54)"
    assert sum(bars_a.y) == pytest.approx(1)
    assert bars_a.y[-1] >= 2 / 54 and bars_a.y[0] >= 1 / 54  # the outliers sit in the end bars
    low, high = np.percentile(masses, [0.5, 99.5])
    note = figure.layout.annotations[0].text
    assert f"{(masses < low).sum()} below {low:.4g} g" in note and f"{(masses > high).sum()} above {high:.4g} g" in note


def test_no_clipping_note_when_the_axis_shows_everyone():
    values = pd.Series(np.tile([1.0, 2.0, 3.0], 17)[:50])  # ties at both ends: the percentiles are the extremes
    figure = validated(overlaid_distributions(values, MASS, {"A": np.arange(50) < 25, "B": np.arange(50) >= 25}, bins=10))
    assert not figure.layout.annotations or "below" not in figure.layout.annotations[0].text
