"""Synthetic long-axis 4-chamber cine MRI with a balanced-SSFP look, driven by each subject's heart phenotypes.

The heart is built in a *heart frame* in millimetres: ``u`` runs along the LV long axis from the
mitral plane at end-diastole (``u = 0``) to the apex, ``v`` across it towards the LV lateral wall,
so the septum, RV and right atrium lie at negative ``v``. Each chamber is a truncated ellipse (the RV
a crescent wrapped round the septum) resized frame by frame from a volume curve, so that its area
in the slice goes as volume^(2/3): the LV cavity area follows LVEDV → LVESV and its fractional area
change tracks the ejection fraction. The apex stays put while the valve planes descend in systole,
which is what fills the atria while the ventricles empty. The LV wall keeps its area in the slice,
so it thickens as the cavity shrinks, and its end-diastolic thickness comes from the LV mass.

Display follows an axial-derived 4-chamber plane (anterior up, the patient's left on the image
right): apex towards the upper right, atria lower left, LV right of the septum, RV left of it.
Frame 0 is end-diastole and the 50 frames span one normalised cardiac cycle, as in UK Biobank, so
heart rate and ECG intervals play no part.

Around the heart: dark lungs, the chest wall (its fat thicker with BMI and in women), liver,
mediastinum and descending aorta; epicardial fat grows with BMI. Per subject, the pose varies by a
few pixels, about 4° (at most 10°) and about 3% in size (at most 8%), with smooth tissue texture,
coil shading and magnitude noise on top.

Every shape is stored as a table of its lower and upper ``v`` edge per frame and per 0.75 mm of
``u``; rendering is a gather per pixel and a soft (partial-volume) edge, about 15 ms a subject on one
core. Each subject depends only on its own row and seed.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
from scipy.special import ndtri

from data_loaders import cohort_spec
from data_loaders.synthetic import schema

# Label map values (uint8), one per pixel and frame.
BACKGROUND = 0
LV_BLOOD_POOL = 1
LV_MYOCARDIUM = 2
RV_BLOOD_POOL = 3
LEFT_ATRIUM = 4
RIGHT_ATRIUM = 5
LABEL_NAMES = {
    BACKGROUND: "background",
    LV_BLOOD_POOL: "LV blood pool",
    LV_MYOCARDIUM: "LV myocardium",
    RV_BLOOD_POOL: "RV blood pool",
    LEFT_ATRIUM: "left atrium",
    RIGHT_ATRIUM: "right atrium",
}

# Cines are uint8 magnitude images: divide by INTENSITY_SCALE for [0, 1]. Nominal tissue levels
# before bias field and noise, as bright-blood SSFP shows them:
INTENSITY_SCALE = 255
BLOOD_INTENSITY = 200.0
MYOCARDIUM_INTENSITY = 62.0
FAT_INTENSITY = 215.0
LUNG_INTENSITY = 14.0
# Noise: blood SNR ≈ 67, cleaner than a scanner, because SSIM against the noisy cine caps what any
# decoder can score (models.metrics.ssim: 0.94 for a perfect denoiser and 0.86 for a 1.5 px blur at
# this level, against 0.81 and 0.73 at 3% and 4% of blood).
NOISE_SIGMA = 0.015 * BLOOD_INTENSITY

PIXEL_SPACING_MM = 2.0  # fixed, as a fixed acquisition matrix gives: 96 px is a 19 cm field of view
NOMINAL_END_SYSTOLE = 0.36  # fraction of the cycle; heart failure prolongs systole a little

DRIVER_COLUMNS = (
    schema.LVEDV, schema.LVESV, cohort_spec.LV_MASS, schema.RVEDV, schema.RVEF, cohort_spec.AF, schema.AF_RHYTHM, cohort_spec.HF, cohort_spec.SEX, schema.BMI,
)

_FRAMES = cohort_spec.CINE_FRAMES
_SIZE = cohort_spec.CINE_SIZE
_DU = 0.75  # mm per row of the shape tables (a pixel is 2 mm)
_EMPTY = 1.0e4  # an edge far outside the image: a table row with lo = +_EMPTY, hi = -_EMPTY is empty
_LV_BASE_FRACTION = 0.4  # the LV cavity is widest this fraction of its length above the mitral plane
_ATRIAL_BASE_FRACTION = 0.25
_SEPTAL_RATIO = 0.82  # septal / lateral half-width of the LV cavity at end-diastole
_SEPTAL_EXCURSION = 0.7  # the septum moves less than the lateral wall: its radius scales as the mean's ** this
_SEPTAL_SHAPE = 3.0  # superellipse exponent of the septal side: a flatter septum than the lateral wall
_RV_TAPER = 0.3  # the RV narrows from the tricuspid annulus to its apex faster than a quarter-ellipse
_APICAL_WALL = 0.75  # apical wall thickness relative to the lateral wall
_ATRIAL_WALL_MM = 2.5
_RV_WALL_MM = 3.5
_TRICUSPID_OFFSET_MM = 7.0  # the tricuspid annulus sits apical to the mitral annulus
_DRAWS = 16  # standard normals drawn per subject for its anatomy and pose, before texture and noise
# Gaussian quantiles indexed by a random byte: several times faster than drawing normals, and finer
# than the integer steps the noise ends up in.
_GAUSSIAN_QUANTILES = ndtri((np.arange(256) + 0.5) / 256).astype(np.float32)
# Gaussian bumps on a 7 x 7 lattice, normalised: a random mix of them is a smooth field across the image.
_SMOOTH_BASIS = np.exp(-0.5 * ((np.arange(_SIZE)[:, None] - np.linspace(0, _SIZE - 1, 7)[None, :]) / 9.0) ** 2)
_SMOOTH_BASIS = (_SMOOTH_BASIS / np.sqrt((_SMOOTH_BASIS**2).sum(axis=1, keepdims=True))).astype(np.float32)


def synthesize_cines(
    drivers: pd.DataFrame, seeds: np.ndarray, *, return_labels: bool = False
) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Cines (n, frames, rows, cols) uint8 for each row of ``drivers``, and optionally their label maps.

    Subject ``i`` depends only on row ``i`` and ``seeds[i]``, so a subject regenerated alone or in
    another chunk is bit-identical.
    """
    columns = _driver_columns(drivers, seeds)
    n = len(drivers)
    rngs = [np.random.default_rng(int(seed)) for seed in seeds]
    draws = np.array([rng.standard_normal(_DRAWS) for rng in rngs]).reshape(n, _DRAWS)
    hearts = _hearts(columns, draws)
    cines = np.empty((n, _FRAMES, _SIZE, _SIZE), np.uint8)
    labels = np.empty_like(cines) if return_labels else None
    canvas = _Canvas()
    for i, rng in enumerate(rngs):
        _render(hearts.subject(i), rng, canvas, return_labels)
        cines[i] = canvas.image.astype(np.uint8).reshape(_SIZE, _SIZE, _FRAMES).transpose(2, 0, 1)
        if labels is not None:
            labels[i] = canvas.labels.reshape(_SIZE, _SIZE, _FRAMES).transpose(2, 0, 1)
    return (cines, labels) if labels is not None else cines


