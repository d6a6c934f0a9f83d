"""The demo's own columns: those its phenotype model and signal generators share beyond the cohort format's.

The standard columns (id, split, age, sex, LVEF, outcomes…) and the arrays' shapes are the cohort
format's, in ``data_loaders.cohort_spec``; the ECG and MRI generators read a subject's drivers from
both, so the phenotype model, the generators and the manifest cannot drift apart.
"""

from __future__ import annotations

SEED = "synthetic_seed"  # per-subject seed: the subject's arrays depend on it and its row only

# Clinical variables
BMI = "bmi_kg_m2"
SBP = "sbp_mmhg"
DIABETES = "diabetes"  # bool
SMOKING = "smoking"  # categorical: "never" / "former" / "current"

# MRI phenotypes
LVEDV = "lvedv_ml"
LVESV = "lvesv_ml"
RVEDV = "rvedv_ml"
RVEF = "rvef_pct"

# ECG phenotypes
AF_RHYTHM = "af_rhythm"  # bool: in atrial fibrillation during the visit's ECG and scan (paroxysmal AF is not)
PR = "pr_ms"  # NaN in atrial-fibrillation rhythm (no P waves)
QRS = "qrs_ms"
QT = "qt_ms"
QTC = "qtc_ms"  # Bazett
QRS_AXIS = "qrs_axis_deg"
SOKOLOW_LYON = "sokolow_lyon_mv"  # measured on the generated median beat
