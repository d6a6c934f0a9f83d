"""Start the real server and wait for it: shared by the tests and the benchmarks (no pytest, no selenium)."""

from __future__ import annotations

import json
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

import psutil

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


# Background callbacks posted as the renderer posts them (``post(path, body) -> answer text``: a test client or HTTP).
def projection_job_body(request: dict) -> dict:
    """What the page posts when a view asks for a projection (the explorer's request store → its background callback)."""
    return {"output": "projection-ready.data", "outputs": {"id": "projection-ready", "property": "data"},
            "inputs": [{"id": "projection-request", "property": "data", "value": request}],
            "state": [{"id": "projection-ready", "property": "data", "value": 0}], "changedPropIds": ["projection-request.data"]}


def callback_body(app, output: str, values: dict[str, object], changed: list[str]) -> dict:
    """What the page posts to the callback writing ``output`` ("id.property"): each input and state ("id.property")
    from ``values`` (None where not given), ``changed`` the ones that triggered it."""
    def written(key: str) -> list[str]:  # Dash's key names several outputs as "..a.b...c.d..", a duplicate one with "@hash"
        return [part.split("@")[0] for part in key.strip(".").split("...")]

    key = next(key for key in app.callback_map if output in written(key))
    callback = app.callback_map[key]

    def items(dependencies: list[dict]) -> list[dict]:
        return [{**item, "value": values.get(f"{item['id']}.{item['property']}")} for item in dependencies]

    outputs = [dict(zip(("id", "property"), part.rsplit(".", 1), strict=True)) for part in written(key)]
    return {"output": key, "outputs": outputs if len(outputs) > 1 else outputs[0], "inputs": items(callback["inputs"]),
            "state": items(callback["state"]), "changedPropIds": changed}


def start_job(post, body: dict) -> str:
    """Post a background callback; the query string with Dash's signed handles that the renderer polls it with."""
    started = json.loads(post("/_dash-update-component", body))
    return "&".join(f"{key}={started[key]}" for key in ("cacheKey", "job"))


def poll_job(post, body: dict, handles: str, timeout: float = 180) -> dict:
    """Poll a started job, as the renderer does (the same body, every value null), until it answers (its outputs, or a message set elsewhere in the page)."""
    polled = {**body, **{part: [{**item, "value": None} for item in body[part]] for part in ("inputs", "state")}}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.5)
        answer = json.loads(post(f"/_dash-update-component?{handles}", polled) or "{}")
        if "response" in answer or "sideUpdate" in answer:
            return answer
    raise AssertionError(f"no answer from the job in {timeout} s")


def run_job(post, body: dict, timeout: float = 180) -> dict:
    """Post a background callback and poll it until its outputs come."""
    answer = poll_job(post, body, start_job(post, body), timeout)
    assert "response" in answer, answer
    return answer["response"]


def heavy_workers(pid: int) -> list[psutil.Process]:
    """The embedded server's heavy-job worker processes (app.heavy_worker, spawned) under process ``pid``."""
    return [child for child in psutil.Process(pid).children(recursive=True) if "spawn_main" in " ".join(child.cmdline())]
