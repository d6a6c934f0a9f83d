"""Compare two latent spaces: whose neighbourhoods changed, where they went, and what those subjects share.

Neighbours come from the full-dimensional spaces (app.core.neighbours, cached on disk); the map
shows A's 2-D layout coloured by overlap and animates into B's layout aligned to it (Procrustes).
Clicking or lassoing subjects, or choosing a suggested group, writes the shared ``selection``
store (app.state), so every panel follows; a suggested group can be saved as a cohort.
"""

from app.panels.compare_spaces.callbacks import register
from app.panels.compare_spaces.page import layout

__all__ = ["layout", "register"]
