"""Write real recordings with the maintained libraries (wfdb, pydicom, nibabel), for the importer's tests and benchmark."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import nibabel
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from scipy import signal

from data_loaders.importers.wfdb_ecg import wfdb, wfdb_warnings_silenced

TWELVE_LEAD_ECG_STORAGE = "1.2.840.10008.5.1.4.1.1.9.1.1"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
# Channel sources as ECG carts code them (SCPECG / MDC code meanings).
DICOM_LEAD_MEANINGS = {"I": "Lead I (Einthoven)", "II": "Lead II", "III": "Lead III", "aVR": "Lead aVR", "aVL": "Lead aVL", "aVF": "Lead aVF",
                       **{f"V{i}": f"Lead V{i}" for i in range(1, 7)}, "-aVR": "Lead -aVR"}


def at_rate(strip_mv: np.ndarray, sampling_hz: int) -> np.ndarray:
    """A 500 Hz strip as a recorder at another rate would have sampled it (anti-aliased)."""
    if sampling_hz == 500:
        return strip_mv
    up, down = (sampling_hz // 500, 1) if sampling_hz > 500 else (1, 500 // sampling_hz)
    return signal.resample_poly(strip_mv, up, down, axis=0, padtype="line")


def write_wfdb(folder: Path, name: str, strip_mv: np.ndarray, leads: Sequence[str], channel_names: Sequence[str] | None = None,
               sampling_hz: int = 500, units: str = "mV") -> None:
    """A WFDB record (format 16, 1 µV per step) with the strip's leads in ``leads`` order."""
    from data_loaders.cohort_spec import ECG_LEADS

    columns = [ECG_LEADS.index(lead) for lead in leads]
    values = at_rate(strip_mv[:, columns].astype(np.float64), sampling_hz)
    gain = 1000.0 if units == "mV" else 1.0
    physical = values if units == "mV" else values * 1000.0
    folder.mkdir(parents=True, exist_ok=True)
    with wfdb_warnings_silenced():
        wfdb.wrsamp(name, fs=sampling_hz, units=[units] * len(leads), sig_name=list(channel_names or leads), p_signal=np.round(physical * gain) / gain,
                    fmt=["16"] * len(leads), adc_gain=[gain] * len(leads), baseline=[0] * len(leads), write_dir=str(folder))


def write_dicom_ecg(path: Path, patient_id: str, strip_mv: np.ndarray, leads: Sequence[str], sampling_hz: int = 1000) -> None:
    """A 12-lead ECG IOD file: one RHYTHM multiplex group, int16 samples of 1 µV (UCUM ``uV``)."""
    from data_loaders.cohort_spec import ECG_LEADS

    columns = [ECG_LEADS.index(lead.lstrip("-")) for lead in leads]
    samples = np.round(at_rate(strip_mv[:, columns].astype(np.float64), sampling_hz) * 1000).astype("<i2")
    group = Dataset()
    group.MultiplexGroupLabel = "RHYTHM"
    group.WaveformOriginality = "ORIGINAL"
    group.NumberOfWaveformChannels = len(leads)
    group.NumberOfWaveformSamples = len(samples)
    group.SamplingFrequency = str(sampling_hz)
    group.WaveformBitsAllocated = 16
    group.WaveformSampleInterpretation = "SS"
    channels = []
    for lead in leads:
        channel = Dataset()
        source = Dataset()
        source.CodeValue, source.CodingSchemeDesignator, source.CodeMeaning = f"5.6.3-9-{len(channels) + 1}", "SCPECG", DICOM_LEAD_MEANINGS[lead]
        channel.ChannelSourceSequence = [source]
        units = Dataset()
        units.CodeValue, units.CodingSchemeDesignator, units.CodeMeaning = "uV", "UCUM", "microvolt"
        channel.ChannelSensitivity = "1"
        channel.ChannelSensitivityUnitsSequence = [units]
        channel.ChannelSensitivityCorrectionFactor = "1"
        channel.ChannelBaseline = "0"
        channel.WaveformBitsStored = 16
        channels.append(channel)
    group.ChannelDefinitionSequence = channels
    group.WaveformData = samples.tobytes()
    dataset = _file_dataset(TWELVE_LEAD_ECG_STORAGE, patient_id, "ECG")
    dataset.WaveformSequence = [group]
    path.parent.mkdir(parents=True, exist_ok=True)
    dataset.save_as(path, enforce_file_format=True)


