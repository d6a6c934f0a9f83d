"""``python -m models.evaluate --cohort DIR [--model PATH]``: the model's quality report on the test split.

- ECG reconstruction: median per-lead Pearson r of the median beat decoded from the ECG latent.
- MRI reconstruction: SSIM and PSNR of the cine decoded from the MRI latent.
- Cross-modal decoding: ECG → MRI (LV cavity area curve vs the true cine's, both measured on the
  images by ``data_loaders.mri_measures``, and the Spearman correlation of the decoded cine's
  fractional area change with the true LVEF); MRI → ECG (QRS amplitude vs the true ECG's).
- Predictors: AUROC (binary) or R² (continuous) of the stored held-out predictions, per space.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr
from tqdm import tqdm

from data_loaders import Cohort, CohortFormatError, cohort_spec, load_cohort
from data_loaders.ecg_measures import lead_correlations
from data_loaders.mri_measures import fractional_area_change, lv_area_curves
from models.data import in_stored_order, iter_chunks
from models.decoding import codec_for_cohort
from models.device import DEVICE_CHOICES, DeviceUnavailableError, select_device
from models.metrics import pearson, psnr, qrs_amplitude, ssim
from models.predictors import held_out_scores
from models.sources import CheckpointError, cohort_model_source
from models.training import split_ids

EVAL_CHUNK = 50
TARGETS = {
    "ecg_r": ("ECG median per-lead r", 0.9),
    "mri_ssim": ("MRI SSIM", 0.85),
    "af_auroc_joint": ("joint-space AF AUROC", 0.9),
    "lv_mass_r2_joint": ("joint-space LV mass R²", 0.7),
    "ecg_to_mri_lvef_spearman": ("ECG → MRI fractional area change vs LVEF, Spearman", 0.5),
}


@dataclass
class Report:
    """Per-metric values on the test split; ``values`` holds the headline numbers checked against TARGETS."""

    n_subjects: int
    values: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    predictor_scores: pd.DataFrame | None = None


def _median(values: np.ndarray | list[float]) -> float:
    """Median ignoring NaN; NaN (without a warning) when nothing is left."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    return float(np.median(values)) if len(values) else float("nan")


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 3 or np.ptp(x[keep]) == 0 or np.ptp(y[keep]) == 0:  # a constant has no ranking to compare
        return float("nan")
    return float(spearmanr(x[keep], y[keep]).statistic)


