"""``python -m app [--cohort DIR] [--host H] [--port P] [--auth MODE] [--allowed-hosts H,…] [--debug] [--prepare-only]``: serve the explorer.

With no ``--cohort`` it serves the embedded demo: generated on first start and served at once, while
a background process (app.training) computes its raw-signal baseline space, then trains the cross-modal model.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

import dash
from werkzeug.serving import run_simple

from app.config import AUTH_MODES, AppConfig, ConfigError, parse_hosts
from app.demo import ensure_demo_cohort
from app.server import create_app
from app.training import LiveApp, TrainingWatch, start_background_training, status_path
from app.validation import MAX_REQUEST_BYTES
from data_loaders import CohortFormatError
from models.device import DeviceUnavailableError, check_device
from models.run_status import read_status

REQUEST_THREADS = 8  # requests answered at once (decodes and projections run on their own threads and process)
REQUEST_TIMEOUT_S = 300  # an idle connection is closed after this long


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__.splitlines()[0])
    parser.add_argument("--cohort", type=Path, help="cohort folder (default: the synthetic demo cohort, built on first start)")
    parser.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 8050)")
    parser.add_argument("--device", help="where models run: auto (CUDA when present, the default), cpu, cuda or cuda:N")
    parser.add_argument("--auth", choices=AUTH_MODES,
                        help="sign-in: off (the default on 127.0.0.1), password (the default on any other host) or oidc")
    parser.add_argument("--allowed-hosts", type=parse_hosts, help="comma-separated names browsers reach this server by (Host header)")
    parser.add_argument("--debug", action="store_true", default=None, help="Dash debug mode with hot reload (loopback hosts only)")
    parser.add_argument("--prepare-only", action="store_true",
                        help="build the demo (or check the cohort) and exit without serving: run once before gunicorn/Celery workers")
    args = parser.parse_args(argv)
    try:
        config = AppConfig.from_env(cohort_dir=args.cohort, host=args.host, port=args.port, debug=args.debug, device=args.device,
                                    auth=args.auth, allowed_hosts=args.allowed_hosts)
        check_device(config.device)  # refuse an unavailable device before generating or serving anything
        if args.prepare_only:
            return prepare(config)
        if config.cohort_dir is None:
            server = serve_demo(config)
        else:
            server = build_app(config).server
    except CohortFormatError as error:
        print(f"error: the cohort could not be loaded: {error}", file=sys.stderr)
        return 2
    except (ConfigError, DeviceUnavailableError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        serve(server, config)
    except OSError as error:  # the port is taken, or the address is not this machine's
        print(f"error: cannot listen on {config.host}:{config.port}: {error.strerror or error}", file=sys.stderr)
        return 2
    return 0


def serve(server, config: AppConfig) -> None:
    """Serve with waitress (a bounded pool of long-lived request threads, keep-alive connections); ``--debug``: Werkzeug's reloader.

    Werkzeug's development server starts a thread for every request and closes every connection
    after one answer: each of a page's callbacks and each 100 ms poll of a decode paid a TCP
    handshake and a new thread, and in it a new connection to the job cache's SQLite file (set up
    anew each time: a tenth of the server's time under 20 simulated users, py-spy). Waitress answers
    on reused threads (their connections kept open) and holds idle keep-alive connections in its
    event loop rather than in a thread. A body over the app's cap gets the app's 413; one over twice
    the cap is refused by waitress before it is read (the connection is closed while the client
    still sends, so it sees the connection reset rather than the answer).
    """
    if config.debug:
        print(f"Serving on http://{config.host}:{config.port}/", flush=True)
        run_simple(config.host, config.port, server, threaded=True, use_reloader=True, use_debugger=True)
        return
    from waitress import create_server

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "Task queue depth is N": requests waiting for a thread, not a fault
    listening = create_server(server, host=config.host, port=config.port, threads=REQUEST_THREADS, max_request_body_size=2 * MAX_REQUEST_BYTES,
                              channel_timeout=REQUEST_TIMEOUT_S, ident="latent-space-explorer")
    print(f"Serving on http://{config.host}:{config.port}/", flush=True)
    listening.run()


def prepare(config: AppConfig) -> int:
    """Everything the workers of a scaled-out deployment need, done once in the foreground: the demo built and trained, or the cohort checked."""
    if config.cohort_dir is None:
        from models.baseline import ensure_raw_space
        from models.pipeline import ensure_trained_demo

        folder = ensure_demo_cohort(config)
        ensure_raw_space(folder, show_progress=True)
        ensure_trained_demo(folder, device=config.device, show_progress=True, retrain_other_recipes=True)
    build_app(config, warm_up=False)  # loads the cohort as a worker will: its problems are reported here
    print(f"ready: {config.resolved_cohort_dir}")
    return 0


def build_app(config: AppConfig, training: TrainingWatch | None = None, warm_up: bool = True) -> dash.Dash:
    app = create_app(config, training=training, warm_up=warm_up, pictures=warm_up)
    if config.debug:
        app.enable_dev_tools(debug=True)
    return app


def serve_demo(config: AppConfig) -> LiveApp:
    """The demo cohort served as soon as it is generated; a child process computes its raw baseline, then trains (or checks) the model.

    Until the baseline exists (under a minute for 5,000 subjects on 2 cores) the clinical view,
    filters and Compare cohorts work; the page moves to the baseline by itself, then to the model.
    """
    folder = ensure_demo_cohort(config)
    status_file = status_path(folder)
    run_started = time.time()
    # Under --debug the reloader runs this twice: only its serving child starts the run.
    if not config.debug or os.environ.get("WERKZEUG_RUN_MAIN") == "true":
        start_background_training(folder, config.device, status_file)

    def build(on_ready):
        status = read_status(status_file)
        finished = status is not None and status.state == "ready" and status.updated >= run_started
        watch = None if finished else TrainingWatch(status_file, on_ready, run_started)
        return build_app(config, training=watch)

    return LiveApp(build)


if __name__ == "__main__":
    sys.exit(main())
