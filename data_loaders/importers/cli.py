"""Command line of the importer: options → ImportOptions, a progress bar, the summary, one-line errors."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from data_loaders import cohort_spec
from data_loaders.errors import CohortFormatError
from data_loaders.importers.cohort_import import ImportOptions, import_cohort
from data_loaders.importers.ecg import MISSING_LEAD_CHOICES
from data_loaders.importers.mri import DEFAULT_FOV_MM, VIEW_SERIES_PATTERNS


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m data_loaders.import",
        description="Build a cohort folder from a phenotype table and WFDB/DICOM ECGs and DICOM/NIfTI cines.",
    )
    parser.add_argument("--out", type=Path, required=True, help="cohort folder to create")
    parser.add_argument("--phenotypes", type=Path, required=True, help="phenotype table (.csv, .tsv or .parquet), one row per subject")
    parser.add_argument("--id-column", required=True, help="the table's subject id column")
    ecg = parser.add_mutually_exclusive_group()
    ecg.add_argument("--ecg-wfdb", type=Path, help="folder of WFDB records named <id>.hea (searched recursively)")
    ecg.add_argument("--ecg-dicom", type=Path, help="folder of DICOM ECG waveforms, matched by PatientID")
    mri = parser.add_mutually_exclusive_group()
    mri.add_argument("--mri-dicom", type=Path, help="folder of DICOM MR images, grouped by PatientID and series")
    mri.add_argument("--mri-nifti", type=Path, help="folder of 4-D NIfTI cines named <id>.nii[.gz] or inside a folder named <id>")
    parser.add_argument("--view", default="lax_4ch", choices=sorted(VIEW_SERIES_PATTERNS), help="the cine view (default lax_4ch): names the series to look for")
    parser.add_argument("--series", action="append", default=[], metavar="PATTERN",
                        help="shell pattern for the series description (DICOM) or file name (NIfTI), case-insensitive; repeatable (default: the view's usual names)")
    parser.add_argument("--missing-leads", default="refuse", choices=MISSING_LEAD_CHOICES,
                        help="an ECG without all 12 leads: refuse it (default) or store the missing leads as 0 mV")
    parser.add_argument("--fov-mm", type=float, default=DEFAULT_FOV_MM, help=f"side of the centred field of view kept from each cine, mm (default {DEFAULT_FOV_MM:g})")
    parser.add_argument("--frames", type=int, default=cohort_spec.CINE_FRAMES, help=f"frames per cine (default {cohort_spec.CINE_FRAMES})")
    parser.add_argument("--size", type=int, default=cohort_spec.CINE_SIZE, help=f"rows and columns per frame (default {cohort_spec.CINE_SIZE})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the 80/20 train/test split added when the table has no 'split' column")
    parser.add_argument("--name", help="cohort name shown in the app (default: the folder name)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing cohort folder")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    options = ImportOptions(
        out=args.out, phenotypes=args.phenotypes, id_column=args.id_column, ecg_wfdb=args.ecg_wfdb, ecg_dicom=args.ecg_dicom,
        mri_dicom=args.mri_dicom, mri_nifti=args.mri_nifti, view=args.view, series=tuple(args.series), missing_leads=args.missing_leads,
        fov_mm=args.fov_mm, frames=args.frames, size=args.size, seed=args.seed, name=args.name, overwrite=args.overwrite,
    )
    bars: list[tqdm] = []  # opened at the first subject, so a refusal before it prints only its one line

    def advance(done: int, total: int) -> None:
        if not bars:
            bars.append(tqdm(total=total, unit="subject", desc="Importing"))
        bars[0].update(done - bars[0].n)

    try:
        report = import_cohort(options, progress=advance)
    except (CohortFormatError, FileExistsError, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    finally:
        for bar in bars:
            bar.close()
    print("\n".join(report.summary_lines()))
    return 0
