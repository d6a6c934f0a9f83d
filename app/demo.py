"""The embedded demo: the synthetic cohort and its trained model, built into the user cache on first start."""

from __future__ import annotations

import time
from pathlib import Path

from tqdm import tqdm

from app.config import DEMO_SEED, AppConfig
from data_loaders.cohort_io import recover_swaps
from data_loaders.manifest import MANIFEST_NAME
from data_loaders.synthetic.generate import generate_cohort


def ensure_demo_cohort(config: AppConfig) -> Path:
    """Return the demo cohort folder, generating it (with a progress bar) if it is not there yet."""
    folder = config.demo_cohort_dir
    recover_swaps(folder.parent, only=folder.name)  # a start killed mid-swap left the previous cohort aside
    if not (folder / MANIFEST_NAME).is_file():
        print(f"First start: generating the synthetic demo cohort ({config.demo_subjects:,} subjects) in {folder}")
        with tqdm(total=config.demo_subjects, unit="subject", desc="Generating demo cohort") as bar:
            generate_cohort(folder, config.demo_subjects, DEMO_SEED, overwrite=True, progress=lambda done, _: bar.update(done - bar.n))
    return folder


def ensure_demo_model(folder: Path, device: str = "auto") -> Path:
    """Train, encode and fit predictors for the demo cohort where missing (progress bars in the terminal)."""
    from models.pipeline import DEMO_MODEL, DEMO_TRAIN, ensure_trained_demo, status

    if all(status(folder, recipe=(DEMO_MODEL, DEMO_TRAIN)).values()):
        return ensure_trained_demo(folder, device=device, retrain_other_recipes=True)
    print("First start (or a new demo recipe): training the cross-modal autoencoder, encoding every subject and fitting predictors "
          "(a few minutes on two CPU cores; cached for later starts)")
    started = time.perf_counter()
    model_dir = ensure_trained_demo(folder, device=device, show_progress=True, retrain_other_recipes=True)
    print(f"Demo model ready in {time.perf_counter() - started:.0f} s: {model_dir}")
    return model_dir
