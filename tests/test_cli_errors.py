"""CLI and settings errors of ``python -m app`` are one line on stderr and exit status 2, never a traceback."""

from __future__ import annotations

import pytest
import torch

from app.__main__ import main


@pytest.mark.parametrize(("argv", "environment", "message"), [
    (["--port", "99999"], {}, "error: port: expected 1-65535, found 99999"),
    ([], {"LSE_DEMO_SUBJECTS": "abc"}, "error: LSE_DEMO_SUBJECTS: expected a positive whole number, found 'abc'"),
    ([], {"LSE_DENSITY_THRESHOLD": "2e5"}, "error: LSE_DENSITY_THRESHOLD: expected a positive whole number, found '2e5'"),
    ([], {"LSE_DENSITY_THRESHOLD": "0"}, "error: LSE_DENSITY_THRESHOLD: expected a positive whole number, found 0"),
    ([], {"LSE_NEIGHBOUR_THREADS": "four"}, "error: LSE_NEIGHBOUR_THREADS: expected a positive whole number, found 'four'"),
    ([], {"LSE_NEIGHBOUR_THREADS": "0"}, "error: LSE_NEIGHBOUR_THREADS: expected a positive whole number, found '0'"),
    (["--host", "0.0.0.0", "--debug"], {}, "error: --debug is refused on the non-loopback host 0.0.0.0"),
    (["--auth", "oidc"], {}, "error: auth oidc needs LSE_OIDC_ISSUER"),
])
def test_bad_settings_give_one_line(argv, environment, message, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("LSE_CACHE_DIR", str(tmp_path))
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(message) and "\n" not in error and "Traceback" not in error


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_device_cuda_is_refused_on_a_cpu_machine_even_with_a_cohort(phenotype_cohort_dir, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("LSE_CACHE_DIR", str(tmp_path))
    assert main(["--cohort", str(phenotype_cohort_dir), "--device", "cuda"]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error:") and "CUDA" in error.upper() and "\n" not in error
