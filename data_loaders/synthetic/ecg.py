"""Synthetic 10 s 12-lead ECG strips from a moving cardiac dipole, driven by each subject's ECG phenotypes.

The heart is one current dipole whose 3-D vector (x to the patient's left, y to the feet, z forwards)
is a sum of smooth waves, each with its own timing, width, size and direction: two for the P wave
(right then left atrium), four for the QRS (septum, apex, LV free wall, base), an ST plateau and an
asymmetric T wave. A subject's beat is rendered once and laid down at each of its beat times; the
leads are projections of the vector on lead vectors (ideal Einthoven leads for I and II, Dower's
lead vectors for V1–V6), and III, aVR, aVL and aVF are computed from I and II as an electrocardiograph
does, so Einthoven's law holds exactly, noise included. Noise is made per electrode (RA, LA, LL,
V1–V6) and reaches the leads the way electrode noise does.

What each driver sets:

- heart rate: the mean RR over the strip is exactly 60 / rate; sinus rhythm has a small respiratory
  sinus arrhythmia, atrial-fibrillation rhythm independent RR intervals, no P wave and fibrillatory
  waves; paroxysmal AF (diagnosed, in sinus rhythm now) a longer, notched P wave from its larger atrium;
- PR, QRS and QT (QRS onset to T end, tangent method): the wave timings; a QRS of 120 ms or more
  is a bundle branch block (left or right, drawn from the seed) with discordant ST-T changes;
- QRS axis: the frontal direction of the net QRS vector, so the axis read from leads I and aVF;
- LV mass, BMI and sex: QRS voltage (up with mass, down with BMI, a little higher in men); LVH adds
  voltage and, increasingly with mass, a strain pattern (ST depression and T inversion laterally);
- LV ejection fraction: a failing LV loses anterior forces (poor R-wave progression) and its T waves
  flatten, as the ECG signs that AI-ECG models read systolic function from (the phenotype model
  also widens the QRS and speeds the heart as the ejection fraction falls).

Nothing else reaches the ECG: RV size and LV volumes are left for the MRI to carry. The seed adds what
phenotypes do not fix: wave shapes and directions, heart rotation, respiration and noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from data_loaders import cohort_spec
from data_loaders.synthetic import schema

DRIVER_COLUMNS = (
    cohort_spec.HEART_RATE, schema.AF_RHYTHM, cohort_spec.AF, schema.PR, schema.QRS, schema.QT, schema.QRS_AXIS, cohort_spec.LV_MASS, schema.BMI, cohort_spec.SEX,
    cohort_spec.LVH, cohort_spec.LVEF,
)
BUNDLE_BRANCH_BLOCK_QRS_MS = 120.0
LEFT_BUNDLE_BRANCH_BLOCK_SHARE = 0.6  # of wide QRS: the block that goes with LV disease

_FS = cohort_spec.ECG_SAMPLING_HZ
_SAMPLES = cohort_spec.ECG_STRIP_SAMPLES
_STRIP_S = _SAMPLES / _FS
_BEAT_START_S = -0.4  # a rendered beat spans 0.4 s before QRS onset (P wave) to 0.8 s after (T wave)
_BEAT_SAMPLES = round(1.2 * _FS)
_BEAT_TIME_MS = (_BEAT_START_S + np.arange(_BEAT_SAMPLES) / _FS) * 1000.0

# Lead vectors (rows x, y, z) for the leads computed from the dipole: I, II, V1–V6. Limb leads are ideal
# Einthoven leads at 0° and 60° with a gain for their distance from the heart; the chest leads are
# Dower's (Frank z flipped to point forwards), which give the normal R-wave progression.
_LIMB_GAIN = 0.7
_LEAD_VECTORS = np.array(
    [
        [_LIMB_GAIN, 0.0, 0.0],
        [_LIMB_GAIN * 0.5, _LIMB_GAIN * np.sqrt(3) / 2, 0.0],
        [-0.515, 0.157, 0.917],
        [0.044, 0.164, 1.387],
        [0.882, 0.098, 1.277],
        [1.213, 0.127, 0.601],
        [1.125, 0.127, 0.086],
        [0.831, 0.076, -0.230],
    ]
).T
# Electrodes RA, LA, LL, V1–V6 → leads I, II, V1–V6: limb leads are electrode differences, chest leads
# are referred to Wilson's central terminal, the mean of the three limb electrodes.
_ELECTRODE_TO_LEADS = np.zeros((9, 8))
_ELECTRODE_TO_LEADS[[0, 1], 0] = (-1.0, 1.0)
_ELECTRODE_TO_LEADS[[0, 2], 1] = (-1.0, 1.0)
_ELECTRODE_TO_LEADS[:3, 2:] = -1.0 / 3.0
_ELECTRODE_TO_LEADS[3:, 2:] = np.eye(6)

# QRS waves, one row each: centre and width (fractions of the QRS duration), size (fraction of the
# subject's ventricular voltage), frontal angle (degrees from the free-wall wave, towards the feet)
# and elevation (degrees forwards). The axis solve then turns the whole set to the subject's axis.
_NORMAL_QRS = np.array(
    [
        [0.16, 0.055, 0.13, 120.0, 40.0],  # septum, left to right: q in I, aVL, V5–V6, r in V1
        [0.33, 0.075, 0.40, -30.0, 30.0],  # apex and anterior wall: the early R of V2–V4
        [0.50, 0.085, 1.00, 0.0, -40.0],  # LV free wall: the R in I, II, V4–V6 and the S in V1–V3
        [0.76, 0.075, 0.25, 180.0, -50.0],  # LV base and outflow, late and backwards: s in I, V6
    ]
)
_LEFT_BLOCK_QRS = np.array(
    [
        [0.18, 0.100, 0.30, -20.0, -30.0],  # septum activated from the right: no septal q
        [0.42, 0.130, 0.85, 0.0, -50.0],  # slow LV activation, cell to cell: broad slurred R, QS in V1–V3
        [0.68, 0.130, 0.90, -15.0, -40.0],
    ]
)
_RIGHT_BLOCK_QRS = np.array(
    [
        [0.11, 0.040, 0.13, 120.0, 40.0],  # normal septum and LV, within the first ~70 ms
        [0.22, 0.055, 0.40, -30.0, 30.0],
        [0.36, 0.065, 1.00, 0.0, -40.0],
        [0.72, 0.130, 0.60, 170.0, 45.0],  # late RV, rightwards and forwards: R' in V1, broad S in I, V6
    ]
)
_LEFT_BLOCK_VOLTAGE = 1.1

_VENTRICULAR_MV = 1.5  # free-wall wave of a 115 g, BMI 27 woman
_REFERENCE_MASS_G = 115.0
_MASS_EXPONENT = 0.7
_REFERENCE_BMI = 27.0
_BMI_EXPONENT = 0.6  # fat and distance between heart and electrodes damp the voltage
_MALE_VOLTAGE = 1.06
_LVH_VOLTAGE = 1.15
_LVH_BACKWARDS_DEG = 8.0  # hypertrophied posterior-lateral wall: deeper S in V1–V2
_REFERENCE_EF = 62.0  # %: anterior forces and T waves shrink as the ejection fraction falls below it
_ANTERIOR_EF_EXPONENT = 1.5
_T_WAVE_EF_EXPONENT = 2.0
_PAROXYSMAL_P_WIDENING_MS = 22.0  # the enlarged atrium of paroxysmal AF conducts slowly: a wider, notched P
_STRAIN_MASS_G = (150.0, 220.0)  # strain grows from a trace to full between these LV masses
_QRS_WIDTH_JITTER = 0.08  # per-subject spread of wave widths, so equal QRS durations still differ in shape


@dataclass(frozen=True)
class _Subject:
    """One subject's drivers as plain floats."""

    heart_rate_bpm: float
    af: bool  # in AF rhythm during the recording
    paroxysmal_af: bool  # diagnosed AF, in sinus rhythm during the recording
    pr_ms: float
    qrs_ms: float
    qt_ms: float
    qrs_axis_deg: float
    lv_mass_g: float
    bmi: float
    male: bool
    lvh: bool
    lvef_pct: float


