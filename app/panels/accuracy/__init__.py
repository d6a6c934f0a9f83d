"""Accuracy panel: how well the stored latent-space predictors do in the current cohort, its complement and everyone.

Only the test split's held-out predictions are scored (training subjects chose the models and the
thresholds). Every number comes with a 95% bootstrap interval over resampled subjects, and a group
too small to judge says so. The maths is in app.core.metrics, the figures in app.figures.accuracy;
callbacks here read inputs and call them.
"""

from app.panels.accuracy.callbacks import register
from app.panels.accuracy.page import layout

__all__ = ["layout", "register"]