class _Canvas:
    """Work arrays reused from subject to subject: fresh megabyte arrays per subject cost more than the drawing."""

    def __init__(self) -> None:
        pixels = (_SIZE * _SIZE, _FRAMES)
        self.image = np.empty(pixels, np.float32)  # pixel-major: a pixel's frames are contiguous
        self.labels = np.empty(pixels, np.uint8)
        self.rows = np.empty((_SIZE, _SIZE, _FRAMES), np.float32)
        self.row_pairs = np.empty((_SIZE - 1, _SIZE, _FRAMES), np.float32)
        self.col_pairs = np.empty((_SIZE, _SIZE - 1, _FRAMES), np.float32)
        self.noise = np.empty(pixels, np.float32)


def _driver_columns(drivers: pd.DataFrame, seeds: np.ndarray) -> dict[str, np.ndarray]:
    missing = [name for name in DRIVER_COLUMNS if name not in drivers.columns]
    if missing:
        raise KeyError(f"synthesize_cines needs the driver columns {missing}")
    if len(seeds) != len(drivers):
        raise ValueError(f"{len(seeds)} seeds for {len(drivers)} subjects")
    columns = {name: drivers[name].to_numpy(dtype=np.float64) for name in DRIVER_COLUMNS if name != cohort_spec.SEX}
    bad = [name for name, values in columns.items() if not np.isfinite(values).all()]
    if bad:
        raise ValueError(f"synthesize_cines: missing or infinite values in {bad}")
    columns["male"] = (drivers[cohort_spec.SEX].astype(str) == "male").to_numpy()
    return columns


@dataclass(frozen=True)
class _Hearts:
    """Geometry of every subject's heart: (n, 1) scalars and (n, frames) curves, lengths in mm."""

    angle: np.ndarray  # long axis from image-up towards image-right, rad
    shift_row: np.ndarray  # px
    shift_col: np.ndarray
    size: np.ndarray  # whole-image size factor
    lv_length: np.ndarray  # (n, F) mitral plane to endocardial apex
    lv_radius: np.ndarray  # (n, F) lateral half-width of the cavity at its widest
    lv_septal_radius: np.ndarray  # (n, F) septal half-width
    lv_wall: np.ndarray  # (n, F)
    mitral_plane: np.ndarray  # (n, F) u of the mitral annulus
    rv_length: np.ndarray  # (n, F) tricuspid plane to RV apex
    rv_depth: np.ndarray  # (n, F) septum to free wall at the tricuspid annulus
    tricuspid_plane: np.ndarray
    la_length: np.ndarray  # (n, F) back wall to mitral plane
    la_radius: np.ndarray
    ra_length: np.ndarray
    ra_radius: np.ndarray
    septum_v: np.ndarray  # (n, F) v of the interatrial septum
    valve_opening: np.ndarray  # (n, F) 0 closed … 1 open, mitral and tricuspid together
    fat_mm: np.ndarray  # epicardial fat in the atrioventricular grooves
    chest_wall_fat_mm: np.ndarray
    papillary: np.ndarray  # papillary muscle position along the LV, fraction of its length
    aorta_v: np.ndarray
    bias_angle: np.ndarray

    def subject(self, i: int) -> _Hearts:
        return _Hearts(**{f.name: getattr(self, f.name)[i] for f in fields(self)})


