"""DICOM waveform ECGs (12-lead ECG and General ECG IODs, as hospital carts export them), read with ``pydicom``."""

from __future__ import annotations

from pathlib import Path

import pydicom
from pydicom.errors import InvalidDicomError

from data_loaders.errors import CohortFormatError
from data_loaders.importers.ecg import RawEcg

RHYTHM_LABEL = "RHYTHM"


def read_dicom_ecg(path: Path) -> RawEcg:
    """The rhythm multiplex group (else the longest) in the units its channels declare.

    Lead names come from each channel's source code meaning (``Lead I (Einthoven)``), else its
    label; units from the channel sensitivity units (UCUM ``uV``, ``mV``). ``waveform_array``
    applies each channel's sensitivity, correction factor and baseline.
    """
    try:
        dataset = pydicom.dcmread(path)
    except (InvalidDicomError, OSError, ValueError) as error:
        raise CohortFormatError(path, "file", "a readable DICOM file", str(error)) from error
    groups = dataset.get("WaveformSequence")
    if not groups:
        raise CohortFormatError(path, "WaveformSequence (5400,0100)", "an ECG waveform", "none")
    labels = [str(group.get("MultiplexGroupLabel", "")).upper() for group in groups]
    index = labels.index(RHYTHM_LABEL) if RHYTHM_LABEL in labels else max(range(len(groups)), key=lambda i: int(groups[i].get("NumberOfWaveformSamples", 0)))
    group = groups[index]
    names, units = [], []
    for number, channel in enumerate(group.get("ChannelDefinitionSequence", [])):
        source = channel.get("ChannelSourceSequence")
        names.append(str(source[0].CodeMeaning) if source else str(channel.get("ChannelLabel", f"channel {number}")))
        unit = channel.get("ChannelSensitivityUnitsSequence")
        if not unit:
            raise CohortFormatError(path, f"ChannelSensitivityUnitsSequence of channel {names[-1]!r}", "the channel's units (UCUM, e.g. uV)", "none")
        units.append(str(unit[0].CodeValue))
    if not names:
        raise CohortFormatError(path, "ChannelDefinitionSequence", "one definition per channel", "none")
    try:
        signals = dataset.waveform_array(index)
    except (AttributeError, ValueError, KeyError) as error:
        raise CohortFormatError(path, "WaveformData", "samples matching the channel definitions", str(error)) from error
    if signals.shape[1] != len(names):
        raise CohortFormatError(path, "NumberOfWaveformChannels", f"{len(names)} channels as defined", str(signals.shape[1]))
    return RawEcg(signals, tuple(names), tuple(units), float(group.SamplingFrequency), Path(path))