def synthesize_ecg_strips(drivers: pd.DataFrame, seeds: np.ndarray) -> np.ndarray:
    """10 s 12-lead strips (n, 5000, 12) float32 in mV, leads in ``cohort_spec.ECG_LEADS`` order.

    Subject ``i`` depends only on row ``i`` and ``seeds[i]``, so a subject regenerated alone or in
    another chunk is bit-identical.
    """
    subjects = _subjects(drivers, seeds)
    strips = np.empty((len(subjects), _SAMPLES, len(cohort_spec.ECG_LEADS)), dtype=np.float32)
    for i, (subject, seed) in enumerate(zip(subjects, seeds, strict=True)):
        strips[i] = _strip(subject, np.random.default_rng(int(seed)))
    return strips


def _subjects(drivers: pd.DataFrame, seeds: np.ndarray) -> list[_Subject]:
    missing = [name for name in DRIVER_COLUMNS if name not in drivers.columns]
    if missing:
        raise KeyError(f"synthesize_ecg_strips needs the driver columns {missing}")
    if len(seeds) != len(drivers):
        raise ValueError(f"{len(seeds)} seeds for {len(drivers)} subjects")
    numbers = {name: drivers[name].to_numpy(dtype=np.float64) for name in DRIVER_COLUMNS if name != cohort_spec.SEX}
    af = numbers[schema.AF_RHYTHM].astype(bool)
    bad = [name for name, values in numbers.items() if not np.isfinite(values[~af] if name == schema.PR else values).all()]
    if bad:
        raise ValueError(f"synthesize_ecg_strips: missing or infinite values in {bad} (PR may be empty only in AF rhythm)")
    paroxysmal = numbers[cohort_spec.AF].astype(bool) & ~af
    male = (drivers[cohort_spec.SEX].astype(str) == "male").to_numpy()
    lvh = numbers[cohort_spec.LVH].astype(bool)
    return [
        _Subject(
            heart_rate_bpm=float(numbers[cohort_spec.HEART_RATE][i]),
            af=bool(af[i]),
            paroxysmal_af=bool(paroxysmal[i]),
            pr_ms=float(numbers[schema.PR][i]),
            qrs_ms=float(numbers[schema.QRS][i]),
            qt_ms=float(numbers[schema.QT][i]),
            qrs_axis_deg=float(numbers[schema.QRS_AXIS][i]),
            lv_mass_g=float(numbers[cohort_spec.LV_MASS][i]),
            bmi=float(numbers[schema.BMI][i]),
            male=bool(male[i]),
            lvh=bool(lvh[i]),
            lvef_pct=float(numbers[cohort_spec.LVEF][i]),
        )
        for i in range(len(drivers))
    ]


