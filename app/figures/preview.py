"""A picture of a view's points, drawn on the server, that the page shows until Plotly has drawn the view itself.

A first load at 100,000 subjects spends about 2 s after the page's layout has arrived before the
views are drawn: evaluating Plotly.js, fetching each view's points, making a WebGL context per
view and drawing. The layout carries this picture of every default view (every subject, in the
colours the view will have, where Plotly will put them), so the subjects are on screen as soon as
the layout is; assets/explorer.js hides the picture once Plotly has drawn the view over it.

An indexed PNG, written here with zlib (no imaging library): one byte a pixel, transparent where no
subject is, a few tens of KB whatever the number of subjects.
"""

from __future__ import annotations

import base64
import struct
import zlib

import numpy as np

PREVIEW_WIDTH_PX = 360   # about a view's plot area on a 1,500-px-wide screen; the page stretches it to the view's width
AUTORANGE_PAD = 0.05     # Plotly's autorange leaves 5 % of the axis' length beyond the outermost markers' centres,
MARKER_PAD_PX = 1        # and their radius and a pixel more (measured in Chromium: 16.5 px on a 270-px axis for 4-px markers)
FADED_CODES_FROM = 128   # codes from here on are faded twins, drawn first (see app/figures/scatter.py, assets/explorer.js)


def _rgba(colour: str) -> tuple[int, int, int, int]:
    """'rgba(r,g,b,a)' (as the views' palettes are written) as four bytes."""
    red, green, blue, alpha = (float(part) for part in colour[colour.index("(") + 1:colour.rindex(")")].split(","))
    return round(red), round(green), round(blue), round(alpha * 255)


def drawing_order(codes: np.ndarray) -> np.ndarray:
    """Subjects' rows in the order the browser draws them (later on top): faded codes first, then the others,
    the largest colour group first within each, so a rare category lies over a common one (as assets/explorer.js)."""
    counts = np.bincount(codes, minlength=256)
    present = np.flatnonzero(counts)
    ranked = sorted(present, key=lambda code: (code < FADED_CODES_FROM, -counts[code]))
    rank = np.zeros(256, dtype=np.int64)
    rank[ranked] = np.arange(len(ranked))
    return np.argsort(rank[codes], kind="stable")


def _pixels(values: np.ndarray, length: int, marker_radius: float, flip: bool) -> np.ndarray:
    """Pixel positions along one axis, with Plotly's autorange padding; ``flip``: rows count from the top."""
    low, high = float(values.min()), float(values.max())
    pad = AUTORANGE_PAD * length + marker_radius + MARKER_PAD_PX
    span = high - low
    at = np.full(len(values), (length - 1) / 2) if span <= 0 else pad + (values - low) / span * (length - 1 - 2 * pad)
    return np.rint((length - 1) - at if flip else at).astype(np.int64)


def preview_pixels(coordinates: np.ndarray, codes: np.ndarray, width: int, height: int, marker_px: float) -> np.ndarray:
    """(height, width) int16: the code of the subject drawn on top at each pixel, -1 where there is none.

    Each subject is a disc of ``marker_px`` diameter; subjects without coordinates are left out, as Plotly leaves them.
    """
    drawn = np.isfinite(coordinates).all(axis=1)
    top = np.full(height * width, -1, dtype=np.int64)
    if not drawn.any():
        return top.reshape(height, width).astype(np.int16)
    rows = np.flatnonzero(drawn)
    rows = rows[drawing_order(codes[rows])]
    radius = marker_px / 2
    x = _pixels(coordinates[rows, 0], width, radius, flip=False)
    y = _pixels(coordinates[rows, 1], height, radius, flip=True)
    rank = np.arange(len(rows))
    centre = 0.5 if round(marker_px) % 2 == 0 else 0.0  # an even diameter's disc is centred between pixels
    reach = int(np.ceil(radius))
    for dx in range(-reach, reach + 1):
        for dy in range(-reach, reach + 1):
            if (dx + centre) ** 2 + (dy + centre) ** 2 > radius * radius:
                continue
            px, py = x + dx, y + dy
            inside = (px >= 0) & (px < width) & (py >= 0) & (py < height)
            np.maximum.at(top, py[inside] * width + px[inside], rank[inside])  # the later subject wins, whatever numpy's order
    shown = top >= 0
    pixel_codes = np.full(height * width, -1, dtype=np.int16)
    pixel_codes[shown] = codes[rows[top[shown]]]
    return pixel_codes.reshape(height, width)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def indexed_png(pixel_codes: np.ndarray, palette: list[str]) -> bytes:
    """An 8-bit indexed PNG of ``pixel_codes`` (-1: transparent) with each code's colour from ``palette`` ('rgba(…)' strings)."""
    used = np.unique(pixel_codes[pixel_codes >= 0])
    index = np.zeros(int(used.max()) + 2 if len(used) else 1, dtype=np.uint8)  # code -> palette entry; entry 0 is transparent
    index[used] = np.arange(1, len(used) + 1)
    colours = [(0, 0, 0, 0)] + [_rgba(palette[code]) for code in used]
    entries = np.where(pixel_codes >= 0, index[np.maximum(pixel_codes, 0)], 0).astype(np.uint8)
    height, width = entries.shape
    rows = np.hstack([np.zeros((height, 1), dtype=np.uint8), entries])  # filter byte 0 (none) before each row
    header = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)
    return b"".join([
        b"\x89PNG\r\n\x1a\n",
        _chunk(b"IHDR", header),
        _chunk(b"PLTE", bytes(value for red, green, blue, _ in colours for value in (red, green, blue))),
        _chunk(b"tRNS", bytes(alpha for *_, alpha in colours)),
        _chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)),
        _chunk(b"IEND", b""),
    ])


def preview_data_url(coordinates: np.ndarray, codes: np.ndarray, palette: list[str], height: int, marker_px: float,
                     width: int = PREVIEW_WIDTH_PX) -> str:
    """The picture of a view's points as a ``data:`` URL (the layout carries it: no request of its own, no route to protect)."""
    png = indexed_png(preview_pixels(coordinates, codes, width, height, marker_px), palette)
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
