"""A picture of a view's plot area, drawn on the server, that the page shows until Plotly has drawn the view itself.

A first load at 100,000 subjects spends about 2 s after the page's layout has arrived before the
views are drawn: evaluating Plotly.js, fetching each view's points, making a WebGL context per
view and drawing. The layout carries this picture of every default view (every subject, in the
colours the view will have, where Plotly will put them; above the density threshold, the view's
density layers), so the subjects are on screen as soon as the layout is; assets/explorer.js hides
the picture once Plotly has drawn the view over it.

PNGs written here with zlib (no imaging library): points as an indexed PNG (one byte a pixel,
transparent where no subject is), a density as RGBA; a few tens of KB whatever the number of subjects.
"""

from __future__ import annotations

import base64
import struct
import zlib

import numpy as np

from app.figures.scatter import FADED_OFFSET

AUTORANGE_PAD = 0.05     # Plotly's autorange leaves 5 % of the axis' length beyond the outermost markers' centres,
AUTORANGE_EXTRA_PX = 3   # and 3 px more, for the views' 4-px markers and a density's 1-px corner markers alike (measured in Chromium)


def _rgba(colour: str) -> tuple[int, int, int, int]:
    """A colour as Plotly takes it ('#rrggbb', 'rgb(r, g, b)', 'rgba(r,g,b,a)') as four bytes."""
    colour = colour.strip()
    if colour.startswith("#"):
        return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16), 255
    parts = [float(part) for part in colour[colour.index("(") + 1:colour.rindex(")")].split(",")]
    return round(parts[0]), round(parts[1]), round(parts[2]), round((parts[3] if len(parts) > 3 else 1.0) * 255)


def autorange_pad_px(length: int) -> float:
    """Pixels Plotly's autorange leaves between an axis' end and the outermost markers' centres."""
    return AUTORANGE_PAD * length + AUTORANGE_EXTRA_PX


def drawing_order(codes: np.ndarray) -> np.ndarray:
    """Subjects' rows in the order the browser draws them (later on top): faded codes first, then the others,
    the largest colour group first within each, so a rare category lies over a common one (as assets/explorer.js)."""
    counts = np.bincount(codes, minlength=256)
    present = np.flatnonzero(counts)
    ranked = sorted(present, key=lambda code: (code < FADED_OFFSET, -counts[code]))  # faded twins are FADED_OFFSET and up
    rank = np.zeros(256, dtype=np.int64)
    rank[ranked] = np.arange(len(ranked))
    return np.argsort(rank[codes], kind="stable")


def _pixels(values: np.ndarray, length: int, flip: bool) -> np.ndarray:
    """Pixel positions along one axis, with Plotly's autorange padding; ``flip``: rows count from the top."""
    low, high = float(values.min()), float(values.max())
    pad = autorange_pad_px(length)
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
    x = _pixels(coordinates[rows, 0], width, flip=False)
    y = _pixels(coordinates[rows, 1], height, flip=True)
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


def rgba_png(pixels: np.ndarray) -> bytes:
    """A truecolour PNG with alpha of (height, width, 4) uint8 ``pixels``."""
    height, width, _ = pixels.shape
    rows = np.hstack([np.zeros((height, 1), dtype=np.uint8), pixels.reshape(height, width * 4)])
    return b"".join([
        b"\x89PNG\r\n\x1a\n",
        _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)),
        _chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)),
        _chunk(b"IEND", b""),
    ])


def _scale_colours(colorscale, fractions: np.ndarray) -> np.ndarray:
    """(n, 4) float RGBA of a Plotly colour scale ((position, colour) stops) at ``fractions`` in [0, 1], interpolated linearly."""
    positions = np.array([float(position) for position, _ in colorscale])
    stops = np.array([_rgba(colour) for _, colour in colorscale], dtype=np.float64)
    return np.stack([np.interp(fractions, positions, stops[:, channel]) for channel in range(4)], axis=1)


def heatmap_cells(layers: list) -> np.ndarray:
    """(rows, columns, 4) float RGBA of heatmap layers drawn in order (Plotly's ``z``, ``zmin``, ``zmax``, ``colorscale``
    and ``opacity``; NaN cells transparent), each over the ones before; rows in ``z``'s order (the first is the lowest)."""
    composed = None
    for layer in layers:
        z = np.asarray(layer.z, dtype=np.float64)
        finite = np.isfinite(z)
        span = float(layer.zmax) - float(layer.zmin)
        fractions = np.clip((np.where(finite, z, layer.zmin) - float(layer.zmin)) / (span if span > 0 else 1.0), 0.0, 1.0)
        colours = _scale_colours(layer.colorscale, fractions.ravel()).reshape(*z.shape, 4)
        alpha = colours[..., 3:] / 255 * (1.0 if layer.opacity is None else float(layer.opacity)) * finite[..., None]
        if composed is None:
            composed = np.zeros((*z.shape, 4))
        below = composed[..., 3:] / 255
        out_alpha = alpha + below * (1 - alpha)
        safe = np.where(out_alpha > 0, out_alpha, 1.0)
        composed[..., :3] = (colours[..., :3] * alpha + composed[..., :3] * below * (1 - alpha)) / safe
        composed[..., 3:] = out_alpha * 255
    return composed


def density_data_url(layers: list, x_edges: np.ndarray, y_edges: np.ndarray, width: int, height: int) -> str:
    """The picture of a density view's heatmap layers (their cells between ``x_edges`` and ``y_edges``) as a ``data:`` URL,
    placed as Plotly's autorange places the grid (the view's invisible markers at its corners set the range)."""
    cells = heatmap_cells(layers)

    def cell_of(length: int, edges: np.ndarray, flip: bool) -> np.ndarray:
        pad = autorange_pad_px(length)
        position = np.arange(length, dtype=np.float64)
        position = (length - 1) - position if flip else position
        value = edges[0] + (position - pad) / (length - 1 - 2 * pad) * (edges[-1] - edges[0])
        index = np.searchsorted(edges, value, side="right") - 1
        return np.where((value >= edges[0]) & (value <= edges[-1]), np.minimum(index, len(edges) - 2), -1)

    columns, rows = cell_of(width, np.asarray(x_edges, dtype=np.float64), False), cell_of(height, np.asarray(y_edges, dtype=np.float64), True)
    inside = (rows[:, None] >= 0) & (columns[None, :] >= 0)
    pixels = np.where(inside[..., None], cells[np.maximum(rows, 0)[:, None], np.maximum(columns, 0)[None, :]], 0.0)
    return "data:image/png;base64," + base64.b64encode(rgba_png(np.rint(pixels).astype(np.uint8))).decode("ascii")


def preview_data_url(coordinates: np.ndarray, codes: np.ndarray, palette: list[str], width: int, height: int, marker_px: float) -> str:
    """The picture of a view's points as a ``data:`` URL (the layout carries it: no request of its own, no route to protect)."""
    png = indexed_png(preview_pixels(coordinates, codes, width, height, marker_px), palette)
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
