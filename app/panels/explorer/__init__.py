"""Linked latent-space views: two latent projections and one clinical scatter, coloured alike.

A lasso/box selection in any view travels as its shape in that view's data coordinates (reduced
in the browser by a clientside callback, a few hundred bytes whatever it holds); the server
resolves it on the coordinates it holds, and every view repaints only its marker colour codes
(one byte per subject, faded outside the highlighted cohort) through a Patch. Hovering a point
asks the server for that one subject's id and key variables; a subject found by id (the navbar's
search) is ringed and labelled in every view, again through a Patch.

A Patch is only sent to a view known to be drawn: each view records what it drew (``view-N-drawn``; every id is written out in settings.py).
Dash drops the result of a callback that is still running when the same callback is asked again
(as when a link restores the view while the first figures are being drawn), so a view whose full
figure never arrived is drawn in full instead of being patched.

A view holding more subjects than ``LSE_DENSITY_THRESHOLD`` draws their density instead
(app.figures.density); its zoom (reduced in the browser to the axis ranges) is then an input, and
once few enough subjects are in range the view draws those points.

A view whose UMAP or t-SNE is not cached yet shows a message, asks a background callback to
compute it, and records what it waits for; an interval then polls (cheaply: a file check) until
the projection is on disk and the view draws it. Polling, rather than an input from the background
callback, because Dash does not rerun a callback from a chain its own output started.
"""

from app.panels.explorer.callbacks import register
from app.panels.explorer.page import layout

__all__ = ["layout", "register"]
