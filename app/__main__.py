"""``python -m app [--cohort DIR] [--host H] [--port P] [--debug] [--prepare-only]``: serve the explorer."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.config import AppConfig
from app.demo import ensure_demo_cohort, ensure_demo_model
from app.server import create_app
from data_loaders import CohortFormatError
from models.device import DeviceUnavailableError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__)
    parser.add_argument("--cohort", type=Path, help="cohort folder (default: the synthetic demo cohort, built on first start)")
    parser.add_argument("--host", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 8050)")
    parser.add_argument("--device", help="where models run: auto (CUDA when present, the default), cpu, cuda or cuda:N")
    parser.add_argument("--debug", action="store_true", default=None, help="Dash debug mode with hot reload")
    parser.add_argument("--prepare-only", action="store_true",
                        help="build the demo (or check the cohort) and exit without serving: run once before gunicorn/Celery workers")
    args = parser.parse_args(argv)
    config = AppConfig.from_env(cohort_dir=args.cohort, host=args.host, port=args.port, debug=args.debug, device=args.device)
    try:
        if config.cohort_dir is None:
            ensure_demo_model(ensure_demo_cohort(config), device=config.device)
        app = create_app(config)
    except CohortFormatError as error:
        print(f"error: the cohort could not be loaded: {error}", file=sys.stderr)
        return 2
    except DeviceUnavailableError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.prepare_only:
        print(f"ready: {config.resolved_cohort_dir}")
        return 0
    app.run(host=config.host, port=config.port, debug=config.debug)
    return 0


if __name__ == "__main__":
    sys.exit(main())
