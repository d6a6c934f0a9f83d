"""The app starts without importing torch, scikit-learn or scipy: each takes a second or more to import, and only
decoding, training, statistics and measurements need them.

Each check runs in a fresh interpreter, since this test session has long imported torch itself. A cohort
with a model starts without it too: a server loads the model in the background once its first page's
views are drawn (app.server's warm-up), and the Decode tab asks where decodes run only when it is opened.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.serving import REPO_ROOT

pytestmark = pytest.mark.slow  # each check starts a Python interpreter

SERVING_MODULES = ("app.__main__", "app.server", "app.config", "app.demo", "app.training", "app.state", "app.context", "models.readiness")


HEAVY_MODULES = ("torch", "sklearn", "scipy")


def _heavy_imported_by(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint(','.join(name for name in {HEAVY_MODULES!r} if name in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    last_line = (result.stdout.strip().splitlines() or [""])[-1]
    return [name for name in last_line.split(",") if name]


def test_the_modules_python_m_app_imports_before_serving_leave_torch_sklearn_and_scipy_unimported():
    assert _heavy_imported_by("\n".join(f"import {module}" for module in SERVING_MODULES)) == []


def _build_app(cohort_dir, cache_dir, device: str) -> str:
    return (
        "from pathlib import Path\n"
        "from app.config import AppConfig\n"
        "from app.server import create_app\n"
        f"app = create_app(AppConfig(cohort_dir=Path({str(cohort_dir)!r}), cache_dir=Path({str(cache_dir)!r}), device={device!r}))\n"
        "assert app.server.test_client().get('/_dash-layout').status_code == 200"
    )


def test_building_the_app_for_a_cohort_without_a_model_leaves_torch_sklearn_and_scipy_unimported(phenotype_cohort_dir, tmp_path):
    assert _heavy_imported_by(_build_app(phenotype_cohort_dir, tmp_path, "cpu")) == []


def test_building_the_app_for_a_cohort_with_a_model_leaves_torch_sklearn_and_scipy_unimported(trained_cohort_dir, tmp_path):
    assert _heavy_imported_by(_build_app(trained_cohort_dir, tmp_path, "auto")) == []


def test_the_probe_sees_what_a_model_module_imports():
    assert "torch" in _heavy_imported_by("import models.checkpoint")
    assert {"sklearn", "scipy"} <= set(_heavy_imported_by("import models.predictors"))


def test_a_workers_readiness_check_reads_the_trained_cohorts_files_without_torch_sklearn_or_scipy(trained_cohort_dir):
    """gunicorn and Celery workers (app.wsgi) check that the demo is trained before they serve: it must not cost an import of torch."""
    check = f"from models.readiness import status\nassert all(status({str(trained_cohort_dir)!r}).values())"
    assert _heavy_imported_by(check) == []


def test_the_decode_tabs_badge_answers_cpu_without_importing_torch():
    """A scaled-out web worker (its decodes run in Celery) told ``--device cpu`` never imports torch for the badge."""
    check = "from app.panels.decoder.model import expected_device\nassert expected_device(' CPU ') == 'CPU'"
    assert _heavy_imported_by(check) == []
    assert "torch" in _heavy_imported_by("from app.panels.decoder.model import expected_device\nassert expected_device('auto') in ('CPU', 'GPU (CUDA)')")
