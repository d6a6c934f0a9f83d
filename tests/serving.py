"""Start the real server and wait for it: shared by the tests and the benchmarks (no pytest, no selenium)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_serving(url: str, processes: list[subprocess.Popen], timeout: float, log_path: Path) -> None:
    """Return once ``url`` serves its layout; raise with the log's tail if a process exits or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(f"{url}/_dash-layout", timeout=2).close()
            return
        except urllib.error.HTTPError:  # 401: up, behind sign-in
            return
        except OSError:
            if any(process.poll() is not None for process in processes) or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start: {log_path.read_text()[-3000:]}") from None
            time.sleep(0.3)


@contextmanager
def running_app(cohort_dir: Path | None, cache_dir: Path, timeout: float = 90, extra_args: tuple[str, ...] = (),
                extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """Start ``python -m app`` (on the demo cohort when ``cohort_dir`` is None) on a free port; yield its URL; stop it afterwards.

    What the server printed is in ``cache_dir / "server.log"``.
    """
    port = free_port()
    environment = {**os.environ, "LSE_CACHE_DIR": str(cache_dir), **(extra_env or {})}
    cohort_args = ["--cohort", str(cohort_dir)] if cohort_dir is not None else []
    log = open(cache_dir / "server.log", "w")  # noqa: SIM115 - closed below, after the server stops
    server = subprocess.Popen(
        [sys.executable, "-m", "app", *cohort_args, "--port", str(port), *extra_args],
        cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, env=environment,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url, [server], timeout, cache_dir / "server.log")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=15)
        log.close()
