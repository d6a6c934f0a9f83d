"""Decoder panel: what the model thinks the selected subjects' hearts look like, in both modalities.

Four views share one model: chosen subjects' ECGs and cines beside their reconstructions (from the
joint latent, or cross-modally from one modality's latent), cohort prototypes, a perturbation along
chosen directions, and an interpolation between two prototypes or subjects. Only ids and small
specs travel through the browser; the model and the arrays stay on the server.

Every decode runs as a Dash background job (app.jobs: threads in the serving process, or Celery
workers when scaled out), so a slow one never holds up anyone else's requests. The model is loaded
once per process (``model.decoder_models`` caches it) and never before serving starts: a server
loads it in the background once the first page's views are drawn, and each Celery pool process that
takes decodes as it starts (``app.server``), so the first decode does not wait for torch. Decodes
run torch on one intra-op thread: a server decodes for several users side by side.

Modules: settings, model (loading the model), choices (which subjects and latents), tables, views (what each view
shows, as dataclasses), page (the layout) and callbacks.
"""

from app.panels.decoder.callbacks import register
from app.panels.decoder.page import layout

__all__ = ["layout", "register"]
