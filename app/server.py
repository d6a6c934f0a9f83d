"""The Dash app factory: tests, ``python -m app`` and gunicorn build the app the same way."""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import stat
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import dash
import dash_bootstrap_components as dbc
import flask
from dash import html
from dash.development.base_component import Component
from dash.fingerprint import check_fingerprint
from werkzeug.exceptions import HTTPException

from app.auth import current_username, job_context
from app.auth.web import install_security
from app.config import AppConfig
from app.context import AppContext
from app.core.url_state import to_query
from app.heavy_worker import HeavyWorkers, WorkerRecipe
from app.jobs import HEAVY, LANES, QUICK, Lane, stopped_job_result
from app.panels import accuracy, address_bar, clusters, cohorts, compare_cohorts, compare_spaces, decoder, explorer, messages, search, tab_panes, variables
from app.panels.accuracy.settings import ACCURACY_TAB
from app.panels.compare_spaces.settings import PANEL_TAB as COMPARE_SPACES_TAB
from app.panels.decoder import model as decoder_model
from app.panels.decoder.settings import DECODER_TAB
from app.panels.explorer import page as explorer_page
from app.panels.explorer import views as explorer_views
from app.panels.training_status import register_training_status, training_badge, training_placeholder
from app.state import stores
from app.training import MODEL_SPACES, TrainingWatch
from app.validation import MAX_REQUEST_BYTES, REFUSAL_ALERT_ID, show_refusal
from data_loaders import Cohort, load_cohort
from models.device import check_device

PANELS = (explorer, cohorts, compare_cohorts, clusters, decoder, accuracy, compare_spaces, search, variables)
MODEL_PANELS = (decoder, accuracy, compare_spaces)  # need the model's spaces: replaced by its training progress until they exist
# The tabs whose panels are laid out when first opened (app.panels.tab_panes): (panel, label, tab id).
HIDDEN_TABS = ((compare_cohorts, "Compare cohorts", compare_cohorts.COMPARE_TAB), (clusters, "Clusters", "clusters"), (decoder, "Decode", DECODER_TAB),
               (accuracy, "Accuracy", ACCURACY_TAB), (compare_spaces, "Compare spaces", COMPARE_SPACES_TAB))
log = logging.getLogger(__name__)
BACKGROUND_THREADS: dict[Lane, int] = {QUICK: 4, HEAVY: 2}  # jobs at once per lane in one server process; more wait their turn
HEAVY_PROCESSES = 1  # the embedded server's heavy-job workers (app.heavy_worker): each holds its own copy of the cohort


def make_celery(broker: str):
    """The Celery app that runs background callbacks when several workers serve the explorer.

    One queue per job lane (app.jobs): a worker started without ``-Q`` takes both; the README's
    recipe starts one worker per queue so that decodes never wait behind projections.
    """
    from celery import Celery
    from kombu import Queue

    celery = Celery("latent_space_explorer", broker=broker, backend=broker)
    celery.conf.task_queues = [Queue(lane) for lane in LANES]
    celery.conf.task_default_queue = HEAVY
    celery.conf.worker_prefetch_multiplier = 1  # a worker busy with a t-SNE holds no other job back
    return celery


class JobLanes:
    """Remembers each background function's lane (``BackgroundJob.lane``) and registry key as Dash hands it to the manager."""

    def make_job_fn(self, fn, progress, key=None):
        job_fn = super().make_job_fn(fn, progress, key)
        # The base class registers earlier functions from its __init__, before a subclass could set attributes.
        self.__dict__.setdefault("_lanes", {})[id(job_fn)] = (getattr(fn, "lane", HEAVY), key)
        return job_fn

    def lane_of(self, job_fn) -> Lane:
        """The lane of a function from Dash's registry (which keeps it alive, so its id stays its own)."""
        return self.__dict__.get("_lanes", {}).get(id(job_fn), (HEAVY, None))[0]

    def key_of(self, job_fn) -> str | None:
        """The key Dash registered the function under: the same in every process that builds the same app."""
        return self.__dict__.get("_lanes", {}).get(id(job_fn), (HEAVY, None))[1]


