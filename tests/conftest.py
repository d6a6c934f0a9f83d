"""Shared fixtures: small generated cohorts, made once per test session."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data_loaders import load_cohort
from data_loaders.cohort_io import write_manifest, write_spaces
from data_loaders.manifest import variables_to_tables
from data_loaders.synthetic.generate import generate_cohort
from data_loaders.synthetic.phenotypes import VARIABLES, sample_phenotypes
from models.config import ModelConfig, TrainConfig

SMALL_COHORT_SUBJECTS = 120
TINY_COHORT_SUBJECTS = 12
PHENOTYPE_COHORT_SUBJECTS = 300
# A narrow model and two epochs: the first-start pipeline on the small cohort in seconds.
NARROW_MODEL = ModelConfig.cpu(latent_dim=16, ecg_channels=(8, 16, 16, 16), mri_channels=(16, 16, 16), mri_decoder_channels=(16, 16, 16, 16))
QUICK_TRAINING = TrainConfig(epochs=2, batch_size=16)


# Fixtures that train a model (tens of seconds once per session) or drive a browser: a test using one is slow.
SLOW_FIXTURES = frozenset({"trained_small_cohort", "trained_cohort_dir", "imported_cohort_dir", "driver"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests and tests that need a trained model are marked slow, so ``-m "not slow"`` leaves them out."""
    for item in items:
        if item.get_closest_marker("browser") or SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def small_cohort_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 120-subject synthetic cohort with stored arrays; read-only, shared by the session."""
    return generate_cohort(tmp_path_factory.mktemp("cohorts") / "small", SMALL_COHORT_SUBJECTS, seed=7, workers=1)


@pytest.fixture(scope="session")
def _tiny_cohort_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_cohort(tmp_path_factory.mktemp("cohorts") / "tiny", TINY_COHORT_SUBJECTS, seed=3, workers=1)


@pytest.fixture
def tiny_cohort_dir(_tiny_cohort_template: Path, tmp_path: Path) -> Path:
    """A private copy of a 12-subject cohort that a test may modify or break."""
    return Path(shutil.copytree(_tiny_cohort_template, tmp_path / "tiny"))


@pytest.fixture(scope="session")
def phenotype_cohort_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 subjects with phenotypes and two stand-in latent spaces, no arrays: all the explorer needs."""
    folder = tmp_path_factory.mktemp("phenotype-cohort")
    phenotypes = sample_phenotypes(PHENOTYPE_COHORT_SUBJECTS, seed=1).assign(sokolow_lyon_mv=2.0)
    phenotypes.reset_index().to_parquet(folder / "phenotypes.parquet", index=False)
    write_manifest(folder, {"format_version": 1, "name": "Phenotype-only test cohort", "phenotypes": {"path": "phenotypes.parquet"},
                            "variables": variables_to_tables(VARIABLES)})
    rng = np.random.default_rng(0)
    signal = phenotypes[["age_years", "lv_mass_g", "lvef_pct", "heart_rate_bpm"]].to_numpy(dtype=np.float32)
    signal = (signal - signal.mean(0)) / signal.std(0)
    spaces = {"joint": signal @ rng.normal(size=(4, 8)).astype(np.float32),
              "ecg": signal[:, [0, 3]] + rng.normal(0, 0.3, (len(signal), 2)).astype(np.float32)}
    write_spaces(folder, spaces, list(phenotypes.index))
    return folder


@pytest.fixture(scope="session")
def trained_small_cohort(small_cohort_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[str, int, int]]]:
    """A private copy of the small cohort after the first-start pipeline ran on it, and its progress events.

    It has a (narrow) trained model, the joint/ecg/mri spaces and out-of-sample predictions: all
    the decoder, accuracy and space-comparison panels need. Read-only: copy it to modify it.
    """
    from models.pipeline import ensure_trained_demo

    folder = Path(shutil.copytree(small_cohort_dir, tmp_path_factory.mktemp("trained") / "cohort"))
    events: list[tuple[str, int, int]] = []
    ensure_trained_demo(folder, device="cpu", model_config=NARROW_MODEL, train_config=QUICK_TRAINING, progress=lambda *event: events.append(event))
    return folder, events


@pytest.fixture(scope="session")
def trained_cohort_dir(trained_small_cohort: tuple[Path, list]) -> Path:
    """The trained small cohort's folder (read-only)."""
    return trained_small_cohort[0]


@pytest.fixture(scope="session")
def imported_cohort_dir(small_cohort_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """42 demo subjects written as WFDB records and NIfTI cines and imported: 10 with an ECG only, 20 with both,
    10 with a cine only and 2 with neither, then trained, encoded and fitted like the small cohort. Read-only."""
    from data_loaders.importers.cohort_import import ImportOptions, import_cohort
    from models.pipeline import ensure_trained_demo
    from tests.import_files import write_demo_sources

    ids = [str(i) for i in load_cohort(small_cohort_dir).subject_ids[:42]]
    sources = tmp_path_factory.mktemp("imported-sources")
    columns = ["age_years", "sex", "atrial_fibrillation", "lv_mass_g", "lvef_pct"]
    table = write_demo_sources(small_cohort_dir, sources, ecg_ids=ids[:30], mri_ids=ids[10:40], columns=columns)
    everyone = pd.read_csv(table, dtype={"eid": str})
    extra = load_cohort(small_cohort_dir).phenotypes.loc[ids[40:], columns].rename_axis("eid").reset_index()
    pd.concat([everyone, extra]).to_csv(table, index=False)
    out = tmp_path_factory.mktemp("imported") / "cohort"
    import_cohort(ImportOptions(out=out, phenotypes=table, id_column="eid", ecg_wfdb=sources / "wfdb", mri_nifti=sources / "nifti"))
    ensure_trained_demo(out, device="cpu", model_config=NARROW_MODEL, train_config=QUICK_TRAINING)
    return out


@pytest.fixture
def driver():
    """A headless Chromium for one browser test (tests.browser.chrome); closed afterwards."""
    from tests.browser import chrome

    browser = chrome()
    yield browser
    browser.quit()


@pytest.fixture
def refuse_slow_projections(monkeypatch):
    """Computing a UMAP or t-SNE fails while it is active: a callback test shows that the request never does it itself."""
    from app.core import projections

    pca_only = projections.compute_projection

    def compute(matrix, spec):
        assert spec.method == "pca", f"a {spec.method} was computed in the request"
        return pca_only(matrix, spec)

    monkeypatch.setattr(projections, "compute_projection", compute)
