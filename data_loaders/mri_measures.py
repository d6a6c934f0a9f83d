"""Chamber measurements from 4-chamber cine intensities alone, so they apply to generated cines and to a
model's (blurrier) reconstructions of them alike; on the synthetic cines the label maps check them.

How the LV cavity is found, per subject:

1. Frames are smoothed (Gaussian, 0.7 px) and thresholded between blood and myocardium by Otsu's
   method on the end-diastolic frame, leaving out the dark lungs: in bright-blood SSFP every blood
   pool (and fat) is bright. Intensity scale does not matter ([0, 1] floats or uint8).
2. At end-diastole (frame 0) the bright regions are opened by 6 px, which breaks the bridges that
   blur leaves across septa (a 2 px blur joins the LV and RV at the crux). The LV is the large one,
   off the image border, furthest to the image right, where this project's synthetic cines and the
   usual radiological display put it (pass ``lv_seed`` otherwise); it then takes back the rim the
   opening removed, without crossing into the pools it was cut from. Its principal axis, pointing
   up the image, is the long axis.
3. The closed mitral valve is a faint dark line across the orifice: a dip in the intensity profile
   along the axis (taking the brightest pixels across a 7 px band, so a wall clipping the band
   does not count). At end-diastole the region is cut there in case the LV and left atrium merged;
   the dip is sought near where the region's rim turns from darkening in systole (the LV's walls
   moving in) to brightening (the atrium filling), which blur does not hide.
   That end-diastolic cavity bounds the cavity in every frame, since the apex stays put and the
   cavity shrinks towards it. From frame 1 the dip is tracked while the valve is closed (systole,
   the plane moving towards the apex); once it opens, the plane is placed from the LV's area loss,
   scaled as it was in systole, never beyond where it was at end-systole.

Limits: it expects the apex towards the top of the image and the LV as the right-most large pool;
it measures one plane, so "area" is the 4-chamber area, not a volume; papillary muscle and open
leaflets, being dark, count as wall; with the valve blurred beyond any dip, the end-diastolic cut
is where the rim's motion turns and later planes follow the typical shift per area lost, so the
cut can be a few pixels off (fractional area change reads noisier). On this project's synthetic cines the per-frame area is within about 2% of the
label map (1 SD) and the fractional area change within 0.05; an extra 1 px Gaussian blur changes
the fractional area change by under 0.05, and a 2 px blur leaves the median end-diastolic area within 5%.
"""

from __future__ import annotations

import numpy as np

_SMOOTHING_PX = 0.7
_STRIP_HALF_WIDTH_PX = 3  # half-width of the band along the long axis in which the valve dip is sought
_MIN_DIP = 0.05  # a valve dip must be this deep, as a fraction of blood-to-threshold contrast
_MAX_VALVE_STEP_PX = 2.0  # the valve plane moves less than this between accepted frames; opening leaflets jump further
_MAX_DESCENT = 0.25  # how far the valve plane may move towards the apex, as a fraction of LV length
_OPENING_PX = 6  # opening radius that separates blood pools bridged by blur (the LV's half-width is 8–14 px)
_ANNULUS_BRIGHTENING = 0.1  # the atrium's rim brightens in systole by this fraction of the contrast, at least
_ANNULUS_SEARCH_PX = 6  # a valve dip is sought this far either side of the annulus that motion suggests
_DEFAULT_SHIFT_PER_LOSS = 0.35  # valve-plane shift / fractional LV area loss, as a fraction of LV length
# 4-connectivity within a frame and none across frames, for (frames, rows, cols) morphology.
_IN_PLANE = np.array([[[0, 0, 0]] * 3, [[0, 1, 0], [1, 1, 1], [0, 1, 0]], [[0, 0, 0]] * 3], dtype=bool)


def lv_cavity_area_curve(cines: np.ndarray, *, pixel_size_mm: float | None = None, lv_seed: tuple[int, int] | None = None) -> np.ndarray:
    """LV blood-pool area per frame (n, frames) from cines (n, frames, rows, cols), in pixels or, with ``pixel_size_mm``, mm².

    ``lv_seed`` (row, col) is a pixel inside the LV at end-diastole, for cines not laid out as ours.
    """
    cines = _check_cines(cines)
    areas = np.array([_SubjectMeasure(cine, lv_seed).lv_areas for cine in cines], dtype=np.float64).reshape(len(cines), -1)
    return areas * pixel_size_mm**2 if pixel_size_mm is not None else areas


