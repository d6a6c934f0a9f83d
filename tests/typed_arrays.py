"""Read back the arrays the app sends to the page: ``{"dtype", "bdata"[, "shape"]}`` in base64, URL-safe
(app.figures.scatter.typed_array) or standard (app.figures.prebuilt: what Plotly.js reads)."""

from __future__ import annotations

import base64

import numpy as np


def unpacked(value: dict) -> np.ndarray:
    """The array; the URL-safe decoder reads standard base64 too (it only maps ``-`` and ``_`` back to ``+`` and ``/``)."""
    array = np.frombuffer(base64.urlsafe_b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
    return array.reshape([int(size) for size in value["shape"].split(",")]) if "shape" in value else array