def _strip(subject: _Subject, rng: np.random.Generator) -> np.ndarray:
    beat = _beat_vector(subject, rng)
    respiration_hz = rng.uniform(0.2, 0.33)
    respiration_phase = rng.uniform(0, 2 * np.pi)
    onsets_s = _beat_onsets_s(subject, rng, respiration_hz, respiration_phase)
    heart = np.zeros((_SAMPLES, 3))
    # Breathing moves the heart and lungs: QRS-T size swings a few percent with respiration.
    sizes = 1.0 + 0.04 * np.sin(2 * np.pi * respiration_hz * onsets_s + respiration_phase) + rng.normal(0, 0.015, len(onsets_s))
    first = round(_BEAT_START_S * _FS)
    for onset, size in zip(np.round(onsets_s * _FS).astype(np.int64) + first, sizes, strict=True):
        start, stop = max(onset, 0), min(onset + _BEAT_SAMPLES, _SAMPLES)
        if start < stop:
            heart[start:stop] += size * beat[start - onset : stop - onset]
    if subject.af:
        heart += _fibrillatory_waves(rng)
    leads = heart @ _LEAD_VECTORS + _electrode_noise(rng, respiration_hz, respiration_phase) @ _ELECTRODE_TO_LEADS
    return _twelve_leads(leads.astype(np.float32))


def _twelve_leads(leads: np.ndarray) -> np.ndarray:
    """I, II, V1–V6 → the 12 leads in schema order, the limb leads derived from I and II as machines do."""
    lead_i, lead_ii = leads[:, 0], leads[:, 1]
    derived = {
        "I": lead_i,
        "II": lead_ii,
        "III": lead_ii - lead_i,
        "aVR": -(lead_i + lead_ii) / 2,
        "aVL": lead_i - lead_ii / 2,
        "aVF": lead_ii - lead_i / 2,
        **{f"V{k}": leads[:, 1 + k] for k in range(1, 7)},
    }
    return np.stack([derived[name] for name in cohort_spec.ECG_LEADS], axis=1)


