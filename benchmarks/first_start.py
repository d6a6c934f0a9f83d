"""Time the README's first start: ``python -m app`` on a fresh cache, to the first page, the raw baseline and the model.

    .venv/bin/python -m benchmarks.first_start                 # fresh cache in a temporary folder, waits for the model
    .venv/bin/python -m benchmarks.first_start --no-model      # stop once the raw baseline is written
    .venv/bin/python -m benchmarks.first_start --cache DIR     # a later start on an existing cache

Prints seconds from start to: the first page served (``/_dash-layout``), the raw baseline written
(the background run past its first stage) and the model ready (the run's status ``ready``); then
the seconds a second start takes to serve on the same cache. Run it on an otherwise idle machine:
every figure is wall-clock time.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from app.config import AppConfig
from app.training import status_path
from models.run_status import read_status
from tests.serving import free_port

REPO_ROOT = Path(__file__).resolve().parents[1]


def serving(url: str) -> bool:
    try:
        urllib.request.urlopen(f"{url}/_dash-layout", timeout=2).close()
        return True
    except urllib.error.HTTPError:  # 401 behind sign-in: served all the same
        return True
    except OSError:
        return False


def start(cache: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    environment = {**os.environ, "LSE_CACHE_DIR": str(cache)}
    process = subprocess.Popen([sys.executable, "-m", "app", "--device", "cpu", "--port", str(port)], cwd=REPO_ROOT, env=environment,
                               stdout=log.open("w"), stderr=subprocess.STDOUT)
    return process, f"http://127.0.0.1:{port}"


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=60)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, help="cache folder (default: a fresh temporary one)")
    parser.add_argument("--no-model", action="store_true", help="stop once the raw baseline is written")
    parser.add_argument("--timeout", type=float, default=7200, help="seconds to wait for each step")
    args = parser.parse_args(argv)
    cache = args.cache or Path(tempfile.mkdtemp(prefix="lse-first-start-"))
    status_file = status_path(AppConfig.from_env(cache_dir=cache).demo_cohort_dir)  # LSE_DEMO_SUBJECTS names a smaller demo
    began = time.monotonic()
    process, url = start(cache, cache.parent / f"{cache.name}-first-start.log")
    steps = [("first page", lambda: serving(url)),
             ("raw baseline written", lambda: (s := read_status(status_file)) is not None and s.baseline_done)]
    if not args.no_model:
        steps.append(("model ready", lambda: (s := read_status(status_file)) is not None and s.state in ("ready", "failed")))
    try:
        for name, reached in steps:
            while not reached():
                if process.poll() is not None or time.monotonic() - began > args.timeout:
                    print(f"{name}: not reached (the app exited or the time ran out); log in {cache.parent / (cache.name + '-first-start.log')}")
                    return 1
                time.sleep(0.5)
            print(f"{name:>22}: {time.monotonic() - began:7.1f} s")
    finally:
        stop(process)
    began = time.monotonic()
    process, url = start(cache, cache.parent / f"{cache.name}-later-start.log")
    try:
        while not serving(url):
            if process.poll() is not None or time.monotonic() - began > args.timeout:
                print(f"later start: not serving (the app exited or the time ran out); log in {cache.parent / (cache.name + '-later-start.log')}")
                return 1
            time.sleep(0.2)
        print(f"{'later start, first page':>22}: {time.monotonic() - began:7.1f} s")
    finally:
        stop(process)
    status = read_status(status_file)
    print(f"cache {cache}; run status: {status.describe() if status else 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
