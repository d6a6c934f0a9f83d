"""Entry point for several workers: ``gunicorn app.wsgi:server`` and ``celery -A app.wsgi:celery_app worker``.

Configuration comes from the ``LSE_*`` environment variables (see app/config.py); every worker
builds the same app, so callbacks are registered identically in web and Celery workers.
"""

import sys

from app.config import AppConfig
from app.demo import not_ready_reason
from app.server import background_manager, create_app, make_celery

config = AppConfig.for_workers()
if config.resolved_auth == "off":
    print("WARNING: sign-in is OFF (LSE_AUTH=off): anyone who reaches these workers, through a proxy too, can read and export every subject",
          file=sys.stderr)
if reason := not_ready_reason(config):
    print(f"error: {reason}", file=sys.stderr)
    raise SystemExit(4)  # gunicorn's "app failed to load": the arbiter stops instead of respawning workers forever
celery_app = make_celery(config.celery_broker) if config.celery_broker else None
app = create_app(config, manager=background_manager(config, celery_app), pictures=True)
server = app.server
# Dash registers the JavaScript libraries a process may serve while it renders its first page: a gunicorn
# worker whose first request is for a script (the page came from another worker) would refuse it. Render
# the page once here, in every process, so any worker can serve any request.
server.test_client().get("/")
