"""The embedded demo: the synthetic cohort, generated into the user cache on first start (app.training trains its model)."""

from __future__ import annotations

from pathlib import Path

from tqdm import tqdm

from app.config import DEMO_SEED, AppConfig
from data_loaders.manifest import MANIFEST_NAME
from data_loaders.synthetic.generate import generate_cohort


def ensure_demo_cohort(config: AppConfig) -> Path:
    """Return the demo cohort folder, generating it (with a progress bar) if it is not there yet."""
    folder = config.demo_cohort_dir
    if not (folder / MANIFEST_NAME).is_file():
        print(f"First start: generating the synthetic demo cohort ({config.demo_subjects:,} subjects) in {folder}")
        with tqdm(total=config.demo_subjects, unit="subject", desc="Generating demo cohort") as bar:
            generate_cohort(folder, config.demo_subjects, DEMO_SEED, overwrite=True, progress=lambda done, _: bar.update(done - bar.n))
    return folder