def _direction(frontal_deg: np.ndarray, forwards_deg: np.ndarray) -> np.ndarray:
    """Unit vectors (..., 3) from a frontal-plane angle (0° left, 90° feet) and an elevation forwards."""
    frontal, forwards = np.radians(frontal_deg), np.radians(forwards_deg)
    return np.stack([np.cos(forwards) * np.cos(frontal), np.cos(forwards) * np.sin(frontal), np.sin(forwards)], axis=-1)


def _wave(centre_ms: float | np.ndarray, rise_ms: float | np.ndarray, fall_ms: float | np.ndarray) -> np.ndarray:
    """Gaussian bumps over the beat's time axis, with separate widths before and after the peak: (waves, samples)."""
    centre, rise, fall = (np.atleast_1d(np.asarray(value, dtype=np.float64))[:, None] for value in (centre_ms, rise_ms, fall_ms))
    offset = _BEAT_TIME_MS - centre
    return np.exp(-0.5 * (offset / np.where(offset < 0, rise, fall)) ** 2)


def _sigmoid(t_ms: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * t_ms))


def _beat_vector(subject: _Subject, rng: np.random.Generator) -> np.ndarray:
    """One beat's heart vector (samples, 3) in mV, time 0 at QRS onset."""
    duration = subject.qrs_ms
    voltage = (
        _VENTRICULAR_MV
        * (subject.lv_mass_g / _REFERENCE_MASS_G) ** _MASS_EXPONENT
        * (_REFERENCE_BMI / subject.bmi) ** _BMI_EXPONENT
        * (_MALE_VOLTAGE if subject.male else 1.0)
        * (_LVH_VOLTAGE if subject.lvh else 1.0)
        * rng.lognormal(0.0, 0.15)
    )
    block = "none"
    if duration >= BUNDLE_BRANCH_BLOCK_QRS_MS:
        block = "left" if rng.random() < LEFT_BUNDLE_BRANCH_BLOCK_SHARE else "right"
    table = {"none": _NORMAL_QRS, "left": _LEFT_BLOCK_QRS, "right": _RIGHT_BLOCK_QRS}[block]
    centre, width, size, frontal, forwards = table.T
    size = size * voltage * (_LEFT_BLOCK_VOLTAGE if block == "left" else 1.0)
    if block != "left":  # septum and anterior wall: the early forces a failing LV loses
        size[:2] *= _systolic_function(subject) ** _ANTERIOR_EF_EXPONENT
    width = width * rng.lognormal(0.0, _QRS_WIDTH_JITTER, len(width))
    forwards = forwards + rng.normal(0, 8, len(forwards)) - (_LVH_BACKWARDS_DEG if subject.lvh else 0.0)
    frontal = frontal + rng.normal(0, 8, len(frontal))
    directions = _turned(_direction(frontal, forwards), rng.normal(0, 12))
    # Turn the QRS about the front-to-back axis so its net frontal area points along the subject's axis.
    net = (size * width) @ directions  # each wave's area is size × width × √(2π)
    directions = _rotated_frontal(directions, subject.qrs_axis_deg - np.degrees(np.arctan2(net[1], net[0])))
    net = (size * width) @ directions
    net_direction = net / np.linalg.norm(net)
    heart = (size[:, None] * _wave(centre * duration, width * duration, width * duration)).T @ directions

    heart += _repolarisation(subject, rng, voltage, block, net_direction, directions[-1])
    if not subject.af:
        heart += _p_wave(subject, rng)
    return heart


def _systolic_function(subject: _Subject) -> float:
    """The ejection fraction relative to a healthy one, bounded: what scales the failing LV's ECG signs."""
    return float(np.clip(subject.lvef_pct / _REFERENCE_EF, 0.35, 1.15))