def lv_area_curves(cines: np.ndarray) -> np.ndarray:
    """LV cavity area per frame (n, frames) in pixels, one subject at a time: a row of NaN where the cavity
    cannot be found (e.g. in a badly blurred reconstruction), so one failed subject never costs the others."""
    cines = np.asarray(cines)
    curves = np.full(cines.shape[:2], np.nan)
    for index, cine in enumerate(cines):
        try:
            curves[index] = lv_cavity_area_curve(cine[None])[0]
        except (ValueError, IndexError, np.linalg.LinAlgError):
            continue
    return curves


def fractional_area_change(area_curve: np.ndarray) -> np.ndarray:
    """(largest − smallest) / largest area per subject: the 4-chamber analogue of the ejection fraction."""
    area_curve = np.asarray(area_curve, dtype=np.float64)
    largest = area_curve.max(axis=-1)
    return (largest - area_curve.min(axis=-1)) / np.where(largest > 0, largest, np.nan)


def left_atrial_max_area(cines: np.ndarray, *, pixel_size_mm: float | None = None, lv_seed: tuple[int, int] | None = None) -> np.ndarray:
    """Largest left-atrial area over the cycle (n,), in pixels or mm², from the same analysis as the LV.

    The atrium is the bright region just beyond the mitral valve plane on the LV's side of the
    interatrial septum (taken as the septal edge of the mitral annulus). Limits: where the
    interatrial septum or the atrial wall blurs away, the right atrium or the fat of the
    atrioventricular groove can leak in.
    """
    cines = _check_cines(cines)
    areas = np.array([_SubjectMeasure(cine, lv_seed).la_max_area() for cine in cines], dtype=np.float64)
    return areas * pixel_size_mm**2 if pixel_size_mm is not None else areas


def _check_cines(cines: np.ndarray) -> np.ndarray:
    cines = np.asarray(cines)
    if cines.ndim != 4:
        raise ValueError(f"expected cines shaped (subjects, frames, rows, cols), got shape {cines.shape}")
    return cines


