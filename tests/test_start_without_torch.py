"""The app starts without importing torch: importing PyTorch takes seconds, and only decoding and training need it.

Each check runs in a fresh interpreter, since this test session has long imported torch itself. A cohort
with a model starts without it too: the first decode loads the model, and the Decode tab asks where
decodes run only when it is opened.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.serving import REPO_ROOT

pytestmark = pytest.mark.slow  # each check starts a Python interpreter

SERVING_MODULES = ("app.__main__", "app.server", "app.config", "app.demo", "app.training", "app.state", "app.context")


def _torch_imported_by(code: str) -> bool:
    probe = f"{code}\nimport sys\nprint('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1] == "True"


def test_the_modules_python_m_app_imports_before_serving_leave_torch_unimported():
    assert not _torch_imported_by("\n".join(f"import {module}" for module in SERVING_MODULES))


def _build_app(cohort_dir, cache_dir, device: str) -> str:
    return (
        "from pathlib import Path\n"
        "from app.config import AppConfig\n"
        "from app.server import create_app\n"
        f"app = create_app(AppConfig(cohort_dir=Path({str(cohort_dir)!r}), cache_dir=Path({str(cache_dir)!r}), device={device!r}))\n"
        "assert app.server.test_client().get('/_dash-layout').status_code == 200"
    )


def test_building_the_app_for_a_cohort_without_a_model_leaves_torch_unimported(phenotype_cohort_dir, tmp_path):
    assert not _torch_imported_by(_build_app(phenotype_cohort_dir, tmp_path, "cpu"))


def test_building_the_app_for_a_cohort_with_a_model_leaves_torch_unimported(trained_cohort_dir, tmp_path):
    assert not _torch_imported_by(_build_app(trained_cohort_dir, tmp_path, "auto"))


def test_the_probe_sees_torch_when_a_model_module_is_imported():
    assert _torch_imported_by("import models.checkpoint")