def write_dicom_cine(folder: Path, patient_id: str, cine: np.ndarray, spacing_mm: float = 2.0, description: str = "CINE_segmented_LAX_4Ch",
                     seed: int = 0) -> None:
    """One MR image file per frame, named at random so that only TriggerTime / InstanceNumber give the order."""
    series_uid = generate_uid()
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for frame in rng.permutation(len(cine)):
        dataset = _file_dataset(MR_IMAGE_STORAGE, patient_id, "MR")
        dataset.SeriesInstanceUID, dataset.SeriesDescription, dataset.SeriesNumber = series_uid, description, 7
        dataset.InstanceNumber = int(frame) + 1
        dataset.TriggerTime = f"{frame * 18.5:.1f}"
        dataset.PixelSpacing = [f"{spacing_mm:g}", f"{spacing_mm:g}"]
        dataset.ImagePositionPatient = ["-90.0", "-80.0", "12.5"]
        dataset.Rows, dataset.Columns = cine.shape[1:]
        dataset.SamplesPerPixel, dataset.PhotometricInterpretation = 1, "MONOCHROME2"
        dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit, dataset.PixelRepresentation = 16, 16, 15, 0
        dataset.RescaleSlope, dataset.RescaleIntercept = "1", "0"
        dataset.PixelData = np.ascontiguousarray(cine[frame], dtype="<u2").tobytes()
        dataset.save_as(folder / f"{generate_uid()[-12:]}.dcm", enforce_file_format=True)


def write_nifti_cine(path: Path, cine: np.ndarray, spacing_mm: float = 2.0) -> None:
    """A 4-D NIfTI (x = columns, y = rows, one slice, frames) with its zooms in mm."""
    volume = np.transpose(cine, (2, 1, 0))[:, :, None, :].astype(np.int16)
    image = nibabel.Nifti1Image(volume, np.diag([spacing_mm, spacing_mm, 8.0, 1.0]))
    image.header.set_zooms((spacing_mm, spacing_mm, 8.0, 30.0))
    image.header.set_xyzt_units("mm", "msec")
    path.parent.mkdir(parents=True, exist_ok=True)
    nibabel.save(image, path)


def _file_dataset(sop_class: str, patient_id: str, modality: str) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID, dataset.SOPInstanceUID = sop_class, meta.MediaStorageSOPInstanceUID
    dataset.PatientID, dataset.Modality = patient_id, modality
    dataset.StudyInstanceUID = generate_uid()
    return dataset


def write_demo_sources(cohort_dir: Path, out: Path, ecg_ids: Sequence[str], mri_ids: Sequence[str], columns: Sequence[str]) -> Path:
    """A demo cohort's subjects as someone else would hold them: a CSV keyed by ``eid``, WFDB records in ``out/wfdb`` for
    ``ecg_ids`` and NIfTI cines in ``out/nifti`` for ``mri_ids``; returns the CSV's path."""
    from data_loaders import load_cohort
    from data_loaders.cohort_spec import ECG_LEADS

    cohort = load_cohort(cohort_dir)
    everyone = list(dict.fromkeys([*ecg_ids, *mri_ids]))
    for subject_id, strip in zip(ecg_ids, cohort.ecg(list(ecg_ids))):
        write_wfdb(out / "wfdb", subject_id, strip, ECG_LEADS)
    for subject_id, cine in zip(mri_ids, cohort.mri(list(mri_ids))):
        write_nifti_cine(out / "nifti" / f"{subject_id}.nii.gz", np.round(cine * 255))
    table = cohort.phenotypes.loc[everyone, list(columns)].rename_axis("eid").reset_index()
    table.to_csv(out / "phenotypes.csv", index=False)
    return out / "phenotypes.csv"
