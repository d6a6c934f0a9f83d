"""Decoder panel: what the model thinks the selected subjects' hearts look like, in both modalities.

Four views share one model: chosen subjects' ECGs and cines beside their reconstructions (from the
joint latent, or cross-modally from one modality's latent), cohort prototypes, a perturbation along
chosen directions, and an interpolation between two prototypes or subjects. Only ids and small
specs travel through the browser; the model and the arrays stay on the server.

Every decode runs as a Dash background job (app.jobs: threads in the serving process, or Celery
workers when scaled out), so a slow one never holds up anyone else's requests. The model is loaded
by the first decode, once per process (``models.decoding`` caches it), never when the app starts:
starting stays free of torch. A job in a forked process runs torch on one thread (OpenMP's pool
does not survive a fork).

Modules: settings, model (loading the model), choices (which subjects and latents), tables, views (what each view
shows, as dataclasses), page (the layout) and callbacks.
"""

from app.panels.decoder.callbacks import register
from app.panels.decoder.page import layout

__all__ = ["layout", "register"]
