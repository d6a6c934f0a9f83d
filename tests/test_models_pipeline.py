"""End to end on generated cohorts: train → encode → decode → predictors, the CLIs, TorchScript models.

A 120-subject cohort and a narrow model keep the whole file well under a minute on two CPU cores.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from data_loaders import load_cohort
from data_loaders.cohort_io import update_manifest
from data_loaders.errors import CohortFormatError
from models import encode, evaluate, predictors, train
from models.checkpoint import load_checkpoint
from models.decoding import clear_cache, codec_for_cohort, load_codec
from models.pipeline import ensure_trained_demo
from models.predictors import PredictorSet, predictors_for_cohort
from models.readiness import PREDICTORS_FILE, status, trained_with
from models.sources import WEIGHTS_FILE
from models.torchscript import ModelShapeError
from tests.test_models import write_torchscript_modules

TASKS = ("atrial_fibrillation", "heart_failure", "lv_hypertrophy", "hypertension", "lvef_pct", "lv_mass_g")


def test_first_start_trains_encodes_and_fits_predictors(trained_small_cohort: tuple[Path, list]) -> None:
    folder, events = trained_small_cohort
    assert [stage for stage in dict.fromkeys(e[0] for e in events)] == ["baseline", "load", "train", "encode", "predictors", "done"]
    assert status(folder) == {"trained": True, "encoded": True, "predictors": True}
    cohort = load_cohort(folder)
    n = len(cohort.phenotypes)
    assert {name: space.shape for name, space in cohort.spaces.items()} == {**{name: (n, 16) for name in ("joint", "ecg", "mri")}, "raw": (n, 64)}
    np.testing.assert_allclose(cohort.spaces["joint"], (cohort.spaces["ecg"] + cohort.spaces["mri"]) / 2, rtol=1e-5, atol=1e-6)
    assert cohort.manifest["model"]["path"] == "model"
    table = cohort.predictions()
    fitted = PredictorSet.load(folder / "model" / PREDICTORS_FILE)
    assert {task for task, _ in fitted.predictors} == set(TASKS) - set(fitted.metadata["skipped"])
    assert len(table) == n * 4 * len({task for task, _ in fitted.predictors})  # joint, ecg, mri and the raw baseline
    assert table.groupby(["task", "space"]).sample_id.nunique().eq(n).all()  # every subject, every task and space
    assert np.isfinite(table["prediction"]).all()
    loaded = predictors_for_cohort(cohort)
    assert loaded is not None and loaded.direction("lv_mass_g", "joint").shape == (16,)


def test_second_start_reuses_everything_in_seconds(trained_small_cohort: tuple[Path, list]) -> None:
    folder, _ = trained_small_cohort
    weights = folder / "model" / WEIGHTS_FILE
    before = (weights.stat().st_mtime_ns, (folder / "spaces.h5").stat().st_mtime_ns, (folder / "predictions.parquet").stat().st_mtime_ns)
    started = time.perf_counter()
    ensure_trained_demo(folder, device="cpu")
    assert time.perf_counter() - started < 5
    assert (weights.stat().st_mtime_ns, (folder / "spaces.h5").stat().st_mtime_ns, (folder / "predictions.parquet").stat().st_mtime_ns) == before
    assert not list(folder.glob(".*partial*")) and not list((folder / "model").glob(".*partial*"))


def test_stale_spaces_are_re_encoded_after_the_model_changes(trained_small_cohort: tuple[Path, list], tmp_path: Path) -> None:
    folder = Path(shutil.copytree(trained_small_cohort[0], tmp_path / "cohort"))
    update_manifest(folder, model={**load_cohort(folder).manifest["model"], "model_id": "another-model"})
    assert status(folder) == {"trained": True, "encoded": False, "predictors": False}
    ensure_trained_demo(folder, device="cpu")
    assert status(folder) == {"trained": True, "encoded": True, "predictors": True}


def test_codec_decodes_cohort_latents_into_data_units(trained_small_cohort: tuple[Path, list]) -> None:
    folder, _ = trained_small_cohort
    cohort = load_cohort(folder)
    codec = codec_for_cohort(cohort, device="cpu")
    assert codec is codec_for_cohort(cohort, device="cpu")  # loaded once per process
    assert load_codec(folder / "model", device="cpu") is load_codec(folder / "model", device="cpu")
    latents = cohort.spaces["joint"][:5]
    ecg, cines = codec.decode(latents, "ecg"), codec.decode(latents, "mri")
    assert ecg.shape == (5, 600, 12) and cines.shape == (5, 50, 96, 96)
    assert cines.min() >= 0 and cines.max() <= 1
    ids = list(cohort.phenotypes.index[:5])
    np.testing.assert_allclose(codec.encode(cohort.ecg_median(ids), "ecg"), cohort.spaces["ecg"][:5], rtol=1e-4, atol=1e-4)
    # encoding from the stored 8-bit cines gives the same latents as the training pipeline's pooled copy
    np.testing.assert_allclose(codec.encode(cohort.mri(ids), "mri"), cohort.spaces["mri"][:5], rtol=1e-3, atol=2e-3)


def test_evaluate_reports_every_metric_and_the_targets(trained_small_cohort: tuple[Path, list], capsys: pytest.CaptureFixture[str]) -> None:
    folder, _ = trained_small_cohort
    assert evaluate.main(["--cohort", str(folder), "--device", "cpu", "--max-subjects", "12"]) == 0
    out = capsys.readouterr().out
    for text in ("median per-lead r", "SSIM", "PSNR", "LV cavity area", "fractional area change", "QRS amplitude", "AUROC", "R²", "Targets"):
        assert text in out, text


@pytest.mark.slow
def test_command_lines_train_encode_and_fit_predictors(small_cohort_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = Path(shutil.copytree(small_cohort_dir, tmp_path / "cohort"))
    out = tmp_path / "checkpoint"
    assert train.main(["--cohort", str(folder), "--epochs", "1", "--latent-dim", "8", "--device", "cpu", "--out", str(out), "--seed", "1", "--batch-size", "32"]) == 0
    assert load_checkpoint(out, "cpu").model_config.latent_dim == 8
    # The manifest will name the model, so it must be inside the cohort folder unless the manifest lets paths lead out.
    assert encode.main(["--cohort", str(folder), "--model", str(out), "--device", "cpu"]) == 2
    assert "--model: expected a checkpoint folder inside the cohort folder" in capsys.readouterr().err and "joint" not in load_cohort(folder).spaces
    update_manifest(folder, allow_outside_paths=True)
    assert encode.main(["--cohort", str(folder), "--model", str(out), "--device", "cpu"]) == 0
    cohort = load_cohort(folder)
    assert cohort.spaces["joint"].shape == (len(cohort.phenotypes), 8)
    assert Path(cohort.root / cohort.manifest["model"]["path"]).resolve() == out.resolve()
    assert predictors.main(["--cohort", str(folder)]) == 0
    assert (out / PREDICTORS_FILE).is_file() and load_cohort(folder).predictions() is not None
    assert "Wrote latent spaces" in capsys.readouterr().out


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on machines without CUDA")
def test_command_line_cuda_without_cuda_fails_clearly(small_cohort_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert train.main(["--cohort", str(small_cohort_dir), "--device", "cuda", "--out", str(tmp_path / "m")]) == 2
    assert "CUDA is not available" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_command_line_refuses_a_validation_sample_too_small_for_pairs(small_cohort_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert train.main(["--cohort", str(small_cohort_dir), "--validation-subjects", "1", "--out", str(tmp_path / "m")]) == 2
    assert "validation_subjects must be ≥ 2" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def _use_torchscript(folder: Path, paths: dict[str, Path]) -> None:
    update_manifest(folder, model={"format": "torchscript", **{name: str(path.relative_to(folder)) for name, path in paths.items()}})


def test_a_groups_torchscript_model_named_in_the_manifest_encodes_and_decodes(tiny_cohort_dir: Path) -> None:
    _use_torchscript(tiny_cohort_dir, write_torchscript_modules(tiny_cohort_dir / "their_model", (600, 12), (50, 96, 96), latent_dim=4))
    clear_cache()
    cohort = load_cohort(tiny_cohort_dir)
    codec = codec_for_cohort(cohort, device="cpu")
    assert codec.latent_dim == 4
    spaces = encode.encode_cohort(tiny_cohort_dir, device="cpu")
    assert spaces["joint"].shape == (len(cohort.phenotypes), 4)
    cohort = load_cohort(tiny_cohort_dir)
    assert cohort.manifest["model"]["format"] == "torchscript"  # the encoder keeps the group's model table
    assert codec.decode(cohort.spaces["joint"][:2], "mri").shape == (2, 50, 96, 96)


def test_a_torchscript_model_that_does_not_fit_the_cohort_is_refused(tiny_cohort_dir: Path) -> None:
    paths = write_torchscript_modules(tiny_cohort_dir / "their_model", (600, 12), (50, 96, 96), latent_dim=4)
    wrong = write_torchscript_modules(tiny_cohort_dir / "wrong", (500, 12), (50, 96, 96), latent_dim=4)
    _use_torchscript(tiny_cohort_dir, {**paths, "ecg_decoder": wrong["ecg_decoder"]})
    clear_cache()
    with pytest.raises(ModelShapeError, match=r"wrong/ecg_decoder\.pt: ecg_decoder: .*expected an output of shape \(2, 600, 12\), got \(2, 500, 12\)"):
        codec_for_cohort(load_cohort(tiny_cohort_dir), device="cpu")


def test_a_model_trained_with_another_recipe_is_trained_again_only_when_asked(trained_small_cohort: tuple[Path, list], tmp_path: Path) -> None:
    from tests.conftest import NARROW_MODEL, QUICK_TRAINING

    folder = Path(shutil.copytree(trained_small_cohort[0], tmp_path / "cohort"))
    weights = folder / "model" / WEIGHTS_FILE
    before = weights.stat().st_mtime_ns
    new_recipe = dataclasses.replace(QUICK_TRAINING, seed=QUICK_TRAINING.seed + 1)
    ensure_trained_demo(folder, device="cpu", model_config=NARROW_MODEL, train_config=new_recipe)
    assert weights.stat().st_mtime_ns == before  # the pipeline CLI keeps whatever model a cohort has
    assert status(folder, recipe=(NARROW_MODEL, new_recipe)) == {"trained": False, "encoded": False, "predictors": False}
    ensure_trained_demo(folder, device="cpu", model_config=NARROW_MODEL, train_config=QUICK_TRAINING, retrain_other_recipes=True)
    assert weights.stat().st_mtime_ns == before  # same recipe: nothing to do
    ensure_trained_demo(folder, device="cpu", model_config=NARROW_MODEL, train_config=new_recipe, retrain_other_recipes=True)
    assert weights.stat().st_mtime_ns != before
    assert trained_with(folder / "model", NARROW_MODEL, new_recipe)
    assert status(folder) == {"trained": True, "encoded": True, "predictors": True}


def test_an_imported_cohort_missing_a_modality_for_some_subjects_is_trained_on_its_pairs_and_encoded_from_what_each_has(imported_cohort_dir: Path) -> None:
    cohort = load_cohort(imported_cohort_dir)
    has_ecg, has_mri = cohort.ecg_present, cohort.mri_present
    assert (has_ecg & ~has_mri).sum() == 10 and (has_ecg & has_mri).sum() == 20 and (~has_ecg & has_mri).sum() == 10 and (~has_ecg & ~has_mri).sum() == 2
    assert status(imported_cohort_dir) == {"trained": True, "encoded": True, "predictors": True}
    checkpoint = load_checkpoint(imported_cohort_dir / "model", torch.device("cpu"))
    assert 0 < checkpoint.metadata["n_train"] == (cohort.phenotypes.loc[cohort.subject_ids[has_ecg & has_mri], "split"] == "train").sum()
    joint, ecg, mri = (cohort.spaces[name] for name in ("joint", "ecg", "mri"))
    both = has_ecg & has_mri
    np.testing.assert_allclose(joint[both], (ecg[both] + mri[both]) / 2, rtol=1e-5, atol=1e-6)
    ecg_only, mri_only = has_ecg & ~has_mri, has_mri & ~has_ecg
    assert np.array_equal(mri[ecg_only], ecg[ecg_only]) and np.array_equal(joint[ecg_only], ecg[ecg_only])
    assert np.array_equal(ecg[mri_only], mri[mri_only]) and np.array_equal(joint[mri_only], mri[mri_only])
    neither = ~(has_ecg | has_mri)
    np.testing.assert_allclose(joint[neither], np.broadcast_to(joint[~neither].mean(axis=0), (2, joint.shape[1])), rtol=1e-5, atol=1e-6)
    raw = cohort.spaces["raw"]  # the linear baseline: a missing modality's block sits at that modality's mean
    assert np.isfinite(raw).all() and len(np.unique(raw.round(4), axis=0)) == 41  # the two with neither coincide
    codec = codec_for_cohort(cohort, "cpu")
    ids = list(cohort.subject_ids[ecg_only][:2])
    np.testing.assert_allclose(codec.encode_ecg(cohort.ecg_median(ids)), ecg[ecg_only][:2], rtol=1e-4, atol=1e-5)
    table = cohort.predictions()
    skipped = set(PredictorSet.load(imported_cohort_dir / "model" / PREDICTORS_FILE).metadata["skipped"])
    assert table is not None and set(table["task"]) == {"atrial_fibrillation", "lv_mass_g", "lvef_pct"} - skipped
    assert np.isfinite(table["prediction"]).all() and table.groupby(["task", "space"]).sample_id.nunique().eq(42).all()


@pytest.mark.parametrize("path", ["../outside.parquet", "/etc/passwd"])
def test_stored_predictions_outside_the_cohort_folder_are_refused(tiny_cohort_dir, path):
    update_manifest(tiny_cohort_dir, predictions={"path": path})
    with pytest.raises(CohortFormatError, match="predictions.path"):
        load_cohort(tiny_cohort_dir).predictions()
