"""Application settings: one dataclass, filled from CLI flags and environment variables, passed down."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from platformdirs import user_cache_dir

from data_loaders.synthetic.generate import GENERATOR_VERSION

DEMO_SUBJECTS = 5000
DEMO_SEED = 0


def default_cache_dir() -> Path:
    return Path(os.environ.get("LSE_CACHE_DIR") or user_cache_dir("latent-space-explorer"))


@dataclass(frozen=True)
class AppConfig:
    """Where the cohort and caches live and how the server listens."""

    cohort_dir: Path | None = None  # None: the synthetic demo cohort, built on first start
    cache_dir: Path = field(default_factory=default_cache_dir)
    host: str = "127.0.0.1"
    port: int = 8050
    debug: bool = False
    demo_subjects: int = DEMO_SUBJECTS
    cohort_db: Path | None = None  # saved cohorts (SQLite); default: cohorts.sqlite in the cache folder
    device: str = "auto"  # where models decode: auto (CUDA when present), cpu, cuda or cuda:N
    celery_broker: str | None = None  # e.g. redis://localhost:6379/0: background callbacks on Celery instead of a disk cache

    @property
    def demo_cohort_dir(self) -> Path:
        return self.cache_dir / f"demo-cohort-v{GENERATOR_VERSION}-{self.demo_subjects}-seed{DEMO_SEED}"

    @property
    def resolved_cohort_dir(self) -> Path:
        return self.cohort_dir or self.demo_cohort_dir

    @property
    def resolved_cohort_db(self) -> Path:
        return self.cohort_db or self.cache_dir / "cohorts.sqlite"

    @property
    def assets_dir(self) -> Path:
        return Path(__file__).resolve().parents[1] / "assets"

    @property
    def projection_cache_dir(self) -> Path:
        return self.cache_dir / "projections"

    @classmethod
    def from_env(cls, **overrides: object) -> AppConfig:
        """Settings from ``LSE_*`` environment variables, then explicit overrides (CLI flags)."""
        values: dict[str, object] = {}
        if os.environ.get("LSE_COHORT"):
            values["cohort_dir"] = Path(os.environ["LSE_COHORT"])
        if os.environ.get("LSE_COHORT_DB"):
            values["cohort_db"] = Path(os.environ["LSE_COHORT_DB"])
        if os.environ.get("LSE_CELERY_BROKER"):
            values["celery_broker"] = os.environ["LSE_CELERY_BROKER"]
        if os.environ.get("LSE_DEVICE"):
            values["device"] = os.environ["LSE_DEVICE"]
        if os.environ.get("LSE_DEMO_SUBJECTS"):
            values["demo_subjects"] = int(os.environ["LSE_DEMO_SUBJECTS"])
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)  # type: ignore[arg-type]