def _turned(directions: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate about the head-to-foot axis (the heart's clockwise or anticlockwise rotation): moves the R-wave transition."""
    angle = np.radians(degrees)
    x, y, z = directions.T
    return np.stack([x * np.cos(angle) + z * np.sin(angle), y, -x * np.sin(angle) + z * np.cos(angle)], axis=-1)


def _rotated_frontal(directions: np.ndarray, degrees: float) -> np.ndarray:
    angle = np.radians(degrees)
    x, y, z = directions.T
    return np.stack([x * np.cos(angle) - y * np.sin(angle), x * np.sin(angle) + y * np.cos(angle), z], axis=-1)


def _repolarisation(
    subject: _Subject, rng: np.random.Generator, voltage: float, block: str, qrs_direction: np.ndarray, terminal_direction: np.ndarray
) -> np.ndarray:
    """ST plateau and T wave (samples, 3); the T ends QT after QRS onset by the tangent method (peak + 2 × fall width)."""
    j_point = subject.qrs_ms
    jt = max(subject.qt_ms - j_point, 60.0)
    fall = 0.13 * jt * rng.lognormal(0.0, 0.08)
    rise = 0.2 * jt * rng.lognormal(0.0, 0.08)
    t_peak = subject.qt_ms - 2.0 * fall
    t_frontal = 0.35 * subject.qrs_axis_deg + 0.65 * 40.0 + rng.normal(0, 10)
    t_size = 0.33 * np.sqrt(voltage / _VENTRICULAR_MV) * _systolic_function(subject) ** _T_WAVE_EF_EXPONENT * rng.lognormal(0.0, 0.2)
    t_normal = t_size * _direction(t_frontal, 15.0 + rng.normal(0, 8))
    st_normal = (0.07 if subject.male else 0.04) * _direction(t_frontal, 60.0)  # the J-point elevation of V2–V3
    discordant = -qrs_direction
    if block == "left":
        t_vector, st_vector = 0.16 * voltage * discordant, 0.07 * voltage * discordant
    elif block == "right":
        t_vector, st_vector = 0.7 * t_normal - 0.15 * voltage * terminal_direction, st_normal
    else:
        strain = 0.0
        if subject.lvh:
            low, high = _STRAIN_MASS_G
            strain = float(np.clip((subject.lv_mass_g - low) / (high - low), 0.15, 1.0)) * rng.uniform(0.7, 1.0)
        t_vector = (1 - strain) * t_normal + strain * 0.16 * voltage * discordant
        st_vector = (1 - strain) * st_normal + strain * 0.08 * voltage * discordant
    t_wave = _wave(t_peak, rise, fall)[0]
    # The ST plateau rises at the J point and ends with the T wave, falling as it does after the T
    # peak, so every lead's T end (tangent method) is where the T wave alone puts it.
    plateau = _sigmoid((_BEAT_TIME_MS - j_point) / 4.0) * np.where(_BEAT_TIME_MS < t_peak, 1.0, t_wave)  # noqa: SIM300 (an array, not a constant)
    return np.outer(t_wave, t_vector) + np.outer(plateau, st_vector)


def _p_wave(subject: _Subject, rng: np.random.Generator) -> np.ndarray:
    """Right then left atrial depolarisation (samples, 3), starting PR before QRS onset."""
    widening = _PAROXYSMAL_P_WIDENING_MS if subject.paroxysmal_af else 0.0
    duration = min(rng.normal(100.0, 8.0) + widening, subject.pr_ms - 30.0)
    onset = -subject.pr_ms
    width = duration / 6.0
    centres = np.array([onset + 0.35 * duration, onset + 0.62 * duration])
    sizes = 0.15 * rng.lognormal(0.0, 0.2, 2) * np.array([1.0, 1.4 if subject.paroxysmal_af else 1.0])  # a larger left atrium
    directions = _direction(np.array([70.0, 40.0]) + rng.normal(0, 8, 2), np.array([35.0, -40.0]) + rng.normal(0, 8, 2))
    return (sizes[:, None] * _wave(centres, width, width)).T @ directions


def _beat_onsets_s(subject: _Subject, rng: np.random.Generator, respiration_hz: float, respiration_phase: float) -> np.ndarray:
    """QRS onset times (s) covering the strip, their mean RR inside the strip exactly 60 / heart rate."""
    mean_rr = 60.0 / subject.heart_rate_bpm
    count = int(np.ceil((_STRIP_S + 2.0) / mean_rr * (1.8 if subject.af else 1.2))) + 4
    if subject.af:
        # Irregularly irregular: independent intervals, the AV node refractory below about 0.3 s.
        spread = rng.uniform(0.15, 0.3)
        rr = np.maximum(mean_rr * rng.gamma(1.0 / spread**2, spread**2, count), min(0.3, 0.6 * mean_rr))
    else:
        arrhythmia = rng.uniform(0.01, 0.04)
        approximate_times = np.arange(count) * mean_rr
        rr = mean_rr * (1 + arrhythmia * np.sin(2 * np.pi * respiration_hz * approximate_times + respiration_phase) + rng.normal(0, 0.006, count))
    first = -rng.uniform(0.0, 1.0) * rr[0]
    for _ in range(4):
        onsets = first + np.concatenate([[0.0], np.cumsum(rr)])
        inside = onsets[(onsets >= 0) & (onsets < _STRIP_S)]
        rr = rr * (mean_rr / np.diff(inside).mean())
    onsets = first + np.concatenate([[0.0], np.cumsum(rr)])
    return onsets[onsets < _STRIP_S - _BEAT_START_S]


def _fibrillatory_waves(rng: np.random.Generator) -> np.ndarray:
    """Atrial fibrillation's f-waves (samples, 3): two wandering 4–9 Hz oscillators, seen best in V1 and the inferior leads."""
    t = np.arange(_SAMPLES) / _FS
    waves = np.zeros((_SAMPLES, 3))
    base_hz = rng.uniform(5.0, 8.0)
    for frontal, forwards in ((120.0, 55.0), (90.0, 35.0)):
        rate_hz = base_hz * rng.uniform(0.9, 1.1)
        drift_hz, drift_depth = rng.uniform(0.1, 0.3), rng.uniform(0.3, 1.0)
        phase = 2 * np.pi * rate_hz * t + drift_depth / drift_hz * np.sin(2 * np.pi * drift_hz * t + rng.uniform(0, 2 * np.pi))
        shape = np.sin(phase) + 0.3 * np.sin(2 * phase + rng.uniform(0, 2 * np.pi))
        envelope = 1 + 0.35 * np.sin(2 * np.pi * rng.uniform(0.1, 0.4) * t + rng.uniform(0, 2 * np.pi))
        size = rng.uniform(0.03, 0.08)
        waves += np.outer(size * envelope * shape, _direction(frontal + rng.normal(0, 10), forwards + rng.normal(0, 10)))
    return waves


def _electrode_noise(rng: np.random.Generator, respiration_hz: float, respiration_phase: float) -> np.ndarray:
    """Noise (samples, 9) at the RA, LA, LL and V1–V6 electrodes: baseline wander, mains hum and muscle noise, in mV."""
    t = np.arange(_SAMPLES) / _FS
    slow_hz = rng.uniform(0.05, 0.15)
    angles = 2 * np.pi * np.array([respiration_hz, slow_hz, 50.0])[None, :] * t[:, None]
    angles[:, 0] += respiration_phase
    basis = np.concatenate([np.sin(angles), np.cos(angles)], axis=1)  # resp, slow, mains; sin then cos
    wander_mv = np.clip(rng.lognormal(np.log(0.1), 0.6), 0.02, 0.6)
    mains_mv = rng.uniform(0.0, 0.005) if rng.random() < 0.5 else 0.0  # else the cart's notch filter removed it
    muscle_mv = np.clip(rng.lognormal(np.log(0.006), 0.5), 0.002, 0.04)
    electrodes = 9
    scale = np.array([wander_mv, wander_mv, mains_mv] * 2)[:, None] * rng.standard_normal((6, electrodes))
    scale[:2] *= rng.uniform(0.3, 1.0, electrodes)
    scale[3:5] *= rng.uniform(0.3, 1.0, electrodes)
    muscle = rng.standard_normal((_SAMPLES + 1, electrodes), dtype=np.float32)
    muscle = np.diff(muscle, axis=0) * (muscle_mv / np.sqrt(2) * rng.uniform(0.5, 1.5, electrodes))  # muscle noise is high-frequency
    return basis @ scale + muscle