def _hearts(columns: dict[str, np.ndarray], z: np.ndarray) -> _Hearts:
    """Chamber geometry through the cycle from the drivers and each subject's standard-normal draws ``z`` (n, _DRAWS)."""
    col = {name: values[:, None] for name, values in columns.items()}
    z = np.clip(z, -2.5, 2.5)[:, :, None]  # z[:, k] is (n, 1)
    af = col[schema.AF_RHYTHM] > 0.5  # AF rhythm during the scan: no atrial kick
    paroxysmal = (col[cohort_spec.AF] > 0.5) & ~af  # diagnosed AF, in sinus rhythm now: a larger, slower atrium only
    hf = col[cohort_spec.HF] > 0.5
    lvedv = col[schema.LVEDV] * 1e3  # mm³
    lvesv = np.minimum(col[schema.LVESV], col[schema.LVEDV] * 0.97) * 1e3
    rvedv = col[schema.RVEDV] * 1e3
    rvesv = rvedv * (1 - np.clip(col[schema.RVEF], 5, 90) / 100)
    reduced_ef = lvesv / lvedv > 0.55

    end_systole = np.clip(NOMINAL_END_SYSTOLE + 0.03 * hf + 0.01 * z[:, 5], 0.31, 0.43)
    ventricle, atrium, valve_opening = _cycle(end_systole, af, hf)

    # LV: area-length geometry with area ∝ volume^(2/3); the long axis shortens less than the short axis.
    sphericity = np.exp(0.05 * z[:, 4]) * np.where(reduced_ef, 0.92, 1.0)
    lv_length_ed = 1.75 * sphericity * np.cbrt(lvedv)
    lv_area_ed = np.sqrt(3 * np.pi / 8 * lv_length_ed * lvedv)
    lv_ratio = (lvesv + (lvedv - lvesv) * ventricle) / lvedv
    lv_length = lv_length_ed * lv_ratio**0.15
    lv_area = lv_area_ed * lv_ratio ** (2 / 3)
    semi = (1 - _LV_BASE_FRACTION) * lv_length
    cut = _LV_BASE_FRACTION / (1 - _LV_BASE_FRACTION)
    # The lateral half-width if both sides moved alike; the septum then moves less and the lateral wall more.
    mean_radius = lv_area / (semi * (_cap(cut, 2.0) + _SEPTAL_RATIO * _cap(cut, _SEPTAL_SHAPE)))
    lv_septal_radius = _SEPTAL_RATIO * mean_radius[:, :1] * (mean_radius / mean_radius[:, :1]) ** _SEPTAL_EXCURSION
    lv_radius = (lv_area / semi - lv_septal_radius * _cap(cut, _SEPTAL_SHAPE)) / _cap(cut, 2.0)
    wall_ed = _wall_from_mass(lv_length_ed, lv_radius[:, :1] * (1 + _SEPTAL_RATIO) / 2, col[cohort_spec.LV_MASS] / 1.05 * 1e3)
    lv_wall = _wall_through_cycle(lv_length, lv_radius, lv_septal_radius, wall_ed)
    apex = lv_length_ed + _APICAL_WALL * wall_ed  # the epicardial apex stays put
    mitral_plane = apex - _APICAL_WALL * lv_wall - lv_length

    # RV: a crescent on the septum, area ∝ RV volume^(2/3), shortening more along its axis than the LV.
    rv_ratio = (rvesv + (rvedv - rvesv) * ventricle) / rvedv
    rv_length_ed = np.minimum(1.45 * np.exp(0.04 * z[:, 8]) * np.cbrt(rvedv), 0.8 * (apex - _TRICUSPID_OFFSET_MM))  # the LV forms the apex
    rv_length = rv_length_ed * rv_ratio**0.3
    rv_area = 0.82 * np.exp(0.03 * z[:, 9]) * (rvedv * rv_ratio) ** (2 / 3)
    rv_depth = rv_area / (rv_length * (np.pi / 4 - _RV_TAPER / 3))
    tricuspid_plane = _TRICUSPID_OFFSET_MM + rv_length_ed - rv_length

    # Atria: largest at ventricular end-systole; the left one enlarges in AF (most in AF rhythm) and
    # heart failure, and its size varies between people about as much as atrial volumes do.
    la_max = 0.45 * lvedv * 1.55**af * 1.25**paroxysmal * 1.35**hf * np.exp(0.14 * z[:, 6])
    la_emptying = np.where(af, 0.22, np.where(hf, 0.4, np.where(paroxysmal, 0.48, 0.58)))
    la_length, la_radius = _atrium(la_max, la_emptying, atrium, mitral_plane, 1.2)
    ra_max = 0.38 * rvedv * 1.25**af * 1.15**hf * np.exp(0.08 * z[:, 7])
    ra_emptying = np.where(af, 0.25, np.where(hf, 0.4, 0.5))
    ra_length, ra_radius = _atrium(ra_max, ra_emptying, atrium, tricuspid_plane, 1.2)
    # The left atrium sits under the mitral orifice, its septum moving out towards the right atrium as
    # it fills but never past the crux (the septal mitral hinge), which keeps the right atrium off the LV.
    septal_hinge = lv_septal_radius[:, :1] * _profile(cut, _SEPTAL_SHAPE)
    orifice_centre = (lv_radius[:, :1] * _profile(cut, 2.0) - septal_hinge) / 2 + 1.5 * z[:, 10]
    septum_v = np.minimum(orifice_centre - la_radius - _ATRIAL_WALL_MM, -septal_hinge - 0.4 * wall_ed)

    bmi = col[schema.BMI]
    return _Hearts(
        angle=np.deg2rad(45.0 + 4.0 * z[:, 0]),
        shift_row=1.5 * z[:, 1],
        shift_col=1.5 * z[:, 2],
        size=np.exp(0.03 * z[:, 3]),
        lv_length=lv_length,
        lv_radius=lv_radius,
        lv_septal_radius=lv_septal_radius,
        lv_wall=lv_wall,
        mitral_plane=mitral_plane,
        rv_length=rv_length,
        rv_depth=rv_depth,
        tricuspid_plane=tricuspid_plane,
        la_length=la_length,
        la_radius=la_radius,
        ra_length=ra_length,
        ra_radius=ra_radius,
        septum_v=septum_v,
        valve_opening=valve_opening,
        fat_mm=np.clip(3.0 + 0.25 * (bmi - 25) + 1.0 * z[:, 11], 1.0, 8.0),
        chest_wall_fat_mm=np.clip(6.0 + 1.1 * (bmi - 25) + 4.0 * ~col["male"] + 2.0 * z[:, 12], 3.0, 30.0),
        papillary=0.5 + 0.04 * z[:, 13],
        aorta_v=8.0 + 4.0 * z[:, 14],
        bias_angle=np.pi * (0.5 + 0.25 * z[:, 15]),
    )


