"""The cohort format's conventions: the arrays' shapes and units, and the columns everyone relies on.

Readers check files against these, importers conform recordings to them, the models are built for
them and the app draws them; the synthetic demo generator is one more writer that follows them.
A cohort may hold any other variables: only the names below have a meaning outside its manifest.
"""

from __future__ import annotations

# Columns of the phenotype table with a meaning of their own
SUBJECT_ID = "sample_id"  # index of the phenotype table and of latents / predictions (ml4h's key)
SPLIT = "split"  # categorical "train" / "test": predictors are fitted on train and scored on test

# Standard variables: the predictors' targets, the hover card, the panels' default choices. A cohort
# without one of them still loads; what needs it says so or picks another variable.
AGE = "age_years"
SEX = "sex"  # categorical: "female" / "male"
LVEF = "lvef_pct"
LV_MASS = "lv_mass_g"
HEART_RATE = "heart_rate_bpm"  # a decoded cine plays one cardiac cycle per RR interval
AF = "atrial_fibrillation"  # bool
HF = "heart_failure"  # bool
LVH = "lv_hypertrophy"  # bool
HYPERTENSION = "hypertension"  # bool

# ECG arrays
ECG_LEADS = ("I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6")  # stored order
ECG_SAMPLING_HZ = 500
ECG_STRIP_SAMPLES = 5000  # 10 s
ECG_MEDIAN_SAMPLES = 600  # 1.2 s, as in ml4h's median-beat tensors
MEDIAN_R_PEAK_INDEX = 250  # median beats span 0.5 s before the R peak and 0.7 s after it

# Cine MRI arrays: (frames, rows, cols), one cardiac cycle
CINE_FRAMES = 50
CINE_SIZE = 96  # rows == cols, ml4h's lax_4ch_heart_center crop

# How this project's writers (the importer and the demo generator) store arrays; readers take the
# scales from each file's attributes, so other writers may choose differently.
ECG_SCALE_TO_MV = 0.001  # ECGs as int16 microvolts, like the acquisition systems
MRI_INTENSITY_SCALE = 255.0  # cines as uint8
# gzip keeps the files readable by any HDF5 tool; level 1 is nearly as small and several times faster.
COMPRESSION = {"compression": "gzip", "compression_opts": 1, "shuffle": True}
# Except the demo's cines: their simulated acquisition noise leaves gzip 79 % of the bytes, for 11 ms
# of writing and 3.3 ms of reading per subject against 0.2 and 0.35 ms stored plain (measured): the
# first start writes them once and reads them twice before its model is ready.
DEMO_CINE_COMPRESSION: dict[str, object] = {}
