"""What every ECG source shares once read: leads matched by name, units to mV, 500 Hz and 10 s.

A reader returns a :class:`RawEcg` in the record's own units, rate, length and channel order;
:func:`conform_ecg` turns it into the cohort's (5000, 12) strip in millivolts, lead order
``cohort_spec.ECG_LEADS``, with a note for everything it changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import numpy as np
from scipy import signal

from data_loaders.cohort_spec import ECG_LEADS, ECG_SAMPLING_HZ, ECG_STRIP_SAMPLES
from data_loaders.errors import CohortFormatError

MissingLeads = Literal["refuse", "zero"]
MISSING_LEAD_CHOICES: tuple[MissingLeads, ...] = ("refuse", "zero")
# Physical units as WFDB headers and DICOM (UCUM code values or meanings) spell them → millivolts.
UNITS_TO_MV = {"mv": 1.0, "millivolt": 1.0, "uv": 1e-3, "µv": 1e-3, "μv": 1e-3, "microvolt": 1e-3, "v": 1e3, "volt": 1e3}
_LEADS_BY_UPPER = {lead.upper(): lead for lead in ECG_LEADS}
_SHORTEST_S = 2.5  # a strip needs a few whole beats for its median beat


@dataclass(frozen=True)
class RawEcg:
    """One ECG as a file holds it: (samples, channels) in ``units`` per channel, at ``sampling_hz``."""

    signals: np.ndarray
    channel_names: tuple[str, ...]
    units: tuple[str, ...]
    sampling_hz: float
    path: Path


def lead_name(channel: str) -> str | None:
    """Our lead name for a channel label (``avr``, ``AVR``, ``Lead aVR``, ``Lead I (Einthoven)``), or None for other channels.

    An inverted lead (``-aVR``, as Cabrera displays print it) is refused: flipping it silently would
    hide that the record is not what its label says.
    """
    text = re.sub(r"\(.*?\)", "", channel).strip()
    if text.lower().startswith("lead"):
        text = text[4:].strip()
    if text.startswith(("-", "−")):
        return "-" + text[1:].strip()
    return _LEADS_BY_UPPER.get(text.replace(" ", "").upper())


def conform_ecg(raw: RawEcg, missing_leads: MissingLeads = "refuse") -> tuple[np.ndarray, list[str], list[str]]:
    """The record as a (5000, 12) float32 strip in mV (lead order ``ECG_LEADS``), notes on what changed, and the leads filled with 0 mV."""
    columns = _lead_columns(raw)
    missing = [lead for lead in ECG_LEADS if lead not in columns]
    if missing and missing_leads == "refuse":
        found = f"no {', '.join(missing)} among {list(raw.channel_names)}"
        raise CohortFormatError(raw.path, "leads", f"the 12 standard leads {', '.join(ECG_LEADS)} (or --missing-leads zero)", found)
    if raw.sampling_hz <= 0 or not np.isfinite(raw.sampling_hz):
        raise CohortFormatError(raw.path, "sampling frequency", "a positive rate in Hz", repr(raw.sampling_hz))
    samples = raw.signals.shape[0]
    notes = []
    strip = np.zeros((samples, len(ECG_LEADS)), dtype=np.float64)
    for target, lead in enumerate(ECG_LEADS):
        if lead not in columns:
            continue
        column = columns[lead]
        trace = raw.signals[:, column].astype(np.float64) * _to_millivolts(raw.units[column], raw, column)
        if not np.isfinite(trace).all():
            raise CohortFormatError(raw.path, f"lead {lead}", "a value at every sample", f"{int((~np.isfinite(trace)).sum())} missing (NaN) samples")
        strip[:, target] = trace
    if missing:
        notes.append(f"leads {', '.join(missing)} missing: stored as 0 mV")
    if samples / raw.sampling_hz < _SHORTEST_S:
        raise CohortFormatError(raw.path, "duration", f"at least {_SHORTEST_S} s of signal", f"{samples / raw.sampling_hz:.2f} s")
    if raw.sampling_hz != ECG_SAMPLING_HZ:
        ratio = Fraction(ECG_SAMPLING_HZ / raw.sampling_hz).limit_denominator(1000)
        strip = signal.resample_poly(strip, ratio.numerator, ratio.denominator, axis=0, padtype="line")  # no edge transient
        notes.append(f"resampled from {raw.sampling_hz:g} Hz to {ECG_SAMPLING_HZ} Hz")
    seconds = len(strip) / ECG_SAMPLING_HZ
    if len(strip) > ECG_STRIP_SAMPLES:
        strip = strip[:ECG_STRIP_SAMPLES]
        notes.append(f"cut from {seconds:.2f} s to the first 10 s")
    elif len(strip) < ECG_STRIP_SAMPLES:
        strip = np.pad(strip, ((0, ECG_STRIP_SAMPLES - len(strip)), (0, 0)))
        notes.append(f"padded from {seconds:.2f} s to 10 s with 0 mV")
    return strip.astype(np.float32), notes, missing


def _lead_columns(raw: RawEcg) -> dict[str, int]:
    columns: dict[str, int] = {}
    for column, channel in enumerate(raw.channel_names):
        lead = lead_name(channel)
        if lead is None:
            continue
        if lead.startswith("-"):
            raise CohortFormatError(
                raw.path, f"channel {column} ({channel!r})",
                "leads as recorded (I, II, III, aVR, aVL, aVF, V1–V6); an inverted lead such as -aVR is not flipped silently: export aVR itself",
                repr(channel),
            )
        if lead in columns:
            raise CohortFormatError(raw.path, f"channel {column} ({channel!r})", f"one channel per lead, {lead} once", f"{lead} also in channel {columns[lead]}")
        columns[lead] = column
    return columns


def _to_millivolts(unit: str, raw: RawEcg, column: int) -> float:
    factor = UNITS_TO_MV.get(unit.strip().lower())
    if factor is None:
        raise CohortFormatError(raw.path, f"units of channel {raw.channel_names[column]!r}", "mV, uV (µV) or V", repr(unit))
    return factor
