"""The causal phenotype model: determinism, plausible ranges and the expected causal directions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data_loaders import cohort_spec as spec
from data_loaders.synthetic import schema as s
from data_loaders.synthetic.phenotypes import VARIABLES, sample_phenotypes


@pytest.fixture(scope="module")
def population() -> pd.DataFrame:
    return sample_phenotypes(20_000, seed=11)


def test_same_seed_gives_same_subjects_and_other_seed_does_not():
    pd.testing.assert_frame_equal(sample_phenotypes(300, 5), sample_phenotypes(300, 5))
    assert not sample_phenotypes(300, 5)[spec.LV_MASS].equals(sample_phenotypes(300, 6)[spec.LV_MASS])


@pytest.mark.parametrize(
    ("column", "low", "high"),
    [
        (spec.AGE, 45, 82), (s.BMI, 17, 50), (s.SBP, 90, 215), (s.LVEDV, 60, 380), (spec.LVEF, 15, 78),
        (spec.LV_MASS, 50, 320), (s.RVEDV, 60, 400), (s.RVEF, 20, 75), (spec.HEART_RATE, 45, 140),
        (s.QRS, 70, 170), (s.QTC, 360, 520), (s.QRS_AXIS, -90, 120),
    ],
)
def test_values_stay_in_plausible_adult_ranges(population, column, low, high):
    assert population[column].between(low, high).all()


def test_derived_quantities_are_consistent(population):
    expected_esv = population[s.LVEDV] * (1 - population[spec.LVEF] / 100)
    assert np.allclose(population[s.LVESV], expected_esv, atol=0.2)
    bazett = population[s.QT] / np.sqrt(60 / population[spec.HEART_RATE])
    assert np.allclose(bazett, population[s.QTC], atol=3)
    assert population[s.PR].isna().equals(population[s.AF_RHYTHM])  # no PR interval without P waves
    assert not (population[s.AF_RHYTHM] & ~population[spec.AF]).any()  # AF rhythm only in diagnosed AF
    assert 0.4 < population.loc[population[spec.AF], s.AF_RHYTHM].mean() < 0.7  # the rest is paroxysmal


def test_prevalences_are_demo_enriched_but_plausible(population):
    prevalence = population[[spec.AF, spec.HF, spec.LVH, spec.HYPERTENSION, s.DIABETES]].mean()
    assert 0.05 < prevalence[spec.AF] < 0.13
    assert 0.03 < prevalence[spec.HF] < 0.10
    assert 0.08 < prevalence[spec.LVH] < 0.20
    assert 0.25 < prevalence[spec.HYPERTENSION] < 0.50
    assert 0.03 < prevalence[s.DIABETES] < 0.10
    assert 0.75 < (population[spec.SPLIT] == "train").mean() < 0.85


def test_causal_directions_hold(population):
    old = population[spec.AGE] > 70
    assert population.loc[old, spec.AF].mean() > 2 * population.loc[population[spec.AGE] < 55, spec.AF].mean()
    assert population.loc[population[spec.HYPERTENSION], spec.LV_MASS].mean() > population.loc[~population[spec.HYPERTENSION], spec.LV_MASS].mean()
    assert population.loc[population[spec.HF], spec.LVEF].mean() < population.loc[~population[spec.HF], spec.LVEF].mean() - 10
    assert population.loc[population[spec.HF], s.LVEDV].mean() > population.loc[~population[spec.HF], s.LVEDV].mean()
    assert population.groupby(spec.SEX, observed=True)[spec.LV_MASS].mean()["male"] > 1.25 * population.groupby(spec.SEX, observed=True)[spec.LV_MASS].mean()["female"]
    assert np.corrcoef(population[spec.AGE], population[s.SBP])[0, 1] > 0.2
    low_ef = population[spec.LVEF] < 45
    assert population.loc[low_ef, s.QRS].mean() > population.loc[~low_ef, s.QRS].mean() + 10  # a failing LV widens the QRS


def test_rv_carries_information_the_lv_does_not(population):
    """RV size has its own variation, so an MRI-only signal exists for the spaces to differ on."""
    r = np.corrcoef(population[s.LVEDV], population[s.RVEDV])[0, 1]
    assert 0.5 < r < 0.95


def test_every_generated_column_is_described():
    generated = set(sample_phenotypes(10, 0).columns) - {s.SEED}
    assert generated == set(VARIABLES)
    assert all(spec.label and spec.group for spec in VARIABLES.values())
