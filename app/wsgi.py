"""Entry point for several workers: ``gunicorn app.wsgi:server`` and ``celery -A app.wsgi:celery_app worker``.

Configuration comes from the ``LSE_*`` environment variables (see app/config.py); every worker
builds the same app, so callbacks are registered identically in web and Celery workers.
"""

from app.config import AppConfig
from app.server import background_manager, create_app, make_celery

config = AppConfig.from_env()
celery_app = make_celery(config.celery_broker) if config.celery_broker else None
app = create_app(config, manager=background_manager(config, celery_app))
server = app.server
