"""The embedded server's heavy lane in a process of its own: projections, neighbour lists and clusters.

Run on threads of the web server, a fresh UMAP held the interpreter lock about a third of its time
(numba compiling, py-spy ``--gil``) and its threads took the same two cores as every page's
callbacks: under 20 simulated users a Compare cohorts answer that takes 35 ms alone took 3 s on
average. Here a heavy job runs in a worker process at a lower CPU priority (``nice``), so it uses
what the callbacks leave, and never holds their lock.

The worker is spawned (nothing inherited from the threaded server, as the issue on forked jobs
asks) when the first heavy job comes, and dies with the server (``PR_SET_PDEATHSIG``). It builds the
same app from the same recipe, so Dash registers the same background functions under the same
keys (a hash of each callback's outputs and source); a job names the function by that key. Results
and progress go through the shared disk cache, exactly as with threads or Celery.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from app.config import AppConfig
from data_loaders.cohort_io import die_with_parent

HEAVY_NICENESS = 10  # added to the worker's nice value: the web server's callbacks get the CPU first
log = logging.getLogger(__name__)
_registered: dict[str, Callable] = {}  # in a worker: Dash's background functions by key, from the app it built


@dataclass(frozen=True)
class WorkerRecipe:
    """What a worker needs to build the same app as the server: its settings, its cohort and the run it follows."""

    config: AppConfig
    cohort_dir: Path
    training: tuple[Path, float] | None = None  # status file and start of the background training run, while one runs


class HeavyWorkers:
    """A spawned process pool that runs Dash background functions by key, built lazily on the first job."""

    def __init__(self, recipe: WorkerRecipe, processes: int):
        self._recipe, self._processes = recipe, processes
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()  # request threads submit at once: one pool, never two workers loading the cohort

    def submit(self, function_key: str, *job_arguments) -> Future:
        """Run the background function ``function_key`` with Dash's job arguments (result key, progress key, args, context)."""
        with self._lock:
            if self._pool is None:
                self._pool = self._new_pool()
            try:
                future = self._pool.submit(run_registered, function_key, *job_arguments)
            except BrokenProcessPool:  # the worker died (killed, out of memory): a new one for this and later jobs
                log.warning("the heavy-job worker process stopped; starting a new one")
                self._pool = self._new_pool()
                future = self._pool.submit(run_registered, function_key, *job_arguments)
        future.add_done_callback(_log_failure)
        return future

    def shutdown(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self._processes, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=start_worker, initargs=(self._recipe, os.getpid()))


def start_worker(recipe: WorkerRecipe, server_pid: int) -> None:
    """Worker initializer: die with the server, step back in CPU priority, build the app and keep its background functions."""
    die_with_parent(server_pid)
    os.nice(HEAVY_NICENESS)
    import dash
    import diskcache

    from app.server import background_cache_dir, create_app
    from app.training import TrainingWatch
    from data_loaders import load_cohort

    manager = dash.DiskcacheManager(diskcache.Cache(str(background_cache_dir(recipe.config))))
    training = TrainingWatch(recipe.training[0], on_ready=lambda: None, started_at=recipe.training[1]) if recipe.training else None
    create_app(recipe.config, cohort=load_cohort(recipe.cohort_dir), manager=manager, training=training)
    _registered.update(manager.func_registry)


def run_registered(function_key: str, *job_arguments) -> None:
    """In a worker: run one background function; it writes its result (or its error) into the shared cache."""
    _registered[function_key](*job_arguments)


def _log_failure(future: Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("a heavy background job failed in its worker process", exc_info=future.exception())