def evaluate_cohort(
    cohort: Cohort,
    model_path: Path | str | None = None,
    *,
    device: str | torch.device | None = "auto",
    max_subjects: int | None = None,
    show_progress: bool = False,
) -> Report:
    """Decode every test subject from each latent and compare with its arrays."""
    codec = codec_for_cohort(cohort, select_device(device), model_path=model_path)
    source = cohort_model_source(cohort, model_path)
    _, test_ids = split_ids(cohort)
    ids = in_stored_order(cohort, test_ids or list(cohort.phenotypes.index))
    if max_subjects:
        ids = ids[:max_subjects]
    parts: dict[str, list[np.ndarray]] = {}

    def keep(name: str, value: np.ndarray) -> None:
        parts.setdefault(name, []).append(value)

    with tqdm(total=len(ids), unit="subject", desc="Evaluating", disable=not show_progress) as bar:
        for chunk, ecg, cines in iter_chunks(cohort, ids, source.ecg_input, EVAL_CHUNK):
            z_ecg, z_mri = codec.encode_ecg(ecg), codec.encode_mri(cines)
            z_joint = (z_ecg + z_mri) / 2
            for name, latent in (("ecg", z_ecg), ("mri", z_mri), ("joint", z_joint)):
                ecg_hat = codec.decode_ecg(latent)
                cine_hat = codec.decode_mri(latent)
                keep(f"ecg_r_from_{name}", lead_correlations(ecg_hat, ecg))
                keep(f"ssim_from_{name}", ssim(cine_hat, cines).mean(axis=1))
                keep(f"psnr_from_{name}", psnr(cine_hat, cines))
                keep(f"qrs_from_{name}", qrs_amplitude(ecg_hat))
                if name != "joint":
                    keep(f"area_from_{name}", lv_area_curves(cine_hat))
            keep("qrs_true", qrs_amplitude(ecg))
            keep("area_true", lv_area_curves(cines))
            bar.update(len(chunk))
    data = {name: np.concatenate(values) for name, values in parts.items()}
    lvef = cohort.phenotypes.loc[ids, cohort_spec.LVEF].to_numpy(dtype=float) if cohort_spec.LVEF in cohort.phenotypes else np.full(len(ids), np.nan)
    report = Report(len(ids))
    d = report.details

    def area_r(name: str) -> float:
        return _median([pearson(a, b) for a, b in zip(data[f"area_from_{name}"], data["area_true"])])

    def area_error(name: str) -> float:
        truth = data["area_true"]
        return _median(np.abs(data[f"area_from_{name}"] - truth).mean(axis=1) / np.maximum(truth.mean(axis=1), 1))

    def fac_spearman(name: str) -> float:
        return _spearman(fractional_area_change(data[name]), lvef)

    d["ECG → ECG: median per-lead r"] = _median(data["ecg_r_from_ecg"])
    d["MRI → MRI: SSIM"] = float(np.mean(data["ssim_from_mri"]))
    d["MRI → MRI: PSNR (dB)"] = float(np.mean(data["psnr_from_mri"]))
    d["MRI → MRI: LV cavity area curve r (median)"] = area_r("mri")
    d["MRI → MRI: fractional area change vs LVEF, Spearman"] = fac_spearman("area_from_mri")
    d["ECG → MRI: SSIM"] = float(np.mean(data["ssim_from_ecg"]))
    d["ECG → MRI: LV cavity area curve r (median)"] = area_r("ecg")
    d["ECG → MRI: LV cavity area relative error (median)"] = area_error("ecg")
    d["ECG → MRI: fractional area change vs LVEF, Spearman"] = fac_spearman("area_from_ecg")
    d["MRI → ECG: median per-lead r"] = _median(data["ecg_r_from_mri"])
    d["MRI → ECG: QRS amplitude r"] = pearson(data["qrs_from_mri"], data["qrs_true"])
    d["ECG → ECG: QRS amplitude r"] = pearson(data["qrs_from_ecg"], data["qrs_true"])
    d["joint → ECG: median per-lead r"] = _median(data["ecg_r_from_joint"])
    d["joint → MRI: SSIM"] = float(np.mean(data["ssim_from_joint"]))
    d["true cine: fractional area change vs LVEF, Spearman"] = fac_spearman("area_true")
    report.values["ecg_r"] = d["ECG → ECG: median per-lead r"]
    report.values["mri_ssim"] = d["MRI → MRI: SSIM"]
    report.values["ecg_to_mri_lvef_spearman"] = d["ECG → MRI: fractional area change vs LVEF, Spearman"]
    predictions = cohort.predictions()
    if predictions is not None:
        scores = held_out_scores(predictions, cohort.phenotypes)
        report.predictor_scores = scores
        lookup = {(row.task, row.space): row.value for row in scores.itertuples()}
        report.values["af_auroc_joint"] = float(lookup.get((cohort_spec.AF, "joint"), np.nan))
        report.values["lv_mass_r2_joint"] = float(lookup.get((cohort_spec.LV_MASS, "joint"), np.nan))
    return report


def format_report(report: Report) -> str:
    lines = [f"Quality report on {report.n_subjects} test subjects", ""]
    width = max(len(k) for k in report.details) + 2
    for key, value in report.details.items():
        lines.append(f"  {key:<{width}} {value:8.3f}")
    if report.predictor_scores is not None and len(report.predictor_scores):
        lines += ["", "Predictors (held-out test split):"]
        table = report.predictor_scores.pivot_table(index=["task", "metric"], columns="space", values="value", sort=False)
        lines += ["  " + line for line in table.round(3).to_string().splitlines()]
    lines += ["", "Targets:"]
    for key, (label, target) in TARGETS.items():
        value = report.values.get(key, float("nan"))
        verdict = "n/a" if not np.isfinite(value) else ("met" if value >= target else "NOT met")
        lines.append(f"  {label:<52} {value:7.3f}  (target ≥ {target})  {verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", type=Path, required=True, help="cohort folder with a trained model, spaces and predictions")
    parser.add_argument("--model", type=Path, default=None, help="checkpoint folder (default: the cohort's [model])")
    parser.add_argument("--device", default="auto", help=f"{' | '.join(DEVICE_CHOICES)} | cuda:N")
    parser.add_argument("--max-subjects", type=int, default=None, help="evaluate only the first N test subjects")
    args = parser.parse_args(argv)
    try:
        report = evaluate_cohort(load_cohort(args.cohort), args.model, device=args.device, max_subjects=args.max_subjects, show_progress=True)
    except (CohortFormatError, CheckpointError, DeviceUnavailableError, ValueError, KeyError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(format_report(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