class PerRequesterResults:
    """Background results keyed per requesting user: two users asking the same thing never collect each other's result."""

    def build_cache_key(self, fn, args, cache_args_to_ignore, triggered) -> str:
        key = super().build_cache_key(fn, args, cache_args_to_ignore, triggered)
        return hashlib.sha256(f"{current_username()}\0{key}".encode()).hexdigest()


class AnswersLostJobs:
    """A job that ended without writing its result (its worker process was killed, or ran out of memory) is answered with
    an error when the page polls it: Dash's own job function writes an error for anything a callback raises, but with
    nothing written the page took the job for cancelled and kept waiting for good. Each manager says how it tells."""

    def get_result(self, key, job):
        result = super().get_result(key, job)
        if result is self.UNDEFINED and job is not None:
            lost = self.lost_job_error(job)
            if lost is not None:
                self.terminate_job(job)
                return lost
        return result

    def lost_job_error(self, job) -> dict | None:
        raise NotImplementedError


class CeleryJobManager(AnswersLostJobs, PerRequesterResults, JobLanes, dash.CeleryManager):
    """Dash's Celery manager, its jobs acting as the user who asked (the worker has no Flask request to ask), each on its lane's queue."""

    def call_job_fn(self, key, job_fn, args, context):
        task = job_fn.apply_async((key, self._make_progress_key(key), args, job_context(context)), queue=self.lane_of(job_fn))
        return task.task_id

    def lost_job_error(self, job) -> dict | None:
        """A task failed without a result: its pool process was killed (Celery records a WorkerLostError)."""
        return stopped_job_result() if self.handle.AsyncResult(job).status == "FAILURE" else None

    def terminate_job(self, job) -> None:
        """A superseded job is revoked: dropped while queued, left to finish once running (as on the thread lanes).

        Dash's manager terminates a running task with SIGTERM: the pool process exits wherever it is (a
        traceback in the log when that was inside a finaliser) and Celery forks a new one, which must
        load the models again. A running job here is a quick decode or a projection, neighbour list or
        clustering that is cached once done, so letting it finish costs less than killing it.
        """
        if job is not None:
            self.handle.control.revoke(job)


class ThreadJobManager(AnswersLostJobs, PerRequesterResults, JobLanes, dash.DiskcacheManager):
    """Background callbacks of the embedded server: decodes on threads, heavy jobs in a spawned worker process; results in a disk cache.

    Dash's DiskcacheManager forks the threaded server for every job: a child can inherit a lock that
    another thread held at that instant (decode jobs hung for good inside SQLite's allocator), its
    pipes and zombie were never reaped (about two descriptors leaked per job), and killing a job that
    had just ended raised ``psutil.NoSuchProcess`` (HTTP 500). Nothing here is forked. Decodes run on
    a bounded pool of threads in the server (torch releases the GIL; the models stay loaded), so one
    starts at once. Projections, neighbour lists and clusters run in ``heavy_workers`` (app.heavy_worker:
    a spawned process at a lower CPU priority) when given; else, and for a function Dash did not
    register (which a worker could not find), on a second pool of threads. A job superseded by a
    newer request is cancelled if it has not started and otherwise runs to its end. A job acts as the user who asked for it (``app.auth.job_context``):
    it sees that user's saved cohorts only.
    """

    def __init__(self, cache, workers: dict[Lane, int], heavy_workers: HeavyWorkers | None = None):
        super().__init__(cache)
        self._pools = {lane: ThreadPoolExecutor(max_workers=workers[lane], thread_name_prefix=f"{lane}-job") for lane in LANES}
        self._heavy_workers = heavy_workers
        self._jobs: dict[int, tuple[Future, str]] = {}
        self._job_ids = itertools.count(1)
        self._lock = threading.Lock()

    def call_job_fn(self, key, job_fn, args, context) -> int:
        job = next(self._job_ids)
        job_arguments = (key, self._make_progress_key(key), args, job_context(context))
        lane, registered = self.lane_of(job_fn), self.key_of(job_fn)
        if lane == HEAVY and self._heavy_workers is not None and registered is not None:
            future = self._heavy_workers.submit(registered, *job_arguments)
        else:
            future = self._pools[lane].submit(job_fn, *job_arguments)
        with self._lock:
            self._jobs[job] = (future, key)
        return job

    def job_running(self, job) -> bool:
        """Still computing, or finished with a result not yet collected (so a poll never mistakes it for cancelled)."""
        with self._lock:
            entry = self._jobs.get(int(job))
        if entry is None:
            return False
        future, key = entry
        return not future.done() or key in self.handle

    def lost_job_error(self, job) -> dict | None:
        """A job whose future ended in an error its job function did not write: its worker process died (or, in the
        worker, the function was not found)."""
        with self._lock:
            entry = self._jobs.get(int(job))
        if entry is None or not entry[0].done() or entry[0].cancelled() or entry[0].exception() is None:
            return None
        error = entry[0].exception()
        if isinstance(error, BrokenProcessPool):
            return stopped_job_result()
        return {"background_callback_error": {"msg": str(error), "tb": f"{type(error).__module__}.{type(error).__qualname__}: {error}"}}

    def terminate_job(self, job) -> None:
        if job is None:
            return
        with self._lock:
            entry = self._jobs.pop(int(job), None)
        if entry is not None:
            entry[0].cancel()

    def terminate_unhealthy_job(self, job) -> bool:
        if job is None or self.job_running(job):
            return False
        self.terminate_job(job)
        return True

    def close(self) -> None:
        """Stop taking jobs (an app replaced by one built on the updated cohort): queued ones are dropped, the worker ends."""
        for pool in self._pools.values():
            pool.shutdown(wait=False, cancel_futures=True)
        if self._heavy_workers is not None:
            self._heavy_workers.shutdown()