def _cycle(end_systole: np.ndarray, af: np.ndarray, hf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ventricular filling (1 at end-diastole, 0 at end-systole), atrial filling (1 at its largest) and valve opening.

    Systole ejects fast then slows; diastole is rapid filling, diastasis and an atrial kick, which
    AF lacks. The atria fill in systole and empty passively in early diastole and actively with the kick.
    """
    t = np.arange(_FRAMES)[None, :] / _FRAMES
    systole = t <= end_systole
    ejection = 0.5 * (1 + np.cos(np.pi * np.clip(t / end_systole, 0, 1) ** 0.85))
    opening = end_systole + 0.04  # isovolumic relaxation
    early = _smoothstep((t - opening) / 0.14)
    diastasis = np.clip((t - opening - 0.14) / (0.80 - opening - 0.14), 0, 1)
    kick = _smoothstep((t - 0.80) / 0.16)
    early_share = np.where(af, 0.8, np.where(hf, 0.75, 0.62))
    kick_share = np.where(af, 0.0, np.where(hf, 0.15, 0.26))
    filling = early_share * early + (1 - early_share - kick_share) * diastasis + kick_share * kick
    ventricle = np.where(systole, ejection, filling)
    passive = np.where(af, 1.0, np.where(hf, 0.7, 0.55))
    atrium = np.where(systole, 1 - ejection, 1 - passive * early - (1 - passive) * kick)
    reopening = np.where(af, 0.0, 0.45 * _smoothstep((t - 0.78) / 0.04))
    valve = _smoothstep((t - opening) / 0.03) * (1 - 0.45 * _smoothstep((t - opening - 0.12) / 0.1) + reopening)
    valve = np.clip(valve * (1 - _smoothstep((t - 0.955) / 0.03)), 0, 1)
    return ventricle, atrium, valve


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0, 1)
    return x * x * (3 - 2 * x)


def _profile(x, shape: float):
    """Half-width profile of a superellipse, 1 at x = 0 and 0 at |x| = 1; shape 2 is an ellipse, 3 is boxier."""
    x = np.abs(x)
    if shape == 2.0:
        return np.sqrt(np.maximum(1 - x * x, 0))
    return np.cbrt(np.maximum(1 - x * x * x, 0))


def _rv_profile(x):
    """RV depth along its length, x = 0 at the tricuspid annulus, 1 at the apex."""
    return np.sqrt(np.maximum(1 - x * x, 0)) * (1 - _RV_TAPER * x)


_GRID = np.linspace(-1.0, 1.0, 4001)
_CUMULATIVE = {
    shape: np.concatenate([[0.0], np.cumsum((_profile(_GRID[1:], shape) + _profile(_GRID[:-1], shape)) / 2 * np.diff(_GRID))])
    for shape in (2.0, _SEPTAL_SHAPE)
}


def _cap(s, shape: float):
    """Area under the profile from x = -s to 1: a lobe cut by a plane at ``s`` semi-axes behind its centre."""
    cumulative = _CUMULATIVE[shape]
    return cumulative[-1] - np.interp(-np.asarray(s), _GRID, cumulative)


def _wall_from_mass(length: np.ndarray, radius: np.ndarray, myocardial_volume: np.ndarray) -> np.ndarray:
    """End-diastolic wall thickness of a half-ellipsoid shell holding the myocardial volume (Newton's method)."""
    target = length * radius**2 + 1.5 * myocardial_volume / np.pi
    wall = np.full_like(length, 8.0)
    for _ in range(8):
        outer_length, outer_radius = length + _APICAL_WALL * wall, radius + wall
        excess = outer_length * outer_radius**2 - target
        slope = _APICAL_WALL * outer_radius**2 + 2 * outer_length * outer_radius
        wall = np.maximum(wall - excess / slope, 1.0)
    return wall


def _wall_through_cycle(length: np.ndarray, radius: np.ndarray, septal_radius: np.ndarray, wall_ed: np.ndarray) -> np.ndarray:
    """Wall thickness per frame that keeps the wall's area in the slice at its end-diastolic value."""
    base = _LV_BASE_FRACTION * length
    semi = (1 - _LV_BASE_FRACTION) * length
    cavity = semi * (radius * _cap(base / semi, 2.0) + septal_radius * _cap(base / semi, _SEPTAL_SHAPE))

    def outer(wall: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a = semi + _APICAL_WALL * wall
        lateral, septal = radius + wall, septal_radius + wall
        s = base / a
        area = a * (lateral * _cap(s, 2.0) + septal * _cap(s, _SEPTAL_SHAPE))
        slope = (
            _APICAL_WALL * (lateral * _cap(s, 2.0) + septal * _cap(s, _SEPTAL_SHAPE))
            + a * (_cap(s, 2.0) + _cap(s, _SEPTAL_SHAPE))
            - (lateral * _profile(s, 2.0) + septal * _profile(s, _SEPTAL_SHAPE)) * base * _APICAL_WALL / a
        )
        return area, slope

    wall = np.broadcast_to(wall_ed, length.shape).copy()
    wall_area = outer(wall)[0][:, :1] - cavity[:, :1]
    for _ in range(4):
        area, slope = outer(wall)
        wall -= (area - cavity - wall_area) / slope
    return wall


def _atrium(largest: np.ndarray, emptying: np.ndarray, filling: np.ndarray, valve_plane: np.ndarray, aspect: float):
    """Length (back wall to valve plane) and half-width of an atrium whose area goes as volume^(2/3).

    The back wall is fixed, so the valve plane's descent in systole lengthens the atrium.
    """
    length_max = aspect * np.cbrt(largest)
    area_max = 0.85 * np.sqrt(3 * np.pi / 8 * length_max * largest)
    volume_ratio = (1 - emptying) + emptying * filling
    back_wall = valve_plane.max(axis=1, keepdims=True) - length_max
    length = valve_plane - back_wall
    s = _ATRIAL_BASE_FRACTION / (1 - _ATRIAL_BASE_FRACTION)
    radius = area_max * volume_ratio ** (2 / 3) / ((1 - _ATRIAL_BASE_FRACTION) * length * 2 * _cap(s, 2.0))
    return length, radius


# Rendering ------------------------------------------------------------------------------------


@dataclass
class _Layer:
    """One structure to paint: its edge tables, intensity and label."""

    lo: np.ndarray  # (bins, frames) lower v edge per u bin and frame, mm; lo > hi where the layer is absent
    hi: np.ndarray
    intensity: float
    label: int | None  # None leaves the label map as it is (thin structures)
    outline_mm: float = 0.0  # a rim of ``outline_intensity`` this wide round the layer (the pericardium round fat)
    outline_intensity: float = 0.0


def _empty(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    return np.full(shape, _EMPTY, np.float32), np.full(shape, -_EMPTY, np.float32)


def _lobe(u_bins, centre_u, semi_u, centre_v, low_half, high_half, low_shape=2.0, below=None, above=None):
    """Edge tables of a lobe (an ellipse, optionally boxier on its low-v side), cut to ``u < below`` or ``u >= above``.

    Per-frame arguments are (frames,) arrays; only the u bins the lobe can reach are computed.
    """
    lo, hi = _empty((len(u_bins), _FRAMES))
    first = max(int(np.searchsorted(u_bins, (centre_u - semi_u).min())) - 1, 0)
    last = int(np.searchsorted(u_bins, (centre_u + semi_u).max())) + 1
    u = u_bins[first:last, None]
    x = (u - centre_u) / semi_u
    inside = np.abs(x) < 1
    if below is not None:
        inside &= u < below
    if above is not None:
        inside &= u >= above
    lo[first:last] = np.where(inside, centre_v - low_half * _profile(x, low_shape), _EMPTY)
    hi[first:last] = np.where(inside, centre_v + high_half * _profile(x, 2.0), -_EMPTY)
    return lo, hi


def _roughness(rng: np.random.Generator, u_bins: np.ndarray, amplitude_mm: float) -> np.ndarray:
    """Irregular endocardial relief (trabeculation) along u, static through the cycle: (bins, 1), ≥ 0."""
    knots = np.arange(u_bins[0], u_bins[-1] + 3.0, 3.0)
    bumps = np.abs(rng.standard_normal(len(knots))) * amplitude_mm
    return np.interp(u_bins, knots, bumps).astype(np.float32)[:, None]


def _heart_layers(h: _Hearts, u_bins: np.ndarray, rng: np.random.Generator) -> list[_Layer]:
    """All heart structures, in painting order (later ones cover earlier ones)."""
    u_bins = u_bins.astype(np.float32)
    h = _Hearts(**{f.name: getattr(h, f.name).astype(np.float32) for f in fields(h)})
    u = u_bins[:, None]
    length, radius, wall = h.lv_length, h.lv_radius, h.lv_wall
    centre = h.mitral_plane + _LV_BASE_FRACTION * length
    semi = (1 - _LV_BASE_FRACTION) * length
    septal = h.lv_septal_radius
    cavity = _lobe(u_bins, centre, semi, 0.0, septal, radius, _SEPTAL_SHAPE, above=h.mitral_plane)
    epicardium = _lobe(u_bins, centre, semi + _APICAL_WALL * wall, 0.0, septal + wall, radius + wall, _SEPTAL_SHAPE, above=h.mitral_plane)
    apical = _smoothstep((u - h.mitral_plane - 0.55 * length) / (0.3 * length))  # trabeculae crowd the apex
    cavity = (cavity[0] + apical * _roughness(rng, u_bins, 0.8), cavity[1] - apical * _roughness(rng, u_bins, 0.8))

    # RV: a crescent from the septum's epicardial edge out to a depth that tapers to the RV apex.
    septum = np.where(epicardium[0] < _EMPTY, epicardium[0], 0.0)
    x = (u - h.tricuspid_plane) / h.rv_length
    x_outer = (u - h.tricuspid_plane) / (h.rv_length + _RV_WALL_MM)
    in_rv, in_outer = (x >= 0) & (x < 1), (x_outer >= 0) & (x_outer < 1)
    free_wall = septum - h.rv_depth * _rv_profile(x) + _roughness(rng, u_bins, 1.0)
    rv_cavity = (np.where(in_rv, free_wall, _EMPTY), np.where(in_rv, septum, -_EMPTY))
    rv_outer = (np.where(in_outer, septum - (h.rv_depth + _RV_WALL_MM) * _rv_profile(x_outer), _EMPTY), np.where(in_outer, septum, -_EMPTY))

    # Atria hang below their valve planes and meet at the interatrial septum.
    atria = []
    for plane, a_length, a_radius, side in ((h.mitral_plane, h.la_length, h.la_radius, 1.0), (h.tricuspid_plane, h.ra_length, h.ra_radius, -1.0)):
        a_centre = plane - _ATRIAL_BASE_FRACTION * a_length
        a_semi = (1 - _ATRIAL_BASE_FRACTION) * a_length
        a_v = h.septum_v + side * (_ATRIAL_WALL_MM + a_radius)
        blood = _lobe(u_bins, a_centre, a_semi, a_v, a_radius, a_radius, below=plane)
        outer = _lobe(u_bins, a_centre, a_semi + _ATRIAL_WALL_MM, a_v, a_radius + _ATRIAL_WALL_MM, a_radius + _ATRIAL_WALL_MM, below=plane)
        atria.append((blood, outer))
    (la, la_wall), (ra, ra_wall) = atria

    # Epicardial fat in the atrioventricular grooves and over the apex, outlined by the dark pericardium.
    fat = float(h.fat_mm[0])
    rim = _lobe(u_bins, centre, semi + _APICAL_WALL * wall + 0.8 * fat, 0.0, septal + wall, radius + wall, _SEPTAL_SHAPE, above=h.mitral_plane - 8.0)
    left_groove = 0.8 * fat * np.exp(-(((u - h.mitral_plane + 1.0) / 6.0) ** 2))
    right_groove = fat * np.exp(-(((u - h.tricuspid_plane + 1.0) / 7.0) ** 2))
    has_fat = (rim[1] > -_EMPTY) | in_outer
    fat_lo = np.where(has_fat, np.minimum(np.where(in_outer, rv_outer[0], _EMPTY), rim[0]) - right_groove, _EMPTY)
    fat_hi = np.where(has_fat, np.maximum(rim[1] + left_groove, fat_lo), -_EMPTY)

    # The anterolateral papillary muscle rises from the lateral wall; the moderator band crosses the RV apex.
    pap_u = h.mitral_plane + h.papillary * length
    pap = _lobe(u_bins, pap_u, 0.13 * length, 0.9 * radius, 0.16 * radius, 0.16 * radius)
    band = np.abs(u - (h.tricuspid_plane + 0.62 * h.rv_length)) < 1.3
    moderator = (np.where(band, rv_cavity[0] + 1.0, _EMPTY), np.where(band, rv_cavity[1] - 1.5, -_EMPTY))

    return [
        _Layer(fat_lo, fat_hi, FAT_INTENSITY, BACKGROUND, outline_mm=1.2, outline_intensity=30.0),
        _Layer(*la_wall, 75.0, BACKGROUND),
        _Layer(*ra_wall, 75.0, BACKGROUND),
        _Layer(*rv_outer, MYOCARDIUM_INTENSITY + 5, BACKGROUND),
        _Layer(*la, BLOOD_INTENSITY * 0.97, LEFT_ATRIUM),
        _Layer(*ra, BLOOD_INTENSITY * 0.96, RIGHT_ATRIUM),
        _Layer(*rv_cavity, BLOOD_INTENSITY * 0.98, RV_BLOOD_POOL),
        _Layer(*epicardium, MYOCARDIUM_INTENSITY, LV_MYOCARDIUM),
        _Layer(*cavity, BLOOD_INTENSITY, LV_BLOOD_POOL),
        _Layer(*pap, MYOCARDIUM_INTENSITY + 8, LV_MYOCARDIUM),
        _Layer(*moderator, MYOCARDIUM_INTENSITY + 30, BACKGROUND),
    ]


def _valve_leaflets(h: _Hearts) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Mitral and tricuspid leaflets as segments (hinge u, hinge v, tip u, tip v), each (F,), in mm.

    Closed they span the orifice, bowed slightly towards the atrium; open they point towards the apex.
    """
    s = _LV_BASE_FRACTION / (1 - _LV_BASE_FRACTION)
    septal_hinge = -h.lv_septal_radius * _profile(s, _SEPTAL_SHAPE)
    lateral_hinge = h.lv_radius * _profile(s, 2.0)
    mitral = lateral_hinge - septal_hinge
    septum = -(h.lv_septal_radius + h.lv_wall)  # near enough at the tricuspid plane
    tricuspid = h.rv_depth
    angle = h.valve_opening * 1.35
    leaflets = []
    for hinge_u, hinge_v, inward, length in (
        (h.mitral_plane, septal_hinge, 1.0, 0.58 * mitral),  # anterior mitral leaflet
        (h.mitral_plane, lateral_hinge, -1.0, 0.47 * mitral),  # posterior mitral leaflet
        (h.tricuspid_plane, septum, -1.0, 0.45 * tricuspid),  # septal tricuspid leaflet
        (h.tricuspid_plane, septum - tricuspid, 1.0, 0.6 * tricuspid),  # anterior tricuspid leaflet
    ):
        du = -0.05 * np.cos(angle) + np.sin(angle)
        dv = inward * (np.cos(angle) - 0.25 * np.sin(angle))
        norm = np.hypot(du, dv)
        leaflets.append((hinge_u, hinge_v, hinge_u + length * du / norm, hinge_v + length * dv / norm))
    return leaflets


def _render(h: _Hearts, rng: np.random.Generator, canvas: _Canvas, with_labels: bool) -> None:
    """Draw one subject into ``canvas`` (uint8-valued image and labels, pixel-major): surroundings, heart
    layers with soft edges, blur, coil shading and noise."""
    px = float(h.size[0]) / PIXEL_SPACING_MM  # pixels per mm
    u, v = _heart_coordinates(h)
    u_low, u_high, v_low, v_high = _heart_extent(h)
    u_bins = np.arange(u_low - 12.0, u_high + 12.0, _DU)
    near = np.flatnonzero((u > u_bins[0]) & (u < u_bins[-1]) & (v > v_low - 20.0) & (v < v_high + 20.0))
    row = np.round((u[near] - u_bins[0]) / _DU).astype(np.intp)
    by_row = np.argsort(row, kind="stable")  # so each layer's span of u bins is a slice of pixels
    near, row = near[by_row], row[by_row]
    v_px = v[near] * np.float32(px)

    # Coil shading, and 1/16 to normalise the blur kernel, are folded into every painted intensity.
    shading = _bias_field(h).ravel() * np.float32(1 / 16)
    background = _surroundings(h, u, v, rng) * shading
    texture = _smooth_field(rng, 0.04)[near] * shading[near]
    image = canvas.image
    image[:] = background[:, None]
    labels = canvas.labels if with_labels else None
    if labels is not None:
        labels.fill(BACKGROUND)
    for layer in _heart_layers(h, u_bins, rng):
        lo, hi = layer.lo * np.float32(px), layer.hi * np.float32(px)
        lo_by_frame, hi_by_frame = lo.T, hi.T
        lo_min, lo_max = lo_by_frame.min(axis=0), lo_by_frame.max(axis=0)
        hi_min, hi_max = hi_by_frame.min(axis=0), hi_by_frame.max(axis=0)
        reach = 0.5 + layer.outline_mm * px  # how far outside its edges a layer paints, px
        used = np.flatnonzero(hi_max > lo_min)
        if used.size == 0:
            continue
        span = slice(np.searchsorted(row, used[0]), np.searchsorted(row, used[-1], side="right"))
        pixels, rows, pixel_v = near[span], row[span], v_px[span]
        # Pixels inside in every frame are filled once; only those a moving edge crosses are computed per frame.
        always = (pixel_v > lo_max[rows] + 0.5) & (pixel_v < hi_min[rows] - 0.5)
        sometimes = (pixel_v > lo_min[rows] - reach) & (pixel_v < hi_max[rows] + reach) & ~always
        inside, edge = np.flatnonzero(always), np.flatnonzero(sometimes)
        shade = texture[span]
        image[pixels[inside]] = (layer.intensity * shade[inside])[:, None]
        edge_v, edge_rows = pixel_v[edge][:, None], rows[edge]
        depth = np.minimum(edge_v - lo[edge_rows], hi[edge_rows] - edge_v)  # px inside the layer's edge
        patch = image[pixels[edge]]
        if layer.outline_mm:
            rim = np.clip(depth + reach, 0.0, 1.0)
            patch += rim * ((layer.outline_intensity * shade[edge])[:, None] - patch)
        cover = np.clip(depth + 0.5, 0.0, 1.0, out=depth)
        patch += cover * ((layer.intensity * shade[edge])[:, None] - patch)
        image[pixels[edge]] = patch
        if labels is not None and layer.label is not None:
            labels[pixels[inside]] = layer.label
            labels[pixels[edge]] = np.where(cover > 0.5, np.uint8(layer.label), labels[pixels[edge]])
    leaflet_level = (MYOCARDIUM_INTENSITY + 20) * shading[near]
    for hinge_u, hinge_v, tip_u, tip_v in _valve_leaflets(h):
        _draw_segment(image, near, u[near], v[near], leaflet_level, hinge_u, hinge_v, tip_u, tip_v, px)
        # The fibrous annulus at the leaflet's hinge: a dark knot between ventricle, atrium and groove fat.
        _draw_segment(image, near, u[near], v[near], leaflet_level, hinge_u, hinge_v, hinge_u, hinge_v, px, half_width_mm=2.2, opacity=0.8)

    _blur(canvas)
    random_bytes = rng.bit_generator.random_raw(image.size // 8).astype("<u8", copy=False).view(np.uint8)
    noise_levels = _GAUSSIAN_QUANTILES * np.float32(NOISE_SIGMA)
    image += np.take(noise_levels, random_bytes.reshape(image.shape), mode="wrap", out=canvas.noise)
    np.abs(image, out=image)  # a magnitude image: noise folds over in the dark lungs
    image += 0.5  # so that the cast to uint8, which truncates, rounds
    np.minimum(image, 255, out=image)


def _heart_extent(h: _Hearts) -> tuple[float, float, float, float]:
    """The heart's (u_low, u_high, v_low, v_high) in mm over the whole cycle, without fat."""
    u_low = min(float((h.mitral_plane - h.la_length).min()), float((h.tricuspid_plane - h.ra_length).min()))
    u_high = float((h.mitral_plane + h.lv_length + _APICAL_WALL * h.lv_wall)[0])
    v_low = float((-h.lv_septal_radius - h.lv_wall - h.rv_depth)[0])
    v_high = float((h.lv_radius + h.lv_wall)[0])
    return u_low, u_high, v_low, v_high


def _heart_coordinates(h: _Hearts) -> tuple[np.ndarray, np.ndarray]:
    """Heart-frame (u, v) in mm of every pixel, flattened; the heart's bounding box is centred in the image."""
    angle = float(h.angle[0])
    axis_u = np.array([-np.cos(angle), np.sin(angle)])  # towards the apex, in (row, col)
    axis_v = np.array([np.sin(angle), np.cos(angle)])  # towards the LV lateral wall
    u_low, u_high, v_low, v_high = _heart_extent(h)
    centre_u, centre_v = (u_low + u_high) / 2, (v_low + v_high) / 2
    grid = np.arange(_SIZE) - (_SIZE - 1) / 2
    rows = np.repeat(grid - float(h.shift_row[0]), _SIZE)
    cols = np.tile(grid - float(h.shift_col[0]), _SIZE)
    scale = PIXEL_SPACING_MM / float(h.size[0])
    u = centre_u + scale * (rows * axis_u[0] + cols * axis_u[1])
    v = centre_v + scale * (rows * axis_v[0] + cols * axis_v[1])
    return u.astype(np.float32), v.astype(np.float32)


def _surroundings(h: _Hearts, u: np.ndarray, v: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Static (flattened) background: dark lungs with vessels, chest wall, liver, mediastinum and descending aorta."""
    rows = np.repeat(np.arange(_SIZE, dtype=np.float32), _SIZE)
    cols = np.tile(np.arange(_SIZE, dtype=np.float32), _SIZE)
    mm = PIXEL_SPACING_MM / float(h.size[0])
    texture = _smooth_field(rng, 0.07)
    image = np.full(_SIZE * _SIZE, LUNG_INTENSITY, np.float32)
    vessels = rng.integers(1, _SIZE - 1, size=(8, 2))  # small lung vessels seen end-on: 3 x 3 blobs
    for dr, dc, weight in ((0, 0, 40.0), (-1, 0, 18.0), (1, 0, 18.0), (0, -1, 18.0), (0, 1, 18.0)):
        image[(vessels[:, 0] + dr) * _SIZE + vessels[:, 1] + dc] += weight

    def paint(inside_mm: np.ndarray, level: float) -> None:
        nonlocal image
        cover = np.clip(inside_mm / mm + 0.5, 0, 1)
        image += cover * (level * texture - image)

    def ellipse(centre_u: float, centre_v: float, semi_u: float, semi_v: float) -> np.ndarray:
        return (1 - np.hypot((u - centre_u) / semi_u, (v - centre_v) / semi_v)) * min(semi_u, semi_v)

    back = float((h.mitral_plane - h.la_length).min())
    apex = float((h.mitral_plane + h.lv_length + _APICAL_WALL * h.lv_wall)[0])
    paint(ellipse(back + 5, -15.0, 40.0, 55.0), 80.0)  # posterior mediastinum round the atria
    paint(ellipse(back - 17.0, float(h.aorta_v[0]), 11.0, 11.0), 185.0)  # descending aorta
    paint(ellipse(back - 12.0, float(h.aorta_v[0]) - 24.0, 6.0, 7.0), 70.0)  # oesophagus
    paint(ellipse(back - 25.0, -95.0, 55.0, 45.0), 92.0)  # liver dome under the right heart
    # Chest wall across the top, its inner edge a few mm above the most anterior part of the heart and
    # curving away at the sides: muscle with ribs in section, then subcutaneous fat, then air.
    heart_rows = rows[(u > apex - 40) & (u < apex + 2) & (np.abs(v) < 25) | (u > 0) & (u < apex - 20) & (v < -30) & (v > -75)]
    inner = (float(heart_rows.min()) if heart_rows.size else 10.0) - 3.0
    depth = (inner - rows) * mm - 25.0 * ((cols - _SIZE / 2) / _SIZE) ** 2  # mm into the chest wall
    paint(depth, 55.0)
    for col in rng.uniform(0, _SIZE, size=2):
        rib = 1 - np.hypot((depth - 8.0) / 4.0, (cols - col) * mm / 9.0)
        paint(rib * 4.0, 28.0)  # cortical bone
        paint(rib * 4.0 - 1.5, 120.0)  # marrow
    paint(depth - 16.0, FAT_INTENSITY * 0.95)
    paint(depth - 16.0 - float(h.chest_wall_fat_mm[0]), 4.0)
    return image


def _smooth_field(rng: np.random.Generator, amplitude: float) -> np.ndarray:
    """A smooth multiplicative texture around 1, flattened, for tissue inhomogeneity."""
    coarse = rng.standard_normal((_SMOOTH_BASIS.shape[1],) * 2).astype(np.float32)
    return (1.0 + amplitude * (_SMOOTH_BASIS @ coarse @ _SMOOTH_BASIS.T)).ravel()


def _bias_field(h: _Hearts) -> np.ndarray:
    """Receive-coil shading: a gentle linear gradient across the image."""
    angle = float(h.bias_angle[0])
    grid = (np.arange(_SIZE, dtype=np.float32) - (_SIZE - 1) / 2) / _SIZE
    return (1.0 - 0.15 * (grid[:, None] * np.sin(angle) + grid[None, :] * np.cos(angle))).astype(np.float32)


def _blur(canvas: _Canvas) -> None:
    """Blur ``canvas.image`` in place with a [1, 2, 1] kernel along rows and columns, unnormalised (× 16).

    The slight blur of a finite acquisition matrix; written as sums of neighbour pairs into reused buffers.
    """
    image = canvas.image.reshape(_SIZE, _SIZE, _FRAMES)
    pairs, rows = np.add(image[:-1], image[1:], out=canvas.row_pairs), canvas.rows
    np.add(pairs[:-1], pairs[1:], out=rows[1:-1])
    rows[0] = pairs[0] + 2 * image[0]
    rows[-1] = pairs[-1] + 2 * image[-1]
    pairs = np.add(rows[:, :-1], rows[:, 1:], out=canvas.col_pairs)
    np.add(pairs[:, :-1], pairs[:, 1:], out=image[:, 1:-1])
    image[:, 0] = pairs[:, 0] + 2 * rows[:, 0]
    image[:, -1] = pairs[:, -1] + 2 * rows[:, -1]


def _draw_segment(
    image: np.ndarray, pixels: np.ndarray, u: np.ndarray, v: np.ndarray, level: np.ndarray, start_u, start_v, end_u, end_v, px: float,
    half_width_mm: float = 1.0, opacity: float = 0.65,
) -> None:
    """Darken ``pixels`` (at heart-frame ``u``, ``v``) towards ``level`` along a segment moving per frame.

    The defaults suit a valve leaflet, a 1–2 mm structure whose partial volume darkens a pixel by about half.
    """
    margin = half_width_mm + 2.0
    near = np.flatnonzero(
        (u >= min(start_u.min(), end_u.min()) - margin) & (u <= max(start_u.max(), end_u.max()) + margin)
        & (v >= min(start_v.min(), end_v.min()) - margin) & (v <= max(start_v.max(), end_v.max()) + margin)
    )
    qu, qv = u[near][:, None], v[near][:, None]
    su, sv = start_u.astype(np.float32), start_v.astype(np.float32)
    du, dv = (end_u - start_u).astype(np.float32), (end_v - start_v).astype(np.float32)
    along = np.clip(((qu - su) * du + (qv - sv) * dv) * (1 / (du * du + dv * dv + 1e-6)), 0, 1)
    distance = np.hypot(qu - su - along * du, qv - sv - along * dv)
    cover = np.clip((half_width_mm - distance) * px + 0.5, 0, opacity)
    patch = image[pixels[near]]
    patch += cover * (level[near][:, None] - patch)
    image[pixels[near]] = patch
