"""One module per panel: each has ``layout(context)`` and ``register(app, context)``."""