def _warm(what: str, warm_up: Callable[[], None]) -> None:
    try:
        warm_up()
    except Exception:  # a warm-up that fails costs its first user the head start, nothing else: the page reports its own problems
        log.warning("warming up %s failed", what, exc_info=True)


def _warm_up(context: AppContext, views: tuple, clinical: tuple | None, colour: str | None) -> None:
    """The first page's views, then the decoder's model: what a newcomer meets first is ready first."""
    _warm("the default views", lambda: explorer_views.warm_up(context, views, clinical, colour))
    _warm("the decoder's model", lambda: decoder_model.warm_up(context))


def warm_up_decodes_in_celery(celery_app, context: AppContext) -> None:
    """Each pool process of a Celery worker that takes decodes (the quick lane) loads the decoder's model as it starts.

    In a thread: a pool process must report itself alive within seconds. Without it, the first decode in
    each pool process waited for torch and the model, 12-13 s at p95 with 20 users on two cores
    (benchmarks.load --server scaled). A worker for the heavy lane only loads nothing.
    """
    from celery.signals import worker_process_init

    def load_model(**_) -> None:
        if QUICK in celery_app.amqp.queues.consume_from:  # the worker's --queues (all lanes when not given)
            threading.Thread(target=_warm, args=("the decoder's model", lambda: decoder_model.warm_up(context)), name="warm-up", daemon=True).start()

    worker_process_init.connect(load_model, weak=False)


def background_cache_dir(config: AppConfig) -> Path:
    return config.cache_dir / "background-callbacks"


def background_manager(config: AppConfig, celery_app=None, worker_recipe: WorkerRecipe | None = None) -> dash.DiskcacheManager | dash.CeleryManager:
    """Celery + Redis when a broker is configured (several workers); otherwise threads, and heavy jobs in a worker process built from ``worker_recipe``."""
    if config.celery_broker:
        return CeleryJobManager(celery_app or make_celery(config.celery_broker))
    import diskcache

    heavy_workers = HeavyWorkers(worker_recipe, processes=HEAVY_PROCESSES) if worker_recipe else None
    return ThreadJobManager(diskcache.Cache(str(background_cache_dir(config))), workers=BACKGROUND_THREADS, heavy_workers=heavy_workers)


