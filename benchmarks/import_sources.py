"""Time ``python -m data_loaders.import`` per source (subjects per second) and its peak memory.

    .venv/bin/python -m benchmarks.import_sources --subjects 100 400

Demo subjects are written as real files with the maintained libraries (``tests.import_files``):
WFDB records at 500 Hz, DICOM 12-lead ECGs at 1000 Hz, DICOM MR cines (50 files per subject) and
4-D NIfTI cines; each source is then imported on its own. Peak memory should stay flat as the
number of subjects grows (subjects are streamed one at a time).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.process_tree import run_measured
from data_loaders import load_cohort
from data_loaders.cohort_spec import ECG_LEADS
from data_loaders.synthetic.generate import generate_cohort
from tests.import_files import write_dicom_cine, write_dicom_ecg, write_nifti_cine, write_wfdb

SOURCES = ("ecg-wfdb", "ecg-dicom", "mri-dicom", "mri-nifti")


def write_sources(cohort_dir: Path, folder: Path) -> Path:
    """Every source for every subject of a demo cohort, and the phenotype CSV; returns the CSV."""
    cohort = load_cohort(cohort_dir)
    ids = [str(i) for i in cohort.subject_ids]
    for start in range(0, len(ids), 50):
        chunk = ids[start : start + 50]
        for subject_id, strip, cine in zip(chunk, cohort.ecg(chunk), cohort.mri(chunk)):
            write_wfdb(folder / "ecg-wfdb", subject_id, strip, ECG_LEADS)
            write_dicom_ecg(folder / "ecg-dicom" / f"{subject_id}.dcm", subject_id, strip, ECG_LEADS)
            frames = np.round(cine * 255)
            write_dicom_cine(folder / "mri-dicom" / subject_id, subject_id, frames)
            write_nifti_cine(folder / "mri-nifti" / f"{subject_id}.nii.gz", frames)
    table = folder / "phenotypes.csv"
    cohort.phenotypes[["age_years", "sex", "lv_mass_g"]].rename_axis("eid").reset_index().to_csv(table, index=False)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, nargs="+", default=[100, 400])
    args = parser.parse_args()
    print(f"{'source':>10} {'subjects':>9} {'seconds':>9} {'subjects/s':>11} {'peak MiB':>9}")
    for n in args.subjects:
        folder = Path(tempfile.mkdtemp(prefix="bench-import-"))
        try:
            table = write_sources(generate_cohort(folder / "demo", n, seed=0), folder)
            for source in SOURCES:
                command = [sys.executable, "-m", "data_loaders.import", "--out", str(folder / f"out-{source}"), "--phenotypes", str(table),
                           "--id-column", "eid", f"--{source}", str(folder / source)]
                seconds, peak_mib, code = run_measured(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                if code:
                    raise SystemExit(f"importing {n} subjects from {source} failed with exit code {code}")
                print(f"{source:>10} {n:>9} {seconds:>9.1f} {n / seconds:>11.1f} {peak_mib:>9.0f}", flush=True)
        finally:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
