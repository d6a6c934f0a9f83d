"""Column names and array shapes shared by the synthetic cohort's phenotype model and signal generators.

The ECG and MRI generators read a subject's drivers from these columns; keeping the names in one
place means the phenotype model, the generators and the manifest cannot drift apart.
"""

from __future__ import annotations

SUBJECT_ID = "sample_id"  # index of the phenotype table (ml4h's key)
SEED = "synthetic_seed"  # per-subject seed: the subject's arrays depend on it and its row only

# Clinical variables
AGE = "age_years"
SEX = "sex"  # categorical: "female" / "male"
BMI = "bmi_kg_m2"
SBP = "sbp_mmhg"
DIABETES = "diabetes"  # bool
SMOKING = "smoking"  # categorical: "never" / "former" / "current"

# MRI phenotypes
LVEDV = "lvedv_ml"
LVESV = "lvesv_ml"
LVEF = "lvef_pct"
LV_MASS = "lv_mass_g"
RVEDV = "rvedv_ml"
RVEF = "rvef_pct"

# ECG phenotypes
HEART_RATE = "heart_rate_bpm"
AF_RHYTHM = "af_rhythm"  # bool: in atrial fibrillation during the visit's ECG and scan (paroxysmal AF is not)
PR = "pr_ms"  # NaN in atrial-fibrillation rhythm (no P waves)
QRS = "qrs_ms"
QT = "qt_ms"
QTC = "qtc_ms"  # Bazett
QRS_AXIS = "qrs_axis_deg"
SOKOLOW_LYON = "sokolow_lyon_mv"  # measured on the generated median beat

# Binary outcomes (bool)
AF = "atrial_fibrillation"  # diagnosed: in AF at the visit (AF_RHYTHM) or paroxysmal, in sinus rhythm then
HF = "heart_failure"
LVH = "lv_hypertrophy"
HYPERTENSION = "hypertension"

SPLIT = "split"  # categorical: "train" / "test"

# Arrays
ECG_SAMPLING_HZ = 500
ECG_STRIP_SAMPLES = 5000  # 10 s
ECG_MEDIAN_SAMPLES = 600  # 1.2 s, as in ml4h's median-beat tensors
ECG_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")
CINE_FRAMES = 50
CINE_SIZE = 96  # rows == cols, ml4h's lax_4ch_heart_center crop
