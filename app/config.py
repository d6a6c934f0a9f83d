"""Application settings: one dataclass, filled from CLI flags and environment variables, passed down."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from platformdirs import user_cache_dir

from app.core.neighbours import NEIGHBOUR_THREADS_VARIABLE
from data_loaders.synthetic import GENERATOR_VERSION

DEMO_SUBJECTS = 5000
DENSITY_THRESHOLD = 200_000  # the most subjects an explorer view draws as points; above, a density image
DEMO_SEED = 0
AUTH_MODES = ("off", "password", "oidc")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class ConfigError(ValueError):
    """A setting (CLI flag or ``LSE_*`` variable) that cannot be used; the message names it."""


def is_loopback(host: str) -> bool:
    return host in LOOPBACK_HOSTS or host.startswith("127.")


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
    density_threshold: int = DENSITY_THRESHOLD
    cohort_db: Path | None = None  # saved cohorts (SQLite); default: cohorts.sqlite in the cache folder
    device: str = "auto"  # where models decode: auto (CUDA when present), cpu, cuda or cuda:N
    celery_broker: str | None = None  # e.g. redis://localhost:6379/0: background callbacks on Celery instead of a disk cache
    auth: str | None = None  # off, password or oidc; None: off on a loopback host, password on any other
    allowed_hosts: tuple[str, ...] = ()  # Host header names served (any port); empty: the loopback names and ``host``
    secret_key: str | None = None  # signs session cookies; default: a random key kept in the cache folder (0600)
    oidc_issuer: str | None = None  # e.g. https://login.hospital.example/realms/staff (its /.well-known/openid-configuration)
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise ConfigError(f"port: expected 1-65535, found {self.port}")
        if self.demo_subjects < 1:
            raise ConfigError(f"LSE_DEMO_SUBJECTS: expected a positive whole number, found {self.demo_subjects}")
        if self.density_threshold < 1:
            raise ConfigError(f"LSE_DENSITY_THRESHOLD: expected a positive whole number, found {self.density_threshold}")
        if self.auth is not None and self.auth not in AUTH_MODES:
            raise ConfigError(f"auth: expected one of {', '.join(AUTH_MODES)}, found {self.auth!r}")
        if self.debug and not is_loopback(self.host):
            raise ConfigError(f"--debug is refused on the non-loopback host {self.host}: the debugger runs any code a visitor sends")
        if self.resolved_auth == "oidc" and not (self.oidc_issuer and self.oidc_client_id and self.oidc_client_secret):
            raise ConfigError("auth oidc needs LSE_OIDC_ISSUER, LSE_OIDC_CLIENT_ID and LSE_OIDC_CLIENT_SECRET")

    @property
    def resolved_auth(self) -> str:
        """``off`` for the embedded localhost default, ``password`` for any other host unless set."""
        if self.auth is not None:
            return self.auth
        return "off" if is_loopback(self.host) else "password"

    @property
    def resolved_allowed_hosts(self) -> tuple[str, ...]:
        return self.allowed_hosts or tuple(dict.fromkeys([*LOOPBACK_HOSTS, self.host]))

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

    @property
    def cluster_cache_dir(self) -> Path:
        return self.cache_dir / "clusters"

    @classmethod
    def for_workers(cls) -> AppConfig:
        """The gunicorn and Celery processes' settings (``app.wsgi``): as :meth:`from_env`, but sign-in on unless ``LSE_AUTH`` says otherwise.

        Their recipe binds the web workers to loopback behind a reverse proxy, so the host cannot tell that others reach them.
        """
        return cls.from_env(auth=None if os.environ.get("LSE_AUTH") else "password")

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
        for name, key in (("LSE_DEMO_SUBJECTS", "demo_subjects"), ("LSE_DENSITY_THRESHOLD", "density_threshold")):
            if os.environ.get(name):
                values[key] = _whole_number(name, os.environ[name])
        if os.environ.get(NEIGHBOUR_THREADS_VARIABLE) and _whole_number(NEIGHBOUR_THREADS_VARIABLE, os.environ[NEIGHBOUR_THREADS_VARIABLE]) < 1:
            raise ConfigError(f"{NEIGHBOUR_THREADS_VARIABLE}: expected a positive whole number, found {os.environ[NEIGHBOUR_THREADS_VARIABLE]!r}")
        for name, key in (("LSE_AUTH", "auth"), ("LSE_SECRET_KEY", "secret_key"), ("LSE_OIDC_ISSUER", "oidc_issuer"),
                          ("LSE_OIDC_CLIENT_ID", "oidc_client_id"), ("LSE_OIDC_CLIENT_SECRET", "oidc_client_secret"), ("LSE_HOST", "host")):
            if os.environ.get(name):
                values[key] = os.environ[name]
        if os.environ.get("LSE_ALLOWED_HOSTS"):
            values["allowed_hosts"] = parse_hosts(os.environ["LSE_ALLOWED_HOSTS"])
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)  # type: ignore[arg-type]


def _whole_number(name: str, text: str) -> int:
    """A positive whole number from an environment variable, or a ConfigError naming it."""
    if not text.strip().isdigit():
        raise ConfigError(f"{name}: expected a positive whole number, found {text!r}")
    return int(text)


def parse_hosts(text: str) -> tuple[str, ...]:
    """``"a.example, b.example"`` → ``("a.example", "b.example")``."""
    return tuple(host.strip().lower() for host in text.split(",") if host.strip())