def create_app(config: AppConfig, cohort: Cohort | None = None, manager=None, training: TrainingWatch | None = None,
               warm_up: bool = False, pictures: bool = False) -> dash.Dash:
    """Build the app for a cohort (loaded from ``config`` unless given, e.g. by tests).

    With ``training`` (a background run is making the model), the tabs that need the model show its
    progress instead of their panels until the run is done; a cohort with no space yet (the demo's
    raw baseline is the run's first step) is explored in its clinical view until the baseline is ready. Raises DeviceUnavailableError for a
    ``--device`` this machine lacks, before anything is served. With ``warm_up`` (a server, not a test), the default
    views are drawn once in the background, so the first page after a start finds their projections ready, and
    then the decoder's model is loaded, so the first decode does not wait for torch. With ``pictures`` (a server), the
    page carries a picture of each default view to show until it is drawn (app/figures/preview.py; their projections
    are computed now if they are not on disk).
    """
    check_device(config.device)
    secure_cache_dir(config.cache_dir)
    loaded = cohort or load_cohort(config.resolved_cohort_dir)
    if manager is None:
        followed = (training.status_path, training.started_at) if training is not None else None
        manager = background_manager(config, worker_recipe=WorkerRecipe(config, loaded.root, followed))
    context = AppContext(config, loaded, spaces_pending=training is not None and not loaded.spaces)
    app = dash.Dash(
        __name__,
        title="Latent Space Explorer",
        # Bootstrap (Bootswatch Flatly) is served from assets/: clinical networks often have no CDN access.
        assets_folder=str(config.assets_dir),
        background_callback_manager=manager,
        on_error=show_refusal,  # a refused input or a failing callback: a message in the page, never a 500
        # Hidden tabs' panels join the page when first opened (app.panels.tab_panes), so their callbacks name ids the
        # first layout lacks. (A validation_layout instead would be embedded whole in every page's HTML.)
        suppress_callback_exceptions=True,
    )
    app.server.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES  # Flask answers 413 to anything bigger
    app.server.register_error_handler(Exception, _refuse_malformed_request)
    compress_answers(app.server)
    waiting = training is not None and not all(space in context.cohort.spaces for space in MODEL_SPACES)
    app.layout = page_layout(context, training, waiting, pictured=pictures)
    for tab, panel in hidden_panels(context, waiting).items():
        tab_panes.register_pane(app, tab, panel)
    for panel in PANELS:
        if not (waiting and panel in MODEL_PANELS):
            panel.register(app, context)
    links = address_bar.register(app, context)  # after the panels: it reads their controls' defaults from the layout
    explorer_page.mark_previews(app.layout, to_query(links.defaults))
    messages.register(app)
    if isinstance(manager, CeleryJobManager) and not waiting:
        warm_up_decodes_in_celery(manager.handle, context)
    if warm_up and not waiting:
        start = links.defaults
        threading.Thread(target=_warm_up, args=(context, start.views, start.clinical, start.colour or None), name="warm-up", daemon=True).start()
    if training is not None:
        register_training_status(app, training, waiting, spaces_pending=context.spaces_pending)
    install_security(app, config)
    problem = None if waiting else decoder_model.model_problem(context)
    if problem and context.cohort.has_ecg and context.cohort.has_mri:
        log.warning("Decoding is off: %s", problem)
    return app


def secure_cache_dir(cache_dir: Path) -> None:
    """Caches hold pickles and decoded subjects: folders 0700 and files 0600, older ones tightened too.

    The process umask is set so files diskcache, SQLite and the projection cache create later get
    the same modes (another local user could otherwise read them, or plant a pickle).
    """
    os.umask(0o077)
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    for folder, _subfolders, files in os.walk(cache_dir):
        os.chmod(folder, 0o700)
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.chmod(path, stat.S_IMODE(os.stat(path).st_mode) & 0o600)


def compress_answers(server: flask.Flask) -> None:
    """gzip the callbacks' JSON answers at the fastest level, and Dash's scripts and styles once per process.

    A view's points travel as base64 typed arrays (12 bytes a point for float32 coordinates and a
    colour code); gzip level 1 makes them about 7.4 on the wire at 100,000 subjects
    (``benchmarks.browser_scale``). Only gzip: headless Chromium also offers zstd, which Flask-Compress
    prefers, and with it a first load took 0.7 s longer there (gzip: no slower than uncompressed).
    Dash's scripts (Plotly.js alone is 4.8 MB) are gzipped the first time they are asked for and kept
    (:class:`CompressedScripts`): a first visit downloads 3.1 MB less of Plotly.js, for 48 ms once per
    process. The sign-in page, which carries a form, is never compressed, so no secret is compressed
    next to what a visitor typed (BREACH).
    """
    from flask_compress import Compress

    server.config.update(COMPRESS_MIMETYPES=["application/json", "text/javascript", "application/javascript", "text/css"], COMPRESS_ALGORITHM=["gzip"],
                         COMPRESS_LEVEL=1, COMPRESS_STREAMS=False, COMPRESS_CACHE_BACKEND=CompressedScripts,
                         COMPRESS_CACHE_KEY=CompressedScripts.key)
    Compress(server)


