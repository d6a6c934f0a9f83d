"""The pictures of the default views that the page shows until Plotly has drawn them (app/figures/preview.py)."""

from __future__ import annotations

import base64
import struct
import zlib
from types import SimpleNamespace

import numpy as np
import pandas as pd

from app.config import AppConfig
from app.context import AppContext
from app.core.url_state import to_query
from app.figures.density import SHARE_BAR_MARGIN_PX, density_margin
from app.figures.preview import (
    AUTORANGE_PAD,
    autorange_pad_px,
    density_data_url,
    drawing_order,
    heatmap_cells,
    indexed_png,
    preview_data_url,
    preview_pixels,
)
from app.figures.scatter import FADED_OFFSET, colour_coding, palette, view_margin
from app.panels.address_bar import link_setup
from app.panels.explorer import page as explorer_page
from app.panels.explorer.views import view_preview
from app.server import create_app
from data_loaders import load_cohort

PALETTE = [f"rgba({code},{255 - code},7,{1.0 if code < FADED_OFFSET else 0.08})" for code in range(256)]


def decoded_png(png: bytes) -> np.ndarray:
    """(height, width, 4) RGBA of an 8-bit indexed PNG, every chunk's CRC checked (a reader of our own, not the writer's code)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = {}, 8
    while at < len(png):
        (length,) = struct.unpack(">I", png[at:at + 4])
        kind, data = png[at + 4:at + 8], png[at + 8:at + 8 + length]
        assert struct.unpack(">I", png[at + 8 + length:at + 12 + length])[0] == zlib.crc32(kind + data), kind
        chunks[kind] = chunks.get(kind, b"") + data
        at += 12 + length
    width, height, depth, colour_type = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert depth == 8 and colour_type in (3, 6)  # indexed (points) or RGBA (a density)
    per_pixel = 1 if colour_type == 3 else 4
    rows = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), dtype=np.uint8).reshape(height, width * per_pixel + 1)
    assert (rows[:, 0] == 0).all()  # no row filter
    if colour_type == 6:
        return rows[:, 1:].reshape(height, width, 4)
    rgb = np.frombuffer(chunks[b"PLTE"], dtype=np.uint8).reshape(-1, 3)
    alpha = np.frombuffer(chunks[b"tRNS"], dtype=np.uint8)
    return np.concatenate([rgb, alpha[:, None]], axis=1)[rows[:, 1:]]


def test_each_subject_is_a_disc_of_its_colour_where_plotly_puts_it_and_the_rest_is_transparent():
    coordinates = np.array([[0.0, 0.0], [10.0, 5.0], [np.nan, 1.0]])
    picture = decoded_png(indexed_png(preview_pixels(coordinates, np.array([0, 1, 2], dtype=np.uint8), 200, 100, 4.0), PALETTE))
    assert picture.shape == (100, 200, 4)
    # Plotly's autorange keeps the outermost markers 5 % of the axis and 3 px from its ends; rows count from the top.
    low_x, high_x = round(AUTORANGE_PAD * 200 + 3), round(199 - AUTORANGE_PAD * 200 - 3)
    low_y, high_y = round(99 - AUTORANGE_PAD * 100 - 3), round(AUTORANGE_PAD * 100 + 3)
    assert autorange_pad_px(200) == AUTORANGE_PAD * 200 + 3
    assert tuple(picture[low_y, low_x]) == (0, 255, 7, 255)
    assert tuple(picture[high_y, high_x]) == (1, 254, 7, 255)
    drawn = picture[..., 3] > 0
    assert drawn.sum() == 2 * 12  # two 4-px discs of 12 pixels; the subject without an x is not drawn
    assert (picture[~drawn] == 0).all()


def test_subjects_are_layered_as_the_browser_draws_them_faded_first_then_the_largest_group():
    codes = np.array([0] * 50 + [1] * 3 + [FADED_OFFSET + 2] * 100, dtype=np.uint8)
    order = drawing_order(codes)
    assert set(order[:100]) == set(range(53, 153))  # the faded first, however many
    assert set(order[100:150]) == set(range(50)) and set(order[150:]) == {50, 51, 52}  # then the common colour, the rare one on top
    same_place = np.zeros((len(codes), 2))
    same_place[0] = [1.0, 1.0]  # something else, so the axis has a range
    top = preview_pixels(same_place, codes, 40, 40, 4.0)
    assert 1 in set(np.unique(top)) and (top == 1).sum() == 12  # the rare colour's disc lies over the other two


def test_a_picture_of_nobody_or_of_everyone_in_one_place_is_still_a_valid_png():
    empty = decoded_png(indexed_png(preview_pixels(np.full((3, 2), np.nan), np.zeros(3, dtype=np.uint8), 20, 10, 4.0), PALETTE))
    assert empty.shape == (10, 20, 4) and (empty[..., 3] == 0).all()
    centred = decoded_png(indexed_png(preview_pixels(np.ones((5, 2)), np.zeros(5, dtype=np.uint8), 21, 11, 3.0), PALETTE))
    assert centred[5, 10, 3] == 255 and (centred[..., 3] > 0).sum() == 9  # a 3-px disc, odd: centred on a pixel


def test_the_picture_of_200000_subjects_stays_small_on_the_wire():
    rng = np.random.default_rng(0)
    url = preview_data_url(rng.normal(size=(200_000, 2)), (rng.random(200_000) < 0.1).astype(np.uint8), PALETTE, 270, 338, 4.0)
    assert url.startswith("data:image/png;base64,")
    png = base64.b64decode(url.split(",", 1)[1])
    assert len(png) < 60_000  # about 12 KB: well under a view's 7 bytes a point
    assert decoded_png(png).shape == (338, 270, 4)


def test_a_view_is_pictured_in_its_colours_as_points_or_above_the_density_threshold_as_its_density(phenotype_cohort_dir, tmp_path):
    context = AppContext(AppConfig(cohort_dir=phenotype_cohort_dir, cache_dir=tmp_path), load_cohort(phenotype_cohort_dir))
    coordinates = context.cohort.phenotypes[["age_years", "lv_mass_g"]].to_numpy(dtype=float)
    points = view_preview(context, coordinates, "atrial_fibrillation", (352, 430))
    picture = decoded_png(base64.b64decode(points.url.split(",", 1)[1]))
    coding = colour_coding(context.cohort.phenotypes["atrial_fibrillation"], context.variables["atrial_fibrillation"])
    colours = {tuple(int(c) for c in colour[5:-1].split(",")[:3]) for colour in palette(coding)[:2]}
    drawn = {tuple(int(c) for c in pixel[:3]) for pixel in picture[picture[..., 3] > 0]}
    assert drawn <= colours and len(drawn) == 2  # AF: no and yes, nothing else
    margin = points.margin
    assert margin == view_margin() and picture.shape[:2] == (430 - margin["t"] - margin["b"], 352 - margin["l"] - margin["r"])  # the plot area
    crowded = AppContext(AppConfig(cohort_dir=phenotype_cohort_dir, cache_dir=tmp_path, density_threshold=len(coordinates) - 1), context.cohort)
    density = view_preview(crowded, coordinates, "atrial_fibrillation", (352, 430))
    assert density.margin == density_margin(coding) == {**view_margin(2), "r": SHARE_BAR_MARGIN_PX}  # its caption and colour bar
    cells = decoded_png(base64.b64decode(density.url.split(",", 1)[1]))
    margin = density.margin
    assert cells.shape == (430 - margin["t"] - margin["b"], 352 - margin["l"] - margin["r"], 4)
    assert (cells[..., 3] == 255).any() and (cells[..., 3] == 0).any()  # cells with subjects, and empty ones
    assert view_preview(context, None, "atrial_fibrillation", (352, 430)) is None  # a projection not computed yet


def test_a_densitys_layers_are_pictured_each_over_the_one_before_where_plotly_puts_the_grid():
    grey = SimpleNamespace(z=np.array([[1.0, 1.0], [1.0, np.nan]]), zmin=0, zmax=1, colorscale=((0, "#000000"), (1, "#808080")), opacity=0.5)
    share = SimpleNamespace(z=np.array([[0.0, np.nan], [1.0, np.nan]]), zmin=0, zmax=1,
                            colorscale=((0, "rgba(0,0,255,1.0)"), (1, "rgb(255, 0, 0)")), opacity=None)
    cells = heatmap_cells([grey, share])
    assert np.allclose(cells[0, 0], [0, 0, 255, 255]) and np.allclose(cells[1, 0], [255, 0, 0, 255])  # the top layer, opaque
    assert np.allclose(cells[0, 1], [128, 128, 128, 127.5])  # only the grey layer, at its opacity
    assert cells[1, 1, 3] == 0  # nobody in the cell
    width, height = 100, 60
    picture = decoded_png(base64.b64decode(density_data_url([share], np.array([0.0, 1.0, 2.0]), np.array([0.0, 1.0, 2.0]), width, height)
                                           .split(",", 1)[1]))
    pad_x, pad_y = autorange_pad_px(width), autorange_pad_px(height)
    assert picture.shape == (height, width, 4)
    assert tuple(picture[height - 1 - round(pad_y) - 2, round(pad_x) + 2]) == (0, 0, 255, 255)  # lowest row, first column: z 0
    assert tuple(picture[round(pad_y) + 2, round(pad_x) + 2]) == (255, 0, 0, 255)  # top row, first column: z 1
    assert picture[height // 2, round(pad_x) - 2, 3] == 0 and picture[round(pad_y) + 2, width - round(pad_x) - 3, 3] == 0  # outside; empty


def test_the_page_carries_a_picture_of_each_default_view_marked_with_the_address_it_pictures(phenotype_cohort_dir, tmp_path):
    app = create_app(AppConfig(cohort_dir=phenotype_cohort_dir, cache_dir=tmp_path), pictures=True)  # as a server's
    context = AppContext(AppConfig(cohort_dir=phenotype_cohort_dir, cache_dir=tmp_path), load_cohort(phenotype_cohort_dir))
    pictures = [c for c in app.layout._traverse() if getattr(c, "className", None) == explorer_page.PREVIEW_CLASS]
    assert [getattr(c, "data-view") for c in pictures] == ["view-0", "view-1", "view-2"]
    query = to_query(link_setup(context, app.layout).defaults)
    assert query.startswith("?tab=explore") and all(getattr(c, "data-query") == query for c in pictures)
    for cover in pictures:  # a picture of the plot area, as tall as the page shows it
        picture = next(child for child in cover.children if getattr(child, "src", None))
        height = decoded_png(base64.b64decode(picture.src.split(",", 1)[1])).shape[0]
        assert height == explorer_page.VIEW_HEIGHT_PX - view_margin()["t"] - view_margin()["b"] and picture.style["height"] == f"{height}px"


def test_a_colourless_view_is_pictured_in_the_one_colour_its_points_have():
    coding = colour_coding(pd.Series(np.zeros(4)), None)
    picture = decoded_png(indexed_png(preview_pixels(np.arange(8.0).reshape(4, 2), coding.codes, 30, 30, 4.0), palette(coding)))
    assert len({tuple(pixel) for pixel in picture[picture[..., 3] > 0]}) == 1
