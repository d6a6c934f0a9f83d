"""Read back the arrays the explorer sends to the page: ``{"dtype", "bdata"}`` with URL-safe base64 (app.figures.scatter.typed_array)."""

from __future__ import annotations

import base64

import numpy as np


def unpacked(value: dict) -> np.ndarray:
    return np.frombuffer(base64.urlsafe_b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