class CompressedScripts:
    """Flask-Compress's cache: Dash's scripts and styles (fixed for a given package path), each gzipped once; nothing else is kept.

    The key is the resource's path without Dash's fingerprint or a query string, so however a
    browser (or anyone) spells the address, the cache holds one entry per resource Dash serves.
    A callback's answer has another key and is never kept.
    """

    SUITES = "/_dash-component-suites/"

    def __init__(self) -> None:
        self._kept: dict[str, bytes] = {}

    @classmethod
    def key(cls, request: flask.Request) -> str:
        if not request.path.startswith(cls.SUITES):
            return request.path
        return cls.SUITES + check_fingerprint(request.path[len(cls.SUITES):])[0]

    def get(self, key: str) -> bytes | None:
        return self._kept.get(key)

    def set(self, key: str, value: bytes) -> None:
        if key.partition(";")[2].startswith(self.SUITES):  # Flask-Compress prefixes the algorithm
            self._kept[key] = value


def _refuse_malformed_request(error: Exception):
    """What escapes Dash's dispatch (a body that is not a callback request): 400 with one line, no traceback; logged."""
    if isinstance(error, HTTPException):
        return error
    log.warning("malformed request to %s refused", flask.request.path, exc_info=error)
    return flask.jsonify(message="malformed request: not a callback request this page makes"), 400


def hidden_panels(context: AppContext, waiting: bool = False) -> dict[str, Component]:
    """The hidden tabs' panels by tab id, sent when a tab is first opened; while the model trains, its tabs show its progress instead."""
    return {tab: panel.layout(context) for panel, _label, tab in HIDDEN_TABS if not (waiting and panel in MODEL_PANELS)}


def page_layout(context: AppContext, training: TrainingWatch | None = None, waiting: bool = False, pictured: bool = False) -> html.Div:
    cohort = context.cohort
    return html.Div(
        [
            dbc.Navbar(
                dbc.Container(
                    [
                        dbc.NavbarBrand("Latent Space Explorer", className="fw-bold"),
                        html.Span(cohort.name, className="navbar-text text-white-50 small", id="cohort-title"),
                        *(training_badge() if training is not None else []),
                        search.layout(after_badge=training is not None),
                    ],
                    fluid=True,
                ),
                color="primary",
                dark=True,
                className="mb-3",
            ),
            dbc.Container([dbc.Alert(id=REFUSAL_ALERT_ID, is_open=False, dismissable=True, color="warning", className="py-2"),
                           messages.layout(), *address_bar.layout()], fluid=True),
            dbc.Container(
                dbc.Row(
                    [
                        dbc.Col(cohorts.layout(context), lg=3, className="mb-3", id="sidebar"),
                        dbc.Col(
                            dbc.Tabs(
                                [
                                    dbc.Tab(explorer.layout(context, pictured), label="Explore", tab_id="explore"),
                                    *[dbc.Tab(training_placeholder(f"training-progress-{tab}") if waiting and panel in MODEL_PANELS else tab_panes.pane(tab),
                                              label=label, tab_id=tab) for panel, label, tab in HIDDEN_TABS],
                                    dbc.Tab(variables.layout(context), label="Variables", tab_id=variables.VARIABLES_TAB),
                                ],
                                id=tab_panes.TABS,  # reached and moved along by keyboard through assets/tabs.js (dbc 2.0.4 cannot)
                                active_tab="explore",
                                className="mb-2",
                            ),
                            lg=9,
                        ),
                    ]
                ),
                fluid=True,
            ),
            *stores(),
        ]
    )