class _SubjectMeasure:
    """The end-diastolic LV region, long axis and per-frame valve planes of one cine, and what is measured from them."""

    def __init__(self, cine: np.ndarray, lv_seed: tuple[int, int] | None):
        from scipy import ndimage  # on first use: importing it at module level slowed the app's start
        frames = ndimage.gaussian_filter(cine.astype(np.float32), (0, _SMOOTHING_PX, _SMOOTHING_PX))
        self.frames = frames
        self.threshold = _otsu_above_lungs(frames[0])
        self.bright = frames > self.threshold
        self.rows, self.cols = np.indices(frames.shape[1:], dtype=np.float64)

        end_diastole = _lv_component(self.bright[0], lv_seed)
        self.contrast = float(np.percentile(frames[0][end_diastole], 90)) - self.threshold
        self._set_axis(end_diastole)
        # If the LV and left atrium have merged, the valve lies on the basal side of the pair's centroid,
        # near where the region's rim turns from darkening in systole (the LV's walls) to brightening
        # (the filling atrium): blur hides a closed valve long before it hides that.
        bottom = self.along[end_diastole].min() - 1
        annulus = self._annulus_from_motion(end_diastole, bottom)
        if annulus is None:
            valve = self._valve_plane(0, bottom, 0.0, default=bottom, within=end_diastole)
        else:
            valve = self._valve_plane(0, annulus - _ANNULUS_SEARCH_PX, min(annulus + _ANNULUS_SEARCH_PX, 0.0), default=annulus, within=end_diastole)
        first_cut = _component_at_deepest(end_diastole & (self.along > valve))
        self._set_axis(first_cut)  # the long axis of the LV alone; then find the valve again on it,
        basal = first_cut & (self.along < self.along[first_cut].min() + 4)
        self.axis_offset = float(np.median(self.across[basal]))  # in a band through the middle of the orifice
        on_axis = first_cut & (np.abs(self.across - self.axis_offset) <= _STRIP_HALF_WIDTH_PX)
        guess = float(self.along[on_axis if on_axis.any() else first_cut].min())
        self.valve_ed = self._valve_plane(0, guess - 4, guess + 4, default=guess - 0.5, within=end_diastole)
        self.lv_ed = _component_at_deepest(end_diastole & (self.along > self.valve_ed))

        # Per frame: the LV's bright pixels, as positions along the axis, so the area beyond any cut is a count.
        self.along_sorted = [np.sort(self.along[self.bright[t] & self.lv_ed]) for t in range(len(frames))]
        self.valve = self._valve_planes()
        self.lv_areas = [self._area_beyond(t, cut) for t, cut in enumerate(self.valve)]

    def _annulus_from_motion(self, region: np.ndarray, bottom: float) -> float | None:
        """Position along the axis, basal to the centroid, where the region's rim stops darkening and starts brightening.

        Brightening is measured from end-diastole to the smallest frame; None if the rim never brightens there.
        """
        from scipy import ndimage  # on first use: importing it at module level slowed the app's start
        end_systole = int(np.argmin((self.bright & region).sum(axis=(1, 2))))
        change = self.frames[end_systole] - self.frames[0]
        rim = ndimage.binary_dilation(region, structure=_IN_PLANE[1], iterations=3) & ~ndimage.binary_erosion(region, structure=_IN_PLANE[1], iterations=2)
        steps = np.round(self.along[rim] - bottom).astype(int)
        keep = steps >= 0
        steps, values = steps[keep], change[rim][keep]
        totals = ndimage.uniform_filter1d(np.bincount(steps, weights=values), 5)
        counts = ndimage.uniform_filter1d(np.bincount(steps).astype(np.float64), 5)
        mean_change = totals / np.maximum(counts, 1e-9)
        centre = int(round(-bottom))
        brightening = np.flatnonzero(mean_change[:centre] > _ANNULUS_BRIGHTENING * self.contrast)
        return float(bottom + brightening.max()) if brightening.size else None

    def _area_beyond(self, frame: int, cut: float) -> int:
        positions = self.along_sorted[frame]
        return int(len(positions) - np.searchsorted(positions, cut, side="right"))

    def _valve_planes(self) -> np.ndarray:
        """Valve-plane position per frame.

        The valve is closed from end-diastole to the end of ejection, while its plane moves towards
        the apex: dips are taken from frame 0 on, each close to the last, until three frames in a
        row lack one (later dips are leaflet tips in diastole). While the valve is open, the plane is
        placed as in systole for the same LV area: its shift towards the apex is taken as
        proportional to the LV's fractional area loss, fitted over the closed frames when they span
        enough of ejection (else a typical ``_DEFAULT_SHIFT_PER_LOSS`` of the LV length), and the
        most basal plane consistent with that is used, no further than the closed frames reached.
        """
        count = len(self.frames)
        length = self.along[self.lv_ed].max() - self.valve_ed
        window = (self.valve_ed - 2, self.valve_ed + _MAX_DESCENT * length)
        planes = np.full(count, np.nan)
        planes[0], last, missed = -np.inf, self.valve_ed, 0  # the end-diastolic region is already cut
        dips = self._valve_dips(self.frames, *window)
        for t in range(1, count):
            dip = dips[t]
            if np.isnan(dip) or abs(dip - last) > _MAX_VALVE_STEP_PX:
                missed += 1
                if missed == 3:
                    break
                continue
            planes[t], last, missed = dip, dip, 0
        closed = np.flatnonzero(np.isfinite(planes))
        area_ed = max(self._area_beyond(0, -np.inf), 1)
        loss = np.array([1 - self._area_beyond(t, planes[t]) / area_ed for t in closed])
        shift = planes[closed] - self.valve_ed
        slope = _DEFAULT_SHIFT_PER_LOSS * length
        if len(closed) >= 5 and loss.max(initial=0) > 0.1:
            slope = max(float(loss @ shift / (loss @ loss)), 0.0)
        # The plane is most apical at end-systole, so never further than the closed frames reached.
        furthest = planes[closed].max() + 1 if len(closed) >= 5 and loss.max(initial=0) > 0.1 else window[1]
        candidates = self.valve_ed + np.arange(0, max(furthest - self.valve_ed, 0.25), 0.25)  # never empty
        for t in np.flatnonzero(np.isnan(planes)):
            positions = self.along_sorted[t]
            loss_at = 1 - (len(positions) - np.searchsorted(positions, candidates, side="right")) / area_ed
            consistent = np.flatnonzero(candidates - self.valve_ed >= slope * loss_at)
            planes[t] = candidates[consistent[0]] if consistent.size else candidates[-1]
        return planes

    def _set_axis(self, region: np.ndarray) -> None:
        """Long axis of ``region`` by principal components, pointing up; ``across`` points to the image right."""
        points = np.stack([self.rows[region], self.cols[region]], axis=1)
        centre = points.mean(axis=0)
        _, vectors = np.linalg.eigh(np.cov(points.T))
        axis = vectors[:, -1] * (-1 if vectors[0, -1] > 0 else 1)
        across = np.array([axis[1], -axis[0]])
        across = across if across[1] > 0 else -across
        self.along = (self.rows - centre[0]) * axis[0] + (self.cols - centre[1]) * axis[1]
        self.across = (self.rows - centre[0]) * across[0] + (self.cols - centre[1]) * across[1]
        self.axis_offset = 0.0

    def _valve_plane(self, frame: int, low: float, high: float, default: float, within: np.ndarray | None = None) -> float:
        """Position along the axis of the deepest valve dip between ``low`` and ``high`` in one frame (see ``_valve_dips``), else ``default``."""
        dip = self._valve_dips(self.frames[frame : frame + 1], low, high, within)[0]
        return default if np.isnan(dip) else float(dip)

    def _valve_dips(self, frames: np.ndarray, low: float, high: float, within: np.ndarray | None = None) -> np.ndarray:
        """Per frame, the position along the axis of the deepest intensity dip between ``low`` and ``high``, in a band round the axis.

        The profile takes, at each step along the axis, the mean of the three brightest pixels across
        the band, so the closed valve (dark all across) dips while an atrial wall clipping the band
        does not. The dip must be deeper than ``_MIN_DIP`` of the contrast below the highest point on
        each side of it (within 6 px beyond the window, and ``within`` a region if given); a frame
        without one gets NaN. All frames at once: the band, and so the steps along it, are the same in each.
        """
        band = (np.abs(self.across - self.axis_offset) <= _STRIP_HALF_WIDTH_PX) & (self.along > low - 6) & (self.along < high + 6)
        if within is not None:
            band &= within
        positions, profiles = _brightest_per_step(np.round(self.along[band]).astype(int), frames[:, band])
        if positions.size == 0:
            return np.full(len(frames), np.nan)
        # Each step's depth below the highest point before it and the highest after it (running maxima from both ends).
        edge = np.full((len(frames), 1), -np.inf)
        before = np.concatenate([edge, np.maximum.accumulate(profiles, axis=1)[:, :-1]], axis=1)
        after = np.concatenate([np.maximum.accumulate(profiles[:, ::-1], axis=1)[:, -2::-1], edge], axis=1)
        depth = np.where((positions > low) & (positions < high), np.minimum(before, after) - profiles, -np.inf)
        deepest = np.argmax(depth, axis=1)  # the first of equally deep dips
        found = np.take_along_axis(depth, deepest[:, None], axis=1)[:, 0] > _MIN_DIP * self.contrast
        return np.where(found, positions[deepest], np.nan)

    def la_max_area(self) -> int:
        """Left-atrial area (pixels) at its largest: the third-largest frame, so a frame or two where a
        blurred septum lets the right atrium in do not set it."""
        from scipy import ndimage  # on first use: importing it at module level slowed the app's start
        near_base = self.lv_ed & (self.along < self.valve_ed + 3)
        septal_edge = self.across[near_base].min() - 2
        centre = self.across[near_base].mean()
        # Work in a box round where an atrium can be (up to 40 px behind the valve), for speed.
        box = (self.along > self.valve_ed - 40) & (self.along < self.valve.max() + 2) & (self.across > septal_edge) & (self.across < septal_edge + 50)
        rows, cols = np.flatnonzero(box.any(axis=1)), np.flatnonzero(box.any(axis=0))
        window = np.s_[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        along, across, valve = self.along[window], self.across[window], self.valve[:, None, None]
        beyond = self.bright[(slice(None), *window)] & (along < valve) & (across > septal_edge)  # (frames, rows, cols)
        opened = ndimage.binary_opening(beyond, structure=_IN_PLANE, iterations=2)  # cut blurred bridges to the right atrium
        labels, _ = ndimage.label(opened, structure=_IN_PLANE)
        probe = (np.abs(along - (valve - 4)) <= 2) & (np.abs(across - centre) <= 3) & (labels > 0)
        touched = labels[probe]
        if touched.size == 0:
            return 0
        # Each frame's atrium is its component most covered by the probe; labels are distinct across frames.
        hits = np.bincount(touched)
        frame_of = np.zeros(hits.size, dtype=int)
        frame_of[touched] = np.nonzero(probe)[0]
        candidates = np.flatnonzero(hits)
        ranked = candidates[np.lexsort((hits[candidates], frame_of[candidates]))]
        last_of_frame = np.r_[frame_of[ranked][1:] != frame_of[ranked][:-1], True]
        atria = np.isin(labels, ranked[last_of_frame])
        areas = (ndimage.binary_dilation(atria, structure=_IN_PLANE, iterations=2) & beyond).sum(axis=(1, 2))  # undo the opening
        return int(np.sort(areas)[-3] if len(areas) >= 3 else areas.max())


def _brightest_per_step(steps: np.ndarray, values: np.ndarray, count: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``steps`` (n,) and, for each and each row of ``values`` (frames, n), the mean of its ``count`` largest values."""
    order = np.lexsort((values, np.broadcast_to(steps, values.shape)))  # per row: by step, then by value
    values, steps = np.take_along_axis(values, order, axis=1), np.sort(steps)
    ends = np.flatnonzero(np.append(steps[1:] != steps[:-1], True)) + 1
    starts = np.maximum(np.concatenate(([0], ends[:-1])), ends - count)
    totals = np.zeros((len(values), len(steps) + 1))
    totals[:, 1:] = np.cumsum(values, axis=1, dtype=np.float64)
    return steps[ends - 1], (totals[:, ends] - totals[:, starts]) / (ends - starts)


def _otsu_above_lungs(image: np.ndarray) -> float:
    """Otsu's threshold over the pixels brighter than a fifth of the bright end (lungs and air left out)."""
    values = image[image > 0.2 * np.percentile(image, 99)]
    histogram, edges = np.histogram(values, bins=128)
    centres = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(histogram)
    weight_high = weight_low[-1] - weight_low
    mean_low = np.cumsum(histogram * centres) / np.maximum(weight_low, 1)
    mean_high = ((histogram * centres).sum() - np.cumsum(histogram * centres)) / np.maximum(weight_high, 1)
    between = weight_low * weight_high * (mean_low - mean_high) ** 2
    return float(centres[np.argmax(between)])


def _lv_component(bright: np.ndarray, lv_seed: tuple[int, int] | None) -> np.ndarray:
    """The end-diastolic LV pool. Bright regions are first opened (by ``_OPENING_PX``), which breaks the
    bridges that blurring leaves across septa and fat; the pick is by seed or by position; then the LV
    takes back what the opening removed, up to ``_OPENING_PX`` through bright pixels and never past
    the midline to another opened region."""
    from scipy import ndimage  # on first use: importing it at module level slowed the app's start
    labels, count = ndimage.label(ndimage.binary_opening(bright, structure=_IN_PLANE[1], iterations=_OPENING_PX))
    if count == 0:
        raise ValueError("no bright blood pool found in the end-diastolic frame")
    sizes = np.bincount(labels.ravel())[1:]
    nearest = ndimage.distance_transform_edt(labels == 0, return_distances=False, return_indices=True)
    closest_region = labels[tuple(nearest)]
    if lv_seed is not None:
        if not bright[lv_seed]:
            raise ValueError(f"lv_seed {lv_seed} is not in a bright blood pool at end-diastole")
        label = closest_region[lv_seed]
    else:
        edge_labels = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
        inner = np.setdiff1d(np.arange(1, count + 1), edge_labels)  # chest-wall fat and the like reach the border
        candidates = inner if inner.size else np.arange(1, count + 1)
        large = candidates[sizes[candidates - 1] >= 0.15 * sizes[candidates - 1].max()]
        columns = ndimage.mean(np.indices(bright.shape)[1], labels, large)
        label = large[int(np.argmax(columns))]
    return ndimage.binary_dilation(labels == label, structure=_IN_PLANE[1], iterations=_OPENING_PX, mask=bright & (closest_region == label))


def _component_at_deepest(region: np.ndarray) -> np.ndarray:
    """The connected part of ``region`` holding its point furthest from its edge (drops slivers)."""
    from scipy import ndimage  # on first use: importing it at module level slowed the app's start
    labels, count = ndimage.label(region)
    if count <= 1:
        return region
    depth = ndimage.distance_transform_edt(region)
    return labels == labels.flat[np.argmax(depth)]
