"""A causal model of UK Biobank-like adults: demographics → risk factors → heart structure → signals.

The arrows follow textbook cardiology (age, BMI and diabetes raise blood pressure; pressure load
thickens the LV; heart failure dilates it and lowers the ejection fraction; age, hypertension and
heart failure bring atrial fibrillation). Numbers are plausible adult ranges from UK Biobank
imaging papers; outcome prevalences are enriched for the demo (see ``DEMO_PREVALENCE_NOTE``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from data_loaders import cohort_spec as spec
from data_loaders.manifest import VariableSpec
from data_loaders.synthetic import schema as s

DEMO_PREVALENCE_NOTE = (
    "Outcome prevalences are enriched for the demo (about 9% AF, 6% heart failure, 14% LVH, "
    "37% hypertension) so that every subgroup has enough subjects to see; UK Biobank's imaging "
    "cohort has about 2-3% AF and 1% heart failure."
)

AF_RHYTHM_SHARE = 0.55  # of diagnosed AF, the share in AF rhythm at the visit (the rest paroxysmal)
SYSTOLIC_REFERENCE_EF = 62.0  # %: each point of ejection fraction below it speeds the heart and widens the QRS

# Sex-specific upper limits of the LV mass index (g/m²) above which a subject has LVH.
LVH_MASS_INDEX_LIMIT = {"female": 60.0, "male": 76.0}


def _logistic(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def sample_phenotypes(n_subjects: int, seed: int) -> pd.DataFrame:
    """Draw ``n_subjects`` subjects; deterministic for ``(n_subjects, seed)``.

    Every column except the Sokolow-Lyon voltage, which is measured on the generated ECG, is
    filled; each subject also gets the seed its ECG and MRI are generated from.
    """
    rng = np.random.default_rng(seed)
    n = n_subjects

    age = np.clip(rng.normal(63.0, 8.0, n), 45.0, 82.0)
    male = rng.random(n) < 0.48
    height_m = np.where(male, rng.normal(1.76, 0.07, n), rng.normal(1.63, 0.065, n))
    bmi = np.clip(np.exp(rng.normal(np.log(np.where(male, 27.5, 26.5)), 0.15, n)), 17.0, 50.0)
    weight_kg = bmi * height_m**2
    body_surface_m2 = np.sqrt(height_m * 100.0 * weight_kg / 3600.0)  # Mosteller
    smoking = np.where(
        rng.random(n) < 0.08 + 0.03 * male, "current", np.where(rng.random(n) < 0.37, "former", "never")
    )

    diabetes = rng.random(n) < _logistic(-3.4 + 0.05 * (age - 60) + 0.15 * (bmi - 27) + 0.4 * male)
    sbp = np.clip(
        128 + 0.6 * (age - 60) + 0.9 * (bmi - 27) + 5 * male + 4 * diabetes + rng.normal(0, 14, n), 90, 215
    )
    treated = rng.random(n) < 0.08
    hypertension = (sbp >= 140) | treated

    heart_failure = rng.random(n) < _logistic(
        -3.75 + 0.07 * (age - 60) + 0.9 * diabetes + 0.6 * hypertension + 0.4 * male + 0.05 * (bmi - 27)
        + 0.5 * (smoking == "current")
    )
    reduced_ef = heart_failure & (rng.random(n) < 0.7)  # the rest keep a preserved ejection fraction

    # LV mass: body size and sex set the baseline; pressure load and failure add to it.
    mass_index = np.where(male, 58.0, 46.0) * np.exp(rng.normal(0, 0.11, n))
    pressure_load = np.maximum(sbp - 120, 0) * 0.25 + 9.0 * hypertension * rng.random(n)
    lv_mass = np.clip(body_surface_m2 * (mass_index + pressure_load + 14.0 * heart_failure), 50, 320)
    lvh = lv_mass / body_surface_m2 > np.where(male, LVH_MASS_INDEX_LIMIT["male"], LVH_MASS_INDEX_LIMIT["female"])

    lvedv = body_surface_m2 * np.where(male, 82.0, 71.0) * np.exp(rng.normal(0, 0.10, n))
    lvedv = np.clip(lvedv * np.where(reduced_ef, 1.4, 1.0), 60, 380)
    lvef = rng.normal(61.0, 5.0, n) + 2.0 * ~male - 0.08 * (age - 60)
    lvef = np.clip(np.where(reduced_ef, rng.normal(36.0, 8.0, n), lvef), 15.0, 78.0)
    lvesv = lvedv * (1 - lvef / 100)

    # The RV shares body size with the LV but has its own remodelling that only the MRI sees.
    rv_remodelling = np.exp(rng.normal(0, 0.13, n))
    rvedv = np.clip(lvedv * 1.08 * rv_remodelling * np.exp(rng.normal(0, 0.05, n)), 60, 400)
    rvef = np.clip(rng.normal(56.0, 6.0, n) - 8.0 * heart_failure - 10.0 * (rv_remodelling - 1), 20, 75)

    af = rng.random(n) < _logistic(
        -3.4 + 0.08 * (age - 60) + 0.5 * hypertension + 1.6 * heart_failure + 0.04 * (bmi - 27) + 0.3 * male
    )
    # Most diagnosed AF is paroxysmal: in sinus rhythm at the visit, with only an enlarged, slower
    # atrium to tell. Those in AF rhythm show it plainly on the ECG and in the cine.
    af_rhythm = af & (rng.random(n) < AF_RHYTHM_SHARE)

    # A failing LV shows on the ECG: a faster sinus rate and a wider QRS as the ejection fraction falls.
    systolic_deficit = np.maximum(SYSTOLIC_REFERENCE_EF - lvef, 0.0)
    sinus_rate = 68 - 2 * male + 0.3 * (bmi - 27) + 5 * heart_failure + 0.3 * systolic_deficit + rng.normal(0, 9, n)
    heart_rate = np.where(af_rhythm, rng.normal(84, 13, n), sinus_rate)
    heart_rate = np.clip(heart_rate, 45, 140)
    pr = np.clip(160 + 0.6 * (age - 60) + 8 * af + rng.normal(0, 20, n), 110, 260)
    pr = np.where(af_rhythm, np.nan, pr)
    bundle_branch_block = rng.random(n) < 0.03 + 0.08 * heart_failure
    qrs = 92 + 4 * male + 8 * lvh + 6 * heart_failure + 0.5 * systolic_deficit + rng.normal(0, 8, n)
    qrs = np.clip(np.where(bundle_branch_block, rng.uniform(125, 160, n), qrs), 70, 170)
    qtc = np.clip(
        412 + 10 * ~male + 0.3 * (age - 60) + 0.25 * (qrs - 92) + 10 * heart_failure + rng.normal(0, 16, n), 360, 520
    )
    qt = qtc * np.sqrt(60.0 / heart_rate)
    qrs_axis = np.clip(45 - 0.6 * (age - 60) - 1.2 * (bmi - 27) - 15 * lvh + rng.normal(0, 25, n), -90, 120)

    split = np.where(rng.random(n) < 0.8, "train", "test")
    seeds = np.random.SeedSequence([seed, n_subjects]).generate_state(n, dtype=np.uint32)

    table = pd.DataFrame(
        {
            spec.AGE: age.round(1),
            spec.SEX: pd.Categorical(np.where(male, "male", "female"), categories=["female", "male"]),
            s.BMI: bmi.round(1),
            s.SBP: sbp.round(0),
            s.DIABETES: diabetes,
            s.SMOKING: pd.Categorical(smoking, categories=["never", "former", "current"]),
            s.LVEDV: lvedv.round(1),
            s.LVESV: lvesv.round(1),
            spec.LVEF: lvef.round(1),
            spec.LV_MASS: lv_mass.round(1),
            s.RVEDV: rvedv.round(1),
            s.RVEF: rvef.round(1),
            spec.HEART_RATE: heart_rate.round(0),
            s.PR: pr.round(0),
            s.QRS: qrs.round(0),
            s.QT: qt.round(0),
            s.QTC: qtc.round(0),
            s.QRS_AXIS: qrs_axis.round(0),
            s.SOKOLOW_LYON: np.nan,
            spec.AF: af,
            s.AF_RHYTHM: af_rhythm,
            spec.HF: heart_failure,
            spec.LVH: lvh,
            spec.HYPERTENSION: hypertension,
            spec.SPLIT: pd.Categorical(split, categories=["train", "test"]),
            s.SEED: seeds.astype(np.int64),
        },
        index=pd.Index([f"SYN{i:06d}" for i in range(n)], name=spec.SUBJECT_ID),
    )
    return table


def _spec(name: str, kind: str, label: str, unit: str, group: str, description: str, categories: tuple[str, ...] = (),
          role: str = "clinical") -> VariableSpec:
    return VariableSpec(name, kind, label, unit, description, group, categories, role)


VARIABLES: dict[str, VariableSpec] = {
    spec.name: spec
    for spec in (
        _spec(spec.AGE, "continuous", "Age", "years", "Clinical", "Age at the imaging visit."),
        _spec(spec.SEX, "categorical", "Sex", "", "Clinical", "Sex recorded at recruitment.", ("female", "male")),
        _spec(s.BMI, "continuous", "BMI", "kg/m²", "Clinical", "Body-mass index."),
        _spec(s.SBP, "continuous", "Systolic BP", "mmHg", "Clinical", "Seated systolic blood pressure."),
        _spec(s.DIABETES, "binary", "Diabetes", "", "Clinical", "Diagnosed diabetes mellitus."),
        _spec(s.SMOKING, "categorical", "Smoking", "", "Clinical", "Smoking status.", ("never", "former", "current")),
        _spec(s.LVEDV, "continuous", "LV end-diastolic volume", "mL", "MRI", "Left-ventricular end-diastolic volume."),
        _spec(s.LVESV, "continuous", "LV end-systolic volume", "mL", "MRI", "Left-ventricular end-systolic volume."),
        _spec(spec.LVEF, "continuous", "LV ejection fraction", "%", "MRI", "(LVEDV − LVESV) / LVEDV."),
        _spec(spec.LV_MASS, "continuous", "LV mass", "g", "MRI", "Left-ventricular myocardial mass."),
        _spec(s.RVEDV, "continuous", "RV end-diastolic volume", "mL", "MRI", "Right-ventricular end-diastolic volume."),
        _spec(s.RVEF, "continuous", "RV ejection fraction", "%", "MRI", "Right-ventricular ejection fraction."),
        _spec(spec.HEART_RATE, "continuous", "Heart rate", "bpm", "ECG", "Mean ventricular rate over the 10 s strip."),
        _spec(s.AF_RHYTHM, "binary", "AF rhythm at the visit", "", "ECG", "In atrial fibrillation on the visit's ECG (paroxysmal AF is in sinus rhythm then)."),
        _spec(s.PR, "continuous", "PR interval", "ms", "ECG", "P onset to QRS onset; empty in atrial-fibrillation rhythm."),
        _spec(s.QRS, "continuous", "QRS duration", "ms", "ECG", "QRS onset to offset."),
        _spec(s.QT, "continuous", "QT interval", "ms", "ECG", "QRS onset to T-wave end."),
        _spec(s.QTC, "continuous", "QTc (Bazett)", "ms", "ECG", "QT / √RR."),
        _spec(s.QRS_AXIS, "continuous", "QRS axis", "°", "ECG", "Frontal-plane QRS axis."),
        _spec(s.SOKOLOW_LYON, "continuous", "Sokolow-Lyon voltage", "mV", "ECG", "S in V1 + max(R in V5, V6), measured on the median beat."),
        _spec(spec.AF, "binary", "Atrial fibrillation", "", "Outcome", "Diagnosed atrial fibrillation or flutter, paroxysmal or in AF at the visit."),
        _spec(spec.HF, "binary", "Heart failure", "", "Outcome", "Heart failure (reduced or preserved ejection fraction)."),
        _spec(spec.LVH, "binary", "LV hypertrophy", "", "Outcome", "LV mass index above the sex-specific upper limit."),
        _spec(spec.HYPERTENSION, "binary", "Hypertension", "", "Outcome", "Systolic BP ≥ 140 mmHg or treated."),
        _spec(spec.SPLIT, "categorical", "Split", "", "Study", "Train/test split for models and predictors.", ("train", "test"),
              role="administrative"),
    )
}
