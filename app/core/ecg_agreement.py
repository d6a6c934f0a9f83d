"""How a reconstructed ECG agrees with the original, lead by lead, in terms a cardiologist trusts.

Pearson r alone misleads on a small lead: a nearly flat lead's shape is mostly noise, so two
traces that overlap on paper can have r = 0.1. Each lead therefore gets the amplitude error (RMSE
in µV, meaningful on every lead) and r only where both traces are large enough for shape to mean
something.

Models decode a median beat, not a 10 s strip. :func:`beat_at_r_peaks` places that beat at the
original strip's R peaks so the two can be read on one sheet; the result is labelled for what it
is (a repeated median beat, not a decoded rhythm).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from data_loaders.ecg_measures import lead_correlations

MIN_AMPLITUDE_FOR_R_MV = 0.3  # peak-to-peak: below this (three small squares) a lead's shape is too small for r to mean much


@dataclass(frozen=True)
class LeadAgreement:
    """One lead: Pearson r (NaN when ``r_reason`` says why not), RMSE in µV and the original's peak-to-peak amplitude in mV."""

    lead: str
    r: float
    rmse_uv: float
    amplitude_mv: float
    r_reason: str | None = None

    def note(self) -> str:
        """Short text beside the lead's name: "r 0.93 · 41 µV", or "r n/a (flat) · 12 µV"."""
        r_text = "r n/a" if self.r_reason else f"r {self.r:.2f}"
        return f"{r_text} · {self.rmse_uv:.0f} µV"


def lead_agreement(original: np.ndarray, reconstruction: np.ndarray, leads: Sequence[str],
                   min_amplitude_mv: float = MIN_AMPLITUDE_FOR_R_MV) -> list[LeadAgreement]:
    """Per lead of two ECGs (samples, leads) in mV: r (only where both peak-to-peak amplitudes reach ``min_amplitude_mv``) and RMSE in µV."""
    a, b = np.asarray(original, dtype=np.float64), np.asarray(reconstruction, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2 or a.shape[1] != len(leads):
        raise ValueError(f"expected two ECGs (samples, {len(leads)} leads) of one shape, got {a.shape} and {b.shape}")
    rmse_uv = np.sqrt(np.mean((a - b) ** 2, axis=0)) * 1000
    amplitude_a, amplitude_b = np.ptp(a, axis=0), np.ptp(b, axis=0)
    correlations = lead_correlations(a, b)
    results = []
    for column, lead in enumerate(leads):
        smaller = min(amplitude_a[column], amplitude_b[column])
        if smaller < min_amplitude_mv:
            which = "original" if amplitude_a[column] <= amplitude_b[column] else "reconstruction"
            reason = f"{which} is {smaller:.2f} mV peak to peak, under {min_amplitude_mv:g} mV"
            results.append(LeadAgreement(lead, float("nan"), float(rmse_uv[column]), float(amplitude_a[column]), reason))
            continue
        results.append(LeadAgreement(lead, float(correlations[column]), float(rmse_uv[column]), float(amplitude_a[column])))
    return results


def beat_at_r_peaks(beat: np.ndarray, r_peaks: np.ndarray, samples: int, r_peak_index: int) -> np.ndarray:
    """A (samples, leads) strip that repeats ``beat`` (its R peak at ``r_peak_index``) at each of ``r_peaks``; NaN elsewhere.

    Each copy spans from halfway to the previous R peak to halfway to the next (never beyond the
    beat's own samples), so neighbouring copies meet without overlapping and a gap stays a gap.
    """
    beat = np.asarray(beat, dtype=np.float32)
    if beat.ndim != 2:
        raise ValueError(f"beat must be (samples, leads), got shape {beat.shape}")
    peaks = np.sort(np.asarray(r_peaks, dtype=np.int64))
    strip = np.full((samples, beat.shape[1]), np.nan, dtype=np.float32)
    for position, peak in enumerate(peaks):
        before = peak - (peak - peaks[position - 1]) // 2 if position > 0 else peak - r_peak_index
        after = peak + (peaks[position + 1] - peak + 1) // 2 if position + 1 < len(peaks) else peak + len(beat) - r_peak_index
        start = max(before, peak - r_peak_index, 0)
        stop = min(after, peak - r_peak_index + len(beat), samples)
        if stop > start:
            strip[start:stop] = beat[start - peak + r_peak_index : stop - peak + r_peak_index]
    return strip
