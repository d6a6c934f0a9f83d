"""The embedded demo: the synthetic cohort, generated into the user cache on first start (app.training trains its model)."""

from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from app.config import DEMO_SEED, AppConfig
from data_loaders.cohort_io import clean_leftovers
from data_loaders.manifest import MANIFEST_NAME
from data_loaders.synthetic.generate import generate_cohort


def ensure_demo_cohort(config: AppConfig) -> Path:
    """Return the demo cohort folder, generating it (with a progress bar) if it is not there yet."""
    folder = config.demo_cohort_dir
    clean_leftovers(folder.parent, only=folder.name)  # a start killed mid-swap left the previous cohort aside
    if not (folder / MANIFEST_NAME).is_file():
        print(f"First start: generating the synthetic demo cohort ({config.demo_subjects:,} subjects) in {folder}")
        with tqdm(total=config.demo_subjects, unit="subject", desc="Generating demo cohort") as bar:
            generate_cohort(folder, config.demo_subjects, DEMO_SEED, overwrite=True, progress=lambda done, _: bar.update(done - bar.n))
    return folder


def not_ready_reason(config: AppConfig) -> str | None:
    """Why a worker process (gunicorn, Celery) cannot serve yet, as one line, or None when it can.

    Workers never build the demo themselves: several would race, and a build takes minutes, far past
    any worker timeout. ``python -m app --prepare-only`` builds it once, beforehand.
    """
    folder = config.resolved_cohort_dir
    prepare = f"LSE_CACHE_DIR={config.cache_dir} python -m app --prepare-only"
    if config.cohort_dir is not None:
        return None if (folder / MANIFEST_NAME).is_file() else f"LSE_COHORT={folder} has no {MANIFEST_NAME}: point it at a cohort folder"
    if not (folder / MANIFEST_NAME).is_file():
        return f"no cohort: set LSE_COHORT to a cohort folder, or build the demo first with `{prepare}`"
    from models.readiness import DEMO_MODEL, DEMO_TRAIN, status

    if not all(status(folder, recipe=(DEMO_MODEL, DEMO_TRAIN)).values()):
        return f"the demo cohort in {folder} has no trained model yet: build it first with `{prepare}`"
    return None

